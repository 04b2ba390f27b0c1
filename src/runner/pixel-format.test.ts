import assert from "node:assert/strict";
import { before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { frameByteLength } from "../media/frames.ts";
import { channelMean, decodeSegments, syntheticFrame, syntheticSegments } from "../media/synthetic.ts";
import { MediaLoop } from "./media-loop.ts";
import { MemoryChannels } from "./memory-channels.ts";
import { defineLivePipeline, type LivePipelineDefinition, type VideoFrame } from "./pipeline.ts";

let input: Uint8Array[] = [];
before(async () => {
  input = await syntheticSegments({ width: 96, height: 96, fps: 10, seconds: 2 });
});

async function run(def: LivePipelineDefinition, withInput = true) {
  const channels = new MemoryChannels();
  if (withInput) {
    for (const s of input) channels.channel("mem://in").push(s);
    channels.channel("mem://in").end();
  }
  const userErrors: string[] = [];
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline(def),
    ctx: {
      streamId: "p",
      params: { width: 96, height: 96, max_framerate: 10 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    ...(withInput ? { input: channels.subscribe("mem://in") } : {}),
    output: channels.publish("mem://out", "video/mp2t"),
    onUserError: (source) => void userErrors.push(source),
    onMediaError: () => {},
  });
  return { loop, out: channels.channel("mem://out").segments, userErrors };
}

test("a pipeline asking for yuv420p gets planar frames, and what it writes into them is published", async () => {
  const seen: VideoFrame[] = [];
  const r = await run({
    pixelFormat: "yuv420p",
    video: (frame) => {
      seen.push(frame);
      frame.data.fill(235, 0, frame.width * frame.height); // white luma
    },
  });
  await r.loop.done;
  assert.equal(seen.length, 20);
  for (const f of seen) {
    assert.equal(f.format, "yuv420p");
    assert.equal(f.data.length, frameByteLength("yuv420p", 96, 96));
  }
  const d = await decodeSegments(r.out, 96, 96);
  assert.equal(d.video.length, 20);
  assert.ok(channelMean(d.video[5] as VideoFrame, 1) > 240, "the white the handler wrote comes out");
  assert.deepEqual(r.userErrors, []);
});

test("the pixel format defaults to rgb24 with a video handler and yuv420p without; other values are refused", () => {
  assert.equal(defineLivePipeline({ video: (f) => f }).pixelFormat, "rgb24");
  assert.equal(defineLivePipeline({ audio: (a) => a }).pixelFormat, "yuv420p");
  assert.equal(defineLivePipeline({ video: (f) => f, pixelFormat: "yuv420p" }).pixelFormat, "yuv420p");
  assert.throws(
    () => defineLivePipeline({ video: (f) => f, pixelFormat: "nv12" as never }),
    /pixelFormat must be one of rgb24, yuv420p/,
  );
});

test("a yuv420p pipeline may return rgb24 frames; a frame whose data does not fit its format is refused", async () => {
  let n = 0;
  const r = await run({
    pixelFormat: "yuv420p",
    video: (frame) => {
      n++;
      if (n === 3) return { ...frame, data: new Uint8Array(96 * 96 * 3) }; // says yuv420p, holds RGB
      const rgb = syntheticFrame(96, 96, n, 10, [0, 200, 0]);
      return { ...rgb, pts: frame.pts, timeBase: frame.timeBase };
    },
  });
  await r.loop.done;
  assert.deepEqual(r.userErrors, ["video"], "the misfit frame is reported once, and its input passes");
  const d = await decodeSegments(r.out, 96, 96);
  assert.equal(d.video.length, 20);
  const green = d.video[10] as VideoFrame;
  assert.ok(channelMean(green, 1) > channelMean(green, 0) + 80, "the returned RGB frames are published");
  const passed = d.video[2] as VideoFrame;
  assert.ok(Math.abs(channelMean(passed, 1) - 100) < 15, "the refused frame's grey input went out instead");
});

test("a generative yuv420p stream gets black planar frames", async () => {
  const seen: VideoFrame[] = [];
  const r = await run(
    {
      pixelFormat: "yuv420p",
      video: (frame) => {
        seen.push(frame);
      },
    },
    false,
  );
  await sleep(400);
  await r.loop.stop();
  assert.ok(seen.length >= 2, `frames at max_framerate, got ${seen.length}`);
  const f = seen[0] as VideoFrame;
  assert.equal(f.format, "yuv420p");
  assert.equal(f.data[0], 16, "limited-range black luma");
  assert.equal(f.data[96 * 96], 128, "neutral chroma");
});
