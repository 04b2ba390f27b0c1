import assert from "node:assert/strict";
import { test } from "node:test";
import { Demuxer } from "node-av/api";
import { AV_CODEC_ID_AAC, AV_CODEC_ID_H264 } from "node-av/constants";
import { MediaOutput } from "./output.ts";
import { channelMean, decodeSegments, syntheticFrame, syntheticSegments } from "./synthetic.ts";

test("encoded output is cut into keyframe-first MPEG-TS segments every 2 s of PTS, each decodable alone", async () => {
  const segments = await syntheticSegments({ width: 160, height: 120, fps: 20, seconds: 5, audio: true });
  // 5 s with an IDR every 2 s: segments start at 0 s, 2 s and 4 s.
  assert.equal(segments.length, 3);
  for (const s of segments) {
    assert.equal(s[0], 0x47, "every segment starts with a TS sync byte");
    const alone = await decodeSegments([s], 160, 120);
    assert.ok(alone.video.length > 0, "a segment decodes on its own (PAT/PMT and a keyframe first)");
    assert.deepEqual(alone.streams, { video: true, audio: true });
  }
  const all = await decodeSegments(segments, 160, 120);
  assert.equal(all.video.length, 100);
  assert.equal(all.video[0]?.timeBase.den, 90000);
  const seconds = all.audio.reduce((n, a) => n + a.samples / a.sampleRate, 0);
  assert.ok(seconds > 4 && seconds < 5.5, `about 5 s of audio, got ${seconds}`);
  assert.equal(all.audio[0]?.sampleRate, 48000);
});

test("decoding scales to cover, center-crops to the target size and caps the frame rate by PTS", async () => {
  // 4:3 input with red bars on its left and right tenth: a 1:1 cover-crop cuts 12.5 % off each side,
  // so no red is left; a stretch (or a letterbox) would keep it.
  const segments = await syntheticSegments({ width: 320, height: 240, fps: 30, seconds: 2, sideBars: true });
  const d = await decodeSegments(segments, 64, 64, 10);
  assert.ok(d.video.length >= 19 && d.video.length <= 21, `10 fps of 2 s, got ${d.video.length}`);
  const f = d.video[0];
  assert.ok(f);
  assert.equal(f.width, 64);
  assert.equal(f.height, 64);
  assert.equal(f.data.length, 64 * 64 * 3);
  assert.ok(Math.abs(channelMean(f, 1) - 100) < 20, "colour survives the round trip");
  for (const x of [0, 63]) {
    const i = (32 * 64 + x) * 3;
    assert.ok(
      (f.data[i] as number) - (f.data[i + 1] as number) < 40,
      `column ${x} is not red: the bars were cropped`,
    );
  }
  const wide = (await decodeSegments(segments.slice(0, 1), 320, 240)).video[0];
  assert.ok(wide && (wide.data[(120 * 320 + 2) * 3] as number) > 200, "the bars are there at full size");
  const gaps = d.video.slice(1).map((v, i) => (v.pts - (d.video[i] as { pts: number }).pts) / 90000);
  assert.ok(
    gaps.every((g) => g > 0.09 && g < 0.11),
    "frames are 1/10 s apart",
  );
});

test("AAC audio input (as RTMP ingest carries) decodes too", async () => {
  const segments = await syntheticSegments({
    width: 64,
    height: 64,
    fps: 10,
    seconds: 2,
    audio: true,
    audioCodec: "aac",
  });
  const demuxer = await Demuxer.open(Buffer.concat(segments), { format: "mpegts" } as never);
  try {
    assert.equal(demuxer.audio()?.codecpar.codecId, AV_CODEC_ID_AAC);
    assert.equal(demuxer.video()?.codecpar.codecId, AV_CODEC_ID_H264);
  } finally {
    await demuxer.close();
  }
  const d = await decodeSegments(segments, 64, 64);
  assert.deepEqual(d.streams, { video: true, audio: true });
  const seconds = d.audio.reduce((n, a) => n + a.samples / a.sampleRate, 0);
  assert.ok(seconds > 1.5, `about 2 s of audio, got ${seconds}`);
  const peak = Math.max(...d.audio.flatMap((a) => Array.from(a.data.subarray(0, 2000))));
  assert.ok(peak > 4000, `the tone survives (peak ${peak})`);
});

test("the output size is the first frame's; later frames of other sizes are scaled to it", async () => {
  const segments: Uint8Array[] = [];
  const out = new MediaOutput({ onSegment: (s) => void segments.push(s), frameRate: 10 });
  const colours: [number, number, number][] = [
    [200, 0, 0],
    [0, 200, 0],
    [0, 0, 200],
  ];
  const sizes = [
    [64, 64],
    [32, 48],
    [101, 99],
  ] as const;
  for (let i = 0; i < 30; i++) {
    const k = Math.floor(i / 10);
    const [w, h] = sizes[k] as readonly [number, number];
    await out.writeVideo(syntheticFrame(w, h, i, 10, colours[k]));
  }
  await out.close();
  const demuxer = await Demuxer.open(Buffer.concat(segments), { format: "mpegts" } as never);
  try {
    assert.equal(demuxer.video()?.codecpar.width, 64);
    assert.equal(demuxer.video()?.codecpar.height, 64);
  } finally {
    await demuxer.close();
  }
  const d = await decodeSegments(segments, 64, 64);
  assert.equal(d.video.length, 30);
  for (const [i, c] of [
    [5, 0],
    [15, 1],
    [25, 2],
  ] as const)
    assert.ok(channelMean(d.video[i] as never, c) > 180, `frame ${i} kept its colour`);
});
