/**
 * The WebRTC media path without a network: TS written by TsWriter reads back through TsH264Reader;
 * RTP made by werift's packetizer becomes segments that start on keyframes, cut near one second,
 * with a PLI when the keyframe is late; TsToRtp starts a viewer at a keyframe; --ice-servers parses.
 * Opus: TsWriter's Opus stream is read as Opus by FFmpeg (node-av's libavformat, what the runner
 * demuxes with) and decodes; TsReader reads FFmpeg's own Opus TS; Opus RTP goes into WHIP segments
 * on the video's clock and comes out of WHEP as Opus RTP on 48 kHz. Trickle ICE fragments parse.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Demuxer } from "node-av";
import { AV_CODEC_ID_OPUS } from "node-av/constants";
import { H264Packetizer, RtpHeader, RtpPacket } from "werift";
import { decodeSegments, syntheticSegments } from "../../media/synthetic.ts";
import { BadRequestError, TributaryError } from "../../node/errors.ts";
import { parseIceServers } from "./peer.ts";
import { H264Depacketizer, RtpToTs } from "./rtp-to-ts.ts";
import { applySdpFrag, iceSession, MAX_TRICKLED_CANDIDATES, parseSdpFrag } from "./trickle-ice.ts";
import {
  type OpusPacket,
  opusControlHeader,
  opusPackets,
  opusSamples,
  TsH264Reader,
  TsReader,
  TsWriter,
} from "./ts.ts";
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
  const packets = [...t.push(ts).video, ...t.endSegment().video];
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

/** Real Opus: the runner SDK's encoder (libopus through node-av) muxed by FFmpeg; its units by TsReader. */
async function ffmpegOpus(seconds: number) {
  const segs = await syntheticSegments({ width: 160, height: 120, fps: 15, seconds, audio: true });
  const r = new TsReader();
  const units = segs.flatMap((seg) => [...r.push(seg), ...r.flush()]);
  return { hasOpus: r.hasOpus, units };
}

test("TsReader reads FFmpeg's Opus TS: every 20 ms packet, PTS spaced by the packets' durations", async () => {
  const { hasOpus, units } = await ffmpegOpus(2);
  assert.ok(hasOpus, "the PMT's Opus registration descriptor was recognised");
  const opus = units.filter((u) => u.kind === "opus");
  assert.ok(opus.length >= 95 && opus.length <= 100, `about 100 packets of 20 ms in 2 s, got ${opus.length}`);
  for (const p of opus) assert.equal(opusSamples(p.data), 960, "20 ms at 48 kHz");
  // FFmpeg gathers several packets in one PES: each after the first is placed by the one before
  for (let i = 1; i < opus.length; i++)
    assert.equal((opus[i] as OpusPacket).pts - (opus[i - 1] as OpusPacket).pts, 1800);
});

test("TsWriter's Opus stream: FFmpeg reads it as Opus (48 kHz, stereo) and decodes all of it beside the video", async () => {
  const { units } = await ffmpegOpus(3);
  const w = new TsWriter();
  w.audio = true;
  const parts = [w.tables()];
  for (const u of [...units].sort((a, b) => a.pts - b.pts))
    parts.push(u.kind === "video" ? w.accessUnit(u) : w.opus(u));
  const ts = Buffer.concat(parts);
  const demuxer = await Demuxer.open(ts, { format: "mpegts" } as never);
  try {
    const a = demuxer.audio();
    assert.equal(a?.codecpar.codecId, AV_CODEC_ID_OPUS);
    assert.equal(a?.codecpar.sampleRate, 48000);
  } finally {
    await demuxer.close();
  }
  const d = await decodeSegments([ts], 160, 120);
  assert.deepEqual(d.streams, { video: true, audio: true });
  assert.equal(d.video.length, 45);
  const seconds = d.audio.reduce((n, x) => n + x.samples / x.sampleRate, 0);
  assert.ok(Math.abs(seconds - 3) < 0.05, `3 s of audio decoded, got ${seconds}`);
  // and our own reader gets the same packets back
  const back = new TsReader();
  const again = [...back.push(ts), ...back.flush()].filter((u) => u.kind === "opus");
  assert.equal(again.length, units.filter((u) => u.kind === "opus").length);
});

