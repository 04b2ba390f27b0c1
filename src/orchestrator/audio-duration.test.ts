import assert from "node:assert/strict";
import { test } from "node:test";
import { silentWav } from "../../test/e2e/orchestrator-helpers.ts";
import { syntheticSegments } from "../media/synthetic.ts";
import { audioDurationSeconds, audioToTextUnits } from "./audio-duration.ts";

const bad = (re: RegExp) => (e: Error & { status?: number; code?: string }) =>
  e.status === 400 && e.code === "BAD_AUDIO" && re.test(e.message);

test("a WAV is charged go-livepeer's way: whole seconds × 1000", async () => {
  assert.equal(await audioDurationSeconds(silentWav(2.5)), 2.5);
  assert.equal(await audioToTextUnits(silentWav(2.5)), 2000n);
  assert.equal(await audioToTextUnits(silentWav(3, 16_000)), 3000n);
});

test("another format: MPEG-TS with Opus audio", async () => {
  const segments = await syntheticSegments({ width: 64, height: 48, fps: 10, seconds: 3, audio: true });
  const seconds = await audioDurationSeconds(Buffer.concat(segments));
  assert.ok(seconds > 2.5 && seconds < 3.5, String(seconds));
});

test("undecodable, empty, missing, video-only or sub-second audio is a 400 naming the problem", async () => {
  await assert.rejects(
    audioToTextUnits(Buffer.from("not audio at all, just text")),
    bad(/could not be decoded/),
  );
  await assert.rejects(audioToTextUnits(Buffer.alloc(0)), bad(/empty/));
  await assert.rejects(audioToTextUnits(undefined), bad(/audio field is required/));
  await assert.rejects(audioToTextUnits(silentWav(0.4)), bad(/shorter than one second/));
  const videoOnly = await syntheticSegments({ width: 64, height: 48, fps: 10, seconds: 1 });
  await assert.rejects(audioToTextUnits(Buffer.concat(videoOnly)), bad(/no audio stream/));
});
