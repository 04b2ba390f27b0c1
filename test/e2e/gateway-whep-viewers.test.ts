/**
 * WHEP viewers per stream are capped (`maxWhepViewers`, `--max-whep-viewers`): a werift publisher
 * feeds a green-tint live stream by WHIP; with a cap of 2, a third werift viewer is answered 503
 * `WHEP_VIEWERS_FULL`; a `DELETE` on a viewer's `Location` ends it and frees its place (a second
 * DELETE is 404); the next viewer gets frames and the stream keeps running throughout.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { H264Packetizer, MediaStreamTrack, RTCPeerConnection } from "werift";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { H264_CODEC } from "../../src/gateway/webrtc/peer.ts";
import { H264Depacketizer } from "../../src/gateway/webrtc/rtp-to-ts.ts";
import { type AccessUnit, TsH264Reader } from "../../src/gateway/webrtc/ts.ts";
import { syntheticSegments } from "../../src/media/synthetic.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { poll, until } from "../until.ts";

const peer = (): RTCPeerConnection =>
  new RTCPeerConnection({
    codecs: { video: [H264_CODEC()] },
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

/** POSTs a WHEP offer from a new werift viewer; the answer and, on 201, the access units it receives. */
async function watch(
  url: string,
): Promise<{ pc: RTCPeerConnection; res: Response; location: string; got: AccessUnit[] }> {
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
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: await offerOf(pc),
  });
  if (res.status === 201) await pc.setRemoteDescription({ type: "answer", sdp: await res.clone().text() });
  return { pc, res, location: res.headers.get("location") ?? "", got };
}

let dir: string;
let runner: RunningRunner;
let orch: RunningOrchestrator;
let gw: RunningGateway;
let units: AccessUnit[];

before(async () => {
  const segs = await syntheticSegments({ width: 192, height: 144, fps: 15, seconds: 4, audio: false });
  const reader = new TsH264Reader();
  units = [];
  for (const s of segs) units.push(...reader.push(s), ...reader.flush());
  runner = await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } });
  await runner.loaded;
  dir = mkdtempSync(join(tmpdir(), "gw-whep-viewers-"));
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
  await poll(() => orch.registry.advertised().some((a) => a.modelId === "green-tint"), 5_000);
  gw = await startGateway({
    port: 0,
    discovery: { orchAddr: [orch.url] },
    liveEventTimeoutMs: 5000,
    maxWhepViewers: 2,
  });
});

after(async () => {
  await gw?.close();
  await orch?.close();
  await runner?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("WHEP viewers are capped per stream; DELETE on a viewer's Location frees its place", async () => {
  const pub = peer();
  const track = new MediaStreamTrack({ kind: "video" });
  pub.addTransceiver(track, { direction: "sendonly" });
  const params = encodeURIComponent(JSON.stringify({ width: 192, height: 144, green: 80 }));
  const r = await fetch(`${gw.url}/live/video-to-video/viewers1/whip?pipeline=green-tint&params=${params}`, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: await offerOf(pub),
  });
  assert.equal(r.status, 201, await r.clone().text());
  const statusUrl = (r.headers.get("location") ?? "").replace("/whip?", "/status?");
  const playback = r.headers.get("livepeer-playback-url") ?? "";
  await pub.setRemoteDescription({ type: "answer", sdp: await r.text() });

  let sending = true;
  const packetizer = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  const sender = (async () => {
    await until("publisher connected", () => pub.connectionState === "connected");
    for (let i = 0; sending; i++) {
      const au = units[i % units.length] as AccessUnit;
      for (const p of packetizer.packetize(au.data, (i * 6000) % 2 ** 32, { isKeyframe: au.keyframe }))
        track.writeRtp(p);
      await new Promise((res) => setTimeout(res, 66));
    }
  })();
  const viewers: RTCPeerConnection[] = [];
  const state = async (): Promise<string> =>
    ((await (await fetch(statusUrl)).json()) as { state: string }).state;
  try {
    const a = await watch(playback);
    const b = await watch(playback);
    viewers.push(a.pc, b.pc);
    assert.equal(a.res.status, 201);
    assert.equal(b.res.status, 201);
    assert.match(a.location, /\/live\/video-to-video\/viewers1-out\/whep\?key=[^&]+&viewer=/);
    assert.notEqual(a.location, b.location, "each viewer has its own resource URL");

    await until("frames reach the first viewer", () => a.got.length >= 5, 30_000);
    const c = await watch(playback);
    viewers.push(c.pc);
    assert.equal(c.res.status, 503);
    assert.equal(((await c.res.json()) as { error: { code: string } }).error.code, "WHEP_VIEWERS_FULL");

    const del = await fetch(a.location, { method: "DELETE" });
    assert.equal(del.status, 200);
    assert.equal((await fetch(a.location, { method: "DELETE" })).status, 404, "the viewer is gone");

    const d = await watch(playback);
    viewers.push(d.pc);
    assert.equal(d.res.status, 201, "the freed place is taken by the next viewer");
    await until(
      "frames reach the new viewer",
      () => d.got.length >= 5 && d.got.some((u) => u.keyframe),
      30_000,
    );
    assert.equal(await state(), "running", "the stream keeps running");
    const n = a.got.length;
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(a.got.length, n, "the deleted viewer gets no more frames");
    const e = await watch(playback);
    viewers.push(e.pc);
    assert.equal(e.res.status, 503, "full again");
  } finally {
    sending = false;
    await sender.catch(() => {});
    await fetch(r.headers.get("location") ?? "", { method: "DELETE" }).catch(() => {});
    await pub.close();
    for (const v of viewers) await v.close();
  }
});
