/**
 * Glass-to-glass latency of a live stream through gateway + orchestrator + green-tint (all in this
 * process, offchain), two ways in the same run, alternating rounds on fresh streams:
 *
 * - **WebRTC**: headless Debian chromium (playwright-core) with a fake camera publishes by WHIP
 *   through a canvas that draws the wall clock into every frame (the live page's clock band,
 *   `/live/page/stamp.js`) and plays the output by WHEP in a <video>; each presented frame's band is
 *   read back: latency = now − the time drawn.
 * - **Trickle client** (`tributary job live`'s path, src/client/live.ts + src/client/media.ts): a raw
 *   video file whose frames carry their index in the same band is cut into 1 s MPEG-TS segments,
 *   encoded with libx264 and paced at real time by `inputSegments`, published to the stream's
 *   trickle channel; the output segments are read whole (as the client reads them) and decoded: a
 *   frame's latency = the arrival of its segment − the wall time the pacer released the frame's
 *   media time (a live camera would have captured it then).
 *
 * Both at 320×240, 30 fps, `{"green": 80}`; the first seconds after the first output frame are left
 * out (keyframe wait, pipeline start). Timing is reported, never asserted.
 *
 *   node bench/webrtc/run.ts [--quick]
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { LiveSession } from "../../src/client/live.ts";
import { inputSegments } from "../../src/client/media.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { decodeSegments } from "../../src/media/synthetic.ts";
import { silentLogger } from "../../src/node/logger.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { startRunner } from "../../src/runner/index.ts";
import {
  type BenchOptions,
  type BenchResult,
  fmt,
  logToStderr,
  markdownTable,
  percentile,
  ratio,
} from "../lib.ts";

const CHROMIUM = "/usr/bin/chromium";
const WIDTH = 320;
const HEIGHT = 240;
const FPS = 30;
const PARAMS = { width: WIDTH, height: HEIGHT, green: 80 };
/** Seconds after the first output frame that are not counted. */
const WARMUP_S = 3;

interface Stamp {
  bandHeight(width: number): number;
  stampCells(ms: number): number[];
  COLUMNS: number;
  ROWS: number;
  readStampFrom(rgba: Uint8ClampedArray, width: number): number | undefined;
}
const stamp = (await import(
  new URL("../../src/gateway/live-page/static/stamp.js", import.meta.url).href
)) as Stamp;

/** In the page (plain JavaScript): publish the stamped camera, play the output, collect latencies. */
const IN_PAGE = `async ({ whip, seconds, warmup }) => {
  const { stampedStream, latencyMeter } = await import("/live/page/stamp.js");
  const gathered = (pc) => new Promise((r) => {
    if (pc.iceGatheringState === "complete") return r();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r());
  });
  const camera = await navigator.mediaDevices.getUserMedia({ video: { width: ${WIDTH}, height: ${HEIGHT} }, audio: false });
  const cam = document.createElement("video");
  cam.muted = true;
  cam.srcObject = camera;
  await cam.play();
  const stamped = stampedStream(cam, ${WIDTH}, ${HEIGHT}, ${FPS});
  const pub = new RTCPeerConnection();
  const tx = pub.addTransceiver(stamped.stream.getVideoTracks()[0], { direction: "sendonly" });
  const sp = tx.sender.getParameters();
  sp.degradationPreference = "maintain-resolution";
  await tx.sender.setParameters(sp).catch(() => {});
  await pub.setLocalDescription(await pub.createOffer());
  await gathered(pub);
  const r = await fetch(whip, { method: "POST", headers: { "content-type": "application/sdp" }, body: pub.localDescription.sdp });
  if (r.status !== 201) return { error: "whip " + r.status + " " + (await r.text()) };
  const location = r.headers.get("location");
  await pub.setRemoteDescription({ type: "answer", sdp: await r.text() });
  const view = new RTCPeerConnection();
  view.addTransceiver("video", { direction: "recvonly" });
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  document.body.append(video);
  view.addEventListener("track", (e) => { video.srcObject = e.streams[0] ?? new MediaStream([e.track]); });
  await view.setLocalDescription(await view.createOffer());
  await gathered(view);
  const w = await fetch(r.headers.get("livepeer-playback-url"), { method: "POST", headers: { "content-type": "application/sdp" }, body: view.localDescription.sdp });
  if (w.status !== 201) return { error: "whep " + w.status + " " + (await w.text()) };
  await view.setRemoteDescription({ type: "answer", sdp: await w.text() });
  const deadline = Date.now() + 60000;
  while (video.videoWidth === 0) {
    if (Date.now() > deadline) return { error: "no frames played" };
    await new Promise((res) => setTimeout(res, 50));
  }
  await new Promise((res) => setTimeout(res, warmup * 1000));
  const meter = latencyMeter(video, 100000);
  await new Promise((res) => setTimeout(res, seconds * 1000));
  meter.stop();
  await fetch(location, { method: "DELETE" });
  pub.close();
  view.close();
  stamped.stop();
  for (const t of camera.getTracks()) t.stop();
  video.remove();
  return { samples: meter.samples(), frames: meter.summary().frames };
}`;

