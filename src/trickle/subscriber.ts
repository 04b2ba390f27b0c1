/**
 * Trickle subscriber client (docs/spec/trickle.md#sequence-numbers, #subscribe-lifecycle, #subscriber-rules, #python-clients).
 *
 * Each segment is one `GET {channel}/{seq}` whose body streams while the publisher is still writing it.
 * Rules, following go-livepeer's subscriber and livepeer-python-gateway:
 * - `Lp-Trickle-Closed` is checked before the status: it is the end of the stream, even on a 200;
 * - 404 is terminal, never retried. Before any segment was received it is an error:
 *   {@link TrickleSubscriber.next} rejects with {@link TrickleStreamNotFoundError} after exactly one
 *   request (a wrong or never-created channel must not look like an empty stream; go-livepeer returns
 *   StreamNotFoundErr, pytrickle calls its error callback). Once segments were received, a 404 is the
 *   end of the stream (null, {@link TrickleSubscriber.endReason} = "not-found"): `DELETE {channel}`
 *   removes the channel at once, so a subscriber a segment or two behind the publisher's close gets
 *   404 for its next GET instead of `Lp-Trickle-Closed`; the stream is over either way;
 * - 470: jump to `Lp-Trickle-Latest`; when Latest is below the requested seq (we asked ahead of the
 *   server), wait `aheadPollMs` and ask again for the same seq;
 * - other failures: up to `maxRetries` consecutive retries, `retryDelayMs` apart;
 * - the next seq is `Lp-Trickle-Seq` + 1, and the GET for it is preconnected as soon as the current
 *   segment's headers arrive;
 * - a GET still waiting for its headers after `refreshMs` is cancelled and reissued (defeats proxy idle
 *   timeouts), without counting as a retry.
 */

import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../node/logger.ts";
import { silentLogger } from "../node/logger.ts";
import {
  HEADER_CLOSED,
  HEADER_LATEST,
  HEADER_SEQ,
  SEQ_CURRENT,
  STATUS_SEGMENT_NOT_FOUND,
} from "../protocol/trickle.ts";
import { TrickleStreamNotFoundError, TrickleSubscribeError } from "./client-errors.ts";
import {
  readBytes,
  readText,
  TrickleHttpClient,
  type TrickleRequest,
  type TrickleResponse,
  type TrickleTlsOptions,
} from "./http-client.ts";

/** Options of {@link TrickleSubscriber}. */
export interface TrickleSubscriberOptions {
  /** First seq: -2 = the segment being written, from byte 0 (default); -1 = the next one; n >= 0. */
  start?: number;
  /** Aborting stops the subscriber: pending and later {@link TrickleSubscriber.next} calls return null. */
  signal?: AbortSignal;
  /** TLS settings for https:// channels. */
  tls?: TrickleTlsOptions;
  /** Use HTTP/2 for https:// channels. */
  http2?: boolean;
  /** Send `Connection: close` on every request (the pytrickle habit). Default false. */
  connectionClose?: boolean;
  /** Consecutive failed attempts tolerated per segment before giving up. Default 5. */
  maxRetries?: number;
  /** Pause between those attempts. Default 300 ms (go-livepeer gateway `retryPause`). */
  retryDelayMs?: number;
  /** A GET waiting this long for its headers is cancelled and reissued. Default 20000 ms. */
  refreshMs?: number;
  /** Pause before asking again when the server's Latest is below the requested seq. Default 250 ms. */
  aheadPollMs?: number;
  logger?: Logger;
}

/** One segment being received. */
export interface TrickleSegment {
  /** The seq the server served (`Lp-Trickle-Seq`). */
  seq: number;
  /** The channel's MIME type (`Content-Type`), when sent. */
  mimeType: string | undefined;
  /** The server's next write seq (`Lp-Trickle-Latest`), when sent (it is omitted when it equals seq). */
  latest: number | undefined;
  /** The segment bytes, streamed as they are published. Consume it, or call {@link cancel}. */
  body: AsyncIterable<Uint8Array> & Readable;
  /** Reads the whole segment. */
  bytes(): Promise<Uint8Array>;
  /** Reads the whole segment as UTF-8 text. */
  text(): Promise<string>;
  /** Stops receiving this segment. */
  cancel(): void;
}

