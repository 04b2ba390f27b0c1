/**
 * Trickle publisher client (docs/spec/trickle.md#sequence-numbers, #publish-lifecycle, #publisher-rules, #python-clients).
 *
 * Each segment is one streaming `POST {channel}/{seq}`. The POST for seq+1 is preconnected (headers sent,
 * body open) as soon as segment seq is handed out, so the next segment starts without a round trip.
 * Rules, following go-livepeer's publisher and livepeer-python-gateway's hardened retry rules:
 * - a segment is retried (same seq, fresh POST) only while none of its bytes were handed to the
 *   transport; once bytes went out, a failed segment is closed with `DELETE {channel}/{seq}` and the
 *   publisher moves on to seq+1;
 * - 404 is terminal ({@link TrickleStreamNotFoundError});
 * - `Lp-Trickle-Closed` (checked before the status) is the end of the stream ({@link TrickleEndOfStreamError});
 * - interim 1xx responses (the server's 100 Continue keepalives) are ignored;
 * - no total timeout: each chunk must be accepted within `stallTimeoutMs` (5 s by default);
 * - `start: "next"` asks `GET {channel}/next` and sends `Lp-Trickle-Reset: 1` on its first POST; when the
 *   server has no `/next`, the first POST goes to seq -1 (the server's next write) and the publisher
 *   learns the real seq from that POST's `Lp-Trickle-Seq` before it preconnects the following one.
 */
import { TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import { silentLogger } from "../node/logger.ts";
import {
  HEADER_CLOSED,
  HEADER_EXPECT_CONTENT,
  HEADER_LATEST,
  HEADER_RESET,
  HEADER_SEQ,
} from "../protocol/trickle.ts";
import {
  TrickleEndOfStreamError,
  TricklePublisherTerminalError,
  TrickleSegmentWriteError,
  TrickleStallError,
  TrickleStreamNotFoundError,
} from "./client-errors.ts";
import {
  readText,
  TrickleHttpClient,
  type TrickleRequest,
  type TrickleResponse,
  type TrickleTlsOptions,
} from "./http-client.ts";

/** Options of {@link TricklePublisher}. */
export interface TricklePublisherOptions {
  /** `Content-Type` of every POST (sets the channel MIME type when a POST auto-creates it). */
  mimeType?: string;
  /** First seq: a number (default 0), or `"next"` to continue after a restart (`/next` + Reset). */
  start?: number | "next";
  /** Aborting closes the publisher (best-effort `DELETE {channel}`) and fails pending writes. */
  signal?: AbortSignal;
  /** TLS settings for https:// channels. */
  tls?: TrickleTlsOptions;
  /** Use HTTP/2 for https:// channels. */
  http2?: boolean;
  /** Send `Connection: close` on every request (the pytrickle habit). Default false. */
  connectionClose?: boolean;
  /**
   * Longest time one chunk may wait for the transport to accept it, and longest wait for the server's
   * answer once a segment's body is complete. Default 5000 ms. A segment as a whole has no time limit.
   */
  stallTimeoutMs?: number;
  /** Fresh POSTs tried for a segment whose bytes were never sent. Default 3. */
  maxRetries?: number;
  /** Pause before such a retry. Default 250 ms (go-livepeer gateway). */
  retryDelayMs?: number;
  /** Consecutive failed segments after which the publisher stops. Default 3 (livepeer-python-gateway). */
  maxConsecutiveFailures?: number;
  logger?: Logger;
}

/** Outcome of one completed segment. */
export interface TrickleSegmentResult {
  /** The seq the server wrote (its `Lp-Trickle-Seq`). */
  seq: number;
  /** Body bytes sent. */
  bytes: number;
}

/** Counters of a publisher. */
export interface TricklePublisherStats {
  segmentsStarted: number;
  segmentsCompleted: number;
  segmentsFailed: number;
  postAttempts: number;
  /** Fresh POSTs made for a segment because its previous POST failed before any byte was sent. */
  retries: number;
  bytes: number;
}

const DEFAULT_STALL_MS = 5000; // livepeer-python-gateway _SEGMENT_QUEUE_PUT_TIMEOUT_S
const DEFAULT_RETRY_DELAY_MS = 250; // go-livepeer server/ai_live_video.go retry of 0-byte segments
const DEFAULT_MAX_FAILURES = 3; // livepeer-python-gateway max_consecutive_failures

/** Publishes numbered segments to one trickle channel. Dispose with `await using` or {@link close}. */
export class TricklePublisher {
  /** The channel URL, without a trailing slash. */
  readonly url: string;
  /** Counters. */
  readonly stats: TricklePublisherStats = {
    segmentsStarted: 0,
    segmentsCompleted: 0,
    segmentsFailed: 0,
    postAttempts: 0,
    retries: 0,
    bytes: 0,
  };
  readonly #client: TrickleHttpClient;
  readonly #log: Logger;
  readonly #mime: string;
  readonly #opts: Required<
    Pick<
      TricklePublisherOptions,
      "stallTimeoutMs" | "maxRetries" | "retryDelayMs" | "maxConsecutiveFailures" | "connectionClose"
    >
  >;
  readonly #start: number | "next";
  /** Seq of the next segment to hand out; undefined until known. */
  #seq: number | undefined;
  #starting: Promise<void> | undefined;
  #sendReset = false;
  #pending: { seq: number; req: TrickleRequest } | undefined;
  #last: TrickleSegmentWriter | undefined;
  #writers = new Set<TrickleSegmentWriter>();
  #consecutiveFailures = 0;
  #terminal: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #onAbort = () => void this.close();
  readonly #signal: AbortSignal | undefined;

  constructor(channelUrl: string, options: TricklePublisherOptions = {}) {
    this.url = channelUrl.replace(/\/+$/, "");
    this.#mime = options.mimeType ?? "application/octet-stream";
    this.#log = options.logger ?? silentLogger();
    this.#opts = {
      stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_MS,
      maxRetries: options.maxRetries ?? 3,
      retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
      maxConsecutiveFailures: Math.max(1, options.maxConsecutiveFailures ?? DEFAULT_MAX_FAILURES),
      connectionClose: options.connectionClose ?? false,
    };
    this.#start = options.start ?? 0;
    if (typeof this.#start === "number" && (!Number.isSafeInteger(this.#start) || this.#start < -1)) {
      throw new RangeError(`start must be an integer >= -1 or "next", got ${this.#start}`);
    }
    this.#client = new TrickleHttpClient({
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.http2 ? { http2: true } : {}),
    });
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#closed = true;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** True once the server reported the channel closed (`Lp-Trickle-Closed`) or the publisher was closed. */
  get ended(): boolean {
    return this.#closed || this.#terminal instanceof TrickleEndOfStreamError;
  }

  /** The seq the next {@link next} call will write, when known. */
  get seq(): number | undefined {
    return this.#seq;
  }

  /**
   * Creates the channel: `POST {channel}` with `Expect-Content: <mimeType>`. Servers create channels
   * this way only when autocreate is on, or answer 200 if the channel exists; 404 otherwise.
   */
  async create(): Promise<void> {
    this.#checkUsable();
    const res = await this.#client.request(this.url, {
      method: "POST",
      headers: { [HEADER_EXPECT_CONTENT]: this.#mime, ...this.#connHeaders() },
      body: new Uint8Array(0),
    }).response;
    const body = await readText(res.body);
    if (res.status === 404) throw new TrickleStreamNotFoundError(this.url);
    if (res.status >= 300) {
      throw new TrickleSegmentWriteError(`trickle channel create failed with HTTP ${res.status}`, {
        seq: -1,
        httpStatus: res.status,
        body,
        url: this.url,
      });
    }
  }

  /**
   * Starts the next segment and returns its writer; preconnects the POST of the following seq.
   * Rejects with the terminal error once the publisher stopped (404, end of stream, too many failures).
   */
  async next(): Promise<TrickleSegmentWriter> {
    this.#checkUsable();
    await this.#resolveStart();
    this.#checkUsable();
    if (this.#seq === undefined && this.#last) {
      // The previous POST went to -1; its Lp-Trickle-Seq tells where we are.
      const prev = await this.#last.done.catch(() => undefined);
      this.#checkUsable();
      if (prev) this.#seq = prev.seq + 1;
    }
    const seq = this.#seq ?? -1;
    const reset = this.#sendReset;
    this.#sendReset = false;
    let req: TrickleRequest;
    if (this.#pending && this.#pending.seq === seq && !reset) {
      req = this.#pending.req;
    } else {
      this.#pending?.req.abort();
      req = this.#post(seq, reset);
    }
    this.#pending = undefined;
    const writer = new TrickleSegmentWriter(this, seq, req, reset);
    this.#writers.add(writer);
    this.#last = writer;
    this.stats.segmentsStarted++;
    if (seq >= 0) {
      this.#seq = seq + 1;
      this.#pending = { seq: seq + 1, req: this.#post(seq + 1) };
    } else {
      this.#seq = undefined;
    }
    return writer;
  }

  /**
   * Writes one whole segment from bytes or an (async) iterable of chunks, streaming it as it comes.
   * On a failed source or write, the segment is closed on the server and the error rethrown.
   */
  async write(
    data: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<TrickleSegmentResult> {
    const writer = await this.next();
    try {
      if (data instanceof Uint8Array) await writer.write(data);
      else for await (const chunk of data) await writer.write(chunk);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return writer.end();
  }

  /**
   * Closes the channel (`DELETE {channel}`, best effort) and ends every pending request. Idempotent.
   * Subscribers then see the end of the stream.
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #doClose(): Promise<void> {
    const wasClosed = this.#closed;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (!wasClosed) {
      try {
        const req = this.#client.request(this.url, { method: "DELETE", headers: this.#connHeaders() });
        const timer = setTimeout(() => req.abort(new Error("DELETE timed out")), 5000);
        try {
          (await req.response).discard();
        } finally {
          clearTimeout(timer);
        }
      } catch (err) {
        this.#log.debug({ err }, "trickle channel DELETE failed");
      }
    }
    this.#pending?.req.abort(new Error("publisher closed"));
    this.#pending = undefined;
    for (const w of this.#writers) w.cancel(new TrickleEndOfStreamError(this.url));
    this.#client.close();
  }

  #checkUsable(): void {
    if (this.#terminal) throw this.#terminal;
    if (this.#closed) throw new TrickleEndOfStreamError(this.url);
  }

  #connHeaders(): Record<string, string> {
    return this.#opts.connectionClose ? { connection: "close" } : {};
  }

  #resolveStart(): Promise<void> {
    this.#starting ??= this.#doResolveStart();
    return this.#starting;
  }

  async #doResolveStart(): Promise<void> {
    if (this.#start !== "next") {
      this.#seq = this.#start === -1 ? undefined : this.#start;
      return;
    }
    this.#sendReset = true;
    this.#seq = undefined;
    try {
      const res = await this.#client.request(`${this.url}/next`, {
        method: "GET",
        headers: this.#connHeaders(),
      }).response;
      const text = await readText(res.body);
      if (res.status === 404) {
        this.#terminal = new TrickleStreamNotFoundError(this.url);
        throw this.#terminal;
      }
      const latest = Number(
        res.headers.get(HEADER_LATEST) ?? (res.status === 200 ? text.trim() : Number.NaN),
      );
      if (res.status === 200 && Number.isSafeInteger(latest) && latest >= 0) this.#seq = latest;
      else this.#log.debug({ status: res.status }, "trickle /next unsupported; first POST goes to -1");
    } catch (err) {
      if (err instanceof TrickleStreamNotFoundError) throw err;
      this.#log.debug({ err }, "trickle /next failed; first POST goes to -1");
    }
  }

  /** Opens a streaming POST for `seq` (headers go out now). */
  #post(seq: number, reset = false): TrickleRequest {
    this.stats.postAttempts++;
    const headers: Record<string, string> = { "content-type": this.#mime, ...this.#connHeaders() };
    if (reset) headers[HEADER_RESET] = "1";
    return this.#client.request(`${this.url}/${seq}`, { method: "POST", headers, body: "stream" });
  }

  // ---- hooks used by TrickleSegmentWriter -------------------------------------------------------

  /** @internal A fresh POST for a segment (retry, or the first POST carrying Reset). */
  _repost(seq: number, reset: boolean): TrickleRequest {
    this.#checkUsable();
    return this.#post(seq, reset);
  }

  /** @internal */
  get _options() {
    return this.#opts;
  }

  /** @internal */
  get _logger(): Logger {
    return this.#log;
  }

  /** @internal Classifies a final response: throws terminal errors, returns the status otherwise. */
  _classify(res: TrickleResponse): void {
    if (res.headers.get(HEADER_CLOSED)) {
      this.#terminal ??= new TrickleEndOfStreamError(this.url);
      throw this.#terminal;
    }
    if (res.status === 404) {
      this.#terminal ??= new TrickleStreamNotFoundError(this.url);
      throw this.#terminal;
    }
  }

  /** @internal */
  _succeeded(writer: TrickleSegmentWriter, result: TrickleSegmentResult): void {
    this.#writers.delete(writer);
    this.#consecutiveFailures = 0;
    this.stats.segmentsCompleted++;
    this.stats.bytes += result.bytes;
    if (this.#seq === undefined && this.#last === writer) this.#seq = result.seq + 1;
  }

  /** @internal Records a failed segment; closes it on the server when some bytes were sent. */
  async _failed(writer: TrickleSegmentWriter, err: Error, bytesSent: number): Promise<Error> {
    this.#writers.delete(writer);
    if (err instanceof TrickleEndOfStreamError || err instanceof TrickleStreamNotFoundError) return err;
    this.stats.segmentsFailed++;
    this.#consecutiveFailures++;
    if (bytesSent > 0 && writer.seq >= 0 && !this.#closed) {
      // Close the partial segment so its subscribers unblock (docs/spec/trickle.md#publish-lifecycle step 7).
      try {
        const req = this.#client.request(`${this.url}/${writer.seq}`, {
          method: "DELETE",
          headers: this.#connHeaders(),
        });
        const timer = setTimeout(() => req.abort(), 5000);
        try {
          (await req.response).discard();
        } finally {
          clearTimeout(timer);
        }
      } catch (e) {
        this.#log.debug({ err: e, seq: writer.seq }, "trickle segment DELETE failed");
      }
    }
    if (this.#consecutiveFailures >= this.#opts.maxConsecutiveFailures && !this.#terminal) {
      this.#terminal = new TricklePublisherTerminalError(this.#consecutiveFailures, {
        cause: err,
        url: this.url,
      });
    }
    this.#log.warn({ err, seq: writer.seq }, "trickle segment failed");
    return err;
  }
}

