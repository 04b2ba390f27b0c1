/**
 * The live media loop of one stream (docs/spec/container-contract.md#backpressure-and-frame-skipping to #media-on-the-wire): input channel →
 * {@link SegmentByteQueue} → {@link decodeInput} → bounded drop-oldest queues → the pipeline's
 * `video`/`audio` handlers → {@link MediaOutput} → output channel.
 *
 * - Backpressure: the video queue holds {@link VIDEO_QUEUE_LIMIT} frames and drops the oldest when
 *   the handler falls behind (pytrickle's frame skipper keeps ≤ 15), except while a burst of input
 *   is not late: then a full queue holds the decoder back (the burst rule, burst-gate.ts); audio holds
 *   {@link AUDIO_QUEUE_LIMIT} chunks (pytrickle's 1200) and is never skipped otherwise. Publishing
 *   is awaited per segment, so a slow output channel slows encoding, which fills the video queue,
 *   which drops frames: memory stays bounded.
 * - Pixel format: frames reach `video` in the pipeline's `pixelFormat` (RGB24 by default; yuv420p
 *   skips the colour conversions: decoded frames of the target size are copied out as they are and
 *   yuv420p frames of the output size go to the encoder as they are).
 * - Handler results: a frame is published; `undefined` passes the input through; `WITHHELD`
 *   publishes nothing and lets the loading overlay take over after its timeout; a throw is counted,
 *   reported as an `error` event (rate-limited), and the input passes through.
 * - Warm-up: while the pipeline's `warmup` runs, input frames are decoded (and dropped when stale)
 *   but count as withheld.
 * - Generative streams (no input, a publish channel): the `video` handler gets a black frame of
 *   `width`×`height` at `max_framerate`, timed by the wall clock.
 * - Analysis-only streams (no publish channel): handlers run, nothing is encoded.
 * - Input segments that do not start with MPEG-TS packets are skipped and reported as `error`
 *   events (source `decoder`); the stream goes on.
 * - Decoder failures (corrupt data) are reported as `error` events; decoding restarts at
 *   the next segment, at most {@link MAX_DECODER_RETRIES} times per 120 s, then the loop ends.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { SegmentByteQueue } from "../media/byte-queue.ts";
import { DEFAULT_MAX_FRAMERATE, FpsMeter } from "../media/fps.ts";
import { DropOldestQueue } from "../media/frame-queue.ts";
import { blackFrameData, formatOf, frameByteLength, PIXEL_FORMATS } from "../media/frames.ts";
import { decodeInput } from "../media/input.ts";
import { MediaOutput, type SegmentStream } from "../media/output.ts";
import { OverlayController } from "../media/overlay.ts";
import { looksLikeMpegTs } from "../media/ts-check.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { BurstGate } from "./burst-gate.ts";
import type { SegmentSink, SegmentSource } from "./channels.ts";
import {
  type AudioFrame,
  type LivePipeline,
  type StreamContext,
  type VideoFrame,
  type VideoResult,
  WITHHELD,
} from "./pipeline.ts";

/** Video frames queued for the handler before the oldest are dropped. */
export const VIDEO_QUEUE_LIMIT = 15;
/** Audio chunks queued for the handler before the oldest are dropped. */
export const AUDIO_QUEUE_LIMIT = 1200;
/** Decoder restarts allowed per {@link DECODER_RETRY_RESET_MS} (pytrickle `MAX_DECODER_RETRIES`). */
export const MAX_DECODER_RETRIES = 3;
/** Window after which the decoder retry count resets. */
export const DECODER_RETRY_RESET_MS = 120_000;
/**
 * Input segments (≈ 2 s each) waiting for the decoder before the oldest are dropped whole: bounds
 * memory and latency when decoding cannot keep up with real time.
 */
export const MAX_PENDING_SEGMENTS = 3;
/** Encodes that may be pending while the handlers go on (pipelining; frames are encoded in order). */
export const ENCODE_AHEAD = 2;
/** Default frame size (pytrickle `DEFAULT_WIDTH/HEIGHT`). */
export const DEFAULT_MEDIA_SIZE = 512;

/**
 * A publishing channel that can also stream a segment while it is produced (an optional capability
 * of a {@link SegmentSink}: with it, output segments go out as they are muxed instead of after
 * their 2 s are complete, which removes up to one segment of latency).
 */