/** Counters of a subscriber. */
export interface TrickleSubscriberStats {
  /** Segments whose headers were received. */
  segments: number;
  /** Body bytes received, counted as the bodies are read. */
  bytes: number;
  /** Failed attempts that were retried. */
  retries: number;
  /** 470 answers that moved the subscriber to Latest. */
  jumps: number;
  /** 470 answers with Latest below the requested seq (subscriber ahead of the publisher). */
  aheadWaits: number;
  /** GETs reissued because their headers took longer than `refreshMs`. */
  refreshes: number;
}

class RefreshTimeout extends Error {}

interface OpenGet {
  seq: number;
  response: Promise<TrickleResponse>;
  cancel(): void;
}

const DEFAULT_RETRY_DELAY_MS = 300; // go-livepeer server/ai_live_video.go retryPause
const DEFAULT_REFRESH_MS = 20_000; // go-livepeer trickle_subscriber.go preconnectRefreshTimeout
const DEFAULT_AHEAD_POLL_MS = 250; // livepeer-python-gateway subscriber

/** Reads numbered segments from one trickle channel. Dispose with `await using` or {@link close}. */
export class TrickleSubscriber implements AsyncIterable<TrickleSegment> {
  /** The channel URL, without a trailing slash. */
  readonly url: string;
  /** Counters. */
  readonly stats: TrickleSubscriberStats = {
    segments: 0,
    bytes: 0,
    retries: 0,
    jumps: 0,
    aheadWaits: 0,
    refreshes: 0,
  };
  readonly #client: TrickleHttpClient;
  readonly #log: Logger;
  readonly #maxRetries: number;
  readonly #retryDelayMs: number;
  readonly #refreshMs: number;
  readonly #aheadPollMs: number;
  readonly #headers: Record<string, string>;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.close();
  #seq: number;
  #pending: OpenGet | undefined;
  #ended = false;
  #endReason: "closed" | "not-found" | undefined;
  #closed = false;

