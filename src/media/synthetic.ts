/**
 * Synthetic media for tests, examples and benchmarks, generated in-process with node-av (no files,
 * no ffmpeg CLI): flat-colour RGB frames with a moving bar, a sine tone, and their encoding into
 * MPEG-TS segments through {@link MediaOutput} (H.264 + Opus, the same encoder the runner publishes
 * with).
 */

import { SegmentByteQueue } from "./byte-queue.ts";
import type { AudioFrame, PixelFormat, VideoFrame } from "./frames.ts";
import { decodeInput } from "./input.ts";
import { MediaOutput } from "./output.ts";

/** Options of {@link syntheticSegments}. */
export interface SyntheticOptions {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Base colour of every frame (default mid grey 100,100,100). */
  rgb?: [number, number, number];
  /** Add a 440 Hz tone at 48 kHz (default false). */
  audio?: boolean;
  /** Codec of that tone (default opus). */
  audioCodec?: "opus" | "aac";
  /** Paint the left and right tenth of every frame pure red (to check cropping). */
  sideBars?: boolean;
}

/** One flat-colour RGB24 frame with a small moving white square (so frames differ). */
export function syntheticFrame(
  width: number,
  height: number,
  index: number,
  fps: number,
  rgb: [number, number, number] = [100, 100, 100],
  sideBars = false,
): VideoFrame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = rgb[0];
    data[i + 1] = rgb[1];
    data[i + 2] = rgb[2];
  }
  if (sideBars) {
    const bar = Math.floor(width / 10);
    for (let y = 0; y < height; y++) {
      for (const x0 of [0, width - bar]) {
        for (let x = x0; x < x0 + bar; x++) {
          const i = (y * width + x) * 3;
          data[i] = 255;
          data[i + 1] = 0;
          data[i + 2] = 0;
        }
      }
    }
  }
  const s = Math.max(2, Math.floor(Math.min(width, height) / 16));
  const x0 = (index * 4) % Math.max(1, width - s);
  for (let y = 0; y < s; y++) data.fill(255, (y * width + x0) * 3, (y * width + x0 + s) * 3);
  return { data, width, height, pts: Math.round((index * 90000) / fps), timeBase: { num: 1, den: 90000 } };
}

/** 20 ms of a 440 Hz mono tone at 48 kHz, chunk number `index`. */
export function syntheticTone(index: number): AudioFrame {
  const samples = 960;
  const data = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    data[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (index * samples + i)) / 48000));
  return {
    data,
    sampleRate: 48000,
    channels: 1,
    samples,
    pts: index * samples,
    timeBase: { num: 1, den: 48000 },
  };
}

/** Encodes `seconds` of synthetic media into MPEG-TS segments (about 2 s each, keyframe-first). */
export async function syntheticSegments(opts: SyntheticOptions): Promise<Uint8Array[]> {
  const segments: Uint8Array[] = [];
  await using out = new MediaOutput({
    onSegment: (s) => void segments.push(s),
    frameRate: opts.fps,
    expectAudio: opts.audio === true,
    audioCodec: opts.audioCodec ?? "opus",
  });
  const frames = Math.round(opts.seconds * opts.fps);
  let tone = 0;
  for (let i = 0; i < frames; i++) {
    await out.writeVideo(syntheticFrame(opts.width, opts.height, i, opts.fps, opts.rgb, opts.sideBars));
    if (opts.audio) {
      const until = ((i + 1) / opts.fps) * 50; // 50 chunks of 20 ms per second
      while (tone < until) await out.writeAudio(syntheticTone(tone++));
    }
  }
  await out.close();
  return segments;
}

/** What {@link decodeSegments} found. */
export interface DecodedMedia {
  video: VideoFrame[];
  audio: AudioFrame[];
  streams: { video: boolean; audio: boolean };
}

/**
 * Decodes MPEG-TS segments (joined as one stream) into frames of `width`×`height` (cover-crop; RGB24
 * unless `pixelFormat` says otherwise) and s16 audio, without a frame-rate cap unless `maxFramerate`
 * is given.
 */
export async function decodeSegments(
  segments: readonly Uint8Array[],
  width: number,
  height: number,
  maxFramerate = 0,
  pixelFormat: PixelFormat = "rgb24",
): Promise<DecodedMedia> {
  const queue = new SegmentByteQueue(Number.POSITIVE_INFINITY);
  for (const s of segments) queue.pushSegment(s);
  queue.end();
  const out: DecodedMedia = { video: [], audio: [], streams: { video: false, audio: false } };
  await decodeInput({
    queue,
    pixelFormat,
    size: () => ({ width, height }),
    maxFramerate: () => maxFramerate,
    onVideo: (f) => void out.video.push(f),
    onAudio: (f) => void out.audio.push(f),
    onOpened: (s) => {
      out.streams = s;
    },
  });
  return out;
}

/** Mean of one channel (0 = R, 1 = G, 2 = B) over an RGB24 frame. */
export function channelMean(frame: VideoFrame, channel: 0 | 1 | 2): number {
  let sum = 0;
  for (let i = channel; i < frame.data.length; i += 3) sum += frame.data[i] as number;
  return sum / (frame.data.length / 3);
}
