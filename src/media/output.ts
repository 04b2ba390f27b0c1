/**
 * The encode side of the media path (docs/spec/container-contract.md#encode-path, #media-on-the-wire): RGB24 or
 * yuv420p frames are encoded with libx264 (preset superfast, tune zerolatency, no B-frames, an IDR forced every 2 s of
 * PTS, no scene-cut keyframes), audio with libopus at 48 kHz mono, on a 1/90000 time base, and muxed
 * as MPEG-TS. Each segment is its own TS file (its own PAT/PMT, starting on a keyframe), cut at every
 * forced IDR, so about every 2 s; each finished segment goes to `onSegment` (one trickle segment),
 * or, with `openSegment`, each segment is streamed out while it is being muxed.
 *
 * The output size is taken from the first frame written; later frames of another size are scaled to
 * it. A yuv420p frame of the output size goes to the encoder as is (one copy, no swscale); RGB24
 * frames, and frames of another size, pass one scale filter that converts to yuv420p. Audio packets are dropped until the first video keyframe (no audio-only segment goes out).
 */
import { Encoder, FilterAPI, Muxer } from "node-av/api";
import {
  AV_CHANNEL_LAYOUT_MONO,
  AV_CHANNEL_LAYOUT_STEREO,
  AV_PICTURE_TYPE_I,
  AV_PIX_FMT_RGB24,
  AV_PIX_FMT_YUV420P,
  AV_SAMPLE_FMT_S16,
  FF_ENCODER_AAC,
  FF_ENCODER_LIBOPUS,
  FF_ENCODER_LIBX264,
} from "node-av/constants";
import { Frame, type Packet } from "node-av/lib";
import { TributaryError } from "../node/errors.ts";
import { silenceFfmpegLogs } from "./ffmpeg-log.ts";
import { type AudioFrame, formatOf, type PixelFormat, type TimeBase, type VideoFrame } from "./frames.ts";

/** Seconds between forced IDR frames, hence the segment length (pytrickle `GOP_SECS`). */
export const GOP_SECONDS = 2;
/** Output time base (pytrickle `OUT_TIME_BASE`). */
export const OUT_TIME_BASE: TimeBase = { num: 1, den: 90000 };
/** Largest forward jump of video PTS taken as is (10 s); a larger one is a discontinuity. */
export const MAX_PTS_GAP = 10 * 90000;
/** Output audio sample rate. */
export const OUT_SAMPLE_RATE = 48000;
/**
 * Write buffer of each segment's muxer IO context (node-av's default is 32 KiB). node-av 6.1.1's
 * `IOContext.freeContext()` does not free this buffer, and every output segment has its own muxer,
 * so each segment leaks one buffer: 32 KiB every 2 s of a live stream by default, 4 KiB with this.
 * Small TS writes cost little (streamed segments flush every packet anyway).
 */
export const MUX_IO_BUFFER_SIZE = 4096;

/**
 * Opens an MPEG-TS muxer writing through `write` with the {@link MUX_IO_BUFFER_SIZE} IO buffer: the
 * one way segment muxers are opened (the runner's output here, the job client's input segmenter), so
 * the buffer-leak mitigation above applies to all of them. `flushPackets` hands over every packet as
 * soon as it is muxed (for a segment streamed while it is written).
 */
export function openSegmentMuxer(
  write: (b: Buffer) => number | Promise<number>,
  options: { flushPackets?: boolean } = {},
): Promise<Muxer> {
  return Muxer.open({ write }, {
    format: "mpegts",
    bufferSize: MUX_IO_BUFFER_SIZE,
    ...(options.flushPackets ? { options: { flush_packets: 1 } } : {}),
  } as never);
}

/** One output segment written progressively (e.g. a trickle segment POST in progress). */
export interface SegmentStream {
  write(chunk: Uint8Array): Promise<void>;
  /** Completes the segment. */
  end(): Promise<void>;
}

