/**
 * WHIP and WHEP from a real browser: headless Debian chromium (playwright-core) with a fake camera
 * publishes by WHIP to a gateway in front of an orchestrator running green-tint, plays the output by
 * WHEP in a <video>, and the test samples pixels of both in a canvas: the played frames must be
 * greener than the camera's. Then the page DELETEs the session and the stream stops.
 *
 * Glass-to-glass latency: the page publishes the camera through a canvas that draws the wall clock
 * into every frame (the live page's clock band, `/live/page/stamp.js`) and reads it back from each
 * played frame. The p50/p95 are reported (test diagnostics), not asserted: only that it was measured.
 *
 * Needs /usr/bin/chromium (`apt-get install -y chromium`). Without it the test fails when `CI` is set
 * and is skipped otherwise.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium } from "playwright-core";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { poll, until } from "../until.ts";

const CHROMIUM = "/usr/bin/chromium";
const chromiumMissing = !existsSync(CHROMIUM);

/**
 * Runs in the page (plain JavaScript: the page's types are not this program's): publish the camera
 * by WHIP, play by WHEP, sample the greenness (mean G - R) of both; returns what it saw.
 */
const IN_PAGE = `async (whip) => {
  const { stampedStream, latencyMeter } = await import("/live/page/stamp.js");
  const gathered = (pc) =>
    new Promise((r) => {
      if (pc.iceGatheringState === "complete") return r();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r());
    });
  const camera = await navigator.mediaDevices.getUserMedia({
    video: { width: 320, height: 240 },
    audio: false,
  });
  const cam = document.createElement("video");
  cam.muted = true;
  cam.srcObject = camera;
  await cam.play();
  // what goes out: the camera with the clock drawn in
  const stamped = stampedStream(cam, 320, 240, 30);
  const pub = new RTCPeerConnection();
  pub.addTransceiver(stamped.stream.getVideoTracks()[0], { direction: "sendonly" });
  // keep the camera's size: a resolution change mid-stream is not what this test is about
  const sender = pub.getSenders()[0];
  const sp = sender.getParameters();
  sp.degradationPreference = "maintain-resolution";
  await sender.setParameters(sp).catch(() => {});
  await pub.setLocalDescription(await pub.createOffer());
  await gathered(pub);
  const r = await fetch(whip, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: pub.localDescription.sdp,
  });
  if (r.status !== 201) return { error: \`whip \${r.status} \${await r.text()}\` };
  const location = r.headers.get("location") ?? "";
  const playback = r.headers.get("livepeer-playback-url") ?? "";
  await pub.setRemoteDescription({ type: "answer", sdp: await r.text() });

  const view = new RTCPeerConnection();
  view.addTransceiver("video", { direction: "recvonly" });
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  document.body.append(video);
  view.addEventListener("track", (e) => {
    video.srcObject = e.streams[0] ?? new MediaStream([e.track]);
  });
  await view.setLocalDescription(await view.createOffer());
  await gathered(view);
  const w = await fetch(playback, {
    method: "POST",
    headers: { "content-type": "application/sdp" },
    body: view.localDescription.sdp,
  });
  if (w.status !== 201) return { error: \`whep \${w.status} \${await w.text()}\` };
  await view.setRemoteDescription({ type: "answer", sdp: await w.text() });

  const deadline = Date.now() + 40_000;
  while (video.videoWidth === 0 || video.currentTime < 1) {
    if (Date.now() > deadline) {
      const st = [];
      (await view.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp") st.push({ packets: s.packetsReceived, decoded: s.framesDecoded, dropped: s.framesDropped, keyframes: s.keyFramesDecoded, pli: s.pliCount, nack: s.nackCount });
      });
      const ps = [];
      (await pub.getStats()).forEach((s) => {
        if (s.type === "outbound-rtp") ps.push({ sent: s.packetsSent, frames: s.framesEncoded, pli: s.pliCount, enc: s.encoderImplementation });
      });
      return { error: "no frames played", state: view.connectionState, ready: video.readyState, st, ps, location };
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  const greenness = (source, w, h) => {
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    const g = c.getContext("2d");
    g.drawImage(source, 0, 0, w, h);
    const d = g.getImageData(0, 0, w, h).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i + 1] - d[i];
    return sum / (d.length / 4);
  };
  const meter = latencyMeter(video);
  const until = Date.now() + 15_000;
  while (meter.summary().count < 60 && Date.now() < until) await new Promise((res) => setTimeout(res, 200));
  meter.stop();
  const latency = meter.summary();
  const out = greenness(video, video.videoWidth, video.videoHeight);
  const input = greenness(cam, 320, 240);
  const stats = await view.getStats();
  let codec = "";
  stats.forEach((s) => {
    if (s.type === "codec") codec += \`\${s.mimeType} \`;
  });
  let plis = 0;
  (await pub.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp") plis += s.pliCount ?? 0;
  });
  const del = await fetch(location, { method: "DELETE" });
  pub.close();
  view.close();
  stamped.stop();
  for (const t of camera.getTracks()) t.stop();
  return {
    out,
    input,
    width: video.videoWidth,
    played: video.currentTime,
    codec,
    plis,
    deleted: del.status,
    location,
    latencyCount: latency.count,
    latencyP50: latency.p50,
    latencyP95: latency.p95,
  };
}`;

