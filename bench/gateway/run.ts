/**
 * What the gateway AND the orchestrator add to a batch job over calling the container directly, and
 * jobs per second with payments, in one run (issue #6 goal: p50 added under 3 ms, p99 under 15 ms at
 * 64 concurrent clients; issue #19 goal: paid jobs/s at least half a two-hop bare Node proxy's).
 *
 * - The container: examples/text-reverse in its own process (bench/orchestrator/container.ts).
 * - The nodes (bench/gateway/nodes.ts), each in its own process: a devnet (anvil and our contracts), a
 *   priced orchestrator validating real tickets (winners redeemed on anvil), and a gateway at default flags
 *   paying it from the funded gateway account. A job through them is `POST <gateway>/text-reverse`
 *   (HTTP) → gateway → HTTPS `/process/request/text-reverse` with a signed job header and a
 *   `Livepeer-Payment` → container.
 * - The baseline: two bare Node proxies (bench/gateway/bare-proxy.ts), each in its own process, on the
 *   same transports (HTTP → HTTPS keep-alive → HTTP keep-alive → container): what any two-hop path
 *   written in Node costs on this machine.
 * - The client: this process, 64 clients on keep-alive HTTP agents.
 *
 * Measured, in interleaved rounds, for "direct", "bare proxy" and "through gateway + orchestrator":
 * 1. capacity: jobs per second with 64 jobs in flight (closed loop);
 * 2. CPU time per 1000 jobs of each node process (gateway, orchestrator; the two proxy hops), over a
 *    fixed number of jobs at 64 in flight, and the nodes' RSS idle and after the runs;
 * 3. latency of one client sending jobs one after the other (what the nodes add to an unloaded job);
 * 4. latency at 64 clients in a closed loop (what go-livepeer's "p50 / p99 at 64" measures: mostly the
 *    queue in front of a saturated path, 64 / capacity);
 * 5. latency at 64 concurrent clients offering a fixed load (`--offered`, default 500 jobs/s, the same
 *    on every path and in every run): each client sends a job, waits for the answer, pauses, sends the
 *    next. This is what the nodes add under load, comparable between runs and machines.
 *
 *   node bench/gateway/run.ts [--quick] [--offered <jobs/s>]
 *   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node bench/gateway/run.ts --quick   # profiles
 */
import { spawn } from "node:child_process";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  BATCH_BODY,
  type BenchOptions,
  type BenchResult,
  type BenchRow,
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
/** Default load offered by the 64 clients in the fixed-load latency runs (`--offered <jobs/s>`). */
export const DEFAULT_OFFERED = 500;

/** CPU time so far (user + system, ms) and resident set (bytes) of a node process. */
interface Stats {
  cpuMs: number;
  rssBytes: number;
  /** Node processes only (not the bare proxies). */
  heapUsedBytes?: number;
}

/** A node process of the benchmark: its READY / LISTENING line and its STATS. */
interface NodeProcess {
  ready: string;
  stats(): Promise<Stats>;
  close(): Promise<void>;
}

/**
 * Spawns `node <script> ...args` and resolves once it prints a line starting with `readyPrefix` (the
 * rest of that line is `ready`). `BENCH_NODE_ARGS` (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`) are
 * given to every node process, for profiles under the benchmark's load.
 */