/** Options of {@link MediaOutput}. */
export interface MediaOutputOptions {
  /** Receives each finished MPEG-TS segment, in order. Awaited before the next segment is handed over. */
  onSegment?: (segment: Uint8Array) => Promise<void> | void;
  /**
   * Streaming alternative to `onSegment`: opens one output segment, whose bytes are then written
   * as the muxer produces them (lower latency: the receiver reads a segment while it is encoded).
   */
  openSegment?: () => Promise<SegmentStream>;
  /** A streamed segment could not be opened, written or ended (that segment's rest is dropped). */
  onStreamError?: (err: unknown) => void;
  /** Video bit rate (default 2 Mbit/s). */
  videoBitrate?: number;
  /** Frame rate hint for the rate control (default 24). */
  frameRate?: number;
  /**
   * The stream will carry audio: the first segment waits (up to its end) for the audio encoder so
   * that its TS carries both streams. Without it, audio joins from the next segment on.
   */
  expectAudio?: boolean;
  /**
   * Audio codec: `opus` (default, what pytrickle publishes) or `aac` (what RTMP ingest carries; used
   * to make test input).
   */
  audioCodec?: "opus" | "aac";
}

/**
 * node-av's `Encoder` resets each frame's picture type before sending it (its internal
 * `prepareFrameForEncoding`), which would defeat our forced IDR frames. This wraps that method on
 * one encoder instance so a frame marked `AV_PICTURE_TYPE_I` stays marked (libx264 with
 * `forced-idr` then makes it an IDR). Checked by the segment-cutting test; if a node-av upgrade
 * renames the method, this throws at once instead of silently producing one endless segment.
 */
function keepPictureType(encoder: Encoder): void {
  const target = encoder as unknown as { prepareFrameForEncoding?: (frame: Frame) => void };
  const original = target.prepareFrameForEncoding;
  if (typeof original !== "function")
    throw new TributaryError(
      "ENCODER_UNSUPPORTED",
      "node-av Encoder.prepareFrameForEncoding is missing: cannot force IDR frames",
      { status: 500 },
    );
  target.prepareFrameForEncoding = function (this: unknown, frame: Frame) {
    const type = frame.pictType;
    original.call(this, frame);
    frame.pictType = type;
  };
}

function to90k(pts: number, base: TimeBase): number {
  return Math.round((pts * base.num * 90000) / base.den);
}

/** Encodes frames and emits MPEG-TS segments. Not thread-safe: await each call before the next. */
export class MediaOutput implements AsyncDisposable {
  readonly #opts: MediaOutputOptions;
  #width = 0;
  #height = 0;
  #video: Encoder | undefined;
  #toYuv: FilterAPI | undefined;
  /** Pixel format and size of the frames {@link #toYuv} was made for. */
  #toYuvKey = "";
  #audio: Encoder | undefined;
  #toOpus: FilterAPI | undefined;
  #audioKey = "";
  #lastVideoPts = -1;
  #lastAudioPts = -1n;
  /** Added to input timestamps (90 kHz) to keep the output continuous across discontinuities. */
  #offset = 0;
  #nextIdr = Number.NEGATIVE_INFINITY;
  #muxer: Muxer | undefined;
  #chunks: Buffer[] = [];
  #videoIndex = -1;
  #audioIndex = -1;
  #closed = false;
  #expectAudio: boolean;
  /** A segment has started (at a keyframe); its muxer may still wait for the audio stream. */
  #inSegment = false;
  /** Video packets of the current segment written before its muxer opened. */
  #pending: Packet[] = [];
  /** Video frames encoded. */
  videoFrames = 0;
  /** Audio chunks encoded. */
  audioFrames = 0;
  /** Segments handed to `onSegment` or completed through `openSegment`. */
  segments = 0;
  /** Streamed-segment failures. */
  streamErrors = 0;
  #stream: SegmentStream | undefined;

  constructor(options: MediaOutputOptions) {
    silenceFfmpegLogs();
    this.#opts = options;
    this.#expectAudio = options.expectAudio ?? false;
  }

  /** Declares whether audio will come (see {@link MediaOutputOptions.expectAudio}); applies from the next segment. */
  setExpectAudio(expect: boolean): void {
    this.#expectAudio = expect;
  }

