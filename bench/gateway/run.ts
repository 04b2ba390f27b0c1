/**
 * What the gateway AND the orchestrator add to a batch job over calling the container directly, and
 * jobs per second with payments, in one run (issue #6 goal: p50 added under 3 ms, p99 under 15 ms at
 * 64 concurrent clients).
 *
 * - The container: examples/text-reverse in its own process (bench/orchestrator/container.ts).
 * - The nodes: bench/gateway/nodes.ts in another process: a devnet (anvil), a priced orchestrator
 *   validating real tickets (winners redeemed on anvil) and a gateway paying it from the funded
 *   gateway account. A job through them is `POST <gateway>/text-reverse` (HTTP) → gateway → HTTPS
 *   `/process/request/text-reverse` with a signed job header and a `Livepeer-Payment` → container.
 * - The client: this process, 64 clients on keep-alive HTTP agents.
 *
 * Measured, in interleaved rounds, for "direct" and "through gateway + orchestrator":
 * 1. capacity: jobs per second with 64 jobs in flight (closed loop);
 * 2. latency of one client sending jobs one after the other (what the nodes add to an unloaded job);
 * 3. latency at 64 concurrent clients: each client sends a job, waits for the answer, pauses, sends the
 *    next; the pause is set so that the 64 clients together offer half the paid path's measured
 *    capacity (the same pause on both paths). A latency "at 64 clients" with no pause measures only the
 *    queue in front of a saturated server (64 / capacity), not what the nodes add.
 *
 *   node bench/gateway/run.ts [--quick]
 */
import { spawn } from "node:child_process";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  BATCH_BODY,
  type BenchOptions,
  type BenchResult,
  exchange,
  fmt,
  latencies,
  logToStderr,
  markdownTable,
  met,
  percentile,
  ROOT,
  ratio,
  startBenchContainer,
  type Target,
  throughput,
} from "../lib.ts";

/** Concurrent clients (issue #6). */
export const CLIENTS = 64;

interface Nodes {
  gateway: string;
  orchestrator: string;
  close(): Promise<void>;
}

function startNodes(containerUrl: string): Promise<Nodes> {
  const child = spawn(process.execPath, [join(ROOT, "bench/gateway/nodes.ts"), containerUrl], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: "silent" },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const hard = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(hard);
    }
  };
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on("line", (line) => {
      if (line.startsWith("READY ")) {
        const urls = JSON.parse(line.slice(6)) as { gateway: string; orchestrator: string };
        resolve({ ...urls, close });
      }
    });
    child.once("exit", (code) => reject(new Error(`bench/gateway/nodes.ts exited (${code}):\n${stderr}`)));
  });
}

