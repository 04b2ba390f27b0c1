/**
 * `npm run bench`: every benchmark in one run, one table of side-by-side figures.
 *
 *   npm run bench                      full run (about 25 minutes)
 *   npm run bench -- --quick           shorter runs (about 8 minutes)
 *   npm run bench -- --only gateway,payments --details /tmp/details.md
 *
 * Benchmarks, in this order: trickle (vs go-livepeer's server and a Node pipe floor), runner (vs a
 * pytrickle container), payments (vs go-ethereum's Ecrecover), orchestrator (vs a direct container
 * call), gateway (gateway + orchestrator vs a direct call, jobs/s with devnet tickets), memory (per
 * live stream), signer, runner-proxy (vs a direct call to the runner), webrtc (glass-to-glass vs the
 * trickle client). A missing pytrickle virtualenv is installed first ({@link prepareBaselines}). Each is also runnable alone (`node bench/<name>/run.ts [--quick]`, payments:
 * `bench/payments/validate.ts`). A benchmark that fails becomes one row saying why; the others still
 * run. The table goes to stdout; progress to stderr; `--details FILE` writes every benchmark's own
 * tables (markdown). Timing is never asserted in `npm test`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  CACHE,
  formatTable,
  logToStderr,
  ROOT,
} from "./lib.ts";

/** A benchmark `npm run bench` runs. */
export interface Bench {
  name: string;
  run(opts: BenchOptions): Promise<BenchResult>;
}

/** The benchmarks, loaded lazily (each pulls in its own dependencies). */
export const BENCHES: Bench[] = [
  { name: "trickle", run: async (o) => (await import("./trickle/run.ts")).trickleBench(o) },
  { name: "runner", run: async (o) => (await import("./runner/run.ts")).runnerBench(o) },
  { name: "payments", run: async (o) => (await import("./payments/validate.ts")).paymentsBench(o) },
  { name: "orchestrator", run: async (o) => (await import("./orchestrator/run.ts")).orchestratorBench(o) },
  { name: "gateway", run: async (o) => (await import("./gateway/run.ts")).gatewayBench(o) },
  { name: "memory", run: async (o) => (await import("./memory/run.ts")).memoryBench(o) },
  { name: "signer", run: async (o) => (await import("./signer/run.ts")).signerBench(o) },
  { name: "runner-proxy", run: async (o) => (await import("./runner-proxy/run.ts")).runnerProxyBench(o) },
  { name: "webrtc", run: async (o) => (await import("./webrtc/run.ts")).webrtcBench(o) },
];

/** What {@link runAll} gives back. */
export interface RunAllResult {
  rows: BenchRow[];
  /** Each benchmark's own report, or its error. */
  details: { name: string; detail: string; seconds: number }[];
}

/** Runs `benches` one after the other; a failing one becomes a single row naming its error. */
export async function runAll(benches: readonly Bench[], opts: BenchOptions): Promise<RunAllResult> {
  const log = opts.log ?? logToStderr;
  const rows: BenchRow[] = [];
  const details: RunAllResult["details"] = [];
  for (const b of benches) {
    const t0 = performance.now();
    log(`== ${b.name}`);
    try {
      const r = await b.run(opts);
      rows.push(...r.rows);
      details.push({ name: b.name, detail: r.detail, seconds: (performance.now() - t0) / 1000 });
    } catch (err) {
      const msg = (err as Error)?.message?.split("\n")[0] ?? String(err);
      log(`${b.name} failed: ${(err as Error)?.stack ?? msg}`);
      rows.push({
        component: b.name,
        measure: "(benchmark failed)",
        ours: "",
        baseline: "",
        ratio: "",
        goal: "",
        met: `failed: ${msg.slice(0, 160)}`,
      });
      details.push({ name: b.name, detail: `failed: ${msg}`, seconds: (performance.now() - t0) / 1000 });
    }
  }
  return { rows, details };
}

/** The lines printed above the table: when, where, how loaded. */
export function header(opts: {
  quick: boolean;
  loadBefore: number[];
  loadAfter: number[];
  minutes: number;
}): string {
  const l = (a: number[]) => a.map((x) => x.toFixed(1)).join(" / ");
  return [
    `Tributary benchmarks (${opts.quick ? "--quick" : "full"}), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
      `${opts.minutes.toFixed(1)} min; ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), Node ${process.version}; ` +
      `load average (1/5/15 min) ${l(opts.loadBefore)} before, ${l(opts.loadAfter)} after.`,
  ].join("\n");
}

/**
 * Installs what a fresh machine lacks for the selected benchmarks' baselines: the pytrickle
 * virtualenv of the interop setup (`scripts/interop-setup.ts`, which also tries go-livepeer's trickle
 * server through the Go module proxy). go-ethereum's Ecrecover is built by the payments benchmark on
 * first use. A failed setup is logged; the rows of the missing baseline then say so.
 */
export function prepareBaselines(names: readonly string[], log = logToStderr): void {
  if (!names.includes("runner") || existsSync(join(CACHE, "venv", "bin", "python"))) return;
  log("== baselines: the pytrickle virtualenv is missing; running scripts/interop-setup.ts");
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "interop-setup.ts")], {
    stdio: ["ignore", process.stderr, process.stderr],
  });
  if (r.status !== 0)
    log(`baselines: interop setup exited ${r.status ?? r.signal}; the runner rows will say what is missing`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      details: { type: "string" },
    },
  });
  const only = values.only?.split(",").map((s) => s.trim());
  const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
  if (unknown.length) {
    console.error(
      `unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHES.map((b) => b.name).join(", ")}`,
    );
    process.exit(2);
  }
  const selected = BENCHES.filter((b) => !only || only.includes(b.name));
  prepareBaselines(selected.map((b) => b.name));
  const t0 = performance.now();
  const loadBefore = loadavg();
  const res = await runAll(selected, { quick: values.quick });
  const head = header({
    quick: values.quick,
    loadBefore,
    loadAfter: loadavg(),
    minutes: (performance.now() - t0) / 60_000,
  });
  console.log(`${head}\n\n${formatTable(res.rows)}`);
  if (values.details)
    writeFileSync(
      values.details,
      `${head}\n\n${formatTable(res.rows)}\n\n${res.details.map((d) => `### ${d.name} (${d.seconds.toFixed(0)} s)\n\n${d.detail}\n`).join("\n")}`,
    );
}
