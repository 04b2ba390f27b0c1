/**
 * Synthetic media for tests, examples and benchmarks, generated in-process with node-av (no files,
 * no ffmpeg CLI): flat-colour RGB frames with a moving bar, a sine tone, and their encoding into
 * MPEG-TS segments through {@link MediaOutput} (H.264 + Opus, the same encoder the runner publishes
 * with).
 */
import type { AudioFrame, VideoFrame } from "../pipeline.ts";
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
}

/** One flat-colour RGB24 frame with a small moving white square (so frames differ). */
export function syntheticFrame(
  width: number,
  height: number,
  index: number,
  fps: number,
  rgb: [number, number, number] = [100, 100, 100],
): VideoFrame {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = rgb[0];
    data[i + 1] = rgb[1];
    data[i + 2] = rgb[2];
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
  });
  const frames = Math.round(opts.seconds * opts.fps);
  let tone = 0;
  for (let i = 0; i < frames; i++) {
    await out.writeVideo(syntheticFrame(opts.width, opts.height, i, opts.fps, opts.rgb));
    if (opts.audio) {
      const until = ((i + 1) / opts.fps) * 50; // 50 chunks of 20 ms per second
      while (tone < until) await out.writeAudio(syntheticTone(tone++));
    }
  }
  await out.close();
  return segments;
}
