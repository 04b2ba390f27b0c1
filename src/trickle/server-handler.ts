/**
 * The trickle server: go-livepeer `trickle/trickle_server.go` in TypeScript (docs/spec/trickle.md#routes to #channel-lifecycle; our differences: docs/spec/upstream-quirks.md#trickle).
 *
 * `TrickleServer` is an HTTP handler mountable under a base path of any node:http or node:http2
 * (compat API) server: `server.handle(req, res)` answers and returns true for paths under the base
 * path, false otherwise. This file holds the channel registry and the routing; the segment handlers
 * are server-get.ts and server-post.ts, the answer helpers server-http.ts, and server.ts runs one
 * standalone (HTTP/1.1, or HTTP/2 + 1.1 over TLS).
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
 * - A subscriber at the head of a channel that is deleted gets `Lp-Trickle-Closed` (end of stream),
 *   also when its GET for the head (or -1) arrives just after the delete: the head of a deleted channel
 *   that had segments is remembered for {@link DELETED_HEAD_GRACE_MS}. In Go that outcome depends on
 *   whether the GET beat the delete (404 otherwise); every other request to a deleted channel is a 404.
 * - With the changefeed on, HTTP clients may only read `_changes`: POST and DELETE answer 403 (Go lets
 *   anyone inject or delete changefeed entries when autocreate is on).
 * - Stalled peers are dropped (Go waits forever): a subscriber that accepts no bytes for
 *   `stallTimeoutMs` (default 30 s) loses its connection, and so does a publisher that sends nothing
 *   for that long in the middle of a segment (handled as a failed body: 500 if it can, segment left
 *   open). A stalled subscriber holds at most the chunk being written, never the channel's ring.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { TributaryError } from "../node/errors.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import {
  CLOSED_VALUE,
  HEADER_EXPECT_CONTENT,
  parseSeq,
  RING_SIZE,
  SEQ_CURRENT,
  SEQ_NEXT,
  STATUS_SEGMENT_NOT_FOUND,
} from "../protocol/trickle.ts";
import { decodePathSegment } from "../protocol/uri.ts";
import { Channel, type ChannelRegistry } from "./channel.ts";
import { LocalPublisher } from "./local.ts";
import { serveSegment } from "./server-get.ts";
import {
  CLOSED,
  CONNECTION,
  CONTENT_TYPE,
  header,
  httpError,
  isH2,
  LATEST,
  lingerOnClose,
  type Res,
  SEQ,
  safely,
  shortName,
  TEXT_PLAIN,
} from "./server-http.ts";
import { receiveSegment } from "./server-post.ts";

export { LINGER_MS } from "./server-http.ts";

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

/** What the segment handlers need from the server: its logger and limits. */
export interface SegmentIo {
  readonly log: Logger;
  readonly maxSegmentBytes: number;
  readonly stallTimeoutMs: number;
  readonly continueIntervalMs: number;
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

/** How long the head of a deleted channel still answers its subscribers with `Lp-Trickle-Closed`. */
export const DELETED_HEAD_GRACE_MS = 30_000;
/** Deleted channel heads remembered at most (the oldest is forgotten first). */
const DELETED_HEADS_MAX = 1024;

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
  /** Recently deleted channels that had segments: their head seq and when they went (oldest first). */
  readonly #deletedHeads = new Map<string, { head: number; at: number }>();
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
  /** What the segment handlers (server-get.ts, server-post.ts) need. */
  readonly #io: SegmentIo;

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
    this.#io = {
      log: this.#log,
      maxSegmentBytes: this.#maxSegmentBytes,
      stallTimeoutMs: this.#stallTimeoutMs,
      continueIntervalMs: this.#continueIntervalMs,
    };
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
    this.#deletedHeads.delete(name);
    this.#log.info({ channel: shortName(name), mime_type: mimeType }, "channel created");
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
    // The head before the close: closing releases waiting publishers, which may advance it.
    const head = channel.nextWrite;
    channel.close();
    this.#channels.delete(name);
    if (head > 0) this.#rememberDeletedHead(name, head);
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
    this.#deletedHeads.clear();
  }

  #rememberDeletedHead(name: string, head: number, now = Date.now()): void {
    this.#deletedHeads.delete(name);
    for (const [n, d] of this.#deletedHeads) {
      if (now - d.at <= DELETED_HEAD_GRACE_MS && this.#deletedHeads.size < DELETED_HEADS_MAX) break;
      this.#deletedHeads.delete(n);
    }
    this.#deletedHeads.set(name, { head, at: now });
  }

  /** The head seq of a channel deleted within the grace period, if `requested` asks for it (or -1). */
  #deletedHead(name: string, requested: number | undefined): number | undefined {
    const d = this.#deletedHeads.get(name);
    if (d === undefined || requested === undefined) return undefined;
    if (Date.now() - d.at > DELETED_HEAD_GRACE_MS) {
      this.#deletedHeads.delete(name);
      return undefined;
    }
    return requested === d.head || requested === SEQ_NEXT ? d.head : undefined;
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
    const name = decodePathSegment(parts[0]!);
    if (name === undefined) {
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
    this.#log.debug({ channel: shortName(name), seq: idx }, "segment closed by DELETE");
    segment.close();
    res.statusCode = 200;
    res.end();
  }

  #handleGet(req: TrickleHttpRequest, res: Res, name: string, seqText: string): void {
    const channel = this.#channels.get(name);
    if (channel === undefined) {
      const head = this.#deletedHead(name, parseSeq(seqText));
      if (head === undefined) {
        httpError(res, 404, "Stream not found");
        return;
      }
      // A subscriber at the head of a channel deleted a moment ago: end of stream, as if it had waited.
      res.setHeader(SEQ, String(head));
      res.setHeader(LATEST, String(head));
      res.setHeader(CLOSED, CLOSED_VALUE);
      res.statusCode = 200;
      res.end();
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
    serveSegment(this.#io, req, res, channel, lookup);
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
    receiveSegment(this.#io, req, res, channel, requested, name);
  }
}