/** Runs the gateway benchmark; returns its rows of the combined table and its own table. */
export async function gatewayBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const rounds = opts.quick ? 2 : 4;
  const seconds = opts.quick ? 2 : 4;
  const latencyJobs = opts.quick ? 1500 : 4000;
  const agents: HttpAgent[] = [];
  await using container = await startBenchContainer();
  const nodes = await startNodes(container.url);
  try {
    // The paid path must really pay: the gateway answers with the orchestrator's balance for us.
    const probe = await fetch(`${nodes.gateway}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BATCH_BODY,
    });
    await probe.text();
    if (probe.status !== 200 || !probe.headers.get("livepeer-balance"))
      throw new Error(
        `the gateway's answer carries no Livepeer-Balance (status ${probe.status}): not paying?`,
      );

    const direct = new HttpAgent({ keepAlive: true, maxSockets: CLIENTS });
    const viaGateway = new HttpAgent({ keepAlive: true, maxSockets: CLIENTS });
    agents.push(direct, viaGateway);
    const json = { "content-type": "application/json" };
    const targets: Target[] = [
      {
        name: "direct to the container (HTTP)",
        send: () => exchange(httpRequest, `${container.url}/text-reverse`, direct, json),
      },
      {
        name: "gateway → orchestrator → container, devnet tickets",
        send: () => exchange(httpRequest, `${nodes.gateway}/text-reverse`, viaGateway, json),
      },
    ];
    const failures = new Map<string, { count: number; first: string }>();
    const onError = (t: Target, err: unknown) => {
      const f = failures.get(t.name) ?? { count: 0, first: (err as Error).message.slice(0, 300) };
      f.count++;
      failures.set(t.name, f);
    };
    log(`gateway: capacity, ${CLIENTS} in flight, ${rounds} × ${seconds} s per path…`);
    for (const t of targets) for (let i = 0; i < 200; i++) await t.send(); // warm-up
    const tput = await throughput(targets, { concurrency: CLIENTS, seconds, rounds, onError });
    const capacityFailures = new Map([...failures].map(([k, v]) => [k, v.count]));

    log("gateway: latency, 1 client, sequential…");
    const seq = await latencies(targets, { perTarget: opts.quick ? 300 : 1000, rounds, warmup: 0, onError });
    const paidCapacity = tput.get(targets[1]!.name) as number;
    const offered = paidCapacity / 2;
    const pauseMs = (CLIENTS / offered) * 1000;
    log(
      `gateway: latency, ${latencyJobs} jobs per path from ${CLIENTS} clients offering ${offered.toFixed(0)} jobs/s (pause ${pauseMs.toFixed(0)} ms)…`,
    );
    const lat = await latencies(targets, {
      perTarget: latencyJobs,
      rounds,
      clients: CLIENTS,
      warmup: 0,
      pauseMs,
      onError,
    });
    const l = (i: number) => lat.get(targets[i]!.name) as number[];
    const p50d = percentile(l(0), 50);
    const p99d = percentile(l(0), 99);
    const p50g = percentile(l(1), 50);
    const p99g = percentile(l(1), 99);
    const directJps = tput.get(targets[0]!.name) as number;
    const load = `${CLIENTS} clients, ${offered.toFixed(0)} jobs/s offered`;
    const s50 = (i: number) => percentile(seq.get(targets[i]!.name) as number[], 50);
    const s99 = (i: number) => percentile(seq.get(targets[i]!.name) as number[], 99);
    const rows = [
      {
        component: "gateway",
        measure: "batch p50 added by gateway + orchestrator, devnet tickets (ms; 1 client, sequential)",
        ours: fmt(s50(1) - s50(0), 3),
        baseline: `direct ${fmt(s50(0), 3)}`,
        ratio: ratio(s50(1), s50(0)),
        goal: "",
        met: "",
      },
      {
        component: "gateway",
        measure: "batch p99 added by gateway + orchestrator, devnet tickets (ms; 1 client, sequential)",
        ours: fmt(s99(1) - s99(0), 3),
        baseline: `direct ${fmt(s99(0), 3)}`,
        ratio: ratio(s99(1), s99(0)),
        goal: "",
        met: "",
      },
      {
        component: "gateway",
        measure: `batch p50 added by gateway + orchestrator, devnet tickets (ms; ${load})`,
        ours: fmt(p50g - p50d, 3),
        baseline: `direct ${fmt(p50d, 3)}`,
        ratio: ratio(p50g, p50d),
        goal: "< 3 ms",
        met: met(p50g - p50d < 3),
      },
      {
        component: "gateway",
        measure: "batch p99 added by gateway + orchestrator, devnet tickets (ms; same load)",
        ours: fmt(p99g - p99d, 3),
        baseline: `direct ${fmt(p99d, 3)}`,
        ratio: ratio(p99g, p99d),
        goal: "< 15 ms",
        met: met(p99g - p99d < 15),
      },
      {
        component: "gateway",
        measure: `failed jobs through gateway + orchestrator (all runs)`,
        ours: String(failures.get(targets[1]!.name)?.count ?? 0),
        baseline: `direct ${failures.get(targets[0]!.name)?.count ?? 0}`,
        ratio: "",
        goal: "0",
        met: met((failures.get(targets[1]!.name)?.count ?? 0) === 0),
      },
      {
        component: "gateway",
        measure: `jobs/s through gateway + orchestrator with devnet tickets (${CLIENTS} in flight)`,
        ours: fmt(paidCapacity, 0),
        baseline: `direct ${fmt(directJps, 0)}`,
        ratio: ratio(paidCapacity, directJps),
        goal: "",
        met: "",
      },
    ];
    const records = targets.map((t, i) => ({
      path: t.name,
      "1 client p50 / p99 ms": `${fmt(s50(i), 3)} / ${fmt(s99(i), 3)}`,
      "p50 ms": fmt(percentile(l(i), 50), 3),
      "p99 ms": fmt(percentile(l(i), 99), 3),
      "p50 added": fmt(percentile(l(i), 50) - p50d, 3),
      "p99 added": fmt(percentile(l(i), 99) - p99d, 3),
      [`jobs/s (${CLIENTS} in flight)`]: fmt(tput.get(t.name) as number, 0),
      "failed jobs (capacity / other runs)": `${capacityFailures.get(t.name) ?? 0} / ${(failures.get(t.name)?.count ?? 0) - (capacityFailures.get(t.name) ?? 0)}`,
    }));
    const failureNotes = [...failures].map(([k, v]) => `- ${k}: ${v.count} failed, first: \`${v.first}\``);
    const detail =
      `gateway + orchestrator batch overhead (latency: ${latencyJobs} jobs per path, ${load}; capacity: ${CLIENTS} in flight; ${rounds} interleaved rounds)\n\n` +
      markdownTable(records) +
      (failureNotes.length ? `\n\nFailed jobs:\n\n${failureNotes.join("\n")}` : "");
    return { rows, detail };
  } finally {
    for (const a of agents) a.destroy();
    await nodes.close();
  }
}

if (import.meta.main) {
  const r = await gatewayBench({ quick: process.argv.includes("--quick") });
  console.log(r.detail);
  console.log();
  for (const row of r.rows)
    console.log(`${row.measure}: ${row.ours} (goal ${row.goal || "—"}: ${row.met || "—"})`);
}