test("opus_control_header: the size as a run of 0xff bytes; packets read back whatever their size", () => {
  assert.deepEqual([...opusControlHeader(100)], [0x7f, 0xe0, 100]);
  assert.deepEqual([...opusControlHeader(255)], [0x7f, 0xe0, 0xff, 0]);
  assert.deepEqual([...opusControlHeader(600)], [0x7f, 0xe0, 0xff, 0xff, 90]);
  const a = Buffer.alloc(600, 1);
  const b = Buffer.alloc(3, 2);
  // with a start trim (flag 0x10, two bytes) on the second
  const payload = Buffer.concat([opusControlHeader(600), a, Buffer.from([0x7f, 0xf0, 3, 0, 0]), b]);
  assert.deepEqual(opusPackets(payload), [a, b]);
  assert.equal(opusSamples(Buffer.from([0xf8])), 960, "CELT 20 ms, one frame (code 0)");
  assert.equal(opusSamples(Buffer.from([0xf9])), 1920, "CELT 20 ms, two frames (code 1)");
  assert.equal(opusSamples(Buffer.from([0x1b, 0x03])), 2880 * 3, "SILK 60 ms, code 3 with three frames");
  assert.equal(opusSamples(Buffer.from([0x60])), 480, "hybrid 10 ms");
});

/** An Opus RTP packet (payload: a 20 ms CELT TOC and filler). */
function opusRtp(seq: number, timestamp: number): RtpPacket {
  return new RtpPacket(
    new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp }),
    Buffer.from([0xf8, seq & 0xff, 1, 2, 3]),
  );
}

test("RtpToTs: Opus RTP goes into the segments, declared in the PMT, on the video's clock from where the video stood", () => {
  let now = 0;
  const segments: Buffer[] = [];
  const m = new RtpToTs({ onSegment: (s) => segments.push(s), requestKeyframe: () => {}, now: () => now });
  const pk = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  const audioStart = 123_456_789; // the audio RTP clock has its own random origin
  let seq = 0;
  // 3 s: video at 15 fps (a keyframe every second), audio every 20 ms; audio starts before video
  for (let ms = 0; ms < 3000; ms += 20) {
    now = 1_000_000 + ms;
    m.pushOpus(opusRtp(seq, (audioStart + seq * 960) % 2 ** 32));
    seq++;
    if (ms >= 200 && (ms - 200) % 60 === 0) {
      const i = (ms - 200) / 60;
      for (const p of pk.packetize(au(i % 15 === 0, 300, i), 7_000_000 + i * 5400)) m.push(p);
    }
  }
  m.close();
  const r = new TsReader();
  const units = segments.flatMap((s) => [...r.push(s), ...r.flush()]);
  assert.ok(r.hasOpus, "the PMT declares Opus");
  const opus = units.filter((u) => u.kind === "opus");
  const video = units.filter((u) => u.kind === "video");
  assert.equal(video[0]?.pts, 0, "the first keyframe is at 0");
  // audio before the first keyframe is dropped; the first kept packet came 20 ms after it
  assert.equal(opus[0]?.pts, 20 * 90, "the first audio is placed where the video stood when it arrived");
  for (let i = 1; i < opus.length; i++)
    assert.equal(
      (opus[i] as OpusPacket).pts - (opus[i - 1] as OpusPacket).pts,
      1800,
      "20 ms steps from the RTP clock",
    );
  assert.equal(m.audioPackets, opus.length);
  assert.ok(opus.length > 130, `${opus.length} packets`);
  assert.ok(
    opus.every((p) => p.data[0] === 0xf8),
    "the Opus payload is carried unchanged",
  );
});

test("RtpToTs with expectAudio: the first segment's PMT declares Opus even when video comes first", () => {
  let now = 0;
  const segments: Buffer[] = [];
  const m = new RtpToTs({
    onSegment: (s) => segments.push(s),
    requestKeyframe: () => {},
    now: () => now,
    expectAudio: true,
  });
  const pk = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  for (const p of pk.packetize(au(true, 300, 1), 0)) m.push(p);
  now = 30;
  m.pushOpus(opusRtp(1, 5000));
  m.close();
  assert.equal(segments.length, 1);
  const r = new TsReader();
  const units = [...r.push(segments[0] as Buffer), ...r.flush()];
  assert.ok(r.hasOpus);
  assert.deepEqual(units.map((u) => [u.kind, u.pts]).sort(), [
    ["opus", 30 * 90],
    ["video", 0],
  ]);
});

test("RtpToTs without audio: the PMT declares no Opus stream", () => {
  const segments: Buffer[] = [];
  const m = new RtpToTs({ onSegment: (s) => segments.push(s), requestKeyframe: () => {} });
  const pk = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  for (const p of pk.packetize(au(true, 300, 1), 0)) m.push(p);
  m.close();
  const r = new TsReader();
  r.push(segments[0] as Buffer);
  assert.equal(r.hasOpus, false);
});

