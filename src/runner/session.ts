/**
 * One real-time stream: the runner side of a BYOC live job (docs/spec/container-contract.md#stream-start, #control-channel, #events-channel, #data-channel).
 *
 * A session owns the stream's channels, through the {@link ChannelFactory} interface:
 * - control (subscribe): params updates from the gateway; the `{"keep":"alive"}` keepalive is
 *   ignored; updates are applied without validation, as pytrickle does; when the channel ends (closed
 *   or deleted by the orchestrator) the stream stops;
 * - events (publish): a `heartbeat` (topic `stream_heartbeat`) at once and every 10 s with fps figures,
 *   `params_updated`, `stream_stopped`, `error` events for failures in user code, and custom events,
 *   all in pytrickle's envelope, one per segment, written in order;
 * - data (publish): items queued by `sendData()` go out every 333 ms as one JSON-array line (split
 *   into several segments when the line would exceed the gateway's 64 KiB line limit); an `[]`
 *   keepalive goes out after about 25 s of silence.
 *
 * - media (pipelines with a `video` or `audio` handler): `subscribe_url` is decoded and handed to
 *   the handlers, their output encoded and published on `publish_url` by a {@link MediaLoop}
 *   (media-loop.ts); heartbeats carry its fps figures; the end of the input channel (closed,
 *   deleted, 404) or a decoder that keeps failing stops the stream.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TributaryError } from "../node/errors.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import {
  type ChannelFactory,
  DATA_CONTENT_TYPE,
  decodeControl,
  EVENTS_CONTENT_TYPE,
  encodeDataBatch,
  encodeEvent,
  GATEWAY_MAX_DATA_LINE,
  QUEUE_AI_STREAM_EVENTS,
  QUEUE_CUSTOM_MONITORING,
  QUEUE_STREAM_HEARTBEAT,
  type SegmentSink,
  type SegmentSource,
  splitDataBatches,
} from "./channels.ts";
import { MediaLoop } from "./media-loop.ts";
import type { StreamStartRequest } from "./params.ts";
import type { LivePipeline, StreamContext } from "./pipeline.ts";

/** MIME type of published media segments. */
export const MEDIA_CONTENT_TYPE = "video/mp2t";
/** Heartbeat event period (pytrickle `heartbeat_interval`). */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** Data batching period (pytrickle `send_data_interval`). */
export const DATA_INTERVAL_MS = 333;
/** Silence after which an `[]` keepalive goes out on the data channel (pytrickle `_send_data_loop`). */
export const DATA_KEEPALIVE_MS = 25_000;
/** Items kept in the data queue; older ones are dropped (pytrickle `data_queue` deque maxlen). */
export const DATA_QUEUE_LIMIT = 1000;
/** Default frame size reported in heartbeats (pytrickle `DEFAULT_WIDTH/HEIGHT`). */
export const DEFAULT_SIZE = 512;

/** The four fps figures of heartbeats and `/stream/status` (pytrickle `FPSMeter.get_fps_stats`). */
export interface FpsStats {
  ingress_video_fps: number;
  ingress_audio_fps: number;
  egress_video_fps: number;
  egress_audio_fps: number;
}

/** Counters of one session. */
export interface SessionStats {
  /** Exceptions thrown by user code (start excluded: it rejects the start). */
  userErrors: number;
  /** Control-channel messages applied (keepalives excluded). */
  controlMessages: number;
  /** Events written successfully. */
  eventsSent: number;
  /** Event writes that failed. */
  eventErrors: number;
  /** Data items published. */
  dataItemsSent: number;
  /** Data items dropped because the queue was full. */
  dataItemsDropped: number;
}

/** A user `start` handler threw: the start is rejected (400, health unchanged). */
export class StreamStartFailedError extends TributaryError {
  constructor(cause: unknown) {
    super("STREAM_START_FAILED", `the pipeline's start handler failed: ${messageOf(cause)}`, {
      cause,
      status: 400,
    });
  }
}

/** A user `params` handler threw: the update is rejected (400); the stream keeps running. */
export class ParamsUpdateFailedError extends TributaryError {
  constructor(cause: unknown) {
    super("PARAMS_UPDATE_FAILED", messageOf(cause), { cause, status: 400 });
  }
}

