/**
 * Soak test (`npm run soak`): a whole local network on devnet — anvil, orchestrator, the text-reverse
 * and green-tint containers, a gateway paying the orchestrator with tickets — in a child process
 * (test/soak/network.ts), loaded for `--minutes` (default 30) with live streams and batch jobs together:
 *
 * - `--streams N` (default 1) live-video-to-video streams on green-tint through the gateway: each one
 *   publishes synthetic H.264/Opus MPEG-TS (192×144, 15 fps, 2 s segments) in real time for 20 s, reads
 *   the tinted output back, stops, and starts again (so stream set-up and tear-down are soaked too).
 *   The dev network has ONE green-tint container and a container serves one stream at a time, so more
 *   than one stream only makes the extra ones queue for it (a start is retried for up to 15 s before it
 *   counts as failed); many concurrent streams are the memory benchmark's subject (bench/memory);
 * - `--clients N` (default 4) batch clients posting `POST /text-reverse` to the gateway (paid with
 *   tickets) with a `--pause-ms` (default 50) pause between jobs.
 *
 * Every 10 s it samples RSS and open file descriptors (/proc/<pid>/fd) of every process (this driver,
 * the network process, anvil) and the V8 heap of the two Node processes (the network process's after a
 * full GC — it runs with `--expose-gc` — so the figure is the live heap, not GC timing). Verdict: after a warm-up
 * (the first fifth of the run, at most 3 minutes) the samples are cut in thirds; a series is bounded
 * when the median of the last third is at most the median of the first third plus the stated
 * threshold (RSS: +25 % or 32 MiB, whichever is larger; heap: +25 % or 16 MiB; file descriptors: +16
 * over the first third's maximum). anvil keeps the whole chain in memory, so its RSS and heap are
 * reported but not judged (its file descriptors are). Jobs: at most 1 % of batch jobs and 5 % of
 * streams may fail. The report goes to docs/soak-report.md (`--report PATH`); exit code 0 = pass.
 *
 *   npm run soak [-- --minutes 30 --streams 2 --clients 4]
 */
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { syntheticSegments } from "../../src/media/synthetic.ts";
import { fdsOf, type NetworkProcess, rssOf, startLiveStream, startNetworkProcess } from "./lib.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    streams: { type: "string", default: "1" },
    clients: { type: "string", default: "4" },
    "pause-ms": { type: "string", default: "50" },
    "sample-seconds": { type: "string", default: "10" },
    report: { type: "string", default: resolve(ROOT, "docs/soak-report.md") },
    /** Also write every sample as JSON (for a closer look). */
    "samples-json": { type: "string" },
  },
});
const MINUTES = Number(args.minutes);
const STREAMS = Number(args.streams);
const CLIENTS = Number(args.clients);
const PAUSE_MS = Number(args["pause-ms"]);
const SAMPLE_MS = Number(args["sample-seconds"]) * 1000;
for (const [k, v] of Object.entries({ MINUTES, STREAMS, CLIENTS, PAUSE_MS, SAMPLE_MS }))
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad --${k.toLowerCase()}: ${v}`);

const MiB = 1024 * 1024;
const STREAM_SECONDS = 20;
const SEGMENT_MS = 2000;
const MAX_BATCH_FAILURE = 0.01;
const MAX_STREAM_FAILURE = 0.05;

/** One sample of one process. */
interface Sample {
  t: number;
  rss?: number;
  heap?: number;
  /** V8 external + array buffers (Node processes): memory held by JS objects outside the heap. */
  external?: number;
  fds?: number;
}
type Proc = "driver" | "network" | "anvil";

const log = (msg: string) => process.stderr.write(`soak ${new Date().toISOString().slice(11, 19)} ${msg}\n`);

const counts = {
  batchOk: 0,
  batchFailed: 0,
  streamsOk: 0,
  streamsFailed: 0,
  outputSegments: 0,
  inputSegments: 0,
};
const errors = new Map<string, number>();
function noteError(what: string, err: unknown): void {
  const key = `${what}: ${(err as Error)?.message ?? String(err)}`.slice(0, 200);
  errors.set(key, (errors.get(key) ?? 0) + 1);
}

async function batchClient(gatewayUrl: string, signal: AbortSignal, n: number): Promise<void> {
  let i = 0;
  while (!signal.aborted) {
    const text = `soak ${n}/${i++} ✓`;
    try {
      const r = await fetch(`${gatewayUrl}/text-reverse`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = await r.text();
      const want = JSON.stringify({
        text: [...new Intl.Segmenter().segment(text)]
          .map((s) => s.segment)
          .reverse()
          .join(""),
      });
      if (r.status === 200 && body === want) counts.batchOk++;
      else {
        counts.batchFailed++;
        noteError("batch", new Error(`HTTP ${r.status} ${body.slice(0, 100)}`));
      }
    } catch (err) {
      if (signal.aborted) break;
      counts.batchFailed++;
      noteError("batch", err);
    }
    await sleep(PAUSE_MS);
  }
}

/** Starts a stream, retrying for up to 15 s while the one green-tint container is still busy. */
async function startWithRetry(gatewayUrl: string, signal: AbortSignal) {
  const end = performance.now() + 15_000;
  for (;;) {
    try {
      return await startLiveStream(gatewayUrl);
    } catch (err) {
      if (signal.aborted || performance.now() > end) throw err;
      await sleep(500);
    }
  }
}

async function streamSlot(gatewayUrl: string, segments: Uint8Array[], signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    let ok = false;
    try {
      const s = await startWithRetry(gatewayUrl, signal);
      try {
        await s.feed(segments, SEGMENT_MS, signal);
        counts.inputSegments += segments.length;
        await s.waitOutput(1, 10_000);
        ok = s.outputSegments > 0;
        if (!ok) noteError("stream", new Error("no output segment came back"));
      } finally {
        await s.stop();
        counts.outputSegments += s.outputSegments;
      }
    } catch (err) {
      if (signal.aborted) break;
      noteError("stream", err);
      await sleep(1000);
    }
    if (signal.aborted && !ok) break;
    if (ok) counts.streamsOk++;
    else counts.streamsFailed++;
  }
}

/** Median of a list (NaN when empty). */
function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Least-squares slope of `v` over `t` (ms), per hour. */
function slopePerHour(points: { t: number; v: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3_600_000;
}

interface Judged {
  proc: Proc;
  metric: "rss" | "heap" | "external" | "fds";
  /** Trend after the warm-up (least squares), per hour. */
  slope: number;
  first: number;
  last: number;
  max: number;
  limit: number;
  judged: boolean;
  ok: boolean;
}

function judge(samples: Map<Proc, Sample[]>, warmupMs: number): Judged[] {
  const out: Judged[] = [];
  for (const [proc, list] of samples) {
    const after = list.filter((s) => s.t >= warmupMs);
    const third = Math.floor(after.length / 3);
    if (third === 0) continue;
    const head = after.slice(0, third);
    const tail = after.slice(after.length - third);
    for (const metric of ["rss", "heap", "external", "fds"] as const) {
      const h = head.map((s) => s[metric]).filter((v): v is number => v !== undefined);
      const t = tail.map((s) => s[metric]).filter((v): v is number => v !== undefined);
      if (h.length === 0 || t.length === 0) continue;
      const all = after.map((s) => s[metric]).filter((v): v is number => v !== undefined);
      const first = metric === "fds" ? Math.max(...h) : median(h);
      const last = metric === "fds" ? median(t) : median(t);
      const limit =
        metric === "fds" ? first + 16 : first + Math.max(first * 0.25, (metric === "rss" ? 32 : 16) * MiB);
      const judged = !(proc === "anvil" && metric !== "fds") && metric !== "external";
      const slope = slopePerHour(
        after.flatMap((s) => (s[metric] === undefined ? [] : [{ t: s.t, v: s[metric] as number }])),
      );
      out.push({ proc, metric, slope, first, last, max: Math.max(...all), limit, judged, ok: last <= limit });
    }
  }
  return out;
}

function fmt(metric: Judged["metric"], v: number): string {
  return metric === "fds" ? v.toFixed(Number.isInteger(v) ? 0 : 1) : `${(v / MiB).toFixed(1)} MiB`;
}

function report(opts: {
  samples: Map<Proc, Sample[]>;
  judged: Judged[];
  startedAt: Date;
  elapsedMs: number;
  warmupMs: number;
  pids: Record<Proc, number | undefined>;
  aborted?: string;
}): { text: string; pass: boolean } {
  const batchTotal = counts.batchOk + counts.batchFailed;
  const streamTotal = counts.streamsOk + counts.streamsFailed;
  // No load of a kind asked (--clients 0 / --streams 0): nothing of that kind can fail.
  const batchFail = batchTotal ? counts.batchFailed / batchTotal : CLIENTS === 0 ? 0 : 1;
  const streamFail = streamTotal ? counts.streamsFailed / streamTotal : STREAMS === 0 ? 0 : 1;
  const boundedOk = opts.judged.filter((j) => j.judged).every((j) => j.ok);
  const jobsOk = batchFail <= MAX_BATCH_FAILURE && streamFail <= MAX_STREAM_FAILURE;
  const pass = boundedOk && jobsOk && opts.aborted === undefined;
  const L: string[] = [];
  L.push("# Soak report");
  L.push("");
  L.push(
    `Written by \`npm run soak\` (test/soak/run.ts) on ${opts.startedAt.toISOString()}. ` +
      `**Verdict: ${pass ? "PASS" : "FAIL"}**${opts.aborted ? ` (aborted: ${opts.aborted})` : ""}.`,
  );
  L.push("");
  L.push("## Set-up");
  L.push("");
  L.push(
    `- ${(opts.elapsedMs / 60_000).toFixed(1)} minutes (asked: ${MINUTES}) on a shared, noisy 2-core machine; one sample of every process every ${SAMPLE_MS / 1000} s (RSS and open file descriptors from /proc; the V8 heap of the network process after a full GC, the driver's as it is).`,
  );
  L.push(
    "- The network (`startDevNetwork`, devnet): anvil (child process) + one Node process with the orchestrator, the text-reverse and green-tint containers and the gateway, which discovers the orchestrator on chain and pays it with tickets.",
  );
  L.push(
    `- Load: ${STREAMS} live-video-to-video streams on green-tint through the gateway (192×144, 15 fps H.264 + Opus MPEG-TS, 2 s segments published in real time for ${STREAM_SECONDS} s, output read back, then stopped and started again) and ${CLIENTS} batch clients posting \`POST /text-reverse\` to the gateway with ${PAUSE_MS} ms between jobs.`,
  );
  L.push("");
  L.push("## Jobs");
  L.push("");
  L.push("| what | ok | failed | failure rate | allowed |");
  L.push("|---|---|---|---|---|");
  L.push(
    `| batch jobs (paid) | ${counts.batchOk} | ${counts.batchFailed} | ${(batchFail * 100).toFixed(2)} % | ≤ ${MAX_BATCH_FAILURE * 100} % |`,
  );
  L.push(
    `| live streams (${STREAM_SECONDS} s each) | ${counts.streamsOk} | ${counts.streamsFailed} | ${(streamFail * 100).toFixed(2)} % | ≤ ${MAX_STREAM_FAILURE * 100} % |`,
  );
  L.push("");
  L.push(
    `Batch throughput ${(batchTotal / (opts.elapsedMs / 1000)).toFixed(1)} jobs/s; live: ${counts.inputSegments} segments published, ${counts.outputSegments} tinted segments read back.`,
  );
  if (errors.size > 0) {
    L.push("");
    L.push("Failures seen (count × message):");
    L.push("");
    for (const [k, v] of [...errors].sort((a, b) => b[1] - a[1]).slice(0, 10)) L.push(`- ${v} × \`${k}\``);
  }
  L.push("");
  L.push("## Boundedness");
  L.push("");
  L.push(
    `Warm-up: the first ${(opts.warmupMs / 1000).toFixed(0)} s are left out; the rest is cut in thirds. "first" is the median of the first third (for file descriptors its maximum), "last" the median of the last third; a series is bounded when last ≤ limit.`,
  );
  L.push("");
  L.push(
    "| process | metric | first third | last third | max | limit | trend after warm-up (per hour) | bounded? |",
  );
  L.push("|---|---|---|---|---|---|---|---|");
  for (const j of opts.judged)
    L.push(
      `| ${j.proc} (pid ${opts.pids[j.proc] ?? "?"}) | ${j.metric} | ${fmt(j.metric, j.first)} | ${fmt(j.metric, j.last)} | ${fmt(j.metric, j.max)} | ${fmt(j.metric, j.limit)} | ${j.slope >= 0 ? "+" : ""}${fmt(j.metric, j.slope)} | ${j.judged ? (j.ok ? "yes" : "**NO**") : `${j.ok ? "yes" : "grew"} (not judged: ${j.metric === "external" ? "context" : "chain state"})`} |`,
    );
  L.push("");
  L.push("## Samples (one row a minute)");
  L.push("");
  const procs = [...opts.samples.keys()];
  L.push(`| t (min) | ${procs.map((p) => `${p} RSS / heap / fds`).join(" | ")} |`);
  L.push(`|---|${procs.map(() => "---").join("|")}|`);
  const first = opts.samples.get("driver") ?? [];
  let lastMinute = -1;
  for (let i = 0; i < first.length; i++) {
    const t = (first[i] as Sample).t;
    const minute = Math.floor(t / 60_000);
    if (minute === lastMinute && i !== first.length - 1) continue;
    lastMinute = minute;
    const cells = procs.map((p) => {
      const s = opts.samples.get(p)?.[i];
      if (!s) return "–";
      const m = (v?: number) => (v === undefined ? "–" : (v / MiB).toFixed(0));
      return `${m(s.rss)} / ${m(s.heap)} / ${s.fds ?? "–"}`;
    });
    L.push(`| ${(t / 60_000).toFixed(1)} | ${cells.join(" | ")} |`);
  }
  L.push("");
  L.push("RSS and heap in MiB. Reproduce: `npm run soak` (30 minutes) or `npm run soak -- --minutes 2`.");
  L.push("");
  return { text: L.join("\n"), pass };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  log(`making ${STREAM_SECONDS} s of synthetic MPEG-TS…`);
  const segments = await syntheticSegments({
    width: 192,
    height: 144,
    fps: 15,
    seconds: STREAM_SECONDS,
    audio: true,
  });
  log("starting the network (devnet) in a child process…");
  const net: NetworkProcess = await startNetworkProcess({ exposeGc: true });
  const gatewayUrl = net.summary.gateway?.url;
  if (!gatewayUrl) throw new Error("the network has no gateway");
  const anvilPid = net.summary.childPids[0];
  const pids: Record<Proc, number | undefined> = { driver: process.pid, network: net.pid, anvil: anvilPid };
  log(`network ready in ${net.summary.readyMs} ms: gateway ${gatewayUrl}, pid ${net.pid}, anvil ${anvilPid}`);

  const samples = new Map<Proc, Sample[]>([
    ["driver", []],
    ["network", []],
    ["anvil", []],
  ]);
  const t0 = performance.now();
  const durationMs = MINUTES * 60_000;
  const warmupMs = Math.min(180_000, durationMs / 5);
  const load = new AbortController();
  let aborted: string | undefined;
  void net.failed.then((msg) => {
    aborted = msg;
    load.abort();
  });

  const work = [
    ...Array.from({ length: CLIENTS }, (_, i) => batchClient(gatewayUrl, load.signal, i)),
    ...Array.from({ length: STREAMS }, () => streamSlot(gatewayUrl, segments, load.signal)),
  ];
  const sampleOnce = async () => {
    const t = performance.now() - t0;
    const mem = await Promise.race([net.memory(true), sleep(5000).then(() => undefined)]);
    const driverMem = process.memoryUsage();
    samples.get("driver")?.push({
      t,
      rss: rssOf(process.pid),
      heap: driverMem.heapUsed,
      external: driverMem.external + driverMem.arrayBuffers,
      fds: fdsOf(process.pid),
    });
    samples.get("network")?.push({
      t,
      rss: rssOf(net.pid),
      heap: mem?.heapUsed,
      external: mem ? mem.external + mem.arrayBuffers : undefined,
      fds: fdsOf(net.pid),
    });
    if (anvilPid !== undefined) samples.get("anvil")?.push({ t, rss: rssOf(anvilPid), fds: fdsOf(anvilPid) });
    const n = samples.get("network")?.at(-1);
    log(
      `t=${(t / 1000).toFixed(0)}s network rss ${((n?.rss ?? 0) / MiB).toFixed(0)} MiB heap ${((n?.heap ?? 0) / MiB).toFixed(0)} MiB fds ${n?.fds}; batch ${counts.batchOk} ok / ${counts.batchFailed} failed; streams ${counts.streamsOk} ok / ${counts.streamsFailed} failed`,
    );
  };
  try {
    await sampleOnce();
    while (performance.now() - t0 < durationMs && !load.signal.aborted) {
      await sleep(Math.min(SAMPLE_MS, Math.max(0, durationMs - (performance.now() - t0))), undefined, {
        signal: load.signal,
      }).catch(() => {});
      if (!load.signal.aborted) await sampleOnce();
    }
  } finally {
    load.abort();
    await Promise.all(work);
    await net.stop();
  }
  const elapsedMs = performance.now() - t0;
  const judged = judge(samples, warmupMs);
  const { text, pass } = report({ samples, judged, startedAt, elapsedMs, warmupMs, pids, aborted });
  writeFileSync(args.report as string, text);
  if (args["samples-json"])
    writeFileSync(
      args["samples-json"],
      JSON.stringify({ pids, counts, samples: Object.fromEntries(samples) }),
    );
  log(`report written to ${args.report}: ${pass ? "PASS" : "FAIL"}`);
  return pass ? 0 : 1;
}

process.exitCode = await main();
