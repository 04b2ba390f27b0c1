/**
 * Per-frame time our container SDK spends around the user's video handler, in one process (run it
 * pinned to one core; bench/runner/run.ts does): synthetic H.264 MPEG-TS → MediaLoop (demux, decode,
 * cover-crop to the pipeline's pixel format, queues, handler, H.264 encode, MPEG-TS mux) with the
 * handler wrapped in a timer. SDK time per frame = wall time per handled frame − handler time per frame.
 * `tint` (a per-pixel JavaScript handler on RGB) always asks for rgb24 frames.
 *
 *   node bench/runner/overhead.ts <W>x<H> <seconds> [passthrough|tint] [rgb24|yuv420p]   → one JSON line
 */

import { syntheticSegments } from "../../src/media/synthetic.ts";
import { MediaLoop } from "../../src/runner/media-loop.ts";
import { MemoryChannels } from "../../src/runner/memory-channels.ts";
import { defineLivePipeline, type PixelFormat, type VideoFrame } from "../../src/runner/pipeline.ts";

/** What one run measured. */
export interface OverheadResult {
  size: string;
  handler: "passthrough" | "tint";
  pixelFormat: PixelFormat;
  frames: number;
  /** Frames decoded (the handled ones plus those the bounded queue dropped). */
  decoded: number;
  wallMs: number;
  cpuMs: number;
  handlerMs: number;
  /** Wall ms per handled frame, all included. */
  perFrameMs: number;
  /** Handler ms per frame. */
  handlerPerFrameMs: number;
  /** SDK ms per frame (per-frame wall minus handler). */
  sdkPerFrameMs: number;
}

/** Adds 60 to the green channel: a typical per-pixel JavaScript handler. */
function tint(frame: VideoFrame): VideoFrame {
  const d = frame.data;
  for (let i = 1; i < d.length; i += 3) d[i] = Math.min((d[i] as number) + 60, 255);
  return frame;
}

/** Runs the media loop over `seconds` of 60 fps synthetic input at `size`. */
export async function measureOverhead(
  size: string,
  seconds: number,
  handler: "passthrough" | "tint",
  pixelFormat: PixelFormat = "rgb24",
): Promise<OverheadResult> {
  const [width, height] = size.split("x").map(Number) as [number, number];
  const input = await syntheticSegments({ width, height, fps: 60, seconds });
  const channels = new MemoryChannels();
  for (const s of input) channels.channel("mem://in").push(s);
  channels.channel("mem://in").end();
  let handlerMs = 0;
  let frames = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const loop = MediaLoop.start({
    maxPendingSegments: 1000, // the whole input is queued at once; nothing dropped for lateness
    pipeline: defineLivePipeline({
      pixelFormat,
      video: (frame) => {
        const h0 = performance.now();
        const out = handler === "tint" ? tint(frame) : frame;
        handlerMs += performance.now() - h0;
        frames++;
        return out;
      },
    }),
    ctx: {
      streamId: "overhead",
      params: { width, height, max_framerate: 60 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    output: channels.publish("mem://out", "video/mp2t"),
    onUserError: () => {},
    onMediaError: (source, message) => console.error(source, message),
  });
  await loop.done;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const perFrameMs = wallMs / Math.max(1, frames);
  const handlerPerFrameMs = handlerMs / Math.max(1, frames);
  return {
    size,
    handler,
    pixelFormat,
    frames,
    decoded: loop.stats.videoIn,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    handlerMs,
    perFrameMs,
    handlerPerFrameMs,
    sdkPerFrameMs: perFrameMs - handlerPerFrameMs,
  };
}

if (import.meta.main) {
  const [size = "512x512", seconds = "10", handler = "passthrough", format = "rgb24"] = process.argv.slice(2);
  if (handler !== "passthrough" && handler !== "tint") throw new Error(`unknown handler ${handler}`);
  if (format !== "rgb24" && format !== "yuv420p") throw new Error(`unknown pixel format ${format}`);
  if (handler === "tint" && format !== "rgb24") throw new Error("tint works on rgb24 frames");
  console.log(JSON.stringify(await measureOverhead(size, Number(seconds), handler, format)));
}
