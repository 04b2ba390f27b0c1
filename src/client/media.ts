/**
 * The client side of a live stream's media, in process with node-av (no ffmpeg CLI):
 * - {@link inputSegments}: a file, or FFmpeg's `testsrc2` test pattern, cut into standalone MPEG-TS
 *   segments of about `segmentSeconds` (each starts with PAT/PMT and a keyframe), paced at real time.
 *   H.264 video is copied (cuts fall on the file's own keyframes, so a file with long GOPs gives
 *   longer segments); other video, and the test pattern, is encoded with libx264 (a keyframe every
 *   `segmentSeconds`). AAC, Opus and MP3 audio is copied; other audio is left out.
 * - {@link OutputFile}: output segments appended to a `.ts` file, or remuxed (stream copy) into any
 *   other container FFmpeg knows by the file's extension (`.mp4`, `.mkv`) when closed.
 * - {@link probeVideo}: what a media file holds (frames decoded, size, mean colour), to check output.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Decoder, Demuxer, Encoder, FilterAPI, Muxer } from "node-av/api";
import {
  AV_CODEC_ID_AAC,
  AV_CODEC_ID_H264,
  AV_CODEC_ID_MP3,
  AV_CODEC_ID_OPUS,
  FF_ENCODER_LIBX264,
} from "node-av/constants";
import type { Frame, Packet, Stream } from "node-av/lib";
import { silenceFfmpegLogs } from "../media/ffmpeg-log.ts";
import { openSegmentMuxer } from "../media/output.ts";
import { TributaryError } from "../node/errors.ts";

/** Where the input comes from. */
export type MediaSource = { file: string } | { testsrc: { width: number; height: number; fps: number } };

/** Options of {@link inputSegments}. */
export interface InputSegmentOptions {
  /** Target segment length (default 1 s); cuts happen at the next video keyframe after it. */
  segmentSeconds?: number;
  /** Stop after this much media time (required for the endless test pattern). */
  durationMs?: number;
  /** Hand out each segment when its media time has elapsed since the first (default true). */
  realtime?: boolean;
  signal?: AbortSignal;
}

/** One standalone MPEG-TS segment of the input. */
export interface InputSegment {
  index: number;
  bytes: Uint8Array;
  /** Media time of the segment's first and last video frame, seconds from the first frame. */
  startSeconds: number;
  endSeconds: number;
  /** Video frames in the segment. */
  frames: number;
}

/** The input could not be opened or has no video. */
export class MediaInputError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("MEDIA_INPUT_FAILED", message, { cause, status: 400 });
  }
}

const COPY_AUDIO = new Set<number>([AV_CODEC_ID_AAC, AV_CODEC_ID_OPUS, AV_CODEC_ID_MP3]);
const TB90K = { num: 1, den: 90000 };

const seconds = (ts: bigint, tb: { num: number; den: number }): number => (Number(ts) * tb.num) / tb.den;

/** Cuts packets into standalone MPEG-TS files, one muxer per segment. */
class TsSegmenter {
  readonly #sources: (Stream | Encoder)[];
  #muxer: Muxer | undefined;
  #chunks: Buffer[] = [];
  constructor(sources: (Stream | Encoder)[]) {
    this.#sources = sources;
  }
  get open(): boolean {
    return this.#muxer !== undefined;
  }
  async start(): Promise<void> {
    const chunks: Buffer[] = [];
    this.#chunks = chunks;
    this.#muxer = await openSegmentMuxer((b: Buffer) => {
      chunks.push(Buffer.from(b));
      return b.length;
    });
    for (const s of this.#sources) this.#muxer.addStream(s as never);
  }
  async write(p: Packet, index: number): Promise<void> {
    await this.#muxer?.writePacket(p, index);
  }
  async finish(): Promise<Uint8Array> {
    const m = this.#muxer;
    this.#muxer = undefined;
    if (!m) return new Uint8Array();
    await m.close();
    return Buffer.concat(this.#chunks);
  }
}

/**
 * Yields the input as MPEG-TS segments. Throws {@link MediaInputError} when the source cannot be
 * opened or has no video stream.
 */