export interface StreamingSegmentSink extends SegmentSink {
  /** Opens the next segment. */
  begin(): Promise<SegmentStream>;
}

function isStreamingSink(sink: SegmentSink): sink is StreamingSegmentSink {
  return typeof (sink as Partial<StreamingSegmentSink>).begin === "function";
}

/** Why the loop ended. */
export type MediaEndReason = "input-ended" | "stopped" | "decoder-failed";

/** Counters of one media loop. */
export interface MediaStats {
  videoIn: number;
  audioIn: number;
  videoOut: number;
  audioOut: number;
  videoDropped: number;
  audioDropped: number;
  withheld: number;
  overlayFrames: number;
  segmentsIn: number;
  /** Input segments skipped because they were not MPEG-TS. */
  invalidSegments: number;
  /** Input segments dropped unread because decoding fell behind. */
  segmentsSkipped: number;
  segmentsOut: number;
  /** Exceptions thrown by `video`/`audio` (the first 3, then every 100th, become `error` events). */
  handlerErrors: number;
  decoderErrors: number;
  encoderErrors: number;
  publishErrors: number;
}

/** Options of {@link MediaLoop.start}. */
export interface MediaLoopOptions {
  pipeline: LivePipeline;
  ctx: StreamContext;
  /** The input channel (`subscribe_url`); absent for generative streams. */
  input?: SegmentSource;
  /** The output channel (`publish_url`); absent for analysis-only streams. */
  output?: SegmentSink;
  /** A handler threw (`source` = "video" | "audio" | "warmup"). */
  onUserError: (source: string, err: unknown) => void;
  /** A media failure to report as an `error` event (`source` = "decoder" | "encoder" | "publisher"). */
  onMediaError: (source: string, message: string) => void;
  /** Milestones: `receive_first_ingest_segment`, `send_first_processed_segment`. */
  onMilestone?: (type: string) => void;
  logger?: Logger;
  /** Unread input segments kept when decoding falls behind (default {@link MAX_PENDING_SEGMENTS}). */
  maxPendingSegments?: number;
}

function num(value: unknown, fallback: number): number {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? n : fallback;
}

function isVideoFrame(v: unknown): v is VideoFrame {
  if (typeof v !== "object" || v === null) return false;
  const f = v as VideoFrame;
  return (
    f.data instanceof Uint8Array &&
    Number.isInteger(f.width) &&
    Number.isInteger(f.height) &&
    f.width > 0 &&
    f.height > 0 &&
    PIXEL_FORMATS.includes(formatOf(f)) &&
    f.data.length === frameByteLength(formatOf(f), f.width, f.height) &&
    typeof f.pts === "number" &&
    typeof f.timeBase === "object"
  );
}

function isAudioFrame(v: unknown): v is AudioFrame {
  if (typeof v !== "object" || v === null) return false;
  const f = v as AudioFrame;
  return (
    f.data instanceof Int16Array &&
    f.sampleRate > 0 &&
    f.channels > 0 &&
    f.data.length >= f.samples * f.channels &&
    typeof f.pts === "number"
  );
}

/** A running media loop; its lifetime is the session's. */
export class MediaLoop {
  readonly stats: MediaStats = {
    videoIn: 0,
    audioIn: 0,
    videoOut: 0,
    audioOut: 0,
    videoDropped: 0,
    audioDropped: 0,
    withheld: 0,
    overlayFrames: 0,
    segmentsIn: 0,
    invalidSegments: 0,
    segmentsSkipped: 0,
    segmentsOut: 0,
    handlerErrors: 0,
    decoderErrors: 0,
    encoderErrors: 0,
    publishErrors: 0,
  };
  /** Resolves when the loop has ended and the output is flushed. */
  readonly done: Promise<MediaEndReason>;