  /** The output size (0×0 before the first frame). */
  get size(): { width: number; height: number } {
    return { width: this.#width, height: this.#height };
  }

  /** Encodes one video frame (RGB24 or yuv420p, see {@link VideoFrame.format}). */
  async writeVideo(frame: VideoFrame): Promise<void> {
    if (this.#closed) return;
    if (!this.#video) {
      // x264 needs even dimensions.
      this.#width = Math.max(2, frame.width & ~1);
      this.#height = Math.max(2, frame.height & ~1);
      const fps = Math.max(1, Math.round(this.#opts.frameRate ?? 24));
      this.#video = await Encoder.create(FF_ENCODER_LIBX264, {
        context: {
          timeBase: OUT_TIME_BASE,
          framerate: { num: fps, den: 1 },
          maxBFrames: 0,
          gopSize: fps * GOP_SECONDS * 5,
          bitRate: this.#opts.videoBitrate ?? 2_000_000,
          threadCount: 0,
        },
        options: {
          preset: "superfast",
          tune: "zerolatency",
          "forced-idr": true,
          "x264-params": "scenecut=0",
        },
      } as never);
      keepPictureType(this.#video);
    }
    let pts = to90k(frame.pts, frame.timeBase) + this.#offset;
    if (this.#lastVideoPts >= 0 && (pts <= this.#lastVideoPts || pts > this.#lastVideoPts + MAX_PTS_GAP)) {
      // A discontinuity (timestamps reset or jumped): continue one frame interval after the last.
      const step = Math.round(90000 / Math.max(1, this.#opts.frameRate ?? 24));
      this.#offset += this.#lastVideoPts + step - pts;
      pts = this.#lastVideoPts + step;
    }
    this.#lastVideoPts = pts;
    const format = formatOf(frame);
    const input = Frame.fromVideoBuffer(
      Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength),
      {
        width: frame.width,
        height: frame.height,
        format: format === "yuv420p" ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24,
        timeBase: OUT_TIME_BASE,
        pts: BigInt(pts),
      },
    );
    // The encoder's own format and size: no filter, the one copy above is all.
    const direct = format === "yuv420p" && frame.width === this.#width && frame.height === this.#height;
    try {
      const yuvFrames = direct ? [input] : await this.#converter(format, frame).processAll(input);
      for (const yuv of yuvFrames) {
        if (Number(yuv.pts) >= this.#nextIdr) {
          yuv.pictType = AV_PICTURE_TYPE_I;
          this.#nextIdr = Number(yuv.pts) + GOP_SECONDS * 90000;
        }
        const packets = await this.#video.encodeAll(yuv);
        if (yuv !== input) yuv.free();
        this.videoFrames++;
        for (const p of packets) await this.#writeVideoPacket(p);
      }
    } finally {
      input.free();
    }
  }

  /** The scale filter from `format` at the frame's size to yuv420p at the output size. */
  #converter(format: PixelFormat, frame: VideoFrame): FilterAPI {
    const key = `${format}/${frame.width}x${frame.height}`;
    if (!this.#toYuv || key !== this.#toYuvKey) {
      this.#toYuv?.close();
      this.#toYuv = FilterAPI.create(`scale=${this.#width}:${this.#height}:flags=bilinear,format=yuv420p`);
      this.#toYuvKey = key;
    }
    return this.#toYuv;
  }

  /** Encodes one chunk of interleaved s16 audio (resampled to 48 kHz mono Opus). */
  async writeAudio(frame: AudioFrame): Promise<void> {
    if (this.#closed || frame.samples <= 0) return;
    const key = `${frame.sampleRate}/${frame.channels}`;
    if (!this.#toOpus || key !== this.#audioKey) {
      this.#toOpus?.close();
      this.#toOpus = FilterAPI.create(
        this.#opts.audioCodec === "aac"
          ? `aresample=${OUT_SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=mono,asetnsamples=n=1024:p=0`
          : `aresample=${OUT_SAMPLE_RATE},aformat=sample_fmts=s16:channel_layouts=mono,asetnsamples=n=960:p=0`,
      );
      this.#audioKey = key;
    }
    const base: TimeBase = { num: 1, den: frame.sampleRate };
    // The video's discontinuity offset applies to audio too, so both stay on one clock.
    const pts =
      Math.round((frame.pts * frame.timeBase.num * frame.sampleRate) / frame.timeBase.den) +
      Math.round((this.#offset * frame.sampleRate) / 90000);
    const pcm = frame.data;
    const input = Frame.fromAudioBuffer(
      Buffer.from(pcm.buffer, pcm.byteOffset, frame.samples * frame.channels * 2),
      {
        nbSamples: frame.samples,
        format: AV_SAMPLE_FMT_S16,
        sampleRate: frame.sampleRate,
        channelLayout: frame.channels >= 2 ? AV_CHANNEL_LAYOUT_STEREO : AV_CHANNEL_LAYOUT_MONO,
        timeBase: base,
        pts: BigInt(pts),
      },
    );
    try {
      for (const chunk of await this.#toOpus.processAll(input)) {
        this.#audio ??= await Encoder.create(
          this.#opts.audioCodec === "aac" ? FF_ENCODER_AAC : FF_ENCODER_LIBOPUS,
          {
            context: { bitRate: 96_000 },
          } as never,
        );
        const packets = await this.#audio.encodeAll(chunk);
        chunk.free();
        this.audioFrames++;
        if (packets.length > 0) await this.#openMuxer(false);
        for (const p of packets) {
          // Opus starts with a negative timestamp (its pre-skip); the TS muxer would shift the
          // whole first segment to make it non-negative, so later segments would jump back.
          // Packets that do not move forward (after a discontinuity) are dropped too.
          const t = p.pts;
          if (this.#muxer && this.#audioIndex >= 0 && t >= 0n && t > this.#lastAudioPts) {
            this.#lastAudioPts = t;
            await this.#muxer.writePacket(p, this.#audioIndex);
          }
          p.free();
        }
      }
    } finally {
      input.free();
    }
  }

  async #writeVideoPacket(p: Packet): Promise<void> {
    try {
      if (p.isKeyframe) await this.#cut();
      if (this.#muxer) await this.#muxer.writePacket(p, this.#videoIndex);
      else if (this.#inSegment) this.#pending.push(p.clone() as Packet);
    } finally {
      p.free();
    }
  }

  /** Ends the current segment (if any) and starts the next one. */
  async #cut(): Promise<void> {
    await this.#finishSegment();
    if (this.#closed || !this.#video) return;
    this.#inSegment = true;
    await this.#openMuxer(false);
  }

  /**
   * Opens the segment's muxer once its streams are known: at once without audio; with audio
   * expected, when the audio encoder has started (video packets wait meanwhile), or at the end of
   * the segment at the latest (`force`).
   */
  async #openMuxer(force: boolean): Promise<void> {
    if (this.#muxer || !this.#inSegment || !this.#video) return;
    if (!force && this.#expectAudio && !this.#audio) return;
    this.#chunks = [];
    const chunks = this.#chunks;
    let write: (b: Buffer) => number | Promise<number>;
    const open = this.#opts.openSegment;
    if (open) {
      // Streaming: each flushed TS chunk goes out at once (the receiver reads the segment while it
      // is produced); a failing stream drops the rest of its segment, never the encoder.
      let stream: SegmentStream | undefined;
      try {
        stream = await open();
      } catch (err) {
        this.#streamError(err);
      }
      this.#stream = stream;
      write = async (b: Buffer) => {
        if (stream) {
          try {
            await stream.write(Buffer.from(b));
          } catch (err) {
            this.#streamError(err);
            stream = undefined;
            this.#stream = undefined;
          }
        }
        return b.length;
      };
    } else {
      write = (b: Buffer) => {
        chunks.push(Buffer.from(b));
        return b.length;
      };
    }
    const muxer = await openSegmentMuxer(write, { flushPackets: open !== undefined });
    this.#muxer = muxer;
    this.#videoIndex = muxer.addStream(this.#video);
    this.#audioIndex = this.#audio ? muxer.addStream(this.#audio) : -1;
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) {
      await muxer.writePacket(p, this.#videoIndex);
      p.free();
    }
  }

  #streamError(err: unknown): void {
    this.streamErrors++;
    this.#opts.onStreamError?.(err);
  }

  async #finishSegment(): Promise<void> {
    if (this.#inSegment && !this.#muxer) await this.#openMuxer(true);
    this.#inSegment = false;
    const muxer = this.#muxer;
    if (!muxer) return;
    this.#muxer = undefined;
    await muxer.close();
    if (this.#opts.openSegment) {
      const stream = this.#stream;
      this.#stream = undefined;
      if (!stream) return;
      try {
        await stream.end();
        this.segments++;
      } catch (err) {
        this.#streamError(err);
      }
      return;
    }
    const body = Buffer.concat(this.#chunks);
    this.#chunks = [];
    if (body.length === 0) return;
    this.segments++;
    await this.#opts.onSegment?.(body);
  }

  /** Flushes the encoders, publishes the last segment and frees everything. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#video) for (const p of await this.#video.encodeAll(null)) await this.#writeVideoPacket(p);
      if (this.#audio && this.#muxer) {
        for (const p of await this.#audio.encodeAll(null)) {
          if (this.#audioIndex >= 0) await this.#muxer.writePacket(p, this.#audioIndex);
          p.free();
        }
      }
      this.#closed = true;
      await this.#finishSegment();
    } finally {
      for (const p of this.#pending) p.free();
      this.#pending = [];
      this.#closed = true;
      this.#toYuv?.close();
      this.#toOpus?.close();
      this.#video?.close();
      this.#audio?.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
