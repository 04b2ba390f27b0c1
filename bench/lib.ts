/**
 * Shared benchmark plumbing: the batch container in its own process, one timed HTTP(S) job exchange,
 * percentiles, interleaved latency and throughput loops, and the one result row / table format every
 * benchmark returns to `npm run bench` (bench/run.ts).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Agent as HttpAgent, request as httpRequest } from "node:http";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
/** Tributary's tool cache (interop venv, go-trickle, go-ecrecover): `$TRIBUTARY_CACHE` or ~/.cache/tributary. */
export const CACHE = resolve(process.env.TRIBUTARY_CACHE ?? join(homedir(), ".cache", "tributary"));

// ---- result rows ------------------------------------------------------------------------------

/** One line of the combined table: a measure, our figure, the baseline's, their ratio, the goal. */
export interface BenchRow {
  /** Which benchmark (trickle, runner, payments, orchestrator, gateway, memory). */
  component: string;
  /** What is measured, with its unit and direction ("MB/s, higher is better"). */
  measure: string;
  /** Our figure, formatted. */
  ours: string;
  /** The baseline's figure with its name ("go-livepeer 259.8"), or why it is missing. */
  baseline: string;
  /** ours / baseline ("0.24×"), or "" when not meaningful. */
  ratio: string;
  /** The goal as stated in its issue, or "" when the row is context. */
  goal: string;
  /** Whether the goal is met: "yes", "no", "" (no goal), or "skipped: why". */
  met: string;
}

/** What a benchmark returns: its rows of the combined table and its own detailed report (markdown). */
export interface BenchResult {
  rows: BenchRow[];
  detail: string;
}

/** Options every benchmark takes. */
export interface BenchOptions {
  /** Shorter runs (fewer rounds, smaller inputs). */
  quick: boolean;
  /** Progress lines (default: to stderr). */
  log?: (line: string) => void;
}

/** Progress to stderr, the default of {@link BenchOptions.log}. */
/** Clock ticks per second of `/proc/<pid>/stat` (Linux's USER_HZ, 100 on every common kernel). */
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/**
 * CPU time (ms, user + system, every thread, plus children it waited for) process `pid` has used so
 * far, from `/proc/<pid>/stat` (10 ms resolution); NaN where unreadable.
 */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name (which may hold spaces): utime is the 12th of them.
    const f = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    return (((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) / CLK_TCK) * 1000;
  } catch {
    return Number.NaN;
  }
}

export const logToStderr = (line: string): void => void process.stderr.write(`${line}\n`);

/** A markdown table of records (keys of the first record are the columns). */
export function markdownTable(records: readonly Record<string, string>[]): string {
  const cols = Object.keys(records[0] ?? {});
  const lines = [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`];
  for (const r of records) lines.push(`| ${cols.map((c) => r[c] ?? "").join(" | ")} |`);
  return lines.join("\n");
}

/** `a / b` as "1.23×", or "n/a" when either is not a finite number or b is 0. */
export function ratio(a: number, b: number, digits = 2): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(digits)}×` : "n/a";
}

/** A number with `digits` decimals, or "n/a". */
export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** "yes"/"no" for a goal check, "n/a" when the figure is missing. */
export function met(ok: boolean | undefined): string {
  return ok === undefined ? "n/a" : ok ? "yes" : "no";
}

/** The combined table (GitHub markdown): component, measure, ours, baseline, ratio, goal, met?. */
export function formatTable(rows: readonly BenchRow[]): string {
  const head = ["component", "measure", "ours", "baseline", "ratio", "goal", "met?"];
  const cells = rows.map((r) => [r.component, r.measure, r.ours, r.baseline, r.ratio, r.goal, r.met]);
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const c of cells) lines.push(`| ${c.map(esc).join(" | ")} |`);
  return lines.join("\n");
}

// ---- statistics -------------------------------------------------------------------------------

/** The `p`th percentile of an ascending list (nearest rank, lower). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** The median of the finite numbers of a list (NaN when none). */
export function median(xs: readonly number[]): number {
  const v = xs.filter(Number.isFinite).sort((x, y) => x - y);
  return v.length === 0 ? Number.NaN : (v[Math.floor(v.length / 2)] as number);
}

// ---- the batch container ----------------------------------------------------------------------

/** Body every batch benchmark sends to text-reverse, and the answer it must get back. */
export const BATCH_BODY = JSON.stringify({ text: "the orchestrator benchmark ✓" });
export const BATCH_EXPECTED = JSON.stringify({ text: "✓ kramhcneb rotartsehcro eht" });

