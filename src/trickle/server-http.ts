/**
 * The trickle server's HTTP answer helpers, for node:http and node:http2 (compat API) alike: Go's
 * `http.Error` text answers, go-livepeer's response header names, answers that abandon the rest of a
 * request body (with an HTTP/1.1 lingering close), and dropping a stalled peer.
 */
import type { Socket } from "node:net";
import type { TrickleHttpRequest } from "./server-handler.ts";

// Response header names in go-livepeer's canonical spelling (HTTP/1.1 sends them as written; node's
// HTTP/2 layer lower-cases them). Requests are read through the lower-case names of protocol/trickle.ts.
export const SEQ = "Lp-Trickle-Seq";
export const LATEST = "Lp-Trickle-Latest";
export const CLOSED = "Lp-Trickle-Closed";
export const CONTENT_TYPE = "Content-Type";
export const CONNECTION = "Connection";
export const TEXT_PLAIN = "text/plain; charset=utf-8";

/** A shortened channel name for logs, at every level: channel names are credentials. */
export function shortName(name: string): string {
  return name.length <= 6 ? "…" : `${name.slice(0, 4)}…(${name.length})`;
}

export interface Res {
  statusCode: number;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  /** Bytes queued for the peer (both node:http and the http2 compat API have it). */
  readonly writableLength: number;
  /** Absent on Http2ServerResponse: use {@link gone}. */
  readonly destroyed?: boolean;
  setHeader(name: string, value: string | number): unknown;
  writeHead(status: number): unknown;
  write(chunk: Uint8Array | string): boolean;
  end(chunk?: string): unknown;
  writeContinue(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  stream?: { close(code?: number): void; destroyed: boolean; closed: boolean };
}

/** True when nothing more can be sent on this response (ended, or its socket/stream is gone). */
export function gone(res: Res): boolean {
  return (
    res.writableEnded ||
    res.destroyed === true ||
    res.stream?.destroyed === true ||
    res.stream?.closed === true
  );
}

export function isH2(req: TrickleHttpRequest): boolean {
  return req.httpVersionMajor === 2;
}

export function header(req: TrickleHttpRequest, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

/** A plain-text error the way Go's `http.Error` writes it. */
export function httpError(
  res: Res,
  status: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || gone(res)) return;
  safely(() => {
    res.setHeader(CONTENT_TYPE, TEXT_PLAIN);
    res.setHeader("X-Content-Type-Options", "nosniff");
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    res.statusCode = status;
    res.end(`${message}\n`);
  });
}

/**
 * Runs a response operation that may race a vanished client: node's HTTP/2 compat layer throws
 * synchronously (ERR_HTTP2_INVALID_STREAM) when the stream died a moment ago. Nothing is left to tell
 * that client, so the error is dropped.
 */
export function safely(op: () => void): void {
  try {
    op();
  } catch {
    // the peer is gone
  }
}

/**
 * How long, at most, a connection answered with `Connection: close` keeps discarding request body
 * bytes while waiting for the client to close its side. go-livepeer waits a fixed 500 ms; on a loaded
 * machine a client can take longer to read the answer (pytrickle then lost its 404 to the RST), so we
 * wait for the client's FIN, up to this bound.
 */
export const LINGER_MS = 5000;

/**
 * HTTP/1.1 lingering close. When an answer with `Connection: close` goes out before the request body
 * ended (a refused or released POST), node destroys the socket at once, and the body bytes the client
 * is still sending draw a TCP RST: a client that has not read the answer yet loses it (EPIPE instead of
 * the 404). go-livepeer's net/http half-closes and keeps discarding for a while; so do we: FIN, keep
 * reading (the HTTP parser discards the rest of the body), close when the client has closed its side
 * or after {@link LINGER_MS}.
 */
export function lingerOnClose(req: TrickleHttpRequest): void {
  if (isH2(req) || req.complete) return;
  const socket = req.socket as Socket & { destroySoon?: () => void };
  if (typeof socket.destroySoon !== "function") return;
  socket.destroySoon = function lingeringDestroySoon(this: Socket): void {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once("end", () => this.destroy()); // the client read our answer and closed: nothing to protect
    this.once("close", () => clearTimeout(timer));
  };
}

/** Drops a stalled peer's connection (HTTP/1.1: the socket; HTTP/2: the stream, with CANCEL). */
export function dropConnection(req: TrickleHttpRequest, res: Res): void {
  safely(() => {
    if (res.stream !== undefined) (res.stream as unknown as { close(code: number): void }).close(0x8);
    else req.socket.destroy();
  });
}

/** Ends the response and stops accepting the rest of the request body. */
export function endAbandoningBody(req: TrickleHttpRequest, res: Res, h2: boolean, body?: string): void {
  lingerOnClose(req);
  if (h2) {
    // HTTP/2: once our answer is out, reset the stream (NO_ERROR) so the client stops sending.
    res.once("finish", () => {
      if (res.stream && !res.stream.destroyed) res.stream.close();
    });
  }
  res.end(body);
  req.resume();
}
