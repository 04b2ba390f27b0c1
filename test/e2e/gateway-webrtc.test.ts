/**
 * WHIP ingest and WHEP playback through the gateway, without a browser: a werift client publishes a
 * generated H.264 stream by WHIP to a gateway in front of an orchestrator running green-tint, a
 * second werift client plays the output by WHEP; a received frame decodes and is green-boosted.
 * A second, independent WHIP client: FFmpeg's WHIP muxer (through node-av) publishes H.264 and
 * Opus, a werift viewer offering audio gets the output's Opus (the runner's re-encoded tone) as
 * Opus RTP that decodes, and FFmpeg's DELETE on the Location ends the stream.
 * Trickle ICE: a publisher whose offer and answer carry no candidates connects only once it PATCHes
 * its candidates (application/trickle-ice-sdpfrag) to the Location; 415, 412, 422 and 404 PATCHes.
 * Also: 415 for a wrong content type, CORS preflight (with Accept-Patch), `whep_url` in the status,
 * DELETE on the Location stops the stream, and a publisher that goes away stops the stream (so it
 * stops paying).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Demuxer, Muxer } from "node-av";
import { AV_CHANNEL_LAYOUT_STEREO } from "node-av/constants";
import { H264Packetizer, MediaStreamTrack, RTCPeerConnection, type RTCRtpCodecParameters } from "werift";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { H264_CODEC, OPUS_CODEC } from "../../src/gateway/webrtc/peer.ts";
import { H264Depacketizer } from "../../src/gateway/webrtc/rtp-to-ts.ts";
import { TRICKLE_ICE_TYPE } from "../../src/gateway/webrtc/trickle-ice.ts";
import { type AccessUnit, type OpusPacket, TsH264Reader, TsWriter } from "../../src/gateway/webrtc/ts.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { poll, until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

const codecs = (): { video: RTCRtpCodecParameters[] } => ({ video: [H264_CODEC()] });
const peer = (): RTCPeerConnection =>
  new RTCPeerConnection({
    codecs: codecs(),
    iceServers: [],
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ["127.0.0.1"],
  });

async function offerOf(pc: RTCPeerConnection): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== "complete")
    await new Promise<void>((r) => pc.iceGatheringStateChange.subscribe((s) => s === "complete" && r()));
  return pc.localDescription?.sdp ?? "";
}

/** Publishes `units` (looping, 15 fps) on `track` once `pc` connects, until `stop()`. */
function sendLoop(pc: RTCPeerConnection, track: MediaStreamTrack, units: AccessUnit[]): () => Promise<void> {
  let sending = true;
  const packetizer = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  const done = (async () => {
    await until("publisher connected", () => pc.connectionState === "connected");
    for (let i = 0; sending; i++) {
      const au = units[i % units.length] as AccessUnit;
      for (const p of packetizer.packetize(au.data, (i * 6000) % 2 ** 32, { isKeyframe: au.keyframe }))
        track.writeRtp(p);
      await new Promise((res) => setTimeout(res, 66));
    }
  })();
  return async () => {
    sending = false;
    await done.catch(() => {});
  };
}

/** The SDP without its ICE candidates (what a trickling client sends before it has any). */
const withoutCandidates = (sdp: string): string =>
  sdp
    .split("\r\n")
    .filter((l) => !l.startsWith("a=candidate:") && l !== "a=end-of-candidates")
    .join("\r\n");

/** A WHEP viewer offering H.264 and Opus: the access units and Opus packets (PTS on 90 kHz) it receives. */
async function watchAv(
  url: string,
): Promise<{ pc: RTCPeerConnection; got: AccessUnit[]; opus: OpusPacket[] }> {
  const pc = new RTCPeerConnection({
    codecs: { video: [H264_CODEC()], audio: [OPUS_CODEC()] },
    // one ICE transport for both sections (werift's default gathers one per section, and the
    // unused one is never closed)
    bundlePolicy: "max-bundle",
    iceServers: [],
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ["127.0.0.1"],
  });
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  const got: AccessUnit[] = [];
  const opus: OpusPacket[] = [];
  const depack = new H264Depacketizer();
  pc.onTrack.subscribe((t) =>
    t.onReceiveRtp.subscribe((rtp) => {
      if (t.kind === "audio") {
        opus.push({ data: Buffer.from(rtp.payload), pts: (rtp.header.timestamp * 90000) / 48000 });
        return;
      }
      const au = depack.push(rtp);
      if (au) got.push({ data: au.data, pts: au.timestamp, keyframe: au.keyframe });
    }),
  );
  const w = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: await offerOf(pc),
  });
  assert.equal(w.status, 201, await w.clone().text());
  const answer = await w.text();
  assert.match(answer, /^m=audio .*$/m, "the answer takes the audio section");
  assert.match(answer, /a=rtpmap:\d+ opus\/48000\/2/);
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return { pc, got, opus };
}

