/**
 * Connection limits shared by every HTTP server of the project (orchestrator, gateway, runner,
 * standalone trickle server), set like Go's net/http and x/net/http2 defaults, which go-livepeer runs
 * with:
 * - request heads up to {@link DEFAULT_MAX_HEADER_BYTES} (1 MiB, Go's `DefaultMaxHeaderBytes`); a
 *   bigger one answers 431 with a JSON message (HTTP/1.1) or a refused stream (HTTP/2);
 * - a client must finish its TLS handshake and send a request's headers within `headersTimeoutMs`
 *   (slow-loris); an HTTP/2 connection with no open stream is closed after `idleTimeoutMs`. Neither
 *   concerns a request whose headers arrived: long uploads (trickle publishes) and long answers
 *   (trickle subscribers, SSE) are never cut by them;
 * - HTTP/2: at most `maxConcurrentStreams` streams per connection (Go's 250), at most
 *   `maxSessionUploadBytes` of unfinished request bodies per connection (the stream that goes over
 *   is reset), and a connection whose client keeps cancelling streams it opened (more than
 *   `resetBurst` at once, `resetsPerSecond` sustained: the "rapid reset" attack) is closed.
 *
 * Node's process-wide `--max-http-header-size` is not used: every server sets its own limit.
 */
import { STATUS_CODES } from "node:http";
import type { Http2SecureServer, Http2ServerRequest, Http2Session, ServerHttp2Stream } from "node:http2";
import { constants as h2 } from "node:http2";
import type { Duplex } from "node:stream";
import { errorBody, TributaryError } from "../errors.ts";

/** Largest request head accepted: 1 MiB, as Go's `http.DefaultMaxHeaderBytes`. */
export const DEFAULT_MAX_HEADER_BYTES = 1024 * 1024;
/** Time to finish the TLS handshake and send a request's headers: 30 s. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
/** An HTTP/2 connection without any open stream is closed after this: 120 s. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** HTTP/2 streams open at once on one connection: 250, as Go's x/net/http2 server. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 250;
/** Unfinished request-body bytes one HTTP/2 connection may have received: 64 MiB. */
export const DEFAULT_MAX_SESSION_UPLOAD_BYTES = 64 * 1024 * 1024;
/** Streams a client may cancel at once on one HTTP/2 connection. */
export const DEFAULT_RESET_BURST = 200;
/** Streams a client may cancel per second, sustained, on one HTTP/2 connection. */
export const DEFAULT_RESETS_PER_SECOND = 50;
/**
 * SETTINGS_MAX_FRAME_SIZE we announce: 128 KiB. nghttp2 refuses a header block spread over more than
 * 9 frames (its CONTINUATION-flood guard); with 128 KiB frames a client that sizes its frames by our
 * setting (Go does) fits a 1 MiB head in 9. Node's own client always uses 16 KiB frames (about
 * 144 KiB of compressed headers at most).
 */
const H2_MAX_FRAME_SIZE = 128 * 1024;

/** Limits of one server; every field has a default (the constants above). */
export interface HttpLimits {
  /** Largest request head (request line and headers) in bytes. */
  maxHeaderBytes?: number;
  /** Time to finish the TLS handshake and send a request's headers (ms). */
  headersTimeoutMs?: number;
  /** HTTP/2: a connection without open streams is closed after this (ms). */
  idleTimeoutMs?: number;
  /** HTTP/2: streams open at once per connection. */
  maxConcurrentStreams?: number;
  /** HTTP/2: unfinished request-body bytes per connection. */
  maxSessionUploadBytes?: number;
  /** HTTP/2: streams a client may cancel at once. */
  resetBurst?: number;
  /** HTTP/2: streams a client may cancel per second, sustained. */
  resetsPerSecond?: number;
}

/** {@link HttpLimits} with every default filled in. */
export type ResolvedHttpLimits = Required<HttpLimits>;

