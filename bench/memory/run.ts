/**
 * Memory per live stream: RSS and V8 heap of ONE process holding a gateway, an orchestrator and
 * green-tint containers (bench/memory/nodes.ts, offchain), with 1 live-video-to-video stream and then
 * with 5, each stream fed synthetic MPEG-TS in real time through the gateway and its tinted output read
 * back (test/soak/lib.ts). Per additional stream = (memory with 5 − memory with 1) / 4, sampled after
 * a full GC once every stream has produced output and run a few seconds more. The first stream's cost
 * (1 stream − idle) is shown too: it includes one-time allocations (codecs, pools).
 *
 *   node bench/memory/run.ts [--quick]
 */
import { fileURLToPath } from "node:url";
import { syntheticSegments } from "../../src/media/synthetic.ts";
import { type LiveStream, rssOf, startLiveStream, startNetworkProcess } from "../../test/soak/lib.ts";
import { type BenchOptions, type BenchResult, fmt, logToStderr, markdownTable } from "../lib.ts";

const MiB = 1024 * 1024;
/** Streams in the second sample. */
export const STREAMS = 5;
const SIZE = { width: 320, height: 180 };

/** Runs the memory-per-stream benchmark. */
export async function memoryBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const settleMs = opts.quick ? 4000 : 10_000;
  log(`memory: ${STREAMS} green-tint containers + orchestrator + gateway in one process…`);
  const segments = await syntheticSegments({ ...SIZE, fps: 15, seconds: opts.quick ? 40 : 60, audio: true });
  await using net = await startNetworkProcess({
    script: fileURLToPath(new URL("./nodes.ts", import.meta.url)),
    args: [String(STREAMS)],
    exposeGc: true,
  });
  const gateway = net.summary.gateway?.url as string;
  const sample = async () => {
    const m = await net.memory(true);
    return { rss: rssOf(net.pid) ?? m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
  };
  const feeding = new AbortController();
  const streams: LiveStream[] = [];
  const feeds: Promise<void>[] = [];
  const open = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const s = await startLiveStream(gateway, { ...SIZE, green: 80 });
      streams.push(s);
      feeds.push(s.feed(segments, 2000, feeding.signal).catch(() => {}));
    }
    for (const s of streams)
      if ((await s.waitOutput(2, 60_000)) < 2)
        throw new Error(`stream ${s.start.stream_id} produced no output`);
    await new Promise((r) => setTimeout(r, settleMs));
  };
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await sample();
    log("memory: 1 stream…");
    await open(1);
    const one = await sample();
    log(`memory: ${STREAMS} streams…`);
    await open(STREAMS - 1);
    const five = await sample();
    const per = (k: "rss" | "heap" | "external") => (five[k] - one[k]) / (STREAMS - 1);
    const records: Record<string, string>[] = [
      { state: "idle (no stream)", ...mib(idle) },
      { state: "1 stream", ...mib(one) },
      { state: `${STREAMS} streams`, ...mib(five) },
      {
        state: "per additional stream",
        "RSS MiB": fmt(per("rss") / MiB, 1),
        "heap MiB": fmt(per("heap") / MiB, 1),
        "external + array buffers MiB": fmt(per("external") / MiB, 1),
      },
    ];
    return {
      rows: [
        {
          component: "memory",
          measure: `RSS per additional live stream, gateway + orchestrator + green-tint in one process (MiB; 1 vs ${STREAMS} streams, ${SIZE.width}×${SIZE.height})`,
          ours: fmt(per("rss") / MiB, 1),
          baseline: `first stream ${fmt((one.rss - idle.rss) / MiB, 1)}`,
          ratio: "",
          goal: "",
          met: "",
        },
        {
          component: "memory",
          measure: "V8 heap per additional live stream (MiB, after GC)",
          ours: fmt(per("heap") / MiB, 2),
          baseline: `first stream ${fmt((one.heap - idle.heap) / MiB, 2)}`,
          ratio: "",
          goal: "",
          met: "",
        },
      ],
      detail: `memory of the gateway + orchestrator + ${STREAMS} green-tint containers process (after a full GC; ${SIZE.width}×${SIZE.height} 15 fps H.264 + Opus in, tinted out)\n\n${markdownTable(records)}`,
    };
  } finally {
    feeding.abort();
    await Promise.all(feeds);
    await Promise.all(streams.map((s) => s.stop()));
  }
}

function mib(m: { rss: number; heap: number; external: number }): Record<string, string> {
  return {
    "RSS MiB": fmt(m.rss / MiB, 1),
    "heap MiB": fmt(m.heap / MiB, 1),
    "external + array buffers MiB": fmt(m.external / MiB, 1),
  };
}

if (import.meta.main) console.log((await memoryBench({ quick: process.argv.includes("--quick") })).detail);