/** A WHEP viewer of `url`: the access units it receives. */
async function watch(url: string): Promise<{ pc: RTCPeerConnection; got: AccessUnit[] }> {
  const pc = peer();
  pc.addTransceiver("video", { direction: "recvonly" });
  const got: AccessUnit[] = [];
  const depack = new H264Depacketizer();
  pc.onTrack.subscribe((t) =>
    t.onReceiveRtp.subscribe((rtp) => {
      const au = depack.push(rtp);
      if (au) got.push({ data: au.data, pts: au.timestamp, keyframe: au.keyframe });
    }),
  );
  const w = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: await offerOf(pc),
  });
  assert.equal(w.status, 201, await w.clone().text());
  await pc.setRemoteDescription({ type: "answer", sdp: await w.text() });
  return { pc, got };
}

/** The first decoded frame of `got` (from its first keyframe) is green-boosted. */
async function assertGreen(got: AccessUnit[]): Promise<void> {
  const first = got.findIndex((a) => a.keyframe);
  const ts = new TsWriter();
  const seg = Buffer.concat([ts.tables(), ...got.slice(first).map((a) => ts.accessUnit(a))]);
  const frame = (await decodeSegments([seg], 192, 144)).video[0];
  assert.ok(frame, "a WHEP frame decodes");
  assert.ok(channelMean(frame, 1) - channelMean(frame, 0) > 50, "and is tinted green by the container");
}

