/**
 * The HTTP transport shared by the trickle publisher, the subscriber and the conformance suite: one
 * request shape over node:http / node:https (keep-alive agent) or node:http2 (one session per origin).
 *
 * What trickle needs and generic clients hide: request bodies streamed chunk by chunk with headers sent
 * at once (a preconnected POST), a per-chunk stall timeout instead of a total timeout, any number of
 * interim 1xx responses ignored (docs/spec/upstream-quirks.md#repeated-100-continue), responses that arrive before the request body ends, and
 * cancellation of a request still waiting for its headers.
 */
import { once } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import type { Readable, Writable } from "node:stream";
import { httpAgent, httpsAgent } from "../node/http/agents.ts";
import { TrickleStallError } from "./client-errors.ts";

/** TLS settings for https:// channel URLs. */
export interface TrickleTlsOptions {
  /** Accept any server certificate (self-signed orchestrators). Default false: certificates are verified. */
  insecure?: boolean;
  /** Extra trusted CA certificate(s), PEM. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Options of {@link TrickleHttpClient}. */
export interface TrickleHttpClientOptions {
  /** TLS settings for https:// URLs. */
  tls?: TrickleTlsOptions;
  /** Speak HTTP/2 (over TLS, ALPN h2) to https:// URLs. Ignored for http:// URLs. Default false. */
  http2?: boolean;
}

/** The final (non-1xx) response of a request. */
export interface TrickleResponse {
  /** HTTP status code. */
  status: number;
  /** Response headers (case-insensitive). */
  headers: Headers;
  /** The response body; consume it or call {@link TrickleResponse.discard}. */
  body: Readable;
  /** Drops the rest of the body and frees the connection. */
  discard(): void;
}

/** What a request sends as its body. */
export type TrickleRequestBody = "stream" | Uint8Array | undefined;

/** Parameters of {@link TrickleHttpClient.request}. */
export interface TrickleRequestInit {
  method: string;
  headers?: Record<string, string>;
  /** `"stream"`: send headers now and stream chunks with {@link TrickleRequest.write}; bytes: a fixed body. */
  body?: TrickleRequestBody;
  /** Called for each interim 1xx response (e.g. the server's 100 Continue keepalives). */
  onInterim?: (status: number) => void;
}

/** One in-flight request. */
export interface TrickleRequest {
  /** The final response (interim 1xx responses are skipped). Rejects on a transport error or abort. */
  readonly response: Promise<TrickleResponse>;
  /** True once the final response headers arrived. */
  readonly responded: boolean;
  /** Body bytes handed to the transport so far. */
  readonly bytesWritten: number;
  /** The transport error, once the request failed (before or after its response). */
  readonly error: Error | undefined;
  /**
   * Writes one body chunk (streaming bodies only). Resolves once the transport accepted it; rejects with
   * {@link TrickleStallError} when the peer stops reading for `stallMs`, or with the transport error.
   */
  write(chunk: Uint8Array, stallMs: number): Promise<void>;
  /** Ends a streaming body. */
  end(): void;
  /** Cancels the request (and its response body). */
  abort(reason?: Error): void;
}

/** A small HTTP client with one connection pool, closed by {@link TrickleHttpClient.close}. */
export class TrickleHttpClient {
  readonly #options: TrickleHttpClientOptions;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #sessions = new Map<string, http2.ClientHttp2Session>();
  readonly #live = new Set<TrickleRequest>();
  #closed = false;