export async function* inputSegments(
  source: MediaSource,
  options: InputSegmentOptions = {},
): AsyncGenerator<InputSegment> {
  silenceFfmpegLogs();
  const segmentSeconds = options.segmentSeconds ?? 1;
  const limit = options.durationMs === undefined ? Number.POSITIVE_INFINITY : options.durationMs / 1000;
  if ("testsrc" in source && !Number.isFinite(limit))
    throw new MediaInputError("the test pattern is endless: give a duration");
  let demuxer: Demuxer;
  try {
    demuxer =
      "file" in source
        ? await Demuxer.open(source.file)
        : await Demuxer.open(
            `testsrc2=size=${source.testsrc.width}x${source.testsrc.height}:rate=${source.testsrc.fps}`,
            { format: "lavfi" } as never,
          );
  } catch (err) {
    const what = "file" in source ? source.file : "the test pattern";
    throw new MediaInputError(`cannot open ${what}: ${(err as Error).message}`, err);
  }
  let decoder: Decoder | undefined;
  let filter: FilterAPI | undefined;
  let encoder: Encoder | undefined;
  try {
    const video = demuxer.video();
    if (!video) throw new MediaInputError("the input has no video stream");
    const audioIn = "file" in source ? demuxer.audio() : undefined;
    const audio = audioIn && COPY_AUDIO.has(audioIn.codecpar.codecId) ? audioIn : undefined;
    const copyVideo = "file" in source && video.codecpar.codecId === AV_CODEC_ID_H264;
    const fr = video.avgFrameRate;
    const fps =
      "testsrc" in source ? source.testsrc.fps : fr && fr.num > 0 && fr.den > 0 ? fr.num / fr.den : 25;
    if (!copyVideo) {
      decoder = await Decoder.create(video);
      filter = FilterAPI.create("scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p");
      encoder = await Encoder.create(FF_ENCODER_LIBX264, {
        context: {
          timeBase: TB90K,
          framerate: { num: Math.round(fps), den: 1 },
          maxBFrames: 0,
          gopSize: Math.max(1, Math.round(fps * segmentSeconds)),
          bitRate: 1_500_000,
          threadCount: 0,
        },
        options: { preset: "veryfast", tune: "zerolatency", "x264-params": "scenecut=0" },
      } as never);
    }
    const videoTb = copyVideo ? video.timeBase : TB90K;
    const segmenter = new TsSegmenter([copyVideo ? video : (encoder as Encoder), ...(audio ? [audio] : [])]);
    const vIndex = 0;
    const aIndex = audio ? 1 : -1;
    let firstPts: number | undefined; // seconds
    let segStart = 0;
    let segEnd = 0;
    let frames = 0;
    let index = 0;
    let done = false;
    const t0 = performance.now();
    const ready: InputSegment[] = [];

    const cut = async (): Promise<void> => {
      if (!segmenter.open) return;
      const bytes = await segmenter.finish();
      if (bytes.length > 0 && frames > 0)
        ready.push({ index: index++, bytes, startSeconds: segStart, endSeconds: segEnd, frames });
      frames = 0;
    };
    const onVideoPacket = async (p: Packet): Promise<void> => {
      if (p.pts === undefined || p.pts === null || p.pts < 0n) return;
      const t = seconds(p.pts, videoTb);
      firstPts ??= t;
      const rel = t - firstPts;
      if (rel >= limit) {
        done = true;
        return;
      }
      if (p.isKeyframe && (!segmenter.open || rel - segStart >= segmentSeconds - 1e-6)) {
        await cut();
        await segmenter.start();
        segStart = rel;
      }
      if (!segmenter.open) return; // before the first keyframe
      await segmenter.write(p, vIndex);
      segEnd = Math.max(segEnd, rel);
      frames++;
    };
    const encodeFrame = async (frame: Frame | null): Promise<void> => {
      const enc = encoder as Encoder;
      if (frame === null) {
        for (const p of await enc.encodeAll(null)) {
          await onVideoPacket(p);
          p.free();
        }
        return;
      }
      for (const f of await (filter as FilterAPI).processAll(frame)) {
        const pts = f.pts;
        f.pts = BigInt(Math.round(seconds(pts, video.timeBase) * 90000));
        f.timeBase = TB90K as never;
        for (const p of await enc.encodeAll(f)) {
          await onVideoPacket(p);
          p.free();
        }
        f.free();
      }
    };

    for await (const packet of demuxer.packets()) {
      if (options.signal?.aborted) break;
      if (!packet) break;
      try {
        if (packet.streamIndex === video.index) {
          if (copyVideo) await onVideoPacket(packet);
          else
            for (const f of await (decoder as Decoder).decodeAll(packet)) {
              await encodeFrame(f);
              f.free();
            }
        } else if (audio && packet.streamIndex === audio.index && segmenter.open && !done) {
          await segmenter.write(packet, aIndex);
        }
      } finally {
        packet.free();
      }
      for (const seg of ready.splice(0)) {
        if (options.realtime !== false) await pace(t0, seg.endSeconds, options.signal);
        if (options.signal?.aborted) return;
        yield seg;
      }
      if (done) break;
    }
    if (!options.signal?.aborted) {
      if (!copyVideo && !done) {
        for (const f of await (decoder as Decoder).decodeAll(null)) {
          await encodeFrame(f);
          f.free();
        }
        await encodeFrame(null);
      }
      await cut();
      for (const seg of ready.splice(0)) {
        if (options.realtime !== false) await pace(t0, seg.endSeconds, options.signal);
        if (options.signal?.aborted) return;
        yield seg;
      }
    }
  } finally {
    filter?.close();
    encoder?.close();
    decoder?.close();
    await demuxer.close();
  }
}

async function pace(t0: number, mediaSeconds: number, signal: AbortSignal | undefined): Promise<void> {
  const wait = t0 + mediaSeconds * 1000 - performance.now();
  if (wait > 0) await sleep(wait, undefined, signal ? { signal } : {}).catch(() => {});
}

