/**
 * The trickle server: go-livepeer `trickle/trickle_server.go` in TypeScript (docs/spec/trickle.md#routes to #channel-lifecycle; our differences: docs/spec/upstream-quirks.md#trickle).
 *
 * `TrickleServer` is an HTTP handler mountable under a base path of any node:http or node:http2
 * (compat API) server: `server.handle(req, res)` answers and returns true for paths under the base
 * path, false otherwise. {@link startTrickleServer} runs one standalone (HTTP/1.1, or HTTP/2 + 1.1
 * over TLS).
 *
 * Choices where upstream is silent or unsafe (all deliberate, see the tests):
 * - idx below -1 on POST, below -2 on GET and below 0 on DELETE answer 400 "Invalid idx" (Go panics).
 * - Channel names are validated (one path segment of `[A-Za-z0-9._~+=:@-]`, at most 256 characters).
 * - A POST whose body fails (client gone, stream reset) answers 500 if it still can and leaves its
 *   segment open, as upstream does: it closes on eviction, `DELETE {ch}/{seq}` or channel close.
 * - A segment larger than `maxSegmentBytes` (default 64 MiB) is cut: the segment closes with what it
 *   has and the POST gets 413 with `Connection: close`.
 * - A POST that arrives for an already closed segment is released at once as an empty write (200,
 *   `Connection: close`); in Go that outcome is a race that the close nearly always wins.
 * - A GET precreating a slot closes the segment it replaces (Go leaves that one's readers waiting).
 * - With the changefeed on, HTTP clients may only read `_changes`: POST and DELETE answer 403 (Go lets
 *   anyone inject or delete changefeed entries when autocreate is on).
 * - Stalled peers are dropped (Go waits forever): a subscriber that accepts no bytes for
 *   `stallTimeoutMs` (default 30 s) loses its connection, and so does a publisher that sends nothing
 *   for that long in the middle of a segment (handled as a failed body: 500 if it can, segment left
 *   open). A stalled subscriber holds at most the chunk being written, never the channel's ring.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { TributaryError } from "../node/errors.ts";
import {
  applyHttp1Limits,
  clientErrorListener,
  guardHttp2Sessions,
  type HttpLimits,
  http1ServerOptions,
  http2ServerOptions,
  resolveHttpLimits,
} from "../node/http/limits.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import {
  CLOSED_VALUE,
  HEADER_EXPECT_CONTENT,
  HEADER_RESET,
  parseSeq,
  RING_SIZE,
  SEQ_CURRENT,
  SEQ_NEXT,
  STATUS_SEGMENT_NOT_FOUND,
} from "../protocol/trickle.ts";
import { Channel, type ChannelRegistry, type ReadLookup } from "./channel.ts";
import { LocalPublisher } from "./local.ts";

/** Name of the internal changefeed channel (go-livepeer `CHANGEFEED`). */
export const CHANGEFEED_CHANNEL = "_changes";
/** Idle time after which a channel with no new segment is swept (go-livepeer default). */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** How often the sweeper runs (go-livepeer default). */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** First-byte wait before each `100 Continue` keepalive on a POST (go-livepeer `timeoutReader`). */
export const DEFAULT_CONTINUE_INTERVAL_MS = 10_000;
/** Default cap on one segment's size. */
export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
/** How long a subscriber may accept no bytes, or a publisher send none mid-segment, before its connection is dropped. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
/** Longest accepted channel name. */
export const MAX_CHANNEL_NAME_LENGTH = 256;

// Response header names in go-livepeer's canonical spelling (HTTP/1.1 sends them as written; node's
// HTTP/2 layer lower-cases them). Requests are read through the lower-case names of protocol/trickle.ts.
const SEQ = "Lp-Trickle-Seq";
const LATEST = "Lp-Trickle-Latest";
const CLOSED = "Lp-Trickle-Closed";
const CONTENT_TYPE = "Content-Type";
const CONNECTION = "Connection";
const TEXT_PLAIN = "text/plain; charset=utf-8";