/** Fills in the defaults; throws a RangeError on a non-positive or non-integer limit. */
export function resolveHttpLimits(limits: HttpLimits = {}): ResolvedHttpLimits {
  const out: ResolvedHttpLimits = {
    maxHeaderBytes: limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    headersTimeoutMs: limits.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: limits.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxConcurrentStreams: limits.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    maxSessionUploadBytes: limits.maxSessionUploadBytes ?? DEFAULT_MAX_SESSION_UPLOAD_BYTES,
    resetBurst: limits.resetBurst ?? DEFAULT_RESET_BURST,
    resetsPerSecond: limits.resetsPerSecond ?? DEFAULT_RESETS_PER_SECOND,
  };
  for (const [k, v] of Object.entries(out))
    if (!Number.isSafeInteger(v) || v <= 0)
      throw new RangeError(`${k} must be a positive integer (got ${v})`);
  return out;
}

/** `http.createServer` options for `limits`: head size and headers timeout, no whole-request timeout. */
export function http1ServerOptions(limits: ResolvedHttpLimits): {
  maxHeaderSize: number;
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    // A whole-request timeout would cut long uploads (a trickle publish lasts as long as its segment).
    requestTimeout: 0,
    connectionsCheckingInterval: checkInterval(limits.headersTimeoutMs),
  };
}

/** How often node checks for connections over the headers timeout: a quarter of it, 30 s at most. */
function checkInterval(headersTimeoutMs: number): number {
  return Math.min(30_000, Math.max(100, Math.floor(headersTimeoutMs / 4)));
}

/**
 * `http2.createSecureServer` options for `limits` (merge with `cert`, `key`, `allowHTTP1`): header
 * list size, concurrent streams, frame size and the TLS handshake timeout.
 */
export function http2ServerOptions(limits: ResolvedHttpLimits): {
  handshakeTimeout: number;
  maxSessionMemory: number;
  settings: { maxConcurrentStreams: number; maxHeaderListSize: number; maxFrameSize: number };
} {
  return {
    handshakeTimeout: limits.headersTimeoutMs,
    // In MB; counts header tables and queued output. Room for a few 1 MiB heads at once.
    maxSessionMemory: Math.max(10, Math.ceil((4 * limits.maxHeaderBytes) / 1e6)),
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      // RFC 9113 counts 32 bytes per field on top of name and value; Go adds the same kind of slack.
      maxHeaderListSize: limits.maxHeaderBytes + 32 * 1024,
      maxFrameSize: H2_MAX_FRAME_SIZE,
    },
  };
}

/**
 * The HTTP/1.1 parts of `limits` on an `http2.createSecureServer({ allowHTTP1: true })` server, whose
 * HTTP/1.1 fallback reads them from properties (its defaults are node's 16 KiB heads, a 60 s headers
 * timeout and a 300 s whole-request timeout, which would cut a long trickle publish over HTTP/1.1).
 * Call before `listen`.
 */
export function applyHttp1Limits(server: Http2SecureServer, limits: ResolvedHttpLimits): void {
  const o = http1ServerOptions(limits);
  Object.assign(server, {
    maxHeaderSize: o.maxHeaderSize,
    headersTimeout: o.headersTimeout,
    requestTimeout: o.requestTimeout,
    connectionsCheckingInterval: o.connectionsCheckingInterval,
  });
}

/**
 * A `clientError` listener for HTTP/1.1 servers: a head over the limit answers 431, headers not
 * received in time 408, anything else node's parser refused 400, each with the JSON error envelope
 * and `Connection: close`. A connection reset or a socket that already answered is just closed.
 */
