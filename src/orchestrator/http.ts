/**
 * Small HTTP plumbing for the orchestrator's routes: body reading, JSON and error answers (in our
 * envelope or in go-livepeer's plain-text shape) from the shared toolkit (src/node/http/), and one
 * call to a container.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { TributaryError } from "../node/errors.ts";
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
 * Keep-alive connection pools for the orchestrator's calls to its containers, one per protocol.
 * Idle sockets are closed after {@link CONTAINER_IDLE_SOCKET_MS} (or a second before the container's
 * own `Keep-Alive: timeout=` hint), below the 5 s idle timeout of Node and uvicorn servers, so a
 * container rarely closes a socket we are about to reuse; when it does, a call with a replayable body
 * is retried once on a new connection. `destroy()` closes every socket (the orchestrator's close).
 */
export class ContainerAgents {
  readonly #http = new HttpAgent({ keepAlive: true, timeout: CONTAINER_IDLE_SOCKET_MS });
  readonly #https = new HttpsAgent({
    keepAlive: true,
    timeout: CONTAINER_IDLE_SOCKET_MS,
    rejectUnauthorized: false,
  });

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
  body?: Buffer | Readable;
  /** Time allowed until the response headers. */
  timeoutMs: number;
  /** Aborts the call (the client went away). */
  signal?: AbortSignal;
  /** Connection pools to use; without them each call opens (and closes) its own connection. */
  agents?: ContainerAgents;
}

/** Sends a request to a container and resolves with the response once its headers arrive. */
export function callContainer(call: ContainerCall): Promise<IncomingMessage> {
  return callOnce(call, true);
}

function callOnce(call: ContainerCall, mayRetry: boolean): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(call.url);
    } catch (err) {
      reject(new ContainerError("container URL is invalid", err));
      return;
    }
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(target, {
      method: call.method ?? "POST",
      headers: call.headers,
      agent: call.agents ? call.agents.for(target) : false,
      rejectUnauthorized: false,
      signal: call.signal,
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
      // A pooled socket the container had just closed: once more on a new connection, if the body
      // can be sent again.
      const stale = req.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE");
      if (
        stale &&
        mayRetry &&
        !call.signal?.aborted &&
        (call.body === undefined || Buffer.isBuffer(call.body))
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