describe("gateway WHIP/WHEP e2e", () => {
  let dir: string;
  let runner: RunningRunner;
  let byocRunner: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;
  let units: AccessUnit[];
  let segs: Uint8Array[];

  before(async () => {
    segs = await syntheticSegments({ width: 192, height: 144, fps: 15, seconds: 6, audio: false });
    const reader = new TsH264Reader();
    units = [];
    for (const s of segs) units.push(...reader.push(s), ...reader.flush());
    runner = await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } });
    await runner.loaded;
    dir = mkdtempSync(join(tmpdir(), "gw-webrtc-"));
    const aiModels = join(dir, "aiModels.json");
    writeFileSync(
      aiModels,
      JSON.stringify([{ pipeline: "live-video-to-video", model_id: "green-tint", url: runner.url }]),
    );
    orch = await startOrchestrator({
      port: 0,
      aiModelsPath: aiModels,
      dataDir: dir,
      health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
      reload: { sighup: false },
      streamCheckIntervalMs: 100,
      orchSecret: "s",
    });
    byocRunner = await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } });
    await byocRunner.loaded;
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s" },
      body: JSON.stringify({ name: "tint-stream", url: byocRunner.url, capacity: 1, price_per_unit: 0 }),
    });
    assert.equal(reg.status, 200, reg.body);
    await poll(() => orch.registry.advertised().some((a) => a.modelId === "green-tint"), 5_000);
    await poll(() => orch.registry.advertised().some((a) => a.modelId === "tint-stream"), 5_000);
    gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] }, liveEventTimeoutMs: 5000 });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await runner?.close();
    await byocRunner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("wrong content type is 415; a malformed stream name 400; OPTIONS answers CORS", async () => {
    const bad = await fetch(`${gw.url}/live/video-to-video/s1/whip?pipeline=green-tint`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(bad.status, 415);
    // A malformed %-escape in the stream name is the client's error (the fuzzer found a 500 here).
    const badEscape = await fetch(`${gw.url}/live/video-to-video/%zz/whip`, { method: "POST", body: "{}" });
    assert.equal(badEscape.status, 400, await badEscape.clone().text());
    const pre = await fetch(`${gw.url}/live/video-to-video/s1/whip`, { method: "OPTIONS" });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-expose-headers") ?? "", /location/);
    assert.match(pre.headers.get("access-control-expose-headers") ?? "", /etag/);
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /PATCH/);
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /if-match/);
    assert.equal(pre.headers.get("accept-patch"), TRICKLE_ICE_TYPE);
    const whep = await fetch(`${gw.url}/live/video-to-video/s1-out/whep`, { method: "OPTIONS" });
    assert.equal(whep.headers.get("accept-patch"), TRICKLE_ICE_TYPE);
  });

  test("WHIP publish, WHEP play: the output is green; DELETE stops the stream", async () => {
    const pub = peer();
    const track = new MediaStreamTrack({ kind: "video" });
    pub.addTransceiver(track, { direction: "sendonly" });
    const params = encodeURIComponent(JSON.stringify({ width: 192, height: 144, green: 80 }));
    const r = await fetch(`${gw.url}/live/video-to-video/webrtc1/whip?pipeline=green-tint&params=${params}`, {
      method: "POST",
      headers: { "content-type": "application/sdp" },
      body: await offerOf(pub),
    });
    assert.equal(r.status, 201, await r.clone().text());
    assert.equal(r.headers.get("content-type"), "application/sdp");
    const location = r.headers.get("location") ?? "";
    const playback = r.headers.get("livepeer-playback-url") ?? "";
    assert.match(location, /\/live\/video-to-video\/webrtc1\/whip\?key=/);
    assert.match(playback, /\/live\/video-to-video\/webrtc1-out\/whep\?key=/);
    await pub.setRemoteDescription({ type: "answer", sdp: await r.text() });

    // send the generated H.264 at its frame rate, looping, until the test ends
    let sending = true;
    const packetizer = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
    const sender = (async () => {
      await until("publisher connected", () => pub.connectionState === "connected");
      for (let i = 0; sending; i++) {
        const au = units[i % units.length] as AccessUnit;
        const ts = (i * 6000) % 2 ** 32; // 15 fps at 90 kHz
        for (const p of packetizer.packetize(au.data, ts, { isKeyframe: au.keyframe })) track.writeRtp(p);
        await new Promise((res) => setTimeout(res, 66));
      }
    })();

    const view = peer();
    try {
      const statusUrl = location.replace("/whip?", "/status?");
      const status = (await (await fetch(statusUrl)).json()) as Record<string, unknown>;
      assert.equal(status.whep_url, playback);
      let last: unknown;
      await until(
        () => `segments from RTP into the stream's input (status ${JSON.stringify(last)})`,
        async () => {
          last = await (await fetch(statusUrl)).json();
          const stats = (last as { ingest_metrics?: { stats: { segments_in: number } } }).ingest_metrics
            ?.stats;
          return (stats?.segments_in ?? 0) > 1;
        },
        20_000,
      );
      assert.deepEqual(status.gateway_status, { whep_url: playback });

      // WHEP viewer
      view.addTransceiver("video", { direction: "recvonly" });
      const got: AccessUnit[] = [];
      const depack = new H264Depacketizer();
      view.onTrack.subscribe((t) =>
        t.onReceiveRtp.subscribe((rtp) => {
          const au = depack.push(rtp);
          if (au) got.push({ data: au.data, pts: au.timestamp, keyframe: au.keyframe });
        }),
      );
      const w = await fetch(playback, {
        method: "POST",
        headers: { "content-type": "application/sdp" },
        body: await offerOf(view),
      });
      assert.equal(w.status, 201, await w.clone().text());
      await view.setRemoteDescription({ type: "answer", sdp: await w.text() });
      await until(
        "processed frames arrive by WHEP",
        () => got.length >= 10 && got.some((a) => a.keyframe),
        30_000,
      );

      const first = got.findIndex((a) => a.keyframe);
      const ts = new TsWriter();
      const seg = Buffer.concat([ts.tables(), ...got.slice(first).map((a) => ts.accessUnit(a))]);
      const decoded = await decodeSegments([seg], 192, 144);
      const frame = decoded.video[0];
      assert.ok(frame, "a WHEP frame decodes");
      assert.ok(channelMean(frame, 1) - channelMean(frame, 0) > 50, "and is tinted green by the container");

      const del = await fetch(location, { method: "DELETE" });
      assert.equal(del.status, 200);
      const gone = await fetch(location.replace("/whip?", "/status?"));
      assert.ok(gone.status === 404 || ((await gone.json()) as { state: string }).state === "stopped");
    } finally {
      sending = false;
      await sender.catch(() => {});
      await pub.close();
      await view.close();
    }
  });

  test("a publisher that goes away stops the stream", async () => {
    const pub = peer();
    const track = new MediaStreamTrack({ kind: "video" });
    pub.addTransceiver(track, { direction: "sendonly" });
    try {
      const offer = await offerOf(pub);
      // the container may still be freeing the previous test's stream: a busy start is retried
      let r: Response | undefined;
      await until(
        () => `a WHIP start (last ${r?.status})`,
        async () => {
          r = await fetch(`${gw.url}/live/video-to-video/webrtc2/whip?pipeline=green-tint`, {
            method: "POST",
            headers: { "content-type": "application/sdp" },
            body: offer,
          });
          return r.status === 201 || (r.status !== 409 && r.status !== 503);
        },
        15_000,
        250,
      );
      assert.equal(r?.status, 201, await r?.clone().text());
      const status = (r?.headers.get("location") ?? "").replace("/whip?", "/status?");
      await pub.setRemoteDescription({ type: "answer", sdp: (await r?.text()) ?? "" });
      await until("connected", () => pub.connectionState === "connected");
      await pub.close(); // no media, then gone: the silence watchdog or the failed connection stops it
      await until(
        "the stream is stopped",
        async () => {
          const s = await fetch(status);
          return s.status === 404 || ((await s.json()) as { state: string }).state === "stopped";
        },
        20_000,
      );
    } finally {
      await pub.close();
    }
  });

  test("FFmpeg's WHIP muxer publishes H.264 + Opus; a WHEP viewer gets the output's Opus; FFmpeg's DELETE stops the stream", async () => {
    const params = encodeURIComponent(JSON.stringify({ width: 192, height: 144 }));
    const av = await syntheticSegments({ width: 192, height: 144, fps: 15, seconds: 16, audio: true });
    // a pass-through in front of the gateway's WHIP route, to learn the Location FFmpeg gets
    let location = "";
    let playback = "";
    let offer = "";
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.method === "POST") offer = Buffer.concat(chunks).toString();
      const r = await fetch(`${gw.url}${req.url}`, {
        method: req.method,
        headers: { "content-type": req.headers["content-type"] ?? "" },
        body: Buffer.concat(chunks),
      });
      location = r.headers.get("location") ?? "";
      playback = r.headers.get("livepeer-playback-url") ?? playback;
      res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "", location });
      res.end(Buffer.from(await r.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}/live/video-to-video/ffmpeg1/whip?pipeline=green-tint&params=${params}`;
    const demuxer = await Demuxer.open(Buffer.concat(av), { format: "mpegts" } as never);
    const mux = await Muxer.open(url, { format: "whip" } as never);
    const video = demuxer.video();
    const audio = demuxer.audio();
    assert.ok(video && audio);
    // FFmpeg's WHIP muxer takes Opus declared stereo (opus/48000/2); mono packets decode as such
    audio.codecpar.channelLayout = AV_CHANNEL_LAYOUT_STEREO as never;
    const videoIdx = mux.addStream(video as never);
    const audioIdx = mux.addStream(audio as never);
    let sent = 0;
    let viewer: Awaited<ReturnType<typeof watchAv>> | undefined;
    let watching: Promise<void> | undefined;
    try {
      for await (const pkt of demuxer.packets()) {
        if (!pkt) break;
        if (pkt.streamIndex === audio.index) {
          await mux.writePacket(pkt, audioIdx);
          continue;
        }
        if (pkt.streamIndex !== video.index) continue;
        await mux.writePacket(pkt, videoIdx);
        sent++;
        if (watching === undefined && playback !== "")
          watching = watchAv(playback).then((v) => {
            viewer = v;
          });
        const done = viewer !== undefined && viewer.opus.length >= 100 && viewer.got.some((a) => a.keyframe);
        if (done && sent >= 80) break;
        await new Promise((r) => setTimeout(r, 66)); // 15 fps
      }
      await watching;
      assert.match(offer, /^m=audio /m, "FFmpeg offered audio");
      assert.match(location, /\/live\/video-to-video\/ffmpeg1\/whip\?key=/);
      const status = location.replace("/whip?", "/status?");
      await until("its segments reached the orchestrator", async () => {
        const st = (await (await fetch(status)).json()) as { segments_in?: number };
        return (st.segments_in ?? 0) >= 2;
      });
      assert.ok(viewer, "a WHEP viewer was answered");
      assert.ok(viewer.opus.length >= 100, `${viewer.opus.length} Opus packets reached the WHEP viewer`);
      // the viewer's packets, muxed back into TS with its video, decode to the runner's tone
      const first = viewer.got.findIndex((a) => a.keyframe);
      const ts = new TsWriter();
      ts.audio = true;
      const units = [
        ...viewer.got.slice(first).map((a) => ({ pts: a.pts, bytes: () => ts.accessUnit(a) })),
        ...viewer.opus.map((o) => ({ pts: o.pts, bytes: () => ts.opus(o) })),
      ].sort((x, y) => x.pts - y.pts);
      const seg = Buffer.concat([ts.tables(), ...units.map((u) => u.bytes())]);
      const decoded = await decodeSegments([seg], 192, 144);
      assert.deepEqual(decoded.streams, { video: true, audio: true });
      const seconds = decoded.audio.reduce((n, a) => n + a.samples / a.sampleRate, 0);
      assert.ok(seconds >= 1.5, `${seconds} s of audio decoded`);
      const peak = Math.max(...decoded.audio.slice(-20).flatMap((a) => Array.from(a.data.subarray(0, 2000))));
      assert.ok(peak > 2000, `the tone came through (peak ${peak})`);
    } finally {
      await mux.close();
      await demuxer.close();
      await viewer?.pc.close();
      proxy.close();
      proxy.closeAllConnections();
    }
    assert.ok(sent >= 80, `${sent} frames sent`);
    await until("FFmpeg's DELETE stopped the stream", async () => {
      const r = await fetch(location.replace("/whip?", "/status?"));
      return r.status === 404 || ((await r.json()) as { state: string }).state === "stopped";
    });
  });

  test("trickle ICE: a publisher with no candidates in its offer connects once it PATCHes them; bad PATCHes are refused", async () => {
    const pub = peer();
    const track = new MediaStreamTrack({ kind: "video" });
    pub.addTransceiver(track, { direction: "sendonly" });
    const full = await offerOf(pub);
    const candidates = full.split("\r\n").filter((l) => l.startsWith("a=candidate:"));
    assert.ok(candidates.length > 0);
    const mid = /^a=mid:(.+)$/m.exec(full)?.[1] ?? "0";
    const ufrag = /^a=ice-ufrag:(.+)$/m.exec(full)?.[1] ?? "";
    const params = encodeURIComponent(JSON.stringify({ width: 192, height: 144 }));
    let r: Response | undefined;
    await until(
      () => `a WHIP start (last ${r?.status})`,
      async () => {
        r = await fetch(`${gw.url}/live/video-to-video/trickle1/whip?pipeline=green-tint&params=${params}`, {
          method: "POST",
          headers: { "content-type": "application/sdp" },
          body: withoutCandidates(full),
        });
        return r.status === 201 || (r.status !== 409 && r.status !== 503);
      },
      15_000,
      250,
    );
    assert.equal(r?.status, 201, await r?.clone().text());
    const location = r?.headers.get("location") ?? "";
    const etag = r?.headers.get("etag") ?? "";
    assert.match(etag, /^"[0-9a-f-]{36}"$/);
    // neither side knows the other's candidates: only the PATCH can connect them
    await pub.setRemoteDescription({ type: "answer", sdp: withoutCandidates((await r?.text()) ?? "") });
    const stop = sendLoop(pub, track, units);
    try {
      const patch = (body: string, headers: Record<string, string> = {}) =>
        fetch(location, {
          method: "PATCH",
          headers: { "content-type": TRICKLE_ICE_TYPE, "if-match": etag, ...headers },
          body,
        });
      const frag = [
        `a=ice-ufrag:${ufrag}`,
        "m=video 9 UDP/TLS/RTP/SAVPF 0",
        `a=mid:${mid}`,
        ...candidates,
        "",
      ].join("\r\n");
      assert.equal((await patch(frag, { "content-type": "application/sdp" })).status, 415);
      const stale = await patch(frag, { "if-match": '"not-the-etag"' });
      assert.equal(stale.status, 412);
      assert.equal(((await stale.json()) as { error: { code: string } }).error.code, "ICE_ETAG_MISMATCH");
      const restart = await patch(frag, { "if-match": "*" });
      assert.equal(restart.status, 422);
      assert.equal(
        ((await restart.json()) as { error: { code: string } }).error.code,
        "ICE_RESTART_UNSUPPORTED",
      );
      const newCreds = await patch(frag.replace(`a=ice-ufrag:${ufrag}`, "a=ice-ufrag:someoneelse"));
      assert.equal(newCreds.status, 422, "new ICE credentials are a restart");
      const junk = await patch("hello\r\n");
      assert.equal(junk.status, 422);
      assert.equal(((await junk.json()) as { error: { code: string } }).error.code, "BAD_SDPFRAG");
      const unknownMid = await patch(frag.replace(`a=mid:${mid}`, "a=mid:nope"));
      assert.equal(unknownMid.status, 422);
      const wrongKey = await fetch(location.replace(/key=[^&]+/, "key=wrong"), {
        method: "PATCH",
        headers: { "content-type": TRICKLE_ICE_TYPE },
        body: frag,
      });
      assert.equal(wrongKey.status, 404);
      await new Promise((res) => setTimeout(res, 1500));
      assert.notEqual(pub.connectionState, "connected", "no candidates yet: no connection");

      const ok = await patch(frag);
      assert.equal(ok.status, 204, await ok.clone().text());
      assert.equal(ok.headers.get("etag"), etag);
      await until(
        "the publisher connected through the PATCHed candidates",
        () => pub.connectionState === "connected",
      );
      const status = location.replace("/whip?", "/status?");
      await until(
        "segments from the trickled publisher",
        async () => {
          const st = (await (await fetch(status)).json()) as { segments_in?: number };
          return (st.segments_in ?? 0) >= 1;
        },
        20_000,
      );
      // end-of-candidates alone is a usable fragment too
      assert.equal(
        (await patch(`m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:${mid}\r\na=end-of-candidates\r\n`)).status,
        204,
      );
      assert.equal((await fetch(location, { method: "DELETE" })).status, 200);
      const gone = await patch(frag);
      assert.equal(gone.status, 404, "the session is gone after DELETE");
    } finally {
      await stop();
      await pub.close();
    }
  });

  test("trickle ICE on WHEP: PATCH on a viewer's Location is 204; an unknown viewer is 404", async () => {
    const pub = peer();
    const track = new MediaStreamTrack({ kind: "video" });
    pub.addTransceiver(track, { direction: "sendonly" });
    const params = encodeURIComponent(JSON.stringify({ width: 192, height: 144 }));
    const offer = await offerOf(pub);
    let r: Response | undefined;
    await until(
      () => `a WHIP start (last ${r?.status})`,
      async () => {
        r = await fetch(`${gw.url}/live/video-to-video/trickle2/whip?pipeline=green-tint&params=${params}`, {
          method: "POST",
          headers: { "content-type": "application/sdp" },
          body: offer,
        });
        return r.status === 201 || (r.status !== 409 && r.status !== 503);
      },
      15_000,
      250,
    );
    assert.equal(r?.status, 201, await r?.clone().text());
    const location = r?.headers.get("location") ?? "";
    const playback = r?.headers.get("livepeer-playback-url") ?? "";
    await pub.setRemoteDescription({ type: "answer", sdp: (await r?.text()) ?? "" });
    const stop = sendLoop(pub, track, units);
    const view = peer();
    try {
      view.addTransceiver("video", { direction: "recvonly" });
      const full = await offerOf(view);
      const w = await fetch(playback, {
        method: "POST",
        headers: { "content-type": "application/sdp" },
        body: withoutCandidates(full),
      });
      assert.equal(w.status, 201, await w.clone().text());
      const viewerUrl = w.headers.get("location") ?? "";
      const etag = w.headers.get("etag") ?? "";
      await view.setRemoteDescription({ type: "answer", sdp: withoutCandidates(await w.text()) });
      const mid = /^a=mid:(.+)$/m.exec(full)?.[1] ?? "0";
      const frag = [
        "m=video 9 UDP/TLS/RTP/SAVPF 0",
        `a=mid:${mid}`,
        ...full.split("\r\n").filter((l) => l.startsWith("a=candidate:")),
        "",
      ].join("\r\n");
      const ok = await fetch(viewerUrl, {
        method: "PATCH",
        headers: { "content-type": TRICKLE_ICE_TYPE, "if-match": etag },
        body: frag,
      });
      assert.equal(ok.status, 204, await ok.clone().text());
      await until(
        "the viewer connected through the PATCHed candidates",
        () => view.connectionState === "connected",
      );
      const unknown = await fetch(viewerUrl.replace(/viewer=[^&]+/, "viewer=nobody"), {
        method: "PATCH",
        headers: { "content-type": TRICKLE_ICE_TYPE },
        body: frag,
      });
      assert.equal(unknown.status, 404);
      assert.equal(
        ((await unknown.json()) as { error: { code: string } }).error.code,
        "ICE_SESSION_NOT_FOUND",
      );
      assert.equal((await fetch(location, { method: "DELETE" })).status, 200);
    } finally {
      await stop();
      await pub.close();
      await view.close();
    }
  });

  test("a BYOC stream answers whip_url and whep_url: publish by WHIP, play the green output by WHEP", async () => {
    const livepeer = Buffer.from(
      JSON.stringify({
        request: "{}",
        parameters: JSON.stringify({ enable_video_ingress: true, enable_video_egress: true }),
        capability: "tint-stream",
        timeout_seconds: 30,
      }),
    ).toString("base64");
    const r = await fetch(`${gw.url}/process/stream/start`, {
      method: "POST",
      headers: { "content-type": "application/json", livepeer },
      body: JSON.stringify({
        stream_id: "byoc1",
        params: JSON.stringify({ width: 192, height: 144, green: 80 }),
      }),
    });
    assert.equal(r.status, 200, await r.clone().text());
    const s = (await r.json()) as { whip_url: string; whep_url: string; stop_url: string };
    assert.match(s.whip_url, /\/process\/stream\/byoc1\/whip\?key=/);
    assert.match(s.whep_url, /\/process\/stream\/byoc1\/whep\?key=/);

    const pub = peer();
    const track = new MediaStreamTrack({ kind: "video" });
    pub.addTransceiver(track, { direction: "sendonly" });
    const w = await fetch(s.whip_url, {
      method: "POST",
      headers: { "content-type": "application/sdp" },
      body: await offerOf(pub),
    });
    assert.equal(w.status, 201, await w.clone().text());
    assert.equal(w.headers.get("livepeer-playback-url"), s.whep_url);
    await pub.setRemoteDescription({ type: "answer", sdp: await w.text() });
    const stop = sendLoop(pub, track, units);
    let viewer: RTCPeerConnection | undefined;
    try {
      const second = await fetch(s.whip_url, {
        method: "POST",
        headers: { "content-type": "application/sdp" },
        body: "v=0",
      });
      assert.equal(second.status, 409, "one publisher per stream");
      const { pc, got } = await watch(s.whep_url);
      viewer = pc;
      await until(
        "processed frames arrive by WHEP",
        () => got.length >= 10 && got.some((a) => a.keyframe),
        30_000,
      );
      await assertGreen(got);
      assert.equal((await fetch(s.stop_url, { method: "POST", body: "{}" })).status, 200);
    } finally {
      await stop();
      await pub.close();
      await viewer?.close();
    }
  });
});