export function clientErrorListener(limits: ResolvedHttpLimits): (err: Error, socket: Duplex) => void {
  return (err, socket) => {
    const code = (err as NodeJS.ErrnoException).code;
    const answered = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (code === "ECONNRESET" || !socket.writable || socket.writableEnded || answered === true) {
      if (!socket.writableEnded) socket.destroy();
      return;
    }
    const e =
      code === "HPE_HEADER_OVERFLOW"
        ? new TributaryError(
            "HEADERS_TOO_LARGE",
            `request headers are over ${limits.maxHeaderBytes} bytes; send large data in the body`,
            { status: 431 },
          )
        : code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? new TributaryError(
              "HEADERS_TIMEOUT",
              `request headers not received within ${limits.headersTimeoutMs} ms; send them at once`,
              { status: 408 },
            )
          : new TributaryError(
              "MALFORMED_REQUEST",
              "malformed HTTP/1.1 request; check the request line and headers",
              {
                status: 400,
              },
            );
    const body = JSON.stringify(errorBody(e));
    socket.end(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // A client that never reads our answer must not keep the socket.
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
}

/** Per-connection HTTP/2 state kept by {@link guardHttp2Sessions}. */
interface SessionGuard {
  /** Open streams (of this connection) seen by node. */
  open: number;
  /** Bytes received of request bodies not yet complete. */
  uploading: number;
  /** Reset tokens left and when they were last refilled. */
  tokens: number;
  refilledAt: number;
}

/** Streams this module reset itself (not counted as the client's resets). */
const resetByUs = new WeakSet<ServerHttp2Stream>();

/**
 * Guards every HTTP/2 connection of `server` (see the module comment): idle and headers timeouts,
 * the per-connection upload budget and the rapid-reset limit. Call once, before `listen`.
 * Requests must reach their handlers through {@link countUpload} for the upload budget to apply.
 */
export function guardHttp2Sessions(server: Http2SecureServer, limits: ResolvedHttpLimits): void {
  server.on("session", (session: Http2Session) => {
    const guard: SessionGuard = { open: 0, uploading: 0, tokens: limits.resetBurst, refilledAt: Date.now() };
    guards.set(session, guard);
    // Our own timer, not session.setTimeout: node keeps a session's timeout enrolled after the session
    // is destroyed (its setTimeout is a no-op then), which held every closed session in memory until
    // the timeout ran out (~5 KiB each, 120 s by default: a connection flood's amplifier).
    let timer: NodeJS.Timeout | undefined;
    /** Closes the connection after `ms` unless a stream opens meanwhile. */
    const arm = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (guard.open === 0) closeSession(session, h2.NGHTTP2_NO_ERROR);
      }, ms);
      timer.unref();
    };
    // Until the first stream, a connection has the headers timeout; with no open stream afterwards,
    // the idle timeout.
    arm(limits.headersTimeoutMs);
    session.once("close", () => clearTimeout(timer));
    session.on("stream", (stream: ServerHttp2Stream) => {
      guard.open++;
      clearTimeout(timer);
      stream.once("aborted", () => {
        if (resetByUs.has(stream)) return;
        const now = Date.now();
        guard.tokens = Math.min(
          limits.resetBurst,
          guard.tokens + ((now - guard.refilledAt) / 1000) * limits.resetsPerSecond,
        );
        guard.refilledAt = now;
        guard.tokens -= 1;
        if (guard.tokens < 0) closeSession(session, h2.NGHTTP2_ENHANCE_YOUR_CALM);
      });
      stream.once("close", () => {
        if (--guard.open === 0 && !session.destroyed) arm(limits.idleTimeoutMs);
      });
    });
  });
}

const guards = new WeakMap<Http2Session, SessionGuard>();

function closeSession(session: Http2Session, code: number): void {
  if (session.destroyed) return;
  session.goaway(code);
  session.destroy();
}

/**
 * Counts the body bytes of an HTTP/2 request against its connection's upload budget while the body
 * is incomplete; the stream that goes over the budget is reset (ENHANCE_YOUR_CALM). No-op for
 * HTTP/1.1 requests (one request at a time per connection, each bounded by its handler's body limit)
 * and when `limits` does not apply to this request's server.
 */
export function countUpload(req: Http2ServerRequest, limits: ResolvedHttpLimits): void {
  const stream = req.stream;
  const guard = guards.get(stream.session as Http2Session);
  if (guard === undefined) return;
  let counted = 0;
  let done = false;
  const release = (): void => {
    if (done) return;
    done = true;
    guard.uploading -= counted;
    counted = 0;
  };
  // Readable#push is where the compat request receives each chunk of the stream, read or not yet.
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) release();
    else if (!done && chunk instanceof Uint8Array) {
      counted += chunk.length;
      guard.uploading += chunk.length;
      if (guard.uploading > limits.maxSessionUploadBytes) {
        release();
        resetByUs.add(stream);
        stream.close(h2.NGHTTP2_ENHANCE_YOUR_CALM);
        return false;
      }
    }
    return push(chunk, encoding);
  };
  stream.once("close", release);
}
