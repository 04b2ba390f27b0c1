/**
 * Native memory per live stream: runs N short live streams back to back through one stage of the
 * runner's media path and prints RSS / V8 heap / external / arrayBuffers every 10 streams (after a
 * full GC), then the growth per stream after a warm-up. Used to bisect the per-stream RSS growth the
 * soak found (docs/soak-report.md).
 *
 *   node --expose-gc test/soak/stream-loop.ts [--mode M] [--streams N] [--warmup W] [--segments S]
 *
 * Modes (each "stream" is one start-to-stop of that stage over the same synthetic input):
 * - `runner`: startRunner + green-tint over a real trickle server, driven by the HTTP contract
 *   (`POST /stream/start`, input published, input closed, wait for IDLE) — what the soak does.
 * - `loop`: one MediaLoop with green-tint over in-memory channels (decode + tint + encode + mux).
 * - `decode`: demux + decode + scale only (decodeInput).
 * - `encode`: encode + mux only (MediaOutput over synthetic frames).
 * - `demux`: demuxer only (packets read and freed, no decoder).
 * - `mux`: muxer only (the input packets re-muxed, no encoder).
 * `demux` and `mux` open the demuxer with a refusing seek callback as src/media/input.ts
 * does; `NOSEEK=1` leaves it out (the old, leaking behaviour: up to 5 MB per stream).
 *
 * Measured 2026-11-27 (192×144 15 fps H.264 + Opus input, 2 s segments, MiB of RSS per stream
 * after warm-up), before → after the input seek callback and the 4 KiB muxer buffer:
 * `loop` 3 segments 0.35 → 0.07–0.09; `runner` 5 segments 0.72 → 0.23; `demux` 0.16 → 0.016;
 * `encode` 0.156 → 0.105. (`loop` feeds all segments at once, so beyond 3 pending segments the
 * media loop drops input: use `runner` for longer streams.)
 */
import { parseArgs } from "node:util";
import { Demuxer, Muxer } from "node-av/api";
import pipeline from "../../examples/green-tint/pipeline.ts";
import { SegmentByteQueue } from "../../src/media/byte-queue.ts";
import { MediaOutput } from "../../src/media/output.ts";
import {
  decodeSegments,
  syntheticFrame,
  syntheticSegments,
  syntheticTone,
} from "../../src/media/synthetic.ts";
import { defineLivePipeline } from "../../src/runner/index.ts";
import { MediaLoop } from "../../src/runner/media-loop.ts";
import { MemoryChannels } from "../../src/runner/memory-channels.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "loop" },
    streams: { type: "string", default: "200" },
    warmup: { type: "string", default: "20" },
    segments: { type: "string", default: "3" },
  },
});
const mode = values.mode as string;
const streams = Number(values.streams);
const warmup = Number(values.warmup);
const seconds = 2 * Number(values.segments);
const W = 192;
const H = 144;
const FPS = 15;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

const MiB = 1024 * 1024;
function sample() {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / MiB, heap: m.heapUsed / MiB, external: m.external / MiB, ab: m.arrayBuffers / MiB };
}

const input = await syntheticSegments({ width: W, height: H, fps: FPS, seconds, audio: true });

async function streamLoop(): Promise<void> {
  const channels = new MemoryChannels();
  const inCh = channels.channel("mem://in");
  for (const s of input) inCh.push(s);
  inCh.end();
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline(pipeline),
    ctx: {
      streamId: "s",
      params: { width: W, height: H, max_framerate: FPS },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    output: channels.publish("mem://out", "video/mp2t"),
    onUserError: () => {},
    onMediaError: () => {},
  });
  await loop.done;
}

async function streamDecode(): Promise<void> {
  await decodeSegments(input, W, H, FPS);
}

async function streamEncode(): Promise<void> {
  const out = new MediaOutput({ onSegment: () => {}, frameRate: FPS, expectAudio: true });
  let tone = 0;
  for (let i = 0; i < seconds * FPS; i++) {
    await out.writeVideo(syntheticFrame(W, H, i, FPS));
    while (tone < ((i + 1) / FPS) * 50) await out.writeAudio(syntheticTone(tone++));
  }
  await out.close();
}

async function streamDemux(): Promise<void> {
  const queue = new SegmentByteQueue(Number.POSITIVE_INFINITY);
  for (const s of input) queue.pushSegment(s);
  queue.end();
  const demuxer = await Demuxer.open(
    { read: (n: number) => queue.read(n), ...(process.env.NOSEEK ? {} : { seek: () => -38 }) },
    { format: "mpegts" } as never,
  );
  try {
    for await (const pkt of demuxer.packets()) {
      if (!pkt) break;
      pkt.free();
    }
  } finally {
    await demuxer.close();
  }
}