  constructor(options: TrickleHttpClientOptions = {}) {
    this.#options = options;
    this.#httpAgent = httpAgent();
    this.#httpsAgent = httpsAgent({
      rejectUnauthorized: !options.tls?.insecure,
      ...(options.tls?.ca === undefined ? {} : { ca: options.tls.ca }),
    });
  }

  /** Starts a request. For `body: "stream"` the headers go out at once (a preconnect). */
  request(url: string | URL, init: TrickleRequestInit): TrickleRequest {
    if (this.#closed) throw new Error("TrickleHttpClient is closed");
    const target = typeof url === "string" ? new URL(url) : url;
    const req =
      this.#options.http2 && target.protocol === "https:"
        ? this.#requestH2(target, init)
        : this.#requestH1(target, init);
    this.#live.add(req);
    const forget = () => this.#live.delete(req);
    req.response.then((res) => {
      if (res.body.readableEnded || res.body.destroyed) forget();
      else res.body.once("close", forget).once("end", forget);
    }, forget);
    return req;
  }

  /** Aborts every in-flight request and closes all connections. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const req of this.#live) req.abort(new Error("client closed"));
    this.#live.clear();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
    for (const session of this.#sessions.values()) session.destroy();
    this.#sessions.clear();
  }

  #requestH1(url: URL, init: TrickleRequestInit): TrickleRequest {
    const isHttps = url.protocol === "https:";
    const headers: Record<string, string> = { ...init.headers };
    if (init.body instanceof Uint8Array) headers["content-length"] = String(init.body.byteLength);
    const req = (isHttps ? https : http).request(url, {
      method: init.method,
      headers,
      agent: isHttps ? this.#httpsAgent : this.#httpAgent,
    });
    const state = new RequestState(req, (err) => req.destroy(err));
    req.on("response", (res) => {
      state.resolve(res.statusCode ?? 0, toHeaders(res.rawHeaders), res, () => {
        res.resume();
        if (!res.complete) res.destroy();
      });
    });
    if (init.onInterim) {
      const onInterim = init.onInterim;
      req.on("information", (info) => onInterim(info.statusCode));
    }
    req.on("error", (err) => state.fail(err));
    req.on("close", () => {
      if (!state.responded) state.fail(new Error("connection closed before the response"));
    });
    if (init.body === "stream") req.flushHeaders();
    else req.end(init.body);
    return state;
  }

  #session(url: URL): http2.ClientHttp2Session {
    const origin = url.origin;
    const existing = this.#sessions.get(origin);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const tls = this.#options.tls;
    const session = http2.connect(origin, {
      rejectUnauthorized: !tls?.insecure,
      ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
    });
    // Stream-level errors reach each request; a session error must not crash the process.
    session.on("error", () => {});
    session.on("close", () => {
      if (this.#sessions.get(origin) === session) this.#sessions.delete(origin);
    });
    session.on("goaway", () => {
      if (this.#sessions.get(origin) === session) this.#sessions.delete(origin);
    });
    this.#sessions.set(origin, session);
    return session;
  }

  #requestH2(url: URL, init: TrickleRequestInit): TrickleRequest {
    const session = this.#session(url);
    const headers: http2.OutgoingHttpHeaders = {
      ":method": init.method,
      ":path": `${url.pathname}${url.search}`,
      ...lowerKeys(init.headers ?? {}),
    };
    // Connection-specific headers are forbidden in HTTP/2.
    delete headers.connection;
    if (init.body instanceof Uint8Array) headers["content-length"] = String(init.body.byteLength);
    const stream = session.request(headers, { endStream: init.body === undefined });
    const state = new RequestState(stream, (err) => {
      if (err) stream.destroy(err);
      else stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.on("response", (h) => {
      const out = new Headers();
      for (const [k, v] of Object.entries(h)) {
        if (k.startsWith(":") || v === undefined) continue;
        if (Array.isArray(v)) for (const item of v) out.append(k, item);
        else out.set(k, String(v));
      }
      state.resolve(Number(h[":status"]), out, stream, () => {
        if (!stream.readableEnded) stream.close(http2.constants.NGHTTP2_CANCEL);
        stream.resume();
      });
    });
    if (init.onInterim) {
      const onInterim = init.onInterim;
      stream.on("headers", (h) => onInterim(Number(h[":status"])));
    }
    stream.on("error", (err) => state.fail(err));
    stream.on("close", () => {
      if (!state.responded) state.fail(new Error("stream closed before the response"));
    });
    if (init.body instanceof Uint8Array) stream.end(init.body);
    return state;
  }
}

/** Shared bookkeeping of one request, whatever the protocol. */
class RequestState implements TrickleRequest {
  readonly response: Promise<TrickleResponse>;
  responded = false;
  bytesWritten = 0;
  #settled = false;
  #error: Error | undefined;

  get error(): Error | undefined {
    return this.#error;
  }
  #resolve!: (res: TrickleResponse) => void;
  #reject!: (err: Error) => void;
  readonly #sink: Writable;
  readonly #destroy: (err?: Error) => void;

  constructor(sink: Writable, destroy: (err?: Error) => void) {
    this.#sink = sink;
    this.#destroy = destroy;
    this.response = new Promise<TrickleResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller may never await the response (a preconnect dropped at close): no unhandled rejection.
    this.response.catch(() => {});
    // A write racing a dead connection reports through write()/response, not as an uncaught error.
    sink.on("error", () => {});
  }

  resolve(status: number, headers: Headers, body: Readable, discard: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    this.responded = true;
    // Errors of the body surface to whoever iterates it.
    body.on("error", () => {});
    this.#resolve({ status, headers, body, discard });
  }

  fail(err: Error): void {
    this.#error ??= err;
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(err);
  }

  async write(chunk: Uint8Array, stallMs: number): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#sink.destroyed || this.#sink.writableEnded) throw new Error("request body is closed");
    const ok = this.#sink.write(chunk);
    this.bytesWritten += chunk.byteLength;
    if (ok) return;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new TrickleStallError(stallMs)), stallMs);
    try {
      await Promise.race([
        once(this.#sink, "drain", { signal: ac.signal }),
        once(this.#sink, "close", { signal: ac.signal }).then(() => {
          throw this.#error ?? new Error("request closed while writing");
        }),
      ]);
    } catch (err) {
      if (ac.signal.aborted && ac.signal.reason instanceof TrickleStallError) throw ac.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }

  end(): void {
    if (!this.#sink.destroyed && !this.#sink.writableEnded) this.#sink.end();
  }

  abort(reason?: Error): void {
    this.fail(reason ?? new Error("request aborted"));
    this.#destroy(reason);
  }
}

function toHeaders(raw: string[]): Headers {
  const out = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) out.append(raw[i]!, raw[i + 1]!);
  return out;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

/** Reads a whole response body as UTF-8 text (for small error bodies), at most `limit` bytes kept. */
export async function readText(body: Readable, limit = 64 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < limit) parts.push(chunk);
    size += chunk.byteLength;
  }
  return Buffer.concat(parts).toString("utf8").slice(0, limit);
}

/** Reads a whole response body as bytes. */
export async function readBytes(body: Readable): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) parts.push(chunk);
  return new Uint8Array(Buffer.concat(parts));
}