describe("WHIP/WHEP in a real browser", { skip: chromiumMissing && !process.env.CI }, () => {
  let dir: string;
  let runner: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;
  let context: BrowserContext;
  let userDataDir: string;

  before(async () => {
    runner = await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } });
    await runner.loaded;
    dir = mkdtempSync(join(tmpdir(), "gw-webrtc-browser-"));
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
    });
    await poll(() => orch.registry.advertised().some((a) => a.modelId === "green-tint"), 5_000);
    gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] }, liveEventTimeoutMs: 5000 });
    userDataDir = mkdtempSync(join(tmpdir(), "tributary-webrtc-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
      ],
    });
  });

  after(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await gw?.close();
    await orch?.close();
    await runner?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the fake camera goes out by WHIP and comes back green by WHEP; glass-to-glass latency measured; DELETE stops the stream", async (t) => {
    assert.ok(!chromiumMissing, `${CHROMIUM} is needed (apt-get install -y chromium)`);
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(`${gw.url}/health`);
    const params = encodeURIComponent(JSON.stringify({ width: 320, height: 240, green: 80 }));
    const whip = `${gw.url}/live/video-to-video/browser1/whip?pipeline=green-tint&params=${params}`;
    const seen = (await page.evaluate(`(${IN_PAGE})(${JSON.stringify(whip)})`)) as Record<
      string,
      number | string
    >;
    if (seen.error !== undefined && seen.location) {
      const st = await (await fetch(String(seen.location).replace("/whip?", "/status?"))).json();
      assert.fail(`${JSON.stringify(seen)} status: ${JSON.stringify(st)}`);
    }
    assert.equal(seen.error, undefined, JSON.stringify(seen));
    assert.match(String(seen.codec), /H264/i, "H.264 both ways");
    assert.ok(
      Number(seen.out) > Number(seen.input) + 20,
      `the played frames are greener: ${JSON.stringify(seen)}`,
    );
    // Reported, not asserted: timing depends on the machine.
    t.diagnostic(
      `glass-to-glass latency p50 ${seen.latencyP50} ms, p95 ${seen.latencyP95} ms over ${seen.latencyCount} played frames`,
    );
    assert.ok(
      Number(seen.latencyCount) > 0,
      `the clock was read back from played frames: ${JSON.stringify(seen)}`,
    );
    assert.ok(Number.isFinite(Number(seen.latencyP50)) && Number(seen.latencyP50) > 0, "a finite latency");
    assert.ok(Number(seen.plis) > 0, "the gateway asked the browser for keyframes (PLI) to cut segments");
    assert.equal(seen.deleted, 200);
    const status = String(seen.location).replace("/whip?", "/status?");
    await until("the stream stopped", async () => {
      const r = await fetch(status);
      return r.status === 404 || ((await r.json()) as { state: string }).state === "stopped";
    });
    assert.deepEqual(problems, []);
  });
});