/** A raw YUV4MPEG2 file of `frames` frames, each with its index in the clock band over a grey picture. */
function writeStampedY4m(path: string, frames: number): void {
  const ySize = WIDTH * HEIGHT;
  const frameSize = ySize * 1.5;
  const fd = openSync(path, "w");
  writeSync(fd, `YUV4MPEG2 W${WIDTH} H${HEIGHT} F${FPS}:1 Ip A1:1 C420jpeg\n`);
  const band = stamp.bandHeight(WIDTH);
  const cellH = band / stamp.ROWS;
  for (let i = 0; i < frames; i++) {
    const f = Buffer.alloc(6 + frameSize);
    f.write("FRAME\n");
    const y = f.subarray(6, 6 + ySize);
    y.fill(110);
    // a moving square, so frames differ as a camera's do
    const x0 = (i * 4) % (WIDTH - 24);
    for (let r = 120; r < 144; r++) y.fill(200, r * WIDTH + x0, r * WIDTH + x0 + 24);
    const cells = stamp.stampCells(i);
    for (let c = 0; c < cells.length; c++) {
      const col = c % stamp.COLUMNS;
      const xa = Math.round((col * WIDTH) / stamp.COLUMNS);
      const xb = Math.round(((col + 1) * WIDTH) / stamp.COLUMNS);
      const top = Math.floor(c / stamp.COLUMNS) * cellH;
      for (let r = top; r < top + cellH; r++) y.fill(cells[c] ? 235 : 16, r * WIDTH + xa, r * WIDTH + xb);
    }
    f.fill(128, 6 + ySize); // neutral chroma
    writeSync(fd, f);
  }
  closeSync(fd);
}

/** The index in an RGB24 frame's band. */
function indexOf(rgb: Uint8Array, width: number): number | undefined {
  const rows = stamp.bandHeight(width);
  const rgba = new Uint8ClampedArray(width * rows * 4);
  for (let p = 0; p < width * rows; p++) rgba[p * 4] = rgb[p * 3] as number;
  return stamp.readStampFrom(rgba, width);
}

/** One stream through the trickle client: latencies (ms) of output frames after the warm-up. */
async function trickleRound(gateway: string, file: string, seconds: number): Promise<number[]> {
  await using session = await startWhenFree(gateway);
  const released: number[] = []; // performance.now() − media ms at each segment's release
  const latencies: number[] = [];
  const done = new AbortController();
  const publishing = (async () => {
    for await (const seg of inputSegments({ file }, { segmentSeconds: 1, signal: done.signal })) {
      released.push(performance.now() - seg.endSeconds * 1000);
      await session.publish(seg.bytes);
    }
  })();
  let firstOut: number | undefined;
  try {
    for await (const bytes of session.output()) {
      const at = performance.now();
      firstOut ??= at;
      // the pacer releases media time t at t0 + t: t0 is the earliest release − media time seen
      const t0 = Math.min(...released);
      const media = await decodeSegments([bytes], WIDTH, HEIGHT);
      if (at - firstOut >= WARMUP_S * 1000)
        for (const f of media.video) {
          const i = indexOf(f.data, f.width);
          if (i !== undefined) latencies.push(at - (t0 + (i * 1000) / FPS));
        }
      if (at - firstOut >= (WARMUP_S + seconds) * 1000) break;
    }
  } finally {
    done.abort();
    await publishing.catch(() => {});
  }
  return latencies;
}

