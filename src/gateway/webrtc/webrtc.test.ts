/**
 * The WebRTC media path without a network: TS written by TsWriter reads back through TsH264Reader;
 * RTP made by werift's packetizer becomes segments that start on keyframes, cut near one second,
 * with a PLI when the keyframe is late; TsToRtp starts a viewer at a keyframe; --ice-servers parses.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { H264Packetizer } from "werift";
import { BadRequestError } from "../../node/errors.ts";
import { parseIceServers } from "./peer.ts";
import { H264Depacketizer, RtpToTs } from "./rtp-to-ts.ts";
import { TsH264Reader, TsWriter } from "./ts.ts";
import { TsToRtp } from "./ts-to-rtp.ts";

const SPS = Buffer.from([0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xd9]);
const PPS = Buffer.from([0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
/** A fake access unit: an IDR (with SPS/PPS) or a P slice, `size` bytes of slice data. */
function au(keyframe: boolean, size: number, fill: number): Buffer {
  const slice = Buffer.concat([Buffer.from([0, 0, 0, 1, keyframe ? 0x65 : 0x41]), Buffer.alloc(size, fill)]);
  return keyframe ? Buffer.concat([SPS, PPS, slice]) : slice;
}

test("TsWriter → TsH264Reader: access units, PTS and keyframes survive, in any chunking", () => {
  const w = new TsWriter();
  const units = [au(true, 3000, 1), au(false, 10, 2), au(false, 400, 3)];
  const ts = Buffer.concat([
    w.tables(),
    ...units.map((data, i) => w.accessUnit({ data, pts: 3000 * i + 2 ** 32, keyframe: i === 0 })),
  ]);
  assert.equal(ts.length % 188, 0);
  const r = new TsH264Reader();
  const got = [];
  for (let at = 0; at < ts.length; at += 100) got.push(...r.push(ts.subarray(at, at + 100)));
  got.push(...r.flush());
  assert.equal(got.length, 3);
  assert.deepEqual(
    got.map((g) => g.pts),
    [2 ** 32, 2 ** 32 + 3000, 2 ** 32 + 6000],
  );
  assert.deepEqual(
    got.map((g) => g.keyframe),
    [true, false, false],
  );
  // the writer adds an access unit delimiter before the data
  for (const [i, g] of got.entries()) assert.ok(g.data.subarray(6).equals(units[i] as Buffer));
});

test("RtpToTs: segments start on keyframes, cut after ~1 s; a late keyframe is asked for by PLI", () => {
  let now = 0;
  const segments: Buffer[] = [];
  const plis: number[] = [];
  const m = new RtpToTs({
    onSegment: (s) => segments.push(s),
    requestKeyframe: () => plis.push(now),
    now: () => now,
  });
  const pk = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  // 15 fps for 4 s, a keyframe at 0 s and then only when asked for (the frame after a PLI)
  let wantKey = false;
  let firstKey = -1;
  for (let i = 0; i < 60; i++) {
    now = Math.round((i * 1000) / 15);
    const key = wantKey; // frame 0 is a P frame: dropped, and a keyframe is asked for
    wantKey = false;
    if (key && firstKey < 0) firstKey = i;
    const before = plis.length;
    for (const p of pk.packetize(au(key, 1500, i), i * 6000)) m.push(p);
    if (plis.length > before) wantKey = true;
  }
  m.close();
  assert.ok(plis.length >= 3, `PLIs: the first frames and each segment boundary (${plis})`);
  assert.ok(segments.length >= 3, `${segments.length} segments`);
  assert.equal(firstKey, 1, "the PLI after the first P frame brought the keyframe");
  assert.equal(m.frames, 60 - firstKey, "every frame from the first keyframe is kept");
  for (const seg of segments) {
    const r = new TsH264Reader();
    const all = [...r.push(seg), ...r.flush()];
    assert.ok(all[0]?.keyframe, "each segment starts with a keyframe");
    assert.ok(all.length <= 20, `a segment is about 1 s (${all.length} frames)`);
  }
});

test("RtpToTs: PTS start at 0 and grow whatever the RTP timestamps' start, across their 32-bit wrap", () => {
  for (const start of [0, 2 ** 31 + 12345, 2 ** 32 - 6000 * 3]) {
    const segments: Buffer[] = [];
    let now = 0;
    const m = new RtpToTs({ onSegment: (s) => segments.push(s), requestKeyframe: () => {}, now: () => now });
    const pk = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
    for (let i = 0; i < 30; i++) {
      now = i * 66;
      for (const p of pk.packetize(au(i % 15 === 0, 200, i), (start + i * 6000) % 2 ** 32)) m.push(p);
    }
    m.close();
    const r = new TsH264Reader();
    const pts = segments.flatMap((s) => [...r.push(s), ...r.flush()]).map((u) => u.pts);
    assert.deepEqual(
      pts,
      Array.from({ length: 30 }, (_, i) => i * 6000),
      `RTP start ${start}`,
    );
  }
});

test("H264Depacketizer: a lost packet drops the frame (the caller asks for a keyframe)", () => {
  const pk = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  const d = new H264Depacketizer();
  const packets = pk.packetize(au(true, 5000, 7), 90000);
  assert.ok(packets.length > 2, "fragmented (FU-A)");
  const whole = packets.map((p) => d.push(p)).find((x) => x !== undefined);
  assert.ok(whole?.keyframe);
  const lost = pk.packetize(au(false, 5000, 8), 93000);
  let out: unknown;
  for (const [i, p] of lost.entries()) if (i !== 1) out = d.push(p) ?? out;
  assert.equal(out, undefined);
});

test("TsToRtp starts at a keyframe and stamps RTP with the PTS", () => {
  const w = new TsWriter();
  const ts = Buffer.concat([
    w.tables(),
    w.accessUnit({ data: au(false, 100, 1), pts: 100, keyframe: false }),
    w.accessUnit({ data: au(true, 100, 2), pts: 3100, keyframe: true }),
    w.accessUnit({ data: au(false, 100, 3), pts: 6100, keyframe: false }),
  ]);
  const t = new TsToRtp();
  const packets = [...t.push(ts), ...t.endSegment()];
  assert.equal(t.frames, 2);
  assert.deepEqual([...new Set(packets.map((p) => p.header.timestamp))], [3100, 6100]);
  assert.ok(packets.some((p) => p.header.marker));
});

test("--ice-servers: URLs with credentials, JSON, and a clear error for anything else", () => {
  assert.deepEqual(parseIceServers(""), []);
  assert.deepEqual(parseIceServers("stun:stun.example:3478, turn:u:p@turn.example:3478"), [
    { urls: "stun:stun.example:3478" },
    { urls: "turn:turn.example:3478", username: "u", credential: "p" },
  ]);
  assert.deepEqual(parseIceServers('[{"urls":["stun:a"]}]'), [{ urls: ["stun:a"] }]);
  assert.throws(() => parseIceServers("http://x"), BadRequestError);
});