/** Abort reason when a subscriber's connection closes (a constant: cheaper than a DOMException). */
const CLIENT_GONE = Symbol("trickle client gone");

const CHANNEL_NAME = /^[A-Za-z0-9._~+=:@-]+$/;

/** A request as either node:http or node:http2 (compat API) delivers it. */
export type TrickleHttpRequest = IncomingMessage | Http2ServerRequest;
/** A response of either flavour. */
export type TrickleHttpResponse = ServerResponse | Http2ServerResponse;

/**
 * A create/delete hook. Resolve to allow the action; throw to refuse it. A {@link TrickleRequestError}
 * or any TributaryError with a 4xx status answers with that status and message; anything else
 * answers 500.
 */
export type TrickleHook = (channel: string, req: TrickleHttpRequest) => void | Promise<void>;

/** A hook's refusal (go-livepeer `RequestError`): answered with `status` if 4xx, else 400. */
export class TrickleRequestError extends TributaryError {
  constructor(status: number, message: string, options: { code?: string; cause?: unknown } = {}) {
    super(options.code ?? "TRICKLE_REQUEST_REJECTED", message, {
      status: status >= 400 && status < 500 ? status : 400,
      cause: options.cause,
    });
  }
}

/** Options of {@link TrickleServer}. */
export interface TrickleServerOptions {
  /** Path prefix the routes live under; default "/". The orchestrator uses "/ai/trickle/". */
  basePath?: string;
  /** Create channels on first POST or on `POST {ch}`; default false (as on an orchestrator). */
  autocreate?: boolean;
  /** Publish `{"added":[…]}` / `{"removed":[…]}` segments on the `_changes` channel; default false. */
  changefeed?: boolean;
  /** Channels without a new segment for this long are closed and removed; default 5 min. */
  idleTimeoutMs?: number;
  /** How often idle channels are swept; default 1 min. */
  sweepIntervalMs?: number;
  /** Interval of `100 Continue` keepalives while a POST waits for its first byte; default 10 s. */
  continueIntervalMs?: number;
  /** Segments kept per channel; default 5. */
  ringSize?: number;
  /** Largest accepted segment in bytes; default 64 MiB; 0 disables the cap. */
  maxSegmentBytes?: number;
  /**
   * A subscriber that accepts no bytes (its socket buffer stays full) or a publisher that sends none
   * after a segment's first byte for this long has its connection dropped; default 30 s.
   */
  stallTimeoutMs?: number;
  /** Runs before `POST {ch}` creates a channel. */
  beforeCreate?: TrickleHook;
  /** Runs before `DELETE {ch}` removes a channel. */
  beforeDelete?: TrickleHook;
  /** pino logger; default silent. Channel names are logged in full only at debug level. */
  logger?: Logger;
  /** Closes the server (as {@link TrickleServer.close}) when aborted. */
  signal?: AbortSignal;
}

/** A shortened channel name for info-level logs: channel names are credentials. */
function shortName(name: string): string {
  return name.length <= 6 ? "…" : `${name.slice(0, 4)}…(${name.length})`;
}

/** Why a channel name is unacceptable, or undefined if it is fine. */
export function channelNameProblem(name: string): string | undefined {
  if (name.length === 0) return "Invalid channel name: empty";
  if (name.length > MAX_CHANNEL_NAME_LENGTH) {
    return `Invalid channel name: longer than ${MAX_CHANNEL_NAME_LENGTH} characters`;
  }
  if (name === "." || name === "..") return "Invalid channel name: '.' and '..' are reserved";
  if (!CHANNEL_NAME.test(name)) {
    return "Invalid channel name: use letters, digits and . _ ~ + = : @ - only";
  }
  return undefined;
}