/** Starts a trickle stream, retrying while the orchestrator still frees the previous stream's slot. */
async function startWhenFree(gateway: string): Promise<LiveSession> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await LiveSession.start(gateway, { model: "green-tint", params: PARAMS });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if ((status !== 503 && status !== 409) || Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

/** Runs the glass-to-glass benchmark. */
export async function webrtcBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  if (!existsSync(CHROMIUM)) {
    return {
      rows: [
        {
          component: "webrtc",
          measure: "glass-to-glass latency p50 (ms)",
          ours: "",
          baseline: "",
          ratio: "",
          goal: "",
          met: `skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`,
        },
      ],
      detail: `skipped: ${CHROMIUM} is missing`,
    };
  }
  const seconds = opts.quick ? 8 : 20;
  const rounds = opts.quick ? 1 : 2;
  const dir = mkdtempSync(join(tmpdir(), "bench-webrtc-"));
  const file = join(dir, "stamped.y4m");
  writeStampedY4m(file, (WARMUP_S + seconds + 20) * FPS);
  const runner = await startRunner(greenTint, { port: 0, logger: silentLogger() });
  const aiModels = join(dir, "aiModels.json");
  writeFileSync(
    aiModels,
    JSON.stringify([{ pipeline: "live-video-to-video", model_id: "green-tint", url: runner.url }]),
  );
  const orch = await startOrchestrator({
    port: 0,
    aiModelsPath: aiModels,
    dataDir: dir,
    reload: { sighup: false },
    streamCheckIntervalMs: 100,
    logger: silentLogger(),
  });
  const gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] }, logger: silentLogger() });
  const userDataDir = mkdtempSync(join(tmpdir(), "bench-webrtc-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
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
  const webrtc: number[] = [];
  const trickle: number[] = [];
  const perRound: Record<string, string>[] = [];
  try {
    await runner.loaded;
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${gw.url}/health`);
    const params = encodeURIComponent(JSON.stringify(PARAMS));
    for (let r = 0; r < rounds; r++) {
      log(`webrtc: round ${r + 1}/${rounds}, chromium by WHIP/WHEP (${seconds} s)…`);
      const whip = `${gw.url}/live/video-to-video/bench${r}/whip?pipeline=green-tint&params=${params}`;
      const deadline = Date.now() + 30_000;
      let seen: { error?: string; samples?: number[] };
      for (;;) {
        seen = (await page.evaluate(
          `(${IN_PAGE})(${JSON.stringify({ whip, seconds, warmup: WARMUP_S })})`,
        )) as {
          error?: string;
          samples?: number[];
        };
        // the orchestrator or the runner may still be freeing the previous stream's slot
        if (!/^whip (503|409)/.test(seen.error ?? "") || Date.now() > deadline) break;
        await sleep(500);
      }
      if (seen.error !== undefined) throw new Error(`browser: ${seen.error}`);
      const w = seen.samples ?? [];
      webrtc.push(...w);
      log(`webrtc: round ${r + 1}/${rounds}, trickle client (${seconds} s)…`);
      const t = await trickleRound(gw.url, file, seconds);
      trickle.push(...t);
      perRound.push({ round: String(r + 1), ...summary("WebRTC", w), ...summary("trickle", t) });
    }
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
    await gw.close();
    await orch.close();
    await runner.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ws = [...webrtc].sort((a, b) => a - b);
  const ts = [...trickle].sort((a, b) => a - b);
  const measure = (p: number) =>
    `glass-to-glass latency p${p}, gateway + orchestrator + green-tint, ${WIDTH}×${HEIGHT} ${FPS} fps (ms, lower is better): chromium WHIP→WHEP vs the trickle client (tributary job live)`;
  const row = (p: number) => ({
    component: "webrtc",
    measure: measure(p),
    ours: fmt(percentile(ws, p), 0),
    baseline: `trickle client ${fmt(percentile(ts, p), 0)}`,
    ratio: ratio(percentile(ws, p), percentile(ts, p)),
    goal: "",
    met: "",
  });
  return {
    rows: [row(50), row(95)],
    detail: [
      `Frames measured: WebRTC ${ws.length}, trickle client ${ts.length}, over ${rounds} round(s) of ${seconds} s each after a ${WARMUP_S} s warm-up.`,
      "",
      markdownTable(perRound),
    ].join("\n"),
  };
}

function summary(name: string, xs: number[]): Record<string, string> {
  const s = [...xs].sort((a, b) => a - b);
  return {
    [`${name} frames`]: String(s.length),
    [`${name} p50 ms`]: fmt(percentile(s, 50), 0),
    [`${name} p95 ms`]: fmt(percentile(s, 95), 0),
  };
}

if (import.meta.main) {
  const r = await webrtcBench({ quick: process.argv.includes("--quick") });
  console.log(markdownTable(r.rows as unknown as Record<string, string>[]));
  console.log(`\n${r.detail}`);
}
