import assert from "node:assert/strict";
import { test } from "node:test";
import { blackFrameData, frameByteLength, type VideoFrame } from "./frames.ts";
import { MediaOutput } from "./output.ts";
import { drawOverlay } from "./overlay.ts";
import { channelMean, decodeSegments, syntheticFrame, syntheticSegments } from "./synthetic.ts";

/** Mean of `data[from..to)`. */
function mean(data: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += data[i] as number;
  return sum / (to - from);
}

test("yuv420p decoding hands out planar frames of the target size, and cover-crops other sizes", async () => {
  // Grey 100 RGB is luma 16 + 100 × 219 / 255 ≈ 102 in limited range, chroma 128.
  const segments = await syntheticSegments({ width: 96, height: 96, fps: 10, seconds: 1 });
  const same = await decodeSegments(segments, 96, 96, 0, "yuv420p");
  assert.equal(same.video.length, 10);
  const f = same.video[0] as VideoFrame;
  assert.equal(f.format, "yuv420p");
  assert.equal(f.data.length, 96 * 96 + 2 * 48 * 48);
  assert.ok(Math.abs(mean(f.data, 0, 96 * 96) - 102) < 8, "luma of grey 100");
  assert.ok(Math.abs(mean(f.data, 96 * 96, f.data.length) - 128) < 4, "neutral chroma");
  // Red bars on the left and right tenth of a 4:3 input: a 1:1 cover-crop removes them, so the red
  // difference (V) stays neutral at the edges.
  const bars = await syntheticSegments({ width: 320, height: 240, fps: 10, seconds: 1, sideBars: true });
  const cropped = (await decodeSegments(bars, 64, 64, 0, "yuv420p")).video[0] as VideoFrame;
  assert.equal(cropped.data.length, frameByteLength("yuv420p", 64, 64));
  const v = 64 * 64 + 32 * 32;
  for (const x of [0, 31])
    assert.ok((cropped.data[v + 16 * 32 + x] as number) < 150, `V at chroma column ${x}`);
  const full = (await decodeSegments(bars, 320, 240, 0, "yuv420p")).video[0] as VideoFrame;
  assert.ok(
    (full.data[320 * 240 + 160 * 120 + 60 * 160 + 1] as number) > 200,
    "the bars are red at full size",
  );
  // Odd sizes have rounded-up chroma planes.
  const odd = (await decodeSegments(segments, 33, 17, 0, "yuv420p")).video[0] as VideoFrame;
  assert.equal(odd.data.length, 33 * 17 + 2 * 17 * 9);
});

test("yuv420p frames encode as they are, and a stream may mix them with RGB24 frames of another size", async () => {
  const segments: Uint8Array[] = [];
  const out = new MediaOutput({ onSegment: (s) => void segments.push(s), frameRate: 10 });
  for (let i = 0; i < 10; i++) {
    const data = blackFrameData("yuv420p", 64, 64);
    data.fill(150, 0, 64 * 64); // luma 150: grey (150 − 16) × 255 / 219 ≈ 156
    await out.writeVideo({
      data,
      width: 64,
      height: 64,
      pts: i * 9000,
      timeBase: { num: 1, den: 90000 },
      format: "yuv420p",
    });
  }
  for (let i = 10; i < 20; i++) await out.writeVideo(syntheticFrame(48, 48, i, 10, [0, 200, 0]));
  await out.close();
  const d = await decodeSegments(segments, 64, 64);
  assert.equal(d.video.length, 20);
  const first = d.video[0] as VideoFrame;
  for (const c of [0, 1, 2] as const)
    assert.ok(Math.abs(channelMean(first, c) - 156) < 10, `channel ${c} of the grey frame`);
  const last = d.video[19] as VideoFrame;
  assert.ok(
    channelMean(last, 1) > channelMean(last, 0) + 80,
    "the RGB frames that follow are green, scaled to 64×64",
  );
});

test("the loading overlay in yuv420p dims luma towards black and chroma towards grey, with a white bar", () => {
  const base = blackFrameData("yuv420p", 64, 64);
  base.fill(216, 0, 64 * 64);
  base.fill(200, 64 * 64); // strongly coloured chroma
  const frame: VideoFrame = {
    data: base,
    width: 64,
    height: 64,
    pts: 0,
    timeBase: { num: 1, den: 90000 },
    format: "yuv420p",
  };
  const o = drawOverlay(frame, 64, 64, 0.5, 0.5, "yuv420p");
  assert.equal(o.length, frameByteLength("yuv420p", 64, 64));
  assert.equal(o[0], 16 + 100, "luma: 16 + (216 − 16) × 0.5");
  assert.equal(o[64 * 64], 128 + 36, "chroma: 128 + (200 − 128) × 0.5");
  // The bar is 2 rows, 4..2 rows from the bottom, over half the width (phase 0.5).
  assert.equal(o[61 * 64 + 10], 205);
  assert.equal(o[61 * 64 + 40], 116, "no bar past the phase");
  assert.equal(o[64 * 64 + 30 * 32 + 5], 128, "neutral chroma under the bar");
  const dark = drawOverlay(undefined, 8, 8, 0, 0.35, "yuv420p");
  assert.ok((dark[0] as number) < 50 && dark[8 * 8] === 128, "without a base: a dark grey frame");
});