async function streamMux(): Promise<void> {
  const queue = new SegmentByteQueue(Number.POSITIVE_INFINITY);
  for (const s of input) queue.pushSegment(s);
  queue.end();
  const demuxer = await Demuxer.open(
    { read: (n: number) => queue.read(n), ...(process.env.NOSEEK ? {} : { seek: () => -38 }) },
    { format: "mpegts" } as never,
  );
  const chunks: Buffer[] = [];
  const muxer = await Muxer.open({ write: (b: Buffer) => chunks.push(Buffer.from(b)) && b.length }, {
    format: "mpegts",
  } as never);
  try {
    const map = new Map<number, number>();
    for (const st of demuxer.streams ?? []) map.set(st.index, muxer.addStream(st));
    for await (const pkt of demuxer.packets()) {
      if (!pkt) break;
      const idx = map.get(pkt.streamIndex);
      if (idx !== undefined) await muxer.writePacket(pkt, idx);
      pkt.free();
    }
  } finally {
    await muxer.close();
    await demuxer.close();
  }
}

async function runnerMode(): Promise<{ one: () => Promise<void>; close: () => Promise<void> }> {
  const { startRunner } = await import("../../src/runner/index.ts");
  const { startTrickleServer } = await import("../../src/trickle/server.ts");
  const { TricklePublisher } = await import("../../src/trickle/publisher.ts");
  const { TrickleSubscriber } = await import("../../src/trickle/subscriber.ts");
  const trickle = await startTrickleServer({ port: 0 });
  const base = trickle.url.replace(/\/$/, "");
  const runner = await startRunner(pipeline, { port: 0, session: { heartbeatIntervalMs: 1000 } });
  await runner.loaded;
  let n = 0;
  const one = async () => {
    const id = `s${n++}`;
    for (const [name, mime] of [
      [id, "video/mp2t"],
      [`${id}-out`, "video/mp2t"],
      [`${id}-control`, "application/json"],
      [`${id}-events`, "application/json"],
    ] as const)
      trickle.trickle.createChannel(name, mime);
    const outSub = new TrickleSubscriber(`${base}/${id}-out`, { start: 0 });
    const outDone = (async () => {
      for await (const s of outSub) await s.bytes();
    })();
    const r = await fetch(`${runner.url}/stream/start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        gateway_request_id: id,
        subscribe_url: `${base}/${id}`,
        publish_url: `${base}/${id}-out`,
        control_url: `${base}/${id}-control`,
        events_url: `${base}/${id}-events`,
        params: { width: W, height: H, max_framerate: FPS },
      }),
    });
    if (r.status !== 200) throw new Error(`start: ${r.status} ${await r.text()}`);
    const pub = new TricklePublisher(`${base}/${id}`, { mimeType: "video/mp2t" });
    for (const s of input) await pub.write(s);
    await pub.close();
    for (let i = 0; i < 1000 && runner.health.status !== "IDLE"; i++)
      await new Promise((res) => setTimeout(res, 20));
    outSub.close();
    await outDone.catch(() => {});
    for (const name of [id, `${id}-out`, `${id}-control`, `${id}-events`])
      trickle.trickle.deleteChannel(name);
  };
  return {
    one,
    close: async () => {
      await runner.close();
      await trickle.close();
    },
  };
}

const modes: Record<string, () => Promise<void>> = {
  loop: streamLoop,
  decode: streamDecode,
  encode: streamEncode,
  demux: streamDemux,
  mux: streamMux,
};
let one = modes[mode];
let close = async () => {};
if (mode === "runner") ({ one, close } = await runnerMode());
if (!one) throw new Error(`unknown mode ${mode}`);

const t0 = performance.now();
let base = sample();
console.log(`mode=${mode} streams=${streams} warmup=${warmup} segments/stream=${input.length}`);
console.log("stream\trss\theap\texternal\tarrayBuffers (MiB)");
for (let i = 1; i <= streams; i++) {
  await one();
  if (i === warmup) base = sample();
  if (i % 10 === 0) {
    const s = sample();
    console.log(
      `${i}\t${s.rss.toFixed(1)}\t${s.heap.toFixed(1)}\t${s.external.toFixed(1)}\t${s.ab.toFixed(1)}`,
    );
  }
}
const end = sample();
const n = streams - warmup;
console.log(
  `after warm-up (${warmup}): rss ${base.rss.toFixed(1)} -> ${end.rss.toFixed(1)} MiB over ${n} streams = ` +
    `${((end.rss - base.rss) / n).toFixed(3)} MiB/stream; heap ${base.heap.toFixed(1)} -> ${end.heap.toFixed(1)}; ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
await close();