test("TsToRtp: Opus out as RTP on 48 kHz once the first keyframe went out, each packet unchanged", () => {
  const w = new TsWriter();
  w.audio = true;
  const ts = Buffer.concat([
    w.tables(),
    w.opus({ data: Buffer.from([0xf8, 8]), pts: 0 }), // before the first keyframe: not sent
    w.accessUnit({ data: au(true, 100, 2), pts: 900, keyframe: true }),
    w.opus({ data: Buffer.from([0xf8, 9]), pts: 900 }), // the keyframe is complete only at the next video PES
    w.accessUnit({ data: au(false, 100, 3), pts: 6900, keyframe: false }),
    w.opus({ data: Buffer.from([0xf8, 1]), pts: 1800 }),
    w.opus({ data: Buffer.from([0xf8, 2]), pts: 3600 }),
  ]);
  const t = new TsToRtp();
  const out = t.push(ts);
  const end = t.endSegment();
  const audio = [...out.audio, ...end.audio];
  assert.equal(t.audioPackets, 2);
  assert.deepEqual(
    audio.map((p) => p.header.timestamp),
    [960, 1920],
  );
  assert.deepEqual(
    audio.map((p) => [...p.payload]),
    [
      [0xf8, 1],
      [0xf8, 2],
    ],
  );
  assert.equal(((audio[1]?.header.sequenceNumber ?? 0) - (audio[0]?.header.sequenceNumber ?? 0)) & 0xffff, 1);
});

test("trickle ICE sdpfrag: candidates per mid, end-of-candidates, ICE credentials; garbage is 422 BAD_SDPFRAG", () => {
  const frag = parseSdpFrag(
    [
      "a=ice-ufrag:EsAw",
      "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1",
      "m=audio 9 RTP/AVP 0",
      "a=mid:0",
      "a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1",
      "a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0",
      "a=end-of-candidates",
      "",
    ].join("\r\n"),
  );
  assert.equal(frag.ufrag, "EsAw");
  assert.equal(frag.pwd, "P2uYro0UCOQ4zxjKXaWCBui1");
  assert.equal(frag.media.length, 1);
  assert.equal(frag.media[0]?.mid, "0");
  assert.equal(frag.media[0]?.candidates.length, 2);
  assert.match(frag.media[0]?.candidates[0] ?? "", /^candidate:1387637174 1 udp/);
  assert.equal(frag.media[0]?.end, true);
  // bare candidate lines belong to the first section
  assert.equal(
    parseSdpFrag("a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\n").media[0]?.candidates.length,
    1,
  );
  for (const bad of ["", "hello", "a=ice-options:trickle\n"]) {
    assert.throws(
      () => parseSdpFrag(bad),
      (e: unknown) => e instanceof TributaryError && e.code === "BAD_SDPFRAG" && e.status === 422,
      JSON.stringify(bad),
    );
  }
});

test("trickle ICE: a session takes at most MAX_TRICKLED_CANDIDATES candidates by PATCH, counted across PATCHes", async () => {
  const added: string[] = [];
  const pc = {
    remoteDescription: {
      type: "offer",
      sdp: "v=0\r\na=ice-ufrag:EsAw\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n",
    },
    addIceCandidate: async (c: { candidate: string }) => {
      if (c.candidate !== "") added.push(c.candidate);
    },
  };
  const session = iceSession(pc as unknown as Parameters<typeof iceSession>[0]);
  const frag = (n: number, from: number) =>
    parseSdpFrag(
      Array.from(
        { length: n },
        (_, i) => `a=candidate:${from + i} 1 udp 1 192.0.2.1 ${5000 + from + i} typ host`,
      ).join("\n"),
    );
  assert.equal(
    await applySdpFrag(session, frag(MAX_TRICKLED_CANDIDATES - 1, 0)),
    MAX_TRICKLED_CANDIDATES - 1,
  );
  await assert.rejects(
    applySdpFrag(session, frag(2, 100)),
    (e: unknown) => e instanceof TributaryError && e.code === "BAD_SDPFRAG" && e.status === 422,
  );
  assert.equal(added.length, MAX_TRICKLED_CANDIDATES - 1, "a refused fragment adds none of its candidates");
  assert.equal(await applySdpFrag(session, frag(1, 200)), 1);
  assert.equal(session.trickled, MAX_TRICKLED_CANDIDATES);
});