/**
 * The output of a stream on disk. A `.ts` path receives the segments as they come; any other
 * extension gets them through a temporary `.ts` file, remuxed (stream copy) into that container by
 * {@link OutputFile.close}.
 */
export class OutputFile implements AsyncDisposable {
  readonly path: string;
  readonly #tsPath: string;
  readonly #remux: boolean;
  readonly #out: WriteStream;
  #bytes = 0;
  #closed: Promise<{ path: string; bytes: number }> | undefined;

  constructor(path: string) {
    this.path = path;
    const ext = extname(path).toLowerCase();
    this.#remux = ext !== ".ts" && ext !== ".m2ts";
    this.#tsPath = this.#remux ? join(tmpdir(), `tributary-live-${randomUUID()}.ts`) : path;
    this.#out = createWriteStream(this.#tsPath);
  }

  /** Bytes of MPEG-TS received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends one output segment. */
  async write(segment: Uint8Array): Promise<void> {
    this.#bytes += segment.length;
    if (!this.#out.write(segment)) await new Promise<void>((r) => this.#out.once("drain", () => r()));
  }

  /**
   * Finishes the file (remuxing when needed) and resolves with its path and size. With no segment
   * received the file is left empty (`.ts`) or not created. Idempotent.
   */
  close(): Promise<{ path: string; bytes: number }> {
    this.#closed ??= (async () => {
      await new Promise<void>((resolve, reject) =>
        this.#out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      if (!this.#remux) return { path: this.path, bytes: this.#bytes };
      try {
        if (this.#bytes === 0) return { path: this.path, bytes: 0 };
        await remux(this.#tsPath, this.path);
        return { path: this.path, bytes: (await stat(this.path)).size };
      } finally {
        await rm(this.#tsPath, { force: true });
      }
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Copies the video and audio streams of `from` into `to` (container chosen by `to`'s extension). */
export async function remux(from: string, to: string): Promise<void> {
  silenceFfmpegLogs();
  await using input = await Demuxer.open(from);
  await using output = await Muxer.open(to);
  const streams = [input.video(), input.audio()].filter((s): s is Stream => s !== undefined);
  const map = new Map<number, number>();
  for (const s of streams) {
    // The source container's tag (MPEG-TS stream type) means nothing in the target: let it choose.
    s.codecpar.codecTag = 0;
    map.set(s.index, output.addStream(s));
  }
  for await (const p of input.packets()) {
    if (!p) break;
    const i = map.get(p.streamIndex);
    if (i !== undefined && p.pts !== undefined && p.pts !== null) await output.writePacket(p, i);
    p.free();
  }
}

/** What {@link probeVideo} found. */
export interface VideoProbe {
  format: string;
  width: number;
  height: number;
  /** Video frames decoded. */
  frames: number;
  /** Media time from the first to the last frame, seconds. */
  durationSeconds: number;
  audio: boolean;
  /** Mean R, G, B (0..255) of the middle decoded frame. */
  meanRgb: [number, number, number];
}

/** Decodes every video frame of a file: checks that it plays and measures it. */
export async function probeVideo(path: string): Promise<VideoProbe> {
  silenceFfmpegLogs();
  await using input = await Demuxer.open(path);
  const video = input.video();
  if (!video) throw new MediaInputError(`${path} has no video stream`);
  using decoder = await Decoder.create(video);
  const toRgb = FilterAPI.create("scale=64:64,format=rgb24");
  const means: [number, number, number][] = [];
  let first: number | undefined;
  let last = 0;
  let frames = 0;
  const onFrame = async (f: Frame) => {
    frames++;
    const t = seconds(f.pts, video.timeBase);
    first ??= t;
    last = Math.max(last, t);
    for (const rgb of await toRgb.processAll(f)) {
      const data = rgb.toBuffer();
      const stride = rgb.linesize[0] ?? 64 * 3;
      const m: [number, number, number] = [0, 0, 0];
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++)
          for (let c = 0; c < 3; c++) m[c as 0 | 1 | 2] += data[y * stride + x * 3 + c] as number;
      means.push([m[0] / 4096, m[1] / 4096, m[2] / 4096]);
      rgb.free();
    }
  };
  try {
    for await (const p of input.packets()) {
      if (!p) break;
      if (p.streamIndex === video.index)
        for (const f of await decoder.decodeAll(p)) {
          await onFrame(f);
          f.free();
        }
      p.free();
    }
    for (const f of await decoder.decodeAll(null)) {
      await onFrame(f);
      f.free();
    }
  } finally {
    toRgb.close();
  }
  return {
    format: input.formatName ?? "",
    width: video.codecpar.width,
    height: video.codecpar.height,
    frames,
    durationSeconds: first === undefined ? 0 : last - first,
    audio: input.audio() !== undefined,
    meanRgb: means[Math.floor(means.length / 2)] ?? [0, 0, 0],
  };
}
