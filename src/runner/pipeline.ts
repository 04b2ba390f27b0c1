/**
 * The processor API: what a container author writes. A pipeline is a plain object built by
 * {@link defineBatchPipeline} (request → response, optionally streamed as Server-Sent Events) or
 * {@link defineLivePipeline} (a real-time stream session with control, events and data channels).
 *
 * Live media (src/media): a stream with `subscribe_url` is decoded into {@link VideoFrame}s
 * (in the pipeline's `pixelFormat`, RGB24 by default, cover-scaled and center-cropped to the
 * `width`×`height` params, capped at `max_framerate`) and {@link AudioFrame}s (s16 PCM) handed to `video`/`audio`; with `publish_url`
 * their results are encoded (H.264 + Opus, MPEG-TS) and published.
 */

import { type AudioFrame, PIXEL_FORMATS, type PixelFormat, type VideoFrame } from "../media/frames.ts";

export type { AudioFrame, PixelFormat, TimeBase, VideoFrame } from "../media/frames.ts";

/**
 * A `video` handler's explicit "no output for this frame" (pytrickle's
 * `VideoProcessingResult.WITHHELD`): nothing is published for the frame; once nothing has been
 * published for the overlay timeout (1.5 s by default) the loading overlay is shown instead. Use it
 * while a model warms up or buffers. Returning `undefined` instead passes the input frame through.
 */
export const WITHHELD: unique symbol = Symbol.for("tributary.runner.withheld");

/** What a `video` handler may return. */
export type VideoResult = VideoFrame | typeof WITHHELD | undefined;

/** What a `video` handler may return, directly or as a promise (nothing = pass through). */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing passes the frame through
export type VideoHandlerResult = VideoResult | void | Promise<VideoResult | void>;

/** What an `audio` handler may return: a chunk, several chunks, or `undefined` (pass through). */
export type AudioResult = AudioFrame | AudioFrame[] | undefined;

/** What an `audio` handler may return, directly or as a promise (nothing = pass through). */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing passes the audio through
export type AudioHandlerResult = AudioResult | void | Promise<AudioResult | void>;

/** Loading-overlay settings of a live pipeline (see `media/overlay.ts`). */
export interface LiveOverlayOptions {
  /** Default true. When false, withheld frames produce no output at all. */
  enabled?: boolean;
  /** Time without published output before the overlay shows, in ms (default 1500). */
  timeoutMs?: number;
  /** Brightness of the dimmed last frame, 0..1 (default 0.35). */
  dim?: number;
}

/** What the runner gives `load`. */
export interface LoadContext {
  /** Aborted when the runner shuts down while loading. */
  signal: AbortSignal;
}

/** What a batch `run` receives besides its input. */
export interface BatchContext {
  /** The request path, e.g. `/text-reverse`. */
  path: string;
  /** Request headers, lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request's Content-Type (may be empty). */
  contentType: string;
  /** Aborted when the client goes away or the runner shuts down. */
  signal: AbortSignal;
}

/** One uploaded file of a multipart request. */
export interface UploadedFile {
  filename: string;
  contentType: string;
  data: Uint8Array;
}

/**
 * The decoded request body a batch `run` receives:
 * - `application/json` (or `+json`): the parsed value;
 * - `multipart/form-data`: an object of fields (string or {@link UploadedFile}; a repeated field
 *   becomes an array);
 * - `text/*`: the text;
 * - anything else, or no content type: the raw bytes.
 */
export type BatchInput = unknown;

/**
 * What a batch `run` may return:
 * - a JSON-serialisable value → `200 application/json` (`undefined` → `204`);
 * - a `Uint8Array`/`ArrayBuffer` → `200 application/octet-stream`;
 * - a web `Response` → sent as is (status, headers, body);
 * - an async iterable (e.g. an async generator) → Server-Sent Events, one `data: <json>` per item,
 *   ending with `data: [DONE]`.
 */
export type BatchOutput = unknown;

/** A batch (request/response) pipeline. */
export interface BatchPipeline<I = BatchInput> {
  readonly kind: "batch";
  /** Route name: the pipeline answers `POST /<name>` (and `POST /run`, `POST /`). */
  readonly name: string;
  readonly load?: (ctx: LoadContext) => void | Promise<void>;
  readonly run: (input: I, ctx: BatchContext) => BatchOutput | Promise<BatchOutput>;
}

/** Definition accepted by {@link defineBatchPipeline}. */
export interface BatchPipelineDefinition<I = BatchInput> {
  /** Route name; letters, digits, `-`, `_`, `.`; not `health`, `version`, `stream`, … */
  name: string;
  /** Loads models; drives `/health` LOADING → IDLE (ERROR if it throws). */
  load?: (ctx: LoadContext) => void | Promise<void>;
  /** Handles one request. Throw a `BadRequestError` (or any `TributaryError`) to answer 4xx. */
  run: (input: I, ctx: BatchContext) => BatchOutput | Promise<BatchOutput>;
}

/** Paths the runner serves itself; a pipeline may not take them as its name. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  "health",
  "version",
  "app-version",
  "hardware",
  "stream",
  "api",
  "run",
  "live-video-to-video",
  "metrics",
]);

function checkName(name: unknown): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name))
    throw new TypeError(`pipeline name must match [A-Za-z0-9][A-Za-z0-9._-]*, got ${JSON.stringify(name)}`);
  if (RESERVED_NAMES.has(name)) throw new TypeError(`pipeline name "${name}" is reserved by the runner`);
  return name;
}

/** Declares a batch pipeline. Validates the definition eagerly (throws `TypeError`). */
export function defineBatchPipeline<I = BatchInput>(def: BatchPipelineDefinition<I>): BatchPipeline<I> {
  if (typeof def?.run !== "function") throw new TypeError("a batch pipeline needs a run function");
  if (def.load !== undefined && typeof def.load !== "function")
    throw new TypeError("load must be a function");
  return Object.freeze({ kind: "batch" as const, name: checkName(def.name), load: def.load, run: def.run });
}