/** Options of {@link StreamSession.start}. */
export interface StreamSessionOptions {
  pipeline: LivePipeline;
  request: StreamStartRequest;
  /** Opens the trickle channels; without it, the session runs with no channels (events dropped). */
  channels?: ChannelFactory;
  logger?: Logger;
  heartbeatIntervalMs?: number;
  dataIntervalMs?: number;
  dataKeepaliveMs?: number;
  /** Called once when the session has stopped, whatever stopped it. */
  onStopped?: (session: StreamSession) => void;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A running stream. Create with {@link StreamSession.start}; end with {@link StreamSession.stop}. */
export class StreamSession implements AsyncDisposable {
  /** `gateway_request_id` of the start request. */
  readonly streamId: string;
  /** The validated start request. */
  readonly request: StreamStartRequest;
  /** Counters; read-only for callers. */
  readonly stats: SessionStats = {
    userErrors: 0,
    controlMessages: 0,
    eventsSent: 0,
    eventErrors: 0,
    dataItemsSent: 0,
    dataItemsDropped: 0,
  };

  readonly #pipeline: LivePipeline;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #events: SegmentSink | undefined;
  readonly #data: SegmentSink | undefined;
  readonly #control: SegmentSource | undefined;
  readonly #mediaIn: SegmentSource | undefined;
  readonly #mediaOut: SegmentSink | undefined;
  #media: MediaLoop | undefined;
  readonly #opts: StreamSessionOptions;
  readonly #ctx: StreamContext;
  #params: Record<string, unknown>;
  #eventChain: Promise<unknown> = Promise.resolve();
  #paramChain: Promise<unknown> = Promise.resolve();
  #dataQueue: string[] = [];
  #loops: Promise<void>[] = [];
  #stopping: Promise<void> | undefined;

  private constructor(opts: StreamSessionOptions) {
    this.#opts = opts;
    this.#pipeline = opts.pipeline;
    this.request = opts.request;
    this.streamId = opts.request.gateway_request_id;
    this.#params = { ...opts.request.params };
    this.#log = (opts.logger ?? silentLogger()).child({ stream_id: this.streamId });
    const ch = opts.channels;
    if (ch) {
      if (opts.request.events_url) this.#events = ch.publish(opts.request.events_url, EVENTS_CONTENT_TYPE);
      if (opts.request.data_url) this.#data = ch.publish(opts.request.data_url, DATA_CONTENT_TYPE);
      if (opts.request.control_url) this.#control = ch.subscribe(opts.request.control_url);
      if (opts.pipeline.handlesMedia) {
        if (opts.request.subscribe_url) this.#mediaIn = ch.subscribe(opts.request.subscribe_url);
        if (opts.request.publish_url)
          this.#mediaOut = ch.publish(opts.request.publish_url, MEDIA_CONTENT_TYPE);
      }
    }
    const self = this;
    this.#ctx = {
      streamId: this.streamId,
      get params() {
        return self.#params;
      },
      signal: this.#abort.signal,
      sendData: (item) => self.sendData(item),
      sendEvent: (event, type) => self.sendEvent(event, type),
    };
  }