  constructor(channelUrl: string, options: TrickleSubscriberOptions = {}) {
    this.url = channelUrl.replace(/\/+$/, "");
    this.#seq = options.start ?? SEQ_CURRENT;
    if (!Number.isSafeInteger(this.#seq) || this.#seq < SEQ_CURRENT) {
      throw new RangeError(`start must be an integer >= -2, got ${this.#seq}`);
    }
    this.#log = options.logger ?? silentLogger();
    this.#maxRetries = options.maxRetries ?? 5;
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.#refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.#aheadPollMs = options.aheadPollMs ?? DEFAULT_AHEAD_POLL_MS;
    this.#headers = options.connectionClose ? { connection: "close" } : {};
    this.#client = new TrickleHttpClient({
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.http2 ? { http2: true } : {}),
    });
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.close();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The seq the next {@link next} call asks for (-1 / -2 until the first segment resolves them). */
  get seq(): number {
    return this.#seq;
  }

  /** True once the stream ended (Closed, 404) or the subscriber was closed. */
  get ended(): boolean {
    return this.#ended || this.#closed;
  }

  /**
   * Why the stream ended: `"closed"` (`Lp-Trickle-Closed`), `"not-found"` (404), `"aborted"` ({@link close}
   * or the signal); undefined while it runs.
   */
  get endReason(): "closed" | "not-found" | "aborted" | undefined {
    return this.#endReason ?? (this.#closed ? "aborted" : undefined);
  }

  /** Moves to another seq (-2, -1 or n >= 0); cancels the preconnected GET. */
  setSeq(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < SEQ_CURRENT)
      throw new RangeError(`seq must be >= -2, got ${seq}`);
    this.#pending?.cancel();
    this.#pending = undefined;
    this.#seq = seq;
  }

  /**
   * The next segment, or null at the end of the stream (or once closed). Rejects with
   * {@link TrickleStreamNotFoundError} on a 404 before any segment arrived, and with
   * {@link TrickleSubscribeError} when retries ran out.
   */
  async next(): Promise<TrickleSegment | null> {
    let failures = 0;
    let jumps = 0;
    let lastErr: unknown;
    while (!this.ended) {
      const seq = this.#seq;
      const get = this.#pending?.seq === seq ? this.#pending : this.#open(seq);
      this.#pending = undefined;
      let res: TrickleResponse;
      try {
        res = await get.response;
      } catch (err) {
        if (this.ended) return null;
        lastErr = err;
        if (!(await this.#retryOrGiveUp(++failures, seq, err))) break;
        continue;
      }
      if (this.ended) {
        res.discard();
        return null;
      }
      if (res.headers.get(HEADER_CLOSED)) {
        res.discard();
        this.#end("closed");
        return null;
      }
      if (res.status === 404) {
        res.discard();
        this.#end("not-found");
        if (this.stats.segments > 0) return null;
        throw new TrickleStreamNotFoundError(this.url);
      }
      if (res.status === STATUS_SEGMENT_NOT_FOUND) {
        res.discard();
        const latest = intHeader(res.headers, HEADER_LATEST);
        if (latest !== undefined && seq >= 0 && latest < seq) {
          this.stats.aheadWaits++;
          await this.#sleep(this.#aheadPollMs);
        } else {
          this.stats.jumps++;
          this.#log.debug({ seq, latest }, "trickle segment gone; jumping to latest");
          this.#seq = latest ?? -1;
          // A server that keeps answering 470 for where it points us must not make us spin.
          if (++jumps > 2) await this.#sleep(this.#aheadPollMs);
        }
        continue;
      }
      if (res.status !== 200) {
        const body = await readText(res.body).catch(() => "");
        lastErr = new TrickleSubscribeError(`trickle GET of segment ${seq} answered HTTP ${res.status}`, {
          seq,
          httpStatus: res.status,
          body,
          url: this.url,
        });
        if (!(await this.#retryOrGiveUp(++failures, seq, lastErr))) break;
        continue;
      }
      const served = intHeader(res.headers, HEADER_SEQ) ?? seq;
      this.#seq = served + 1;
      this.stats.segments++;
      if (served >= 0) this.#pending = this.#open(served + 1);
      return this.#segment(served, res);
    }
    if (this.ended) return null;
    if (lastErr instanceof TrickleSubscribeError) throw lastErr;
    throw new TrickleSubscribeError(
      `trickle GET of segment ${this.#seq} failed ${failures} times: ${(lastErr as Error)?.message}`,
      { seq: this.#seq, cause: lastErr, url: this.url },
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TrickleSegment> {
    for (;;) {
      const segment = await this.next();
      if (!segment) return;
      yield segment;
    }
  }

  /** Stops: cancels every request; pending {@link next} calls return null. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#stop.abort();
    this.#pending = undefined;
    this.#client.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  #end(reason: "closed" | "not-found"): void {
    this.#ended = true;
    this.#endReason ??= reason;
    this.#pending?.cancel();
    this.#pending = undefined;
  }

  async #retryOrGiveUp(failures: number, seq: number, err: unknown): Promise<boolean> {
    if (failures > this.#maxRetries) return false;
    this.stats.retries++;
    this.#log.debug({ err, seq, failures }, "trickle GET failed; retrying");
    await this.#sleep(this.#retryDelayMs);
    return !this.ended;
  }

  async #sleep(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => {});
  }

  /** Issues `GET {channel}/{seq}`, reissuing it whenever its headers take longer than refreshMs. */
  #open(seq: number): OpenGet {
    let current: TrickleRequest | undefined;
    let cancelled = false;
    const run = async (): Promise<TrickleResponse> => {
      for (;;) {
        if (cancelled || this.#closed) throw new Error("subscriber request cancelled");
        const req = this.#client.request(`${this.url}/${seq}`, { method: "GET", headers: this.#headers });
        current = req;
        const timer = setTimeout(() => req.abort(new RefreshTimeout("refresh")), this.#refreshMs);
        try {
          return await req.response;
        } catch (err) {
          if (err instanceof RefreshTimeout && !cancelled && !this.#closed) {
            this.stats.refreshes++;
            this.#log.debug({ seq }, "trickle GET waited too long for headers; reissuing");
            continue;
          }
          throw err;
        } finally {
          clearTimeout(timer);
        }
      }
    };
    const response = run();
    response.catch(() => {});
    return {
      seq,
      response,
      cancel: () => {
        cancelled = true;
        current?.abort(new Error("cancelled"));
        response.then(
          (r) => r.discard(),
          () => {},
        );
      },
    };
  }

  #segment(seq: number, res: TrickleResponse): TrickleSegment {
    const body = res.body as AsyncIterable<Uint8Array> & Readable;
    body.on("data", (chunk: Uint8Array) => {
      this.stats.bytes += chunk.byteLength;
    });
    body.pause();
    return {
      seq,
      mimeType: res.headers.get("content-type") ?? undefined,
      latest: intHeader(res.headers, HEADER_LATEST),
      body,
      bytes: () => readBytes(body),
      text: async () => new TextDecoder().decode(await readBytes(body)),
      cancel: () => res.discard(),
    };
  }
}

function intHeader(headers: Headers, name: string): number | undefined {
  const v = headers.get(name);
  if (v === null || !/^-?\d+$/.test(v.trim())) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}
