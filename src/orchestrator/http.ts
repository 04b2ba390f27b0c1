/**
 * Small HTTP plumbing for the orchestrator's routes: body reading with a limit, answers in our JSON
 * envelope or in go-livepeer's plain-text shape, and one call to a container.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import { errorBody, httpStatusOf, TributaryError } from "../node/errors.ts";
import type { NodeRequest, NodeResponse } from "../node/server.ts";

/** Default largest request body read into memory: 10 MiB (go-livepeer's `MaxBytesReader`). */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** A request body over the limit (413). */
export class PayloadTooLargeError extends TributaryError {
  constructor(limit: number) {
    super("PAYLOAD_TOO_LARGE", `request body is larger than ${limit} bytes`, {
      status: 413,
      details: { limit },
    });
  }
}

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

/** Reads a whole body, up to `limit` bytes (413 beyond). */
export function readBody(req: NodeRequest, limit = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      reject(new PayloadTooLargeError(limit));
      req.resume();
      return;
    }
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new PayloadTooLargeError(limit));
      } else parts.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

const asRes = (res: NodeResponse) => res as ServerResponse;

/** Answers JSON. */
export function sendJson(
  res: NodeResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  asRes(res).writeHead(status, { ...headers, "Content-Type": "application/json" });
  asRes(res).end(typeof body === "string" ? body : JSON.stringify(body));
}

/** Answers plain text with a trailing newline (go-livepeer's `http.Error` shape). */
export function sendText(
  res: NodeResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  asRes(res).writeHead(status, { "Content-Type": "text/plain; charset=utf-8", ...headers });
  asRes(res).end(`${text}\n`);
}

/** Answers an error in our JSON envelope with its status. */
export function sendError(res: NodeResponse, err: unknown): void {
  sendJson(res, httpStatusOf(err), errorBody(err));
}

/** Answers an error as go-livepeer's plain text (the BYOC routes' compatible shape). */
export function sendErrorText(res: NodeResponse, err: unknown): void {
  const body = errorBody(err);
  sendText(res, httpStatusOf(err), body.error.message);
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

/** Reads a container's whole answer (bounded). */
export function readResponse(res: IncomingMessage, limit = 256 * 1024 * 1024): Promise<Buffer> {
  return readBody(res as unknown as NodeRequest, limit);
}

/** A header as one string ("" when absent). */
export function header(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}