interface Res {
  statusCode: number;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
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
function gone(res: Res): boolean {
  return (
    res.writableEnded ||
    res.destroyed === true ||
    res.stream?.destroyed === true ||
    res.stream?.closed === true
  );
}

function isH2(req: TrickleHttpRequest): boolean {
  return req.httpVersionMajor === 2;
}

function header(req: TrickleHttpRequest, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? "";
}

/** A plain-text error the way Go's `http.Error` writes it. */
function httpError(res: Res, status: number, message: string, extra: Record<string, string> = {}): void {
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
function safely(op: () => void): void {
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
function lingerOnClose(req: TrickleHttpRequest): void {
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
function dropConnection(req: TrickleHttpRequest, res: Res): void {
  safely(() => {
    if (res.stream !== undefined) (res.stream as unknown as { close(code: number): void }).close(0x8);
    else req.socket.destroy();
  });
}

/** Ends the response and stops accepting the rest of the request body. */
function endAbandoningBody(req: TrickleHttpRequest, res: Res, h2: boolean, body?: string): void {
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

/**
 * A trickle server: channels of numbered segments, published with POST and read with GET while they
 * are being written. Create it, route requests to {@link handle} (or use {@link startTrickleServer}),
 * and {@link close} it when done.
 */
export class TrickleServer implements ChannelRegistry, AsyncDisposable {
  /** Normalized base path, starting and ending with "/". */
  readonly basePath: string;
  /** Whether channels are created on demand by HTTP clients. */
  readonly autocreate: boolean;
  readonly #channels = new Map<string, Channel>();
  readonly #log: Logger;
  readonly #idleTimeoutMs: number;
  readonly #continueIntervalMs: number;
  readonly #ringSize: number;
  readonly #maxSegmentBytes: number;
  readonly #stallTimeoutMs: number;
  readonly #beforeCreate: TrickleHook | undefined;
  readonly #beforeDelete: TrickleHook | undefined;
  readonly #sweeper: NodeJS.Timeout;
  readonly #changes: LocalPublisher | undefined;
  #closed = false;

  constructor(options: TrickleServerOptions = {}) {
    let base = options.basePath ?? "/";
    if (!base.startsWith("/")) base = `/${base}`;
    if (!base.endsWith("/")) base = `${base}/`;
    this.basePath = base;
    this.autocreate = options.autocreate ?? false;
    this.#log = (options.logger ?? silentLogger()).child({ component: "trickle-server" });
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#continueIntervalMs = options.continueIntervalMs ?? DEFAULT_CONTINUE_INTERVAL_MS;
    this.#ringSize = options.ringSize ?? RING_SIZE;
    this.#maxSegmentBytes = options.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.#beforeCreate = options.beforeCreate;
    this.#beforeDelete = options.beforeDelete;
    for (const [k, v] of [
      ["idleTimeoutMs", this.#idleTimeoutMs],
      ["continueIntervalMs", this.#continueIntervalMs],
      ["ringSize", this.#ringSize],
      ["stallTimeoutMs", this.#stallTimeoutMs],
    ] as const) {
      if (!(v > 0)) throw new RangeError(`${k} must be positive, got ${v}`);
    }
    const sweepMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (!(sweepMs > 0)) throw new RangeError(`sweepIntervalMs must be positive, got ${sweepMs}`);
    this.#sweeper = setInterval(() => this.sweepIdleChannels(), sweepMs);
    this.#sweeper.unref();
    if (options.changefeed) {
      this.#changes = new LocalPublisher(this, CHANGEFEED_CHANNEL, "application/json");
      this.#changes.createChannel();
    }
    const { signal } = options;
    if (signal?.aborted) void this.close();
    else signal?.addEventListener("abort", () => void this.close(), { once: true });
  }

  // ---- channel registry ---------------------------------------------------------------------

  /** The live channel with this name, if any. */
  getChannel(name: string): Channel | undefined {
    return this.#channels.get(name);
  }

  /** Names of the live channels. */
  channelNames(): string[] {
    return [...this.#channels.keys()];
  }

  /**
   * The channel with this name; created when missing if `force` or autocreate is on (never after
   * {@link close}). A creation is announced on the changefeed.
   */
  getOrCreateChannel(name: string, mimeType: string, force: boolean): Channel | undefined {
    const existing = this.#channels.get(name);
    if (existing !== undefined) return existing;
    if (this.#closed || !(force || this.autocreate)) return undefined;
    const channel = new Channel(name, mimeType, { ringSize: this.#ringSize });
    this.#channels.set(name, channel);
    this.#log.info({ channel: shortName(name), mimeType }, "channel created");
    this.#log.debug({ channelName: name }, "channel created (full name)");
    this.#announce({ added: [name] });
    return channel;
  }

  /** Force-creates a channel (for in-process use; HTTP creation obeys `autocreate`). */
  createChannel(name: string, mimeType = "application/octet-stream"): Channel {
    return this.getOrCreateChannel(name, mimeType, true) ?? this.#refuseClosed();
  }

  /** Closes a channel (waking its subscribers and waiting publishers) and removes it. */
  deleteChannel(name: string): boolean {
    const channel = this.#channels.get(name);
    if (channel === undefined) return false;
    channel.close();
    this.#channels.delete(name);
    this.#log.info({ channel: shortName(name) }, "channel deleted");
    this.#announce({ removed: [name] });
    return true;
  }

  /** Closes channels without a new segment for longer than the idle timeout (`_`-names exempt). */
  sweepIdleChannels(now: number = Date.now()): string[] {
    const swept: string[] = [];
    for (const channel of [...this.#channels.values()]) {
      if (channel.name.startsWith("_")) continue;
      if (now - channel.writeTime > this.#idleTimeoutMs) {
        this.deleteChannel(channel.name);
        swept.push(channel.name);
      }
    }
    if (swept.length > 0) this.#log.info({ count: swept.length }, "idle channels swept");
    return swept;
  }

  /** Bytes held by all channels' rings (for metrics and the benchmark). */
  get bufferedBytes(): number {
    let n = 0;
    for (const c of this.#channels.values()) n += c.bytes;
    return n;
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes every channel (waking subscribers and preconnected publishers) and stops the sweeper.
   * Later requests get 404 and nothing can be created. Idempotent. Does not close any HTTP server.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #refuseClosed(): never {
    throw new TributaryError("TRICKLE_SERVER_CLOSED", "the trickle server is closed; create a new one", {
      status: 503,
    });
  }

  #announce(change: { added?: string[]; removed?: string[] }): void {
    if (this.#changes === undefined) return;
    this.#changes.write(Buffer.from(JSON.stringify(change))).catch((err: unknown) => {
      this.#log.warn({ err }, "changefeed write failed");
    });
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /**
   * Handles a request if its path is under the base path: answers it and returns true. Returns false
   * (without touching the response) for any other path. Never throws.
   *
   * A host node:http server must disable `requestTimeout` (`createServer({ requestTimeout: 0 })`):
   * its 300 s default would cut preconnected POSTs waiting for their first byte and long segments.
   */
  handle(req: TrickleHttpRequest, response: TrickleHttpResponse): boolean {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (!path.startsWith(this.basePath)) return false;
    const res = response as unknown as Res;
    try {
      this.#route(req, res, path.slice(this.basePath.length));
    } catch (err) {
      this.#failed(res, err);
    }
    return true;
  }

  /** A `(req, res)` listener for `http.createServer` that answers 404 outside the base path. */
  listener(): (req: TrickleHttpRequest, res: TrickleHttpResponse) => void {
    return (req, res) => {
      if (!this.handle(req, res)) httpError(res as unknown as Res, 404, "404 page not found");
    };
  }

  #route(req: TrickleHttpRequest, res: Res, rest: string): void {
    const parts = rest.split("/");
    if (parts.length > 2 || parts[0] === "") {
      httpError(res, 404, "404 page not found");
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(parts[0]!);
    } catch {
      httpError(res, 400, "Invalid channel name: bad percent-encoding");
      return;
    }
    const problem = channelNameProblem(name);
    if (problem !== undefined) {
      httpError(res, 400, problem);
      return;
    }
    const method = req.method ?? "GET";
    if (method !== "GET" && this.#changes !== undefined && name === CHANGEFEED_CHANNEL) {
      // go-livepeer lets HTTP clients write to or delete its changefeed; we keep it server-owned.
      req.resume();
      httpError(res, 403, "Forbidden: the changefeed is written by the server only");
      return;
    }
    if (parts.length === 1) {
      if (method === "POST") this.#handleCreate(req, res, name).catch((err) => this.#failed(res, err));
      else if (method === "DELETE") this.#handleDelete(req, res, name).catch((err) => this.#failed(res, err));
      else httpError(res, 405, "Method Not Allowed", { Allow: "DELETE, POST" });
      return;
    }
    const seqText = parts[1]!;
    if (method === "GET" && seqText === "next") this.#handleNext(res, name);
    else if (method === "GET") this.#handleGet(req, res, name, seqText);
    else if (method === "POST") this.#handlePost(req, res, name, seqText);
    else if (method === "DELETE") this.#handleCloseSeq(res, name, seqText);
    else httpError(res, 405, "Method Not Allowed", { Allow: "DELETE, GET, POST" });
  }

  #failed(res: Res, err: unknown): void {
    this.#log.error({ err }, "trickle handler failed");
    httpError(res, 500, "Server error");
  }

  async #runHook(hook: TrickleHook | undefined, name: string, req: TrickleHttpRequest, res: Res) {
    if (hook === undefined) return true;
    try {
      await hook(name, req);
      return true;
    } catch (err) {
      const status = err instanceof TributaryError ? err.status : 500;
      if (status >= 400 && status < 500) {
        httpError(res, status, (err as Error).message);
      } else {
        this.#log.warn({ err }, "trickle hook failed");
        httpError(res, 500, "Server error");
      }
      return false;
    }
  }

  async #handleCreate(req: TrickleHttpRequest, res: Res, name: string): Promise<void> {
    req.resume();
    if (!(await this.#runHook(this.#beforeCreate, name, req, res))) return;
    const channel = this.getOrCreateChannel(name, header(req, HEADER_EXPECT_CONTENT), false);
    if (channel === undefined) {
      httpError(res, 404, "Stream not found");
      return;
    }
    safely(() => {
      res.statusCode = 200;
      res.end();
    });
  }

  async #handleDelete(req: TrickleHttpRequest, res: Res, name: string): Promise<void> {
    req.resume();
    if (!(await this.#runHook(this.#beforeDelete, name, req, res))) return;
    if (!this.deleteChannel(name)) {
      httpError(res, 400, "Invalid stream");
      return;
    }
    safely(() => {
      res.statusCode = 200;
      res.end();
    });
  }

  #handleNext(res: Res, name: string): void {
    const channel = this.#channels.get(name);
    if (channel === undefined) {
      httpError(res, 404, "Stream not found");
      return;
    }
    const next = String(channel.nextWrite);
    res.setHeader(LATEST, next);
    if (channel.closed) res.setHeader(CLOSED, CLOSED_VALUE);
    res.setHeader(CONTENT_TYPE, TEXT_PLAIN);
    res.statusCode = 200;
    res.end(next);
  }

  #handleCloseSeq(res: Res, name: string, seqText: string): void {
    const channel = this.#channels.get(name);
    if (channel === undefined) {
      httpError(res, 404, "Stream not found");
      return;
    }
    const idx = parseSeq(seqText);
    if (idx === undefined || idx < 0) {
      httpError(res, 400, "Invalid idx");
      return;
    }
    const segment = channel.segmentAt(idx);
    if (segment === undefined) {
      httpError(res, 400, "Nonexistent segment");
      return;
    }
    this.#log.debug({ channelName: name, seq: idx }, "segment closed by DELETE");
    segment.close();
    res.statusCode = 200;
    res.end();
  }

  #handleGet(req: TrickleHttpRequest, res: Res, name: string, seqText: string): void {
    const channel = this.#channels.get(name);
    if (channel === undefined) {
      httpError(res, 404, "Stream not found");
      return;
    }
    const requested = parseSeq(seqText);
    if (requested === undefined || requested < SEQ_CURRENT) {
      httpError(res, 400, "Invalid idx");
      return;
    }
    const lookup = channel.getForRead(requested);
    if (lookup.segment === undefined) {
      res.setHeader(LATEST, String(lookup.latest));
      res.setHeader(SEQ, String(requested));
      if (lookup.closed) {
        res.setHeader(CLOSED, CLOSED_VALUE);
        res.statusCode = 200;
      } else {
        res.statusCode = STATUS_SEGMENT_NOT_FOUND;
      }
      res.end("Entry not found");
      return;
    }
    this.#serveSegment(req, res, channel, lookup).catch((err: unknown) => {
      this.#log.warn({ err, seq: lookup.idx }, "error sending a segment");
      if (!res.headersSent) httpError(res, 500, "Server error");
      else if (!gone(res)) safely(() => res.end());
    });
  }

  async #serveSegment(req: TrickleHttpRequest, res: Res, channel: Channel, lookup: ReadLookup) {
    const segment = lookup.segment!;
    const reader = segment.buffer.reader();
    const clientGone = new AbortController();
    const onClose = (): void => clientGone.abort(CLIENT_GONE);
    res.on("close", onClose);
    try {
      let sent = 0;
      for (;;) {
        if (clientGone.signal.aborted) return;
        let chunk = reader.next();
        if (chunk !== undefined) {
          if (sent === 0) {
            if (segment.idx !== lookup.latest) res.setHeader(LATEST, String(lookup.latest));
            res.setHeader(SEQ, String(segment.idx));
            if (channel.mimeType !== "") res.setHeader(CONTENT_TYPE, channel.mimeType);
            res.writeHead(200);
          }
          while (chunk !== undefined) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              if (!(await this.#drained(res, clientGone.signal))) {
                this.#log.info({ seq: segment.idx, bytes: sent }, "subscriber stalled; connection dropped");
                dropConnection(req, res);
                return;
              }
              if (clientGone.signal.aborted) return;
            }
            chunk = reader.next();
          }
          continue;
        }
        if (reader.done) break;
        await reader.wait(clientGone.signal);
      }
      if (clientGone.signal.aborted || gone(res)) return;
      if (sent === 0) {
        res.setHeader(SEQ, String(segment.idx));
        res.setHeader(LATEST, String(channel.nextWrite));
        if (channel.closed) res.setHeader(CLOSED, CLOSED_VALUE);
        res.statusCode = 200;
      }
      res.end();
    } finally {
      res.off("close", onClose);
    }
  }

  /** Resolves true on drain or client gone, false when the client accepted nothing for the stall timeout. */
  #drained(res: Res, signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const done = (drained: boolean): void => {
        clearTimeout(timer);
        res.off("drain", onDrain);
        signal.removeEventListener("abort", onDrain);
        resolve(drained);
      };
      const onDrain = (): void => done(true);
      const timer = setTimeout(() => done(false), this.#stallTimeoutMs);
      res.on("drain", onDrain);
      signal.addEventListener("abort", onDrain, { once: true });
    });
  }

  #handlePost(req: TrickleHttpRequest, res: Res, name: string, seqText: string): void {
    const h2 = isH2(req);
    let channel = this.#channels.get(name);
    if (channel === undefined && !this.autocreate) {
      req.resume();
      // Connection: close wakes preconnected Go clients (HTTP/1.1 only; h2 forbids the header).
      lingerOnClose(req);
      httpError(res, 404, "Stream not found", h2 ? {} : { [CONNECTION]: "close" });
      return;
    }
    const requested = parseSeq(seqText);
    if (requested === undefined || requested < SEQ_NEXT) {
      req.resume();
      httpError(res, 400, "Invalid idx");
      return;
    }
    channel ??= this.getOrCreateChannel(name, header(req, "content-type"), false);
    if (channel === undefined) {
      req.resume();
      lingerOnClose(req);
      httpError(res, 404, "Stream not found", h2 ? {} : { [CONNECTION]: "close" });
      return;
    }
    const ch = channel;
    const { segment } = ch.getForWrite(requested);
    const idx = segment.idx;
    if (header(req, HEADER_RESET) !== "") ch.closeBelow(idx);
    const buffer = segment.buffer;
    const log = this.#log;
    log.debug({ channelName: name, seq: idx, next: ch.nextWrite }, "POST segment");

    let total = 0;
    let finished = false;
    let keepalive: NodeJS.Timeout | undefined;
    /** Armed at the first byte, refreshed by every chunk: a publisher silent mid-segment is dropped. */
    let stall: NodeJS.Timeout | undefined;

    const stopWaiting = (): void => {
      if (keepalive !== undefined) clearInterval(keepalive);
      keepalive = undefined;
      buffer.closedSignal.removeEventListener("abort", onSegmentClosed);
    };
    const finish = (): void => {
      finished = true;
      stopWaiting();
      if (stall !== undefined) clearTimeout(stall);
      res.off("close", onResClose);
    };
    /** 0 bytes: an empty segment, or a preconnect released by a close (docs/spec/trickle.md#publish-lifecycle step 5). */
    const answerEmpty = (): void => {
      ch.markWritten(idx);
      segment.close();
      if (gone(res)) return;
      safely(() => {
        res.setHeader(SEQ, String(idx));
        if (ch.closed) res.setHeader(CLOSED, CLOSED_VALUE);
        if (!h2) res.setHeader(CONNECTION, "close");
        res.statusCode = 200;
        endAbandoningBody(req, res, h2);
      });
    };
    function onSegmentClosed(): void {
      if (finished || total > 0) return;
      finish();
      answerEmpty();
    }
    const onBodyFailed = (err?: unknown): void => {
      if (finished) return;
      finish();
      log.info({ err, seq: idx, bytes: total }, "POST body failed; segment left open");
      httpError(res, 500, "Server error");
    };
    function onResClose(): void {
      onBodyFailed(new Error("connection closed before the request body ended"));
    }

    req.on("data", (chunk: Buffer) => {
      if (finished) return;
      if (total === 0) {
        stopWaiting();
        ch.markWritten(idx);
        stall ??= setTimeout(() => {
          onBodyFailed(new Error(`no body bytes for ${this.#stallTimeoutMs} ms`));
          dropConnection(req, res);
        }, this.#stallTimeoutMs);
      } else stall?.refresh();
      const max = this.#maxSegmentBytes;
      if (max > 0 && buffer.length + chunk.length > max) {
        finish();
        segment.close();
        log.info({ seq: idx, bytes: total, max }, "segment too large; cut");
        if (!res.headersSent && !gone(res)) {
          safely(() => {
            res.setHeader(CONTENT_TYPE, TEXT_PLAIN);
            if (!h2) res.setHeader(CONNECTION, "close");
            res.statusCode = 413;
            endAbandoningBody(req, res, h2, `Segment larger than ${max} bytes\n`);
          });
        }
        return;
      }
      total += chunk.length;
      buffer.write(chunk);
    });
    req.on("end", () => {
      if (finished) return;
      finish();
      if (total === 0) {
        answerEmpty();
        return;
      }
      segment.close();
      if (gone(res)) return;
      safely(() => {
        res.setHeader(SEQ, String(idx));
        res.statusCode = 200;
        res.end();
      });
    });
    req.on("error", onBodyFailed);
    req.on("aborted", () => onBodyFailed(new Error("request aborted")));
    res.on("close", onResClose);

    if (buffer.closed) {
      onSegmentClosed();
      return;
    }
    buffer.closedSignal.addEventListener("abort", onSegmentClosed, { once: true });
    keepalive = setInterval(() => {
      if (finished || res.headersSent || gone(res)) return;
      log.debug({ seq: idx }, "sending 100 Continue keepalive");
      try {
        res.writeContinue();
      } catch (err) {
        log.debug({ err }, "100 Continue failed");
      }
    }, this.#continueIntervalMs);
  }
}

/** Options of {@link startTrickleServer}. */
export interface StartTrickleServerOptions extends TrickleServerOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; default 2939 (the http-trickle standalone default); 0 picks a free one. */
  port?: number;
  /** Serve HTTP/2 and HTTP/1.1 over TLS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Head size, headers timeout and HTTP/2 limits (src/node/http/limits.ts; Go-like defaults). The
   * HTTP/2 upload budget does not apply: segments stream through to subscribers.
   */
  limits?: HttpLimits;
}

/** A running standalone trickle server. */
export interface RunningTrickleServer extends AsyncDisposable {
  /** The trickle handler (channels, local publishers and subscribers attach here). */
  trickle: TrickleServer;
  /** The underlying node server. */
  server: Server | Http2SecureServer;
  /** Base URL, ending with the base path, e.g. `http://127.0.0.1:2939/`. */
  url: string;
  /** The bound port. */
  port: number;
  /** Closes every channel, then the listener and every connection. Idempotent. */
  close(): Promise<void>;
}

/** Default port of a standalone trickle server (j0sh/http-trickle). */
export const DEFAULT_TRICKLE_PORT = 2939;

/**
 * Starts a standalone trickle server: plain HTTP/1.1, or with `tls` HTTP/2 with HTTP/1.1 fallback.
 * Resolves once listening.
 */
export async function startTrickleServer(
  options: StartTrickleServerOptions = {},
): Promise<RunningTrickleServer> {
  const {
    host = "127.0.0.1",
    port = DEFAULT_TRICKLE_PORT,
    tls,
    limits: limitOptions,
    ...trickleOptions
  } = options;
  const trickle = new TrickleServer(trickleOptions);
  const listener = trickle.listener();
  // Heads up to 1 MiB, a headers timeout, HTTP/2 stream and reset limits (src/node/http/limits.ts).
  // No whole-request timeout: a preconnected POST may wait for its first byte for a long time.
  const limits = resolveHttpLimits(limitOptions);
  let server: Server | Http2SecureServer;
  if (tls) {
    const secure = createSecureServer(
      { cert: tls.cert, key: tls.key, allowHTTP1: true, ...http2ServerOptions(limits) },
      listener,
    );
    applyHttp1Limits(secure, limits);
    guardHttp2Sessions(secure, limits);
    secure.on("tlsClientError", (_err, socket) => socket.destroy());
    server = secure;
  } else server = createServer(http1ServerOptions(limits), listener);
  server.on("clientError", clientErrorListener(limits));
  const sockets = new Set<Socket>();
  server.on(tls ? "secureConnection" : "connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("error", (err) => trickleOptions.logger?.error({ err }, "trickle listener error"));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await trickle.close();
    throw err;
  }
  const bound = (server.address() as AddressInfo).port;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const url = `${tls ? "https" : "http"}://${hostPart}:${bound}${trickle.basePath}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await trickle.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Let the answers that trickle.close() produced flush, then drop every connection.
      await new Promise((resolve) => setImmediate(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    })();
    return closing;
  };
  trickleOptions.signal?.addEventListener("abort", () => void close(), { once: true });
  return { trickle, server, url, port: bound, close, [Symbol.asyncDispose]: close };
}