function startProcess(script: string, args: string[], readyPrefix: string): Promise<NodeProcess> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, script), ...args], {
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
  const waiting: ((s: Stats) => void)[] = [];
  const stats = () =>
    new Promise<Stats>((resolve) => {
      waiting.push(resolve);
      child.stdin?.write("STATS\n");
    });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on("line", (line) => {
      if (line.startsWith(readyPrefix)) resolve({ ready: line.slice(readyPrefix.length), stats, close });
      else if (line.startsWith("STATS ")) waiting.shift()?.(JSON.parse(line.slice(6)) as Stats);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${code}):\n${stderr}`)));
  });
}

/** The load offered in the fixed-load runs: `--offered <jobs/s>`, else {@link DEFAULT_OFFERED}. */
function offeredLoad(argv: readonly string[]): number {
  const i = argv.indexOf("--offered");
  if (i < 0) return DEFAULT_OFFERED;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error("--offered takes a positive number of jobs per second");
  return n;
}

/** Runs the gateway benchmark; returns its rows of the combined table and its own table. */
export async function gatewayBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const rounds = opts.quick ? 2 : 4;
  const seconds = opts.quick ? 2 : 4;
  const latencyJobs = opts.quick ? 1500 : 4000;
  const cpuJobs = opts.quick ? 3000 : 10_000;
  const offered = offeredLoad(process.argv);
  const agents: HttpAgent[] = [];
  const procs: NodeProcess[] = [];
  await using container = await startBenchContainer();
  try {
    const devnet = await startProcess("bench/gateway/nodes.ts", ["devnet"], "READY ");
    procs.push(devnet);
    const orch = await startProcess(
      "bench/gateway/nodes.ts",
      ["orchestrator", container.url, devnet.ready],
      "READY ",
    );
    procs.push(orch);
    const { chain } = JSON.parse(orch.ready) as { chain: unknown };
    const gw = await startProcess("bench/gateway/nodes.ts", ["gateway", JSON.stringify(chain)], "READY ");
    procs.push(gw);
    const gatewayUrl = (JSON.parse(gw.ready) as { gateway: string }).gateway;
    const hop2 = await startProcess("bench/gateway/bare-proxy.ts", [container.url, "--tls"], "LISTENING ");
    procs.push(hop2);
    const hop1 = await startProcess("bench/gateway/bare-proxy.ts", [hop2.ready.trim()], "LISTENING ");
    procs.push(hop1);
    const idle = { gateway: await gw.stats(), orchestrator: await orch.stats() };

    // The paid path must really pay: the gateway answers with the orchestrator's balance for us.
    const probe = await fetch(`${gatewayUrl}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: BATCH_BODY,
    });
    await probe.text();
    if (probe.status !== 200 || !probe.headers.get("livepeer-balance"))
      throw new Error(
        `the gateway's answer carries no Livepeer-Balance (status ${probe.status}): not paying?`,
      );

    const agent = () => {
      const a = new HttpAgent({ keepAlive: true, maxSockets: CLIENTS });
      agents.push(a);
      return a;
    };
    const json = { "content-type": "application/json" };
    const directAgent = agent();
    const bareAgent = agent();
    const gwAgent = agent();
    const targets: Target[] = [
      {
        name: "direct to the container (HTTP)",
        send: () => exchange(httpRequest, `${container.url}/text-reverse`, directAgent, json),
      },
      {
        name: "two-hop bare Node proxy (HTTP → HTTPS → container)",
        send: () => exchange(httpRequest, `${hop1.ready.trim()}/text-reverse`, bareAgent, json),
      },
      {
        name: "gateway → orchestrator → container, devnet tickets",
        send: () => exchange(httpRequest, `${gatewayUrl}/text-reverse`, gwAgent, json),
      },
    ];
    const [direct, bare, paid] = targets as [Target, Target, Target];
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

    log(`gateway: CPU time of ${cpuJobs} jobs, ${CLIENTS} in flight, paid path and bare proxy…`);
    const cpuOf = async (t: Target, nodes: NodeProcess[]): Promise<number[]> => {
      const before = await Promise.all(nodes.map((n) => n.stats()));
      await latencies([t], { perTarget: cpuJobs, rounds: 1, clients: CLIENTS, warmup: 0, onError });
      const after = await Promise.all(nodes.map((n) => n.stats()));
      // ms per job = s per 1000 jobs
      return after.map((a, i) => (a.cpuMs - (before[i] as Stats).cpuMs) / cpuJobs);
    };
    const [gwCpu, orchCpu] = (await cpuOf(paid, [gw, orch])) as [number, number];
    const [hop1Cpu, hop2Cpu] = (await cpuOf(bare, [hop1, hop2])) as [number, number];

    log("gateway: latency, 1 client, sequential…");
    const seq = await latencies(targets, { perTarget: opts.quick ? 300 : 1000, rounds, warmup: 0, onError });
    log(`gateway: latency, ${latencyJobs} jobs per path, ${CLIENTS} clients in a closed loop…`);
    const closed = await latencies(targets, {
      perTarget: latencyJobs,
      rounds,
      clients: CLIENTS,
      warmup: 0,
      onError,
    });
    const pauseMs = (CLIENTS / offered) * 1000;
    log(
      `gateway: latency, ${latencyJobs} jobs per path from ${CLIENTS} clients offering ${offered} jobs/s (pause ${pauseMs.toFixed(0)} ms)…`,
    );
    const lat = await latencies(targets, {
      perTarget: latencyJobs,
      rounds,
      clients: CLIENTS,
      warmup: 0,
      pauseMs,
      onError,
    });
    const loaded = { gateway: await gw.stats(), orchestrator: await orch.stats() };
    const pct = (m: Map<string, number[]>, t: Target, p: number) => percentile(m.get(t.name) as number[], p);
    const jps = (t: Target) => tput.get(t.name) as number;
    const load = `${CLIENTS} clients, ${offered} jobs/s offered`;
    const mib = (b: number) => fmt(b / 2 ** 20, 0);
    const rows: BenchRow[] = [
      {
        component: "gateway",
        measure: "batch p50 added by gateway + orchestrator, devnet tickets (ms; 1 client, sequential)",
        ours: fmt(pct(seq, paid, 50) - pct(seq, direct, 50), 3),
        baseline: `direct ${fmt(pct(seq, direct, 50), 3)}; bare proxy adds ${fmt(pct(seq, bare, 50) - pct(seq, direct, 50), 3)}`,
        ratio: ratio(pct(seq, paid, 50), pct(seq, direct, 50)),
        goal: "",
        met: "",
      },
      {
        component: "gateway",
        measure: "batch p99 added by gateway + orchestrator, devnet tickets (ms; 1 client, sequential)",
        ours: fmt(pct(seq, paid, 99) - pct(seq, direct, 99), 3),
        baseline: `direct ${fmt(pct(seq, direct, 99), 3)}; bare proxy adds ${fmt(pct(seq, bare, 99) - pct(seq, direct, 99), 3)}`,
        ratio: ratio(pct(seq, paid, 99), pct(seq, direct, 99)),
        goal: "",
        met: "",
      },
      {
        component: "gateway",
        measure: `batch p50 added by gateway + orchestrator, devnet tickets (ms; ${load})`,
        ours: fmt(pct(lat, paid, 50) - pct(lat, direct, 50), 3),
        baseline: `direct ${fmt(pct(lat, direct, 50), 3)}; bare proxy adds ${fmt(pct(lat, bare, 50) - pct(lat, direct, 50), 3)}`,
        ratio: ratio(pct(lat, paid, 50), pct(lat, direct, 50)),
        goal: "< 3 ms",
        met: met(pct(lat, paid, 50) - pct(lat, direct, 50) < 3),
      },
      {
        component: "gateway",
        measure: "batch p99 added by gateway + orchestrator, devnet tickets (ms; same load)",
        ours: fmt(pct(lat, paid, 99) - pct(lat, direct, 99), 3),
        baseline: `direct ${fmt(pct(lat, direct, 99), 3)}; bare proxy adds ${fmt(pct(lat, bare, 99) - pct(lat, direct, 99), 3)}`,
        ratio: ratio(pct(lat, paid, 99), pct(lat, direct, 99)),
        goal: "< 15 ms",
        met: met(pct(lat, paid, 99) - pct(lat, direct, 99) < 15),
      },
      {
        component: "gateway",
        measure: `batch p50 / p99 through gateway + orchestrator, devnet tickets (ms; ${CLIENTS} in flight, closed loop)`,
        ours: `${fmt(pct(closed, paid, 50), 1)} / ${fmt(pct(closed, paid, 99), 1)}`,
        baseline: `bare proxy ${fmt(pct(closed, bare, 50), 1)} / ${fmt(pct(closed, bare, 99), 1)}`,
        ratio: ratio(pct(closed, paid, 50), pct(closed, bare, 50)),
        goal: "",
        met: "",
      },
      {
        component: "gateway",
        measure: "failed jobs through gateway + orchestrator (all runs)",
        ours: String(failures.get(paid.name)?.count ?? 0),
        baseline: `direct ${failures.get(direct.name)?.count ?? 0}, bare proxy ${failures.get(bare.name)?.count ?? 0}`,
        ratio: "",
        goal: "0",
        met: met((failures.get(paid.name)?.count ?? 0) === 0),
      },
      {
        component: "gateway",
        measure: `jobs/s through gateway + orchestrator with devnet tickets (${CLIENTS} in flight)`,
        ours: fmt(jps(paid), 0),
        baseline: `two-hop bare proxy ${fmt(jps(bare), 0)}; direct ${fmt(jps(direct), 0)}`,
        ratio: ratio(jps(paid), jps(bare)),
        goal: "≥ 0.5× bare proxy",
        met: met(jps(paid) >= 0.5 * jps(bare)),
      },
      {
        component: "gateway",
        measure: "CPU per 1000 paid jobs, gateway + orchestrator (s)",
        ours: `${fmt(gwCpu, 2)} + ${fmt(orchCpu, 2)}`,
        baseline: `bare proxy hops ${fmt(hop1Cpu, 2)} + ${fmt(hop2Cpu, 2)}`,
        ratio: ratio(gwCpu + orchCpu, hop1Cpu + hop2Cpu),
        goal: "",
        met: "",
      },
      {
        component: "gateway",
        measure: "RSS gateway / orchestrator, idle after start → after the runs (MiB)",
        ours: `${mib(idle.gateway.rssBytes)} → ${mib(loaded.gateway.rssBytes)} / ${mib(idle.orchestrator.rssBytes)} → ${mib(loaded.orchestrator.rssBytes)}`,
        baseline: "",
        ratio: "",
        goal: "",
        met: "",
      },
    ];
    const records = targets.map((t) => ({
      path: t.name,
      "1 client p50 / p99 ms": `${fmt(pct(seq, t, 50), 3)} / ${fmt(pct(seq, t, 99), 3)}`,
      [`p50 / p99 ms (${offered} jobs/s offered)`]: `${fmt(pct(lat, t, 50), 3)} / ${fmt(pct(lat, t, 99), 3)}`,
      "p50 / p99 added": `${fmt(pct(lat, t, 50) - pct(lat, direct, 50), 3)} / ${fmt(pct(lat, t, 99) - pct(lat, direct, 99), 3)}`,
      [`p50 / p99 ms (${CLIENTS} in flight)`]: `${fmt(pct(closed, t, 50), 1)} / ${fmt(pct(closed, t, 99), 1)}`,
      [`jobs/s (${CLIENTS} in flight)`]: fmt(jps(t), 0),
      "failed jobs (capacity / other runs)": `${capacityFailures.get(t.name) ?? 0} / ${(failures.get(t.name)?.count ?? 0) - (capacityFailures.get(t.name) ?? 0)}`,
    }));
    const failureNotes = [...failures].map(([k, v]) => `- ${k}: ${v.count} failed, first: \`${v.first}\``);
    const detail =
      `gateway + orchestrator batch overhead (latency: ${latencyJobs} jobs per path, ${load} and ${CLIENTS} in flight; capacity: ${CLIENTS} in flight; ${rounds} interleaved rounds)\n\n` +
      markdownTable(records) +
      `\n\nCPU per 1000 jobs (${cpuJobs} jobs, ${CLIENTS} in flight): gateway ${fmt(gwCpu, 3)} s, orchestrator ${fmt(orchCpu, 3)} s; bare proxy hops ${fmt(hop1Cpu, 3)} + ${fmt(hop2Cpu, 3)} s. ` +
      `RSS (JavaScript heap in use): gateway ${mib(idle.gateway.rssBytes)} (${mib(idle.gateway.heapUsedBytes ?? Number.NaN)}) MiB idle, ${mib(loaded.gateway.rssBytes)} (${mib(loaded.gateway.heapUsedBytes ?? Number.NaN)}) MiB after the runs; ` +
      `orchestrator ${mib(idle.orchestrator.rssBytes)} (${mib(idle.orchestrator.heapUsedBytes ?? Number.NaN)}) → ${mib(loaded.orchestrator.rssBytes)} (${mib(loaded.orchestrator.heapUsedBytes ?? Number.NaN)}) MiB.` +
      (failureNotes.length ? `\n\nFailed jobs:\n\n${failureNotes.join("\n")}` : "");
    return { rows, detail };
  } finally {
    for (const a of agents) a.destroy();
    for (const p of procs.reverse()) await p.close();
  }
}

if (import.meta.main) {
  const r = await gatewayBench({ quick: process.argv.includes("--quick") });
  console.log(r.detail);
  console.log();
  for (const row of r.rows)
    console.log(`${row.measure}: ${row.ours} (goal ${row.goal || "—"}: ${row.met || "—"})`);
}