  /**
   * Opens the channels, starts the heartbeat, calls the pipeline's `start` with the start params,
   * then starts the control and data loops.
   * @throws StreamStartFailedError when `start` throws; every channel is closed again.
   */
  static async start(opts: StreamSessionOptions): Promise<StreamSession> {
    const s = new StreamSession(opts);
    s.#loops.push(s.#heartbeatLoop());
    try {
      await s.#pipeline.start?.({ ...s.#params }, s.#ctx);
    } catch (err) {
      s.#log.warn({ err }, "pipeline start handler failed; stream not started");
      await s.#shutdown(false);
      throw new StreamStartFailedError(err);
    }
    if (s.#control) s.#loops.push(s.#controlLoop(s.#control));
    if (s.#data) s.#loops.push(s.#dataLoop(s.#data));
    if (s.#mediaIn || s.#mediaOut) s.#loops.push(s.#mediaLoop());
    return s;
  }

  /** True until {@link stop} begins. */
  get running(): boolean {
    return this.#stopping === undefined;
  }

  /** The params in force: start params merged with every applied update. */
  get params(): Readonly<Record<string, unknown>> {
    return this.#params;
  }

  /** The frame size (the media output's once known, else the params', 512×512 by default). */
  get dimensions(): { width: number; height: number } {
    if (this.#media) return this.#media.dimensions;
    const w = this.#params.width;
    const h = this.#params.height;
    return {
      width: typeof w === "number" ? w : DEFAULT_SIZE,
      height: typeof h === "number" ? h : DEFAULT_SIZE,
    };
  }

  /** Current fps figures over the last 10 s (all 0 without media). */
  fps(): FpsStats {
    if (this.#media) return this.#media.fps();
    return { ingress_video_fps: 0, ingress_audio_fps: 0, egress_video_fps: 0, egress_audio_fps: 0 };
  }

  /**
   * Applies a params update through the pipeline's `params` handler, one at a time, then merges it
   * into {@link params} and emits one `params_updated` event.
   * @throws ParamsUpdateFailedError when the handler throws (counted and reported as an `error` event;
   *   the stream and the runner's health are unaffected), or when the stream is stopping.
   */
  updateParams(params: Record<string, unknown>, source: "http" | "control" = "http"): Promise<void> {
    const run = async () => {
      if (!this.running) throw new ParamsUpdateFailedError(new Error("the stream is stopping"));
      try {
        await this.#pipeline.params?.({ ...params }, this.#ctx);
      } catch (err) {
        this.#userError("params", err);
        throw new ParamsUpdateFailedError(err);
      }
      this.#params = { ...this.#params, ...params };
      this.#log.info({ source }, "params updated");
      void this.sendEvent({ type: "params_updated", timestamp: Date.now(), params }, QUEUE_AI_STREAM_EVENTS);
    };
    const p = this.#paramChain.then(run, run);
    this.#paramChain = p.catch(() => {});
    return p;
  }

  /**
   * Queues an item for the data channel. Strings go as is, other values JSON-encoded. Returns false
   * when there is no data channel, the stream is stopping, or the value cannot be encoded.
   */
  sendData(item: unknown): boolean {
    if (!this.#data || !this.running) return false;
    let text: string;
    try {
      text = typeof item === "string" ? item : JSON.stringify(item);
    } catch {
      return false;
    }
    if (typeof text !== "string") return false;
    this.#dataQueue.push(text);
    if (this.#dataQueue.length > DATA_QUEUE_LIMIT) {
      this.#dataQueue.shift();
      this.stats.dataItemsDropped++;
    }
    return true;
  }

  /**
   * Writes one event (as one segment) on the events channel, after any earlier event. Returns false
   * when there is no events channel or the write failed (logged and counted, never thrown).
   */
  sendEvent(event: Record<string, unknown>, type: string = QUEUE_CUSTOM_MONITORING): Promise<boolean> {
    const sink = this.#events;
    if (!sink) return Promise.resolve(false);
    let body: Uint8Array;
    try {
      body = encodeEvent(event, type);
    } catch (err) {
      this.#log.warn({ err }, "event is not JSON-serialisable; dropped");
      return Promise.resolve(false);
    }
    const p = this.#eventChain.then(async () => {
      try {
        await sink.write(body);
        this.stats.eventsSent++;
        return true;
      } catch (err) {
        this.stats.eventErrors++;
        this.#log.warn({ err }, "events channel write failed");
        return false;
      }
    });
    this.#eventChain = p;
    return p;
  }

  /**
   * Stops the stream: ends the heartbeat, control and data loops, lets a params update in progress
   * finish, emits `stream_stopped`, flushes queued data, calls the pipeline's `stop`, closes the
   * channels. Idempotent; concurrent calls share one stop.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown(true);
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #shutdown(started: boolean): Promise<void> {
    this.#stopping ??= Promise.resolve(); // mark not running (start-failure path)
    this.#abort.abort();
    await this.#media?.stop();
    await Promise.allSettled(this.#loops);
    await this.#paramChain;
    if (started) {
      await this.sendEvent({ type: "stream_stopped", timestamp: Date.now() }, QUEUE_AI_STREAM_EVENTS);
    }
    if (started && this.#data && this.#dataQueue.length > 0) await this.#flushData(this.#data);
    if (started) {
      try {
        await this.#pipeline.stop?.(this.#ctx);
      } catch (err) {
        this.#userError("stop", err);
      }
    }
    await this.#eventChain;
    await Promise.allSettled([
      this.#events?.close(),
      this.#data?.close(),
      this.#control?.close(),
      this.#mediaIn?.close(),
      this.#mediaOut?.close(),
    ]);
    this.#opts.onStopped?.(this);
  }

  #userError(source: string, err: unknown): void {
    this.stats.userErrors++;
    this.#log.warn({ source, err }, "pipeline handler failed");
    void this.sendEvent(
      { type: "error", source, message: messageOf(err), timestamp: Date.now() },
      QUEUE_AI_STREAM_EVENTS,
    );
  }

  async #wait(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  async #heartbeatLoop(): Promise<void> {
    if (!this.#events) return;
    const r = this.request;
    const every = this.#opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    do {
      await this.sendEvent(
        {
          type: "heartbeat",
          timestamp: Date.now(),
          urls: {
            subscribe: r.subscribe_url ?? null,
            publish: r.publish_url ?? null,
            control: r.control_url ?? "",
            events: r.events_url ?? "",
            data: r.data_url ?? "",
          },
          dimensions: this.dimensions,
          fps: this.fps(),
        },
        QUEUE_STREAM_HEARTBEAT,
      );
    } while (await this.#wait(every));
  }

  /** Media counters (undefined without media). */
  get mediaStats(): MediaLoop["stats"] | undefined {
    return this.#media?.stats;
  }

  async #mediaLoop(): Promise<void> {
    const media = MediaLoop.start({
      pipeline: this.#pipeline,
      ctx: this.#ctx,
      ...(this.#mediaIn ? { input: this.#mediaIn } : {}),
      ...(this.#mediaOut ? { output: this.#mediaOut } : {}),
      logger: this.#log,
      onUserError: (source, err) => this.#userError(source, err),
      onMediaError: (source, message) => {
        void this.sendEvent(
          { type: "error", source, message, timestamp: Date.now() },
          QUEUE_AI_STREAM_EVENTS,
        );
      },
      onMilestone: (type) => {
        void this.sendEvent({ type, timestamp: Date.now() }, QUEUE_AI_STREAM_EVENTS);
      },
    });
    this.#media = media;
    const reason = await media.done;
    if (reason !== "stopped" && this.running) {
      this.#log.info({ reason }, "media input ended; stopping the stream");
      void this.stop();
    }
  }

  async #controlLoop(source: SegmentSource): Promise<void> {
    const onAbort = () => void source.close();
    this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const body of source) {
        if (this.#abort.signal.aborted) break;
        const msg = decodeControl(body);
        if (msg.kind === "keepalive") continue;
        if (msg.kind === "invalid") {
          this.#log.warn({ reason: msg.reason }, "control message ignored");
          continue;
        }
        this.stats.controlMessages++;
        await this.updateParams(msg.params, "control").catch(() => {});
      }
      if (!this.#abort.signal.aborted) {
        // The orchestrator closes a stream's channels when the job ends; without media, the control
        // channel is the only sign of that, so its end stops the stream (frees /health and capacity).
        this.#log.info("control channel ended; stopping the stream");
        void this.stop();
      }
    } catch (err) {
      if (!this.#abort.signal.aborted) this.#log.warn({ err }, "control channel ended with an error");
    } finally {
      this.#abort.signal.removeEventListener("abort", onAbort);
    }
  }

  async #flushData(sink: SegmentSink): Promise<boolean> {
    const items = this.#dataQueue;
    this.#dataQueue = [];
    // One segment per batch, each line short enough for the gateway's 64 KiB line reader.
    for (const batch of splitDataBatches(items)) {
      const body = encodeDataBatch(batch);
      if (body.length > GATEWAY_MAX_DATA_LINE)
        this.#log.warn(
          { bytes: body.length },
          "data item exceeds the gateway's 64 KiB line limit; it will be dropped there",
        );
      try {
        await sink.write(body);
        this.stats.dataItemsSent += batch.length;
      } catch (err) {
        this.#log.warn({ err, items: batch.length }, "data channel write failed; items dropped");
        return false;
      }
    }
    return true;
  }

  async #dataLoop(sink: SegmentSink): Promise<void> {
    const every = this.#opts.dataIntervalMs ?? DATA_INTERVAL_MS;
    const keepalive = this.#opts.dataKeepaliveMs ?? DATA_KEEPALIVE_MS;
    let lastSend = Date.now();
    while (await this.#wait(every)) {
      const now = Date.now();
      if (this.#dataQueue.length > 0 || now - lastSend + every > keepalive) {
        await this.#flushData(sink);
        lastSend = Date.now();
      }
    }
  }
}
