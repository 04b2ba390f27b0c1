import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { syntheticSegments } from "../media/synthetic.ts";
import { inputSegments, OutputFile, probeVideo } from "./media.ts";
import { scanMpegTs } from "./mpegts.ts";

const dir = mkdtempSync(join(tmpdir(), "client-media-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test("scanMpegTs counts the video frames of a segment and reads their 90 kHz timestamps", async () => {
  const segs = await syntheticSegments({ width: 64, height: 48, fps: 10, seconds: 4 });
  assert.equal(segs.length, 2);
  const a = scanMpegTs(segs[0]!);
  const b = scanMpegTs(segs[1]!);
  assert.equal(a.videoFrames + b.videoFrames, 40);
  assert.equal(a.firstPts, 0);
  assert.equal(b.firstPts, 2 * 90000);
  assert.equal(b.maxPts, 39 * 9000);
  assert.deepEqual(scanMpegTs(new Uint8Array(1000)).videoFrames, 0, "garbage is skipped, not thrown on");
});

test("the test pattern is cut into ~1 s keyframe-first MPEG-TS segments that decode, and remuxes to mp4", async () => {
  const segs = await collect(
    inputSegments({ testsrc: { width: 160, height: 120, fps: 10 } }, { durationMs: 3000, realtime: false }),
  );
  assert.equal(segs.length, 3);
  assert.deepEqual(
    segs.map((s) => [s.index, s.frames, s.startSeconds]),
    [
      [0, 10, 0],
      [1, 10, 1],
      [2, 10, 2],
    ],
  );
  for (const s of segs) assert.equal(scanMpegTs(s.bytes).videoFrames, 10);
  const path = join(dir, "pattern.mp4");
  const out = new OutputFile(path);
  for (const s of segs) await out.write(s.bytes);
  const written = await out.close();
  assert.ok(written.bytes > 0);
  const probe = await probeVideo(path);
  assert.match(probe.format, /mp4/);
  assert.equal(probe.frames, 30);
  assert.deepEqual([probe.width, probe.height], [160, 120]);
});

test("a file with H.264 and AAC is remuxed as is (cuts on its own keyframes), audio kept; --duration stops early", async () => {
  const file = join(dir, "in.ts");
  writeFileSync(
    file,
    Buffer.concat(
      await syntheticSegments({ width: 96, height: 64, fps: 10, seconds: 6, audio: true, audioCodec: "aac" }),
    ),
  );
  const segs = await collect(inputSegments({ file }, { durationMs: 4500, realtime: false }));
  // The file has a keyframe every 2 s: segments of 2 s, the last cut by the duration.
  assert.deepEqual(
    segs.map((s) => s.frames),
    [20, 20, 5],
  );
  const path = join(dir, "copy.ts");
  const out = new OutputFile(path);
  for (const s of segs) await out.write(s.bytes);
  await out.close();
  const probe = await probeVideo(path);
  assert.equal(probe.frames, 45);
  assert.equal(probe.audio, true);
});

test("a missing file or a missing duration for the pattern is a MediaInputError", async () => {
  await assert.rejects(collect(inputSegments({ file: join(dir, "nope.mp4") })), {
    code: "MEDIA_INPUT_FAILED",
  });
  await assert.rejects(collect(inputSegments({ testsrc: { width: 64, height: 64, fps: 10 } })), {
    code: "MEDIA_INPUT_FAILED",
  });
});