/** What live handlers receive: the running stream's identity and its outgoing channels. */
export interface StreamContext {
  /** `gateway_request_id` of the start request (the stream id). */
  readonly streamId: string;
  /** The params currently in force (start params, then merged updates). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Aborted when the stream stops. */
  readonly signal: AbortSignal;
  /**
   * Queues one item for the data channel (JSON lines, batched every 333 ms). Returns false when the
   * stream has no data channel or is stopping. Strings are sent as is; other values JSON-encoded.
   */
  sendData(item: unknown): boolean;
  /**
   * Publishes a custom event on the events channel, wrapped as
   * `{"event": event, "queue_event_type": type}` (default `custom_monitoring_event`).
   */
  sendEvent(event: Record<string, unknown>, type?: string): Promise<boolean>;
}

/** A live (real-time) pipeline. */
export interface LivePipeline {
  readonly kind: "live";
  /** Pipeline name reported by `/version` (pytrickle's `pipeline`); defaults to `byoc`. */
  readonly name: string;
  readonly load?: (ctx: LoadContext) => void | Promise<void>;
  /**
   * Video handler, called for each input frame (or, in a generative stream without input, for a
   * black frame at `max_framerate`). Return a frame to publish it, `undefined` to pass the input
   * through, or {@link WITHHELD} to publish nothing (the loading overlay shows after its timeout).
   * A throw is counted and reported as an `error` event, and the input passes through.
   * Encoding is pipelined: a returned frame's `data` may still be read after the handler returns,
   * so return a buffer the handler will not overwrite later (modifying the input frame is fine).
   */
  readonly video?: (frame: VideoFrame, ctx: StreamContext) => VideoHandlerResult;
  /** Audio handler: return a frame, a list of frames, or `undefined` (pass through); a throw passes through. */
  readonly audio?: (frame: AudioFrame, ctx: StreamContext) => AudioHandlerResult;
  /** Applies a parameter update (HTTP `/stream/params` or the control channel). Throw to reject it. */
  readonly params?: (params: Record<string, unknown>, ctx: StreamContext) => void | Promise<void>;
  /** Called once when a stream starts, with the start params. Throwing rejects the start (400). */
  readonly start?: (params: Record<string, unknown>, ctx: StreamContext) => void | Promise<void>;
  /** Called once when the stream stops (by request, by error or at shutdown). */
  readonly stop?: (ctx: StreamContext) => void | Promise<void>;
  /**
   * Optional warm-up, run after `start` while the stream already flows: the start request is not
   * delayed, and live input keeps being decoded (old frames dropped) but frames are not handed to
   * `video` until it resolves; meanwhile they count as withheld (the loading overlay shows). A
   * throw is reported as an `error` event and ends the warm-up.
   */
  readonly warmup?: (ctx: StreamContext) => void | Promise<void>;
  /** Loading overlay settings (default: enabled, 1.5 s). */
  readonly overlay?: LiveOverlayOptions;
  /**
   * Pixel format of the frames `video` receives: `rgb24` (packed RGB, the default with a `video`
   * handler) or `yuv420p` (planar, as decoded: no colour conversion on either side, the fastest
   * path; the default without a `video` handler, whose frames pass through untouched). A handler
   * may return frames in either format (a frame's `format` says which).
   */
  readonly pixelFormat: PixelFormat;
  /** True when the pipeline processes media (has a `video` or `audio` handler). */
  readonly handlesMedia: boolean;
}

/** Definition accepted by {@link defineLivePipeline}. */
export type LivePipelineDefinition = Omit<LivePipeline, "kind" | "handlesMedia" | "name" | "pixelFormat"> & {
  name?: string;
  pixelFormat?: PixelFormat;
};

/** Declares a live pipeline. Validates the definition eagerly (throws `TypeError`). */
export function defineLivePipeline(def: LivePipelineDefinition): LivePipeline {
  if (typeof def !== "object" || def === null) throw new TypeError("defineLivePipeline needs an object");
  for (const key of ["load", "video", "audio", "params", "start", "stop", "warmup"] as const) {
    if (def[key] !== undefined && typeof def[key] !== "function")
      throw new TypeError(`${key} must be a function`);
  }
  const name = def.name === undefined ? "byoc" : checkName(def.name);
  if (def.pixelFormat !== undefined && !PIXEL_FORMATS.includes(def.pixelFormat))
    throw new TypeError(
      `pixelFormat must be one of ${PIXEL_FORMATS.join(", ")}, got ${JSON.stringify(def.pixelFormat)}`,
    );
  return Object.freeze({
    ...def,
    kind: "live" as const,
    name,
    pixelFormat: def.pixelFormat ?? (def.video === undefined ? "yuv420p" : "rgb24"),
    handlesMedia: def.video !== undefined || def.audio !== undefined,
  });
}

/** Either kind of pipeline. */
export type Pipeline = BatchPipeline<never> | LivePipeline;

/** True for objects made by {@link defineBatchPipeline} or {@link defineLivePipeline}. */
export function isPipeline(value: unknown): value is Pipeline {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === "batch" || kind === "live";
}