/**
 * Writer of one segment: {@link write} chunks, then {@link end}. A failed write or end rejects with a
 * typed error; the segment is then finished (closed on the server if some of it was sent).
 */
export class TrickleSegmentWriter {
  /** The seq this segment is posted to (-1 while the server picks it; see {@link TrickleSegmentResult.seq}). */
  readonly seq: number;
  /** Settles when the segment finished: its result, or its error. */
  readonly done: Promise<TrickleSegmentResult>;
  readonly #pub: TricklePublisher;
  #req: TrickleRequest;
  #reset: boolean;
  #bytes = 0;
  #failed: Error | undefined;
  #finished = false;
  #resolveDone!: (r: TrickleSegmentResult) => void;
  #rejectDone!: (e: Error) => void;

  /** @internal Created by {@link TricklePublisher.next}. */
  constructor(pub: TricklePublisher, seq: number, req: TrickleRequest, reset: boolean) {
    this.#pub = pub;
    this.seq = seq;
    this.#reset = reset;
    this.#req = req;
    this.done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {});
  }

  /** Body bytes sent so far. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /** Sends one chunk. Resolves once the transport accepted it (not when the server read it). */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (this.#finished) throw new Error("segment already ended");
    if (chunk.byteLength === 0) return;
    try {
      if (this.#bytes === 0) await this.#ensureFreshRequest();
      else if (this.#req.responded) await this.#earlyResponse();
      await this.#req.write(chunk, this.#pub._options.stallTimeoutMs);
      this.#bytes += chunk.byteLength;
    } catch (err) {
      // A chunk handed to a broken transport may have partly reached the server: count it as sent.
      if (this.#bytes === 0 && this.#req.bytesWritten > 0) this.#bytes = this.#req.bytesWritten;
      throw await this.#fail(err);
    }
  }

  /** Ends the segment and waits for the server's answer. */
  async end(): Promise<TrickleSegmentResult> {
    if (this.#failed) throw this.#failed;
    if (this.#finished) return this.done;
    this.#finished = true;
    try {
      for (let attempt = 0; ; attempt++) {
        if (this.#bytes === 0) await this.#ensureFreshRequest();
        this.#req.end();
        let res: TrickleResponse;
        try {
          res = await this.#responseAfterEnd();
        } catch (err) {
          if (this.#bytes === 0 && attempt < this.#pub._options.maxRetries) {
            await this.#retryPause();
            this.#req = this.#pub._repost(this.seq, this.#reset);
            this.#pub.stats.retries++;
            continue;
          }
          throw this.#writeError(
            `trickle POST of segment ${this.seq} failed: ${(err as Error).message}`,
            err,
          );
        }
        const body = await readText(res.body).catch(() => "");
        this.#pub._classify(res);
        if (res.status >= 200 && res.status < 300) {
          const seqHeader = Number(res.headers.get(HEADER_SEQ));
          const result = { seq: Number.isSafeInteger(seqHeader) ? seqHeader : this.seq, bytes: this.#bytes };
          this.#pub._succeeded(this, result);
          this.#resolveDone(result);
          return result;
        }
        if (this.#bytes === 0 && attempt < this.#pub._options.maxRetries) {
          await this.#retryPause();
          this.#req = this.#pub._repost(this.seq, this.#reset);
          this.#pub.stats.retries++;
          continue;
        }
        throw new TrickleSegmentWriteError(
          `trickle POST of segment ${this.seq} answered HTTP ${res.status}`,
          {
            seq: this.seq,
            httpStatus: res.status,
            body,
            url: this.#pub.url,
          },
        );
      }
    } catch (err) {
      throw await this.#fail(err);
    }
  }

  /** Abandons the segment: cancels its POST and closes it on the server if bytes were sent. */
  async abort(): Promise<void> {
    if (this.#failed || (this.#finished && !this.#req.error)) return;
    this.#finished = true;
    this.#req.abort(new Error("segment aborted"));
    await this.#fail(new Error("segment aborted by the caller")).catch(() => {});
  }

  /** @internal Fails the segment without contacting the server (publisher closing). */
  cancel(err: Error): void {
    if (this.#failed) return;
    this.#failed = err;
    this.#finished = true;
    this.#req.abort(err);
    this.#rejectDone(err);
  }

  /**
   * Before the first byte: if the (preconnected) POST already failed or was answered, classify the
   * answer (404 / Closed are terminal) and open a fresh POST for the same seq.
   */
  async #ensureFreshRequest(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#req.responded) {
        const res = await this.#req.response;
        res.discard();
        this.#pub._classify(res);
      } else if (!this.#req.error) {
        return;
      }
      if (attempt >= this.#pub._options.maxRetries) {
        throw this.#writeError(`trickle POST of segment ${this.seq} could not be opened`, this.#req.error);
      }
      if (attempt > 0) await this.#retryPause();
      this.#pub._logger.debug({ seq: this.seq }, "trickle preconnect unusable; reopening the same seq");
      this.#req = this.#pub._repost(this.seq, this.#reset);
      this.#pub.stats.retries++;
    }
  }

  /** The server answered while the body was still being sent. */
  async #earlyResponse(): Promise<never> {
    const res = await this.#req.response;
    res.discard();
    this.#pub._classify(res);
    throw new TrickleSegmentWriteError(
      `trickle server ended segment ${this.seq} early (HTTP ${res.status}) while it was being written`,
      { seq: this.seq, httpStatus: res.status, url: this.#pub.url },
    );
  }

  /**
   * The answer to a fully sent body comes at once from a live server: waiting longer than the stall
   * timeout means the peer is gone (there is no total timeout on the segment itself).
   */
  async #responseAfterEnd(): Promise<TrickleResponse> {
    const req = this.#req;
    const ms = this.#pub._options.stallTimeoutMs;
    const timer = setTimeout(() => req.abort(new TrickleStallError(ms)), ms);
    try {
      return await req.response;
    } finally {
      clearTimeout(timer);
    }
  }

  #retryPause(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.#pub._options.retryDelayMs));
  }

  #writeError(message: string, cause: unknown): TrickleSegmentWriteError {
    return new TrickleSegmentWriteError(message, { seq: this.seq, cause, url: this.#pub.url });
  }

  async #fail(err: unknown): Promise<Error> {
    if (this.#failed) return this.#failed;
    const e =
      err instanceof TributaryError
        ? err
        : this.#writeError(
            `trickle segment ${this.seq} failed: ${(err as Error)?.message ?? String(err)}`,
            err,
          );
    this.#failed = e;
    this.#finished = true;
    this.#req.abort(e);
    this.#rejectDone(e);
    return this.#pub._failed(this, e, this.#bytes);
  }
}