  readonly #opts: MediaLoopOptions;
  readonly #log: Logger;
  readonly #queue: SegmentByteQueue;
  readonly #video = new DropOldestQueue<VideoFrame>(VIDEO_QUEUE_LIMIT);
  readonly #audio = new DropOldestQueue<AudioFrame>(AUDIO_QUEUE_LIMIT);
  readonly #overlay: OverlayController;
  readonly #out: MediaOutput | undefined;
  readonly #meters = {
    videoIn: new FpsMeter(),
    audioIn: new FpsMeter(),
    videoOut: new FpsMeter(),
    audioOut: new FpsMeter(),
  };
  #encodeChain: Promise<unknown> = Promise.resolve();
  #inflight: Promise<void>[] = [];
  #warming = false;
  readonly #burst: BurstGate;
  #stopped = false;
  #endReason: MediaEndReason = "input-ended";
  #hasAudio = false;

  private constructor(opts: MediaLoopOptions) {
    this.#opts = opts;
    this.#queue = new SegmentByteQueue(opts.maxPendingSegments ?? MAX_PENDING_SEGMENTS);
    this.#burst = new BurstGate(this.#queue, this.#video);
    this.#log = opts.logger ?? silentLogger();
    this.#overlay = new OverlayController(opts.pipeline.overlay);
    const sink = opts.output;
    if (sink) {
      const published = () => {
        this.stats.segmentsOut++;
        if (this.stats.segmentsOut === 1) opts.onMilestone?.("send_first_processed_segment");
      };
      const failed = (err: unknown) => {
        this.stats.publishErrors++;
        if (this.stats.publishErrors === 1 || this.stats.publishErrors % 50 === 0)
          opts.onMediaError("publisher", `publishing a segment failed: ${(err as Error).message}`);
      };
      const streaming = isStreamingSink(sink) ? sink : undefined;
      this.#out = new MediaOutput({
        frameRate: this.#maxFps(),
        expectAudio: false,
        ...(streaming
          ? {
              openSegment: async () => {
                const stream = await streaming.begin();
                return {
                  write: (chunk: Uint8Array) => stream.write(chunk),
                  end: async () => {
                    await stream.end();
                    published();
                  },
                };
              },
              onStreamError: failed,
            }
          : {
              onSegment: async (segment: Uint8Array) => {
                try {
                  await sink.write(segment);
                  published();
                } catch (err) {
                  failed(err);
                }
              },
            }),
      });
    }
    this.done = this.#run();
  }

  /** Starts the loop. */
  static start(opts: MediaLoopOptions): MediaLoop {
    return new MediaLoop(opts);
  }

  /** Stops reading input, drops queued frames, lets the frame in the handler finish, flushes the output. */
  stop(): Promise<MediaEndReason> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#endReason = "stopped";
      this.#queue.abort();
      void this.#opts.input?.close();
      // Queued frames are stale once the stream stops: do not make the stop wait for the handler.
      this.stats.videoDropped += this.#video.clear().length;
      this.stats.audioDropped += this.#audio.clear().length;
    }
    return this.done;
  }

  /** Current fps figures over the last 10 s. */
  fps(): {
    ingress_video_fps: number;
    ingress_audio_fps: number;
    egress_video_fps: number;
    egress_audio_fps: number;
  } {
    return {
      ingress_video_fps: this.#meters.videoIn.fps(),
      ingress_audio_fps: this.#meters.audioIn.fps(),
      egress_video_fps: this.#meters.videoOut.fps(),
      egress_audio_fps: this.#meters.audioOut.fps(),
    };
  }

  /** The processed frame size: the output's once known, else the params'. */
  get dimensions(): { width: number; height: number } {
    const out = this.#out?.size;
    if (out && out.width > 0) return out;
    return this.#size();
  }

  #size(): { width: number; height: number } {
    const p = this.#opts.ctx.params;
    return {
      width: Math.round(num(p.width, DEFAULT_MEDIA_SIZE)),
      height: Math.round(num(p.height, DEFAULT_MEDIA_SIZE)),
    };
  }

  /** The pixel format the pipeline asked for. */
  #pixelFormat() {
    return this.#opts.pipeline.pixelFormat ?? "rgb24";
  }

  #maxFps(): number {
    return Math.min(60, num(this.#opts.ctx.params.max_framerate, DEFAULT_MAX_FRAMERATE));
  }

  async #run(): Promise<MediaEndReason> {
    const warmup = this.#opts.pipeline.warmup;
    if (warmup) {
      this.#warming = true;
      // Not awaited: a warm-up still running when the stream ends must not hold the stop.
      void (async () => {
        try {
          await warmup(this.#opts.ctx);
        } catch (err) {
          this.#opts.onUserError("warmup", err);
        } finally {
          this.#warming = false;
        }
      })();
    }
    let source: Promise<void>;
    let ingress: Promise<void> = Promise.resolve();
    if (this.#opts.input) {
      ingress = this.#ingress(this.#opts.input);
      source = this.#decode();
    } else {
      this.#queue.end();
      source = this.#opts.output && this.#opts.pipeline.video ? this.#clock() : this.#idle();
    }
    const processing = [this.#videoLoop(), this.#audioLoop()];
    await source;
    this.#video.close();
    this.#audio.close();
    await Promise.allSettled(processing);
    await this.#encodeChain;
    try {
      await this.#out?.close();
    } catch (err) {
      this.stats.encoderErrors++;
      this.#log.warn({ err }, "flushing the encoder failed");
    }
    await this.#opts.input?.close();
    await ingress;
    return this.#endReason;
  }

  /** Copies input segments into the byte queue; the channel's end ends the queue. */
  async #ingress(input: SegmentSource): Promise<void> {
    try {
      for await (const body of input) {
        if (this.#stopped) break;
        this.stats.segmentsIn++;
        if (this.stats.segmentsIn === 1) this.#opts.onMilestone?.("receive_first_ingest_segment");
        if (!looksLikeMpegTs(body)) {
          // Rejected before the demuxer, which would otherwise wait for more data to resync.
          const n = ++this.stats.invalidSegments;
          this.#log.warn({ bytes: body.length }, "input segment is not MPEG-TS; skipped");
          if (n <= 3 || n % 100 === 0)
            this.#opts.onMediaError(
              "decoder",
              `input segment ${this.stats.segmentsIn} is not MPEG-TS; skipped`,
            );
          continue;
        }
        this.#queue.pushSegment(body);
        this.stats.segmentsSkipped = this.#queue.segmentsDropped;
      }
    } catch (err) {
      if (!this.#stopped) this.#log.warn({ err }, "input channel failed");
    } finally {
      this.#queue.end();
    }
  }

  /** Runs the decoder over the byte queue, restarting it at the next segment after a failure. */
  async #decode(): Promise<void> {
    let retries = 0;
    let windowStart = performance.now();
    for (;;) {
      try {
        await decodeInput({
          queue: this.#queue,
          pixelFormat: this.#pixelFormat(),
          size: () => this.#size(),
          maxFramerate: () => this.#maxFps(),
          onVideoDecoded: (info) => {
            this.#meters.videoIn.tick();
            this.#burst.decoded(info.seconds, info.keyFrame);
          },
          onOpened: (info) => {
            this.#hasAudio = info.audio;
            this.#out?.setExpectAudio(info.audio);
          },
          stopped: () => this.#stopped,
          onVideo: (frame) => {
            if (this.#stopped) return;
            this.stats.videoIn++;
            if (this.#video.full) return this.#pushWhenRoom(frame);
            this.stats.videoDropped += this.#video.push(frame).length;
          },
          onAudio: (frame) => {
            if (this.#stopped) return;
            this.stats.audioIn++;
            this.#meters.audioIn.tick();
            this.stats.audioDropped += this.#audio.push(frame).length;
          },
        });
        return;
      } catch (err) {
        this.stats.decoderErrors++;
        const message = (err as Error).message;
        this.#log.warn({ err }, "decoding the input failed");
        this.#opts.onMediaError("decoder", message);
        if (performance.now() - windowStart > DECODER_RETRY_RESET_MS) {
          retries = 0;
          windowStart = performance.now();
        }
        if (++retries > MAX_DECODER_RETRIES || this.#queue.ended) {
          if (!this.#stopped) this.#endReason = "decoder-failed";
          this.#queue.end();
          return;
        }
        this.#queue.skipToNextSegment();
      }
    }
  }

  /** The burst rule (burst-gate.ts): waits for room while the input is not late, then pushes. */
  async #pushWhenRoom(frame: VideoFrame): Promise<void> {
    await this.#burst.waitForRoom(frame, () => this.#stopped);
    if (this.#stopped) {
      this.stats.videoDropped++;
      return;
    }
    this.stats.videoDropped += this.#video.push(frame).length;
  }

  /** Generative streams: a black frame at `max_framerate`, timed by the wall clock. */
  async #clock(): Promise<void> {
    const t0 = performance.now();
    let n = 0;
    while (!this.#stopped) {
      const fps = this.#maxFps();
      const { width, height } = this.#size();
      const elapsed = (performance.now() - t0) / 1000;
      this.stats.videoIn++;
      this.#meters.videoIn.tick();
      const format = this.#pixelFormat();
      this.stats.videoDropped += this.#video.push({
        data: blackFrameData(format, width, height),
        width,
        height,
        pts: Math.round(elapsed * 90000),
        timeBase: { num: 1, den: 90000 },
        format,
      }).length;
      n++;
      const wait = Math.max(0, (n / fps - elapsed) * 1000);
      await sleep(Math.min(wait, 1000 / fps));
    }
  }

  /** No input and nothing to generate: wait for the stop. */
  async #idle(): Promise<void> {
    while (!this.#stopped) await sleep(200);
  }

  #encode(fn: (out: MediaOutput) => Promise<void>): Promise<void> {
    const out = this.#out;
    if (!out) return Promise.resolve();
    const p = this.#encodeChain.then(async () => {
      try {
        await fn(out);
      } catch (err) {
        this.stats.encoderErrors++;
        if (this.stats.encoderErrors === 1 || this.stats.encoderErrors % 100 === 0)
          this.#opts.onMediaError("encoder", `encoding failed: ${(err as Error).message}`);
      }
    });
    this.#encodeChain = p;
    return p;
  }

  /**
   * Lets the handler run on the next frame while earlier ones are still being encoded (node-av
   * encodes off the main thread), at most {@link ENCODE_AHEAD} encodes deep.
   */
  async #encodeAhead(p: Promise<void>): Promise<void> {
    this.#inflight.push(p);
    void p.then(() => this.#inflight.shift());
    while (this.#inflight.length > ENCODE_AHEAD) await this.#inflight[0];
  }

  /** Counts a per-frame handler failure; reports the first 3, then every 100th (no event flood). */
  #handlerError(source: string, err: unknown): void {
    const n = ++this.stats.handlerErrors;
    if (n <= 3 || n % 100 === 0) this.#opts.onUserError(source, err);
  }

  async #videoLoop(): Promise<void> {
    const handler = this.#opts.pipeline.video;
    for (;;) {
      const frame = await this.#video.shift();
      if (!frame) return;
      let result: VideoResult;
      if (this.#warming) result = WITHHELD;
      else if (handler) {
        try {
          result = (await handler(frame, this.#opts.ctx)) ?? undefined;
        } catch (err) {
          this.#handlerError("video", err);
          result = undefined;
        }
      }
      let out: VideoFrame | undefined;
      if (result === WITHHELD) {
        this.stats.withheld++;
        out = this.#overlay.withheld(frame);
        if (out) this.stats.overlayFrames++;
      } else {
        if (result !== undefined && !isVideoFrame(result)) {
          this.#handlerError(
            "video",
            new TypeError(
              "the video handler returned something that is not a VideoFrame (data must be width × height in its format: rgb24 or yuv420p); passing the input",
            ),
          );
          result = undefined;
        }
        out = result ?? frame;
        this.#overlay.processed(out);
      }
      if (!out) continue;
      this.stats.videoOut++;
      this.#meters.videoOut.tick();
      const f = out;
      await this.#encodeAhead(this.#encode((o) => o.writeVideo(f)));
    }
  }

  async #audioLoop(): Promise<void> {
    const handler = this.#opts.pipeline.audio;
    for (;;) {
      const frame = await this.#audio.shift();
      if (!frame) return;
      let frames: AudioFrame[] = [frame];
      if (handler && !this.#warming) {
        try {
          const r = await handler(frame, this.#opts.ctx);
          if (Array.isArray(r)) frames = r.filter(isAudioFrame);
          else if (r !== undefined && isAudioFrame(r)) frames = [r];
        } catch (err) {
          this.#handlerError("audio", err);
        }
      }
      // Audio waits for the first video frame (no audio-only output; the muxer needs video first).
      if (this.#hasAudio && this.stats.videoOut === 0) continue;
      for (const f of frames) {
        this.stats.audioOut++;
        this.#meters.audioOut.tick();
        await this.#encodeAhead(this.#encode((o) => o.writeAudio(f)));
      }
    }
  }
}
