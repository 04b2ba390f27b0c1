/**
 * Small HTTP plumbing for the orchestrator's routes: body reading, JSON and error answers (in our
 * envelope or in go-livepeer's plain-text shape) from the shared toolkit (src/node/http/), and one
 * call to a container.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { type Agent as HttpAgent, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { TributaryError } from "../node/errors.ts";
import { httpAgent, httpsAgent } from "../node/http/agents.ts";
import { BodyCutOffError, readBody } from "../node/http/body.ts";

export {
  DEFAULT_MAX_BODY_BYTES,
  PayloadTooLargeError,
  readBody,
  readJsonObject,
} from "../node/http/body.ts";
export { sendError, sendErrorText, sendJson, sendText } from "../node/http/send.ts";

/** No free slot on a ready container (503). */
export class NoCapacityError extends TributaryError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("NO_CAPACITY", message, { status: 503, details });
  }
}

/** The container could not be reached or failed to answer (502). */
export class ContainerError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("CONTAINER_UNAVAILABLE", message, { status: 502, cause });
  }
}

/** How long an idle pooled socket to a container is kept. */
export const CONTAINER_IDLE_SOCKET_MS = 2000;

/**
 * A reset on a reused socket this soon after the request was handed to it is taken for the container
 * having closed the idle connection under us (see {@link callContainer}); later, it may have started
 * the job, and the call fails instead.
 */
export const STALE_SOCKET_WINDOW_MS = 100;

/** Largest request body held in memory so that a call can be sent again (see {@link replayableBody}). */
export const REPLAYABLE_BODY_BYTES = 1024 * 1024;

/**
 * Keep-alive connection pools for the orchestrator's calls to its containers, one per protocol (on
 * by default; `containerKeepAlive: false` opens a connection per call). Idle sockets are closed after
 * {@link CONTAINER_IDLE_SOCKET_MS} (or a second before the container's own `Keep-Alive: timeout=`
 * hint), below the 5 s idle timeout of Node and uvicorn servers, so a container rarely closes a
 * socket we are about to reuse; when it does, {@link callContainer} sends the call once more on a new
 * connection under a strict rule. `destroy()` closes every socket (the orchestrator's close).
 */
export class ContainerAgents {
  readonly #http = httpAgent({ timeout: CONTAINER_IDLE_SOCKET_MS });
  readonly #https = httpsAgent({ timeout: CONTAINER_IDLE_SOCKET_MS, rejectUnauthorized: false });

  /** The pool for a URL's protocol. */
  for(target: URL): HttpAgent {
    return target.protocol === "https:" ? this.#https : this.#http;
  }

  /** Closes all pooled sockets. */
  destroy(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/** One request to a container. */
export interface ContainerCall {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /**
   * The request body. A Buffer can be sent again (the stale-socket retry of {@link callContainer});
   * a stream cannot, so it never goes on a pooled socket: it gets a connection of its own.
   */
  body?: Buffer | Readable;
  /** Time allowed until the response headers. */
  timeoutMs: number;
  /** Aborts the call (the client went away). */
  signal?: AbortSignal;
  /** Connection pools to use; without them each call opens (and closes) its own connection. */
  agents?: ContainerAgents;
}

/**
 * Sends a request to a container and resolves with the response once its headers arrive.
 *
 * The stale-socket rule: a call on a pooled socket is sent once more, on a new connection of its
 * own, only when all of these hold — the socket was reused (it had carried an earlier call and sat
 * idle in the pool), it failed with ECONNRESET or EPIPE (a reset, or "socket hang up") before any
 * byte of an answer, within {@link STALE_SOCKET_WINDOW_MS} of being handed the request, the body is
 * held in memory (absent or a Buffer), and the client is still there. That is the signature of a
 * container closing an idle connection while we picked it: the request met a closed socket and
 * was never read. A failure later than that, on a new connection, after part of an answer, or with
 * a streamed body is never replayed (the container may have started the job): it is a 502.
 */
export function callContainer(call: ContainerCall): Promise<IncomingMessage> {
  return callOnce(call, call.agents !== undefined);
}

function callOnce(call: ContainerCall, pooled: boolean): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(call.url);
    } catch (err) {
      reject(new ContainerError("container URL is invalid", err));
      return;
    }
    const replayable = call.body === undefined || Buffer.isBuffer(call.body);
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(target, {
      method: call.method ?? "POST",
      headers: call.headers,
      // A streamed body cannot be sent again: never on a socket that may be stale.
      agent: pooled && replayable && call.agents ? call.agents.for(target) : false,
      rejectUnauthorized: false,
      signal: call.signal,
    });
    let handedAt = performance.now();
    req.once("socket", () => {
      handedAt = performance.now();
    });
    const timer = setTimeout(
      () => req.destroy(new Error("timed out waiting for the container")),
      call.timeoutMs,
    );
    req.on("response", (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (
        req.reusedSocket &&
        replayable &&
        (err.code === "ECONNRESET" || err.code === "EPIPE") &&
        performance.now() - handedAt < STALE_SOCKET_WINDOW_MS &&
        !call.signal?.aborted
      ) {
        callOnce(call, false).then(resolve, reject);
        return;
      }
      reject(new ContainerError(`container did not answer: ${err.message}`, err));
    });
    if (call.body === undefined) req.end();
    else if (Buffer.isBuffer(call.body)) req.end(call.body);
    else call.body.pipe(req);
  });
}

/**
 * A job's request body for {@link callContainer}: read into memory when it declares a length of at
 * most {@link REPLAYABLE_BODY_BYTES} (so the call can go on a pooled connection and be sent again
 * under the stale-socket rule), else the stream itself (sent as it comes, on a connection of its own).
 * @throws BodyCutOffError (400) when a body read into memory ends early.
 */
export async function replayableBody(
  req: Readable & { headers: IncomingHttpHeaders },
): Promise<Buffer | Readable> {
  const declared = Number(header(req.headers, "content-length"));
  if (!Number.isSafeInteger(declared) || declared > REPLAYABLE_BODY_BYTES) return req;
  return readBody(req, REPLAYABLE_BODY_BYTES);
}

/**
 * Reads a container's whole answer (bounded).
 * @throws ContainerError (502) when the answer is cut off; PayloadTooLargeError beyond `limit`.
 */
export async function readResponse(res: IncomingMessage, limit = 256 * 1024 * 1024): Promise<Buffer> {
  try {
    return await readBody(res, limit);
  } catch (err) {
    if (err instanceof BodyCutOffError) throw new ContainerError("the container's answer was cut off", err);
    throw err;
  }
}

/** A header as one string ("" when absent). */
export function header(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}