/** The text-reverse container (bench/orchestrator/container.ts) in its own process. */
export interface BenchContainer extends AsyncDisposable {
  url: string;
  child: ChildProcess;
  close(): Promise<void>;
}

/** Starts bench/orchestrator/container.ts and resolves with its URL once it listens. */
export function startBenchContainer(): Promise<BenchContainer> {
  const child = spawn(process.execPath, [join(ROOT, "bench/orchestrator/container.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      child.kill("SIGTERM");
      await exited;
    }
  };
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on("line", (line) => {
      if (line.startsWith("LISTENING "))
        resolve({ url: line.slice(10).trim(), child, close, [Symbol.asyncDispose]: close });
    });
    child.once("exit", (code) => reject(new Error(`container exited (${code}) before listening`)));
  });
}

/**
 * One timed job: POSTs `body` to `url` and resolves with the latency in ms once the whole answer is
 * read; rejects unless it is 200 with exactly `expected`.
 */
export function exchange(
  doRequest: typeof httpRequest,
  url: string,
  agent: HttpAgent,
  headers: Record<string, string>,
  extra: { ca?: string } = {},
  body = BATCH_BODY,
  expected = BATCH_EXPECTED,
): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = doRequest(url, { method: "POST", agent, headers, ...extra }, (res) => {
      let got = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        got += c;
      });
      res.on("end", () => {
        if (res.statusCode !== 200 || got !== expected)
          reject(new Error(`${url}: ${res.statusCode} ${got.slice(0, 300)}`));
        else resolve(performance.now() - started);
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

// ---- loops ------------------------------------------------------------------------------------

/** A path a job can take. */
export interface Target {
  name: string;
  /** Sends one job; resolves with the latency in ms (undefined: nothing left to send); rejects on a wrong answer. */
  send(): Promise<number | undefined>;
}

/**
 * Latencies of `perTarget` jobs per target, `clients` at a time (each client sends its next job when
 * the last one is answered, after `pauseMs`), in `rounds` interleaved rounds (order reversed every
 * other round) after `warmup` jobs each. Returns each target's latencies, ascending.
 */
export async function latencies(
  targets: readonly Target[],
  opts: {
    perTarget: number;
    rounds: number;
    clients?: number;
    warmup?: number;
    pauseMs?: number;
    /** Called for a failed job, which is then not counted; without it a failure rejects. */
    onError?: (target: Target, err: unknown) => void;
  },
): Promise<Map<string, number[]>> {
  const clients = opts.clients ?? 1;
  const out = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (const t of targets) for (let i = 0; i < (opts.warmup ?? 100); i++) await t.send();
  const perRound = Math.ceil(opts.perTarget / opts.rounds);
  for (let r = 0; r < opts.rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const list = out.get(t.name) as number[];
      let left = perRound;
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          // Spread the clients' first jobs over one pause so that they do not start in lock-step.
          if (opts.pauseMs) await sleep((opts.pauseMs * c) / clients);
          while (left > 0) {
            left--;
            let ms: number | undefined;
            try {
              ms = await t.send();
            } catch (err) {
              if (!opts.onError) throw err;
              opts.onError(t, err);
              continue;
            }
            if (ms === undefined) throw new Error(`${t.name}: ran out of prepared jobs`);
            list.push(ms);
            if (opts.pauseMs) await sleep(opts.pauseMs);
          }
        }),
      );
    }
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

/**
 * Jobs per second of each target with `concurrency` jobs in flight, `seconds` per round, `rounds`
 * interleaved rounds.
 */
export async function throughput(
  targets: readonly Target[],
  opts: {
    concurrency: number;
    seconds: number;
    rounds: number;
    /** Called for a failed job, which is then not counted; without it a failure rejects. */
    onError?: (target: Target, err: unknown) => void;
  },
): Promise<Map<string, number>> {
  const jobs = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const seconds = new Map<string, number>(targets.map((t) => [t.name, 0]));
  for (let r = 0; r < opts.rounds; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const started = performance.now();
      const deadline = started + opts.seconds * 1000;
      let done = 0;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (performance.now() < deadline) {
            let ms: number | undefined;
            try {
              ms = await t.send();
            } catch (err) {
              if (!opts.onError) throw err;
              opts.onError(t, err);
              continue;
            }
            if (ms === undefined) return; // nothing left: stop early, time counts to here
            done++;
          }
        }),
      );
      jobs.set(t.name, (jobs.get(t.name) as number) + done);
      seconds.set(t.name, (seconds.get(t.name) as number) + (performance.now() - started) / 1000);
    }
  }
  return new Map(
    targets.map((t) => [t.name, (jobs.get(t.name) as number) / (seconds.get(t.name) as number)]),
  );
}
