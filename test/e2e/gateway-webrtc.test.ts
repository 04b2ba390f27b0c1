/**
 * WHIP ingest and WHEP playback through the gateway, without a browser: a werift client publishes a
 * generated H.264 stream by WHIP to a gateway in front of an orchestrator running green-tint, a
 * second werift client plays the output by WHEP; a received frame decodes and is green-boosted.
 * A second, independent WHIP client: FFmpeg's WHIP muxer (through node-av) publishes the same
 * stream and ends it with its DELETE on the Location.
 * Also: 415 for a wrong content type, CORS preflight, `whep_url` in the status, DELETE on the
 * Location stops the stream, and a publisher that goes away stops the stream (so it stops paying).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Demuxer, Muxer } from "node-av";
import { H264Packetizer, MediaStreamTrack, RTCPeerConnection, type RTCRtpCodecParameters } from "werift";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { H264_CODEC } from "../../src/gateway/webrtc/peer.ts";
import { H264Depacketizer } from "../../src/gateway/webrtc/rtp-to-ts.ts";
import { type AccessUnit, TsH264Reader, TsWriter } from "../../src/gateway/webrtc/ts.ts";
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

  test("wrong content type is 415; OPTIONS answers CORS", async () => {
    const bad = await fetch(`${gw.url}/live/video-to-video/s1/whip?pipeline=green-tint`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(bad.status, 415);
    const pre = await fetch(`${gw.url}/live/video-to-video/s1/whip`, { method: "OPTIONS" });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-expose-headers") ?? "", /location/);
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

  test("FFmpeg's WHIP muxer publishes through the gateway; its DELETE on close stops the stream", async () => {
    const params = encodeURIComponent(JSON.stringify({ width: 192, height: 144 }));
    // a pass-through in front of the gateway's WHIP route, to learn the Location FFmpeg gets
    let location = "";
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const r = await fetch(`${gw.url}${req.url}`, {
        method: req.method,
        headers: { "content-type": req.headers["content-type"] ?? "" },
        body: Buffer.concat(chunks),
      });
      location = r.headers.get("location") ?? "";
      res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "", location });
      res.end(Buffer.from(await r.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as { port: number }).port;
    const url = `http://127.0.0.1:${port}/live/video-to-video/ffmpeg1/whip?pipeline=green-tint&params=${params}`;
    const demuxer = await Demuxer.open(Buffer.concat(segs), { format: "mpegts" } as never);
    const mux = await Muxer.open(url, { format: "whip" } as never);
    const video = demuxer.video();
    assert.ok(video);
    const idx = mux.addStream(video as never);
    let sent = 0;
    try {
      for await (const pkt of demuxer.packets()) {
        if (!pkt) break;
        if (pkt.streamIndex !== video.index) continue;
        await mux.writePacket(pkt, idx);
        sent++;
        await new Promise((r) => setTimeout(r, 66)); // 15 fps
      }
      assert.match(location, /\/live\/video-to-video\/ffmpeg1\/whip\?key=/);
      const status = location.replace("/whip?", "/status?");
      await until("its segments reached the orchestrator", async () => {
        const st = (await (await fetch(status)).json()) as { segments_in?: number };
        return (st.segments_in ?? 0) >= 2;
      });
    } finally {
      await mux.close();
      await demuxer.close();
      proxy.close();
    }
    assert.ok(sent >= 80, `${sent} frames sent`);
    await until("FFmpeg's DELETE stopped the stream", async () => {
      const r = await fetch(location.replace("/whip?", "/status?"));
      return r.status === 404 || ((await r.json()) as { state: string }).state === "stopped";
    });
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
