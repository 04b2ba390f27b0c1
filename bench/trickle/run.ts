import { existsSync } from "node:fs";
import { Agent, type IncomingMessage, request } from "node:http";
import { join } from "node:path";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  CACHE,
  fmt,
  logToStderr,
  median,
  met,
  percentile,
  processCpuMs,
  ratio,
} from "../lib.ts";
import { rssBytes, startGo, startPipe, startTributary, type Target } from "./servers.ts";

/** go-livepeer's trickle server, built once by hand (see docs/benchmarks.md); optional. */
const GO_TRICKLE = join(CACHE, "bin", "go-trickle");
/**
 * The last throughput ratio measured against go-livepeer's server, kept for the rows that cannot
 * measure it (go-livepeer cannot be built on every machine: the Go module proxy refuses it).
 */
export const LAST_GO_THROUGHPUT =
  "0.69× go-livepeer (186.6 vs 271.1 MB/s), 2026-11-27 17:04 UTC, npm run bench with go-trickle built by hand from go-livepeer master 176aa415";
/** Another checkout of this repository to measure as a "before" target (same run, interleaved). */
const BEFORE_TREE = process.env.BENCH_TRICKLE_BEFORE;

type Config = {
  tpSegments: number;
  fanoutSeconds: number;
  subscribers: number;
  memChannels: number;
  /** Interleaved fan-out rounds. */
  rounds: number;
  /** Interleaved throughput rounds (cheap, and the noisiest figure on a shared machine). */
  tpRounds: number;
};
function config(quick: boolean): Config {
  return quick
    ? { tpSegments: 40, fanoutSeconds: 6, subscribers: 100, memChannels: 200, rounds: 1, tpRounds: 5 }
    : { tpSegments: 150, fanoutSeconds: 16, subscribers: 100, memChannels: 1000, rounds: 3, tpRounds: 5 };
}
const SEGMENT_BYTES = 1024 * 1024;
const BITRATE = 2_000_000; // bits per second
const FRAME = 4096;
const FANOUT_SEGMENT_SECONDS = 2;

// ---- raw HTTP client --------------------------------------------------------------------------

interface Get {
  /** Resolves when response headers arrive. */
  head: Promise<IncomingMessage>;
  /** Resolves when the body ended. */
  done: Promise<void>;
}

function get(agent: Agent, url: string, onData: (chunk: Buffer) => void): Get {
  let resolveDone!: () => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const head = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET ${new URL(url).pathname.replace(/^\/[^/]+/, "/…")} → ${res.statusCode}`));
      }
      resolve(res);
      res.on("data", onData);
      res.on("end", resolveDone);
      res.on("error", rejectDone);
    });
    req.on("error", (e) => {
      reject(e);
      rejectDone(e);
    });
    req.end();
  });
  head.catch(() => {});
  done.catch(() => {});
  return { head, done };
}

/** POSTs a body produced by `produce(write)`; resolves with the status once the response ended. */
function post(
  agent: Agent,
  url: string,
  produce: (write: (chunk: Buffer) => Promise<void>) => Promise<void>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      agent,
      headers: { "content-type": "application/octet-stream" },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    const write = (chunk: Buffer): Promise<void> =>
      new Promise((res) => {
        if (req.write(chunk)) res();
        else req.once("drain", res);
      });
    produce(write).then(
      () => req.end(),
      (e) => {
        req.destroy(e);
        reject(e);
      },
    );
  });
}

async function createChannel(agent: Agent, target: Target, ch: string): Promise<void> {
  const status = await post(agent, `${target.url}${ch}`, async () => {});
  if (status !== 200) throw new Error(`create channel → ${status}`);
}

// ---- measurements -----------------------------------------------------------------------------

/** MB/s moving `segments` 1 MiB segments publisher → server → one subscriber. */
export async function throughput(target: Target, segments: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  try {
    const ch = `tp-${Math.random().toString(36).slice(2)}`;
    await createChannel(agent, target, ch);
    const payload = Buffer.alloc(SEGMENT_BYTES);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 131) & 0xff;
    const slices: Buffer[] = [];
    for (let o = 0; o < payload.length; o += 64 * 1024) slices.push(payload.subarray(o, o + 64 * 1024));

    let received = 0;
    const registered: Promise<unknown>[] = [];
    const finished: Promise<void>[] = [];
    const opened: Get[] = [];
    const open = (i: number): Get => {
      const g = get(agent, `${target.url}${ch}/${i}`, (c) => {
        received += c.length;
      });
      opened[i] = g;
      registered[i] = g.head;
      finished[i] = g.done;
      return g;
    };
    const start = performance.now();
    const subscriber = (async () => {
      let next = open(0);
      for (let i = 0; i < segments; i++) {
        const cur = next;
        await cur.head;
        if (i + 1 < segments) next = open(i + 1);
        await cur.done;
      }
    })();
    for (let i = 0; i < segments; i++) {
      if (target.pipe) {
        while (registered[i] === undefined) await new Promise((r) => setImmediate(r));
        await registered[i];
      }
      if (i >= 3) {
        while (finished[i - 3] === undefined) await new Promise((r) => setImmediate(r));
        await finished[i - 3];
      }
      const status = await post(agent, `${target.url}${ch}/${i}`, async (write) => {
        for (const s of slices) await write(s);
      });
      if (status !== 200) throw new Error(`POST → ${status}`);
    }
    await subscriber;
    const seconds = (performance.now() - start) / 1000;
    if (received !== segments * SEGMENT_BYTES) throw new Error(`received ${received} bytes`);
    return received / 1e6 / seconds;
  } finally {
    agent.destroy();
  }
}

/** p50/p99 write→read delay (ms) of a ~2 Mbit/s stream fanned out to `subscribers`. */
export async function fanout(
  target: Target,
  subscribers: number,
  seconds: number,
): Promise<{ p50: number; p99: number; samples: number; expected: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  try {
    const ch = `fo-${Math.random().toString(36).slice(2)}`;
    await createChannel(agent, target, ch);
    const segments = Math.ceil(seconds / FANOUT_SEGMENT_SECONDS);
    const framesPerSecond = BITRATE / 8 / FRAME;
    const framesPerSegment = Math.round(framesPerSecond * FANOUT_SEGMENT_SECONDS);
    const intervalMs = 1000 / framesPerSecond;
    const delays: number[] = [];
    const registered: Promise<unknown>[][] = Array.from({ length: segments }, () => []);

    const subscriber = async (s: number): Promise<void> => {
      const open = (i: number): Get => {
        let pending: Buffer = Buffer.alloc(0);
        const g = get(agent, `${target.url}${ch}/${i}`, (c) => {
          const now = performance.now();
          pending = pending.length === 0 ? c : Buffer.concat([pending, c]);
          while (pending.length >= FRAME) {
            delays.push(now - pending.readDoubleLE(0));
            pending = pending.subarray(FRAME);
          }
        });
        registered[i]![s] = g.head;
        return g;
      };
      let next = open(0);
      for (let i = 0; i < segments; i++) {
        const cur = next;
        await cur.head;
        if (i + 1 < segments) next = open(i + 1);
        await cur.done;
      }
    };
    const subs = Array.from({ length: subscribers }, (_, s) => subscriber(s));
    // let every subscriber connect (and, for trickle, precreate segment 0)
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    let frameNo = 0;
    for (let i = 0; i < segments; i++) {
      if (target.pipe) {
        while (registered[i]!.filter(Boolean).length < subscribers)
          await new Promise((r) => setTimeout(r, 1));
        await Promise.all(registered[i]!);
      }
      const status = await post(agent, `${target.url}${ch}/${i}`, async (write) => {
        for (let f = 0; f < framesPerSegment; f++, frameNo++) {
          const due = t0 + frameNo * intervalMs;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          const frame = Buffer.alloc(FRAME, f & 0xff);
          frame.writeDoubleLE(performance.now(), 0);
          await write(frame);
        }
      });
      if (status !== 200) throw new Error(`POST → ${status}`);
    }
    await Promise.all(subs);
    delays.sort((a, b) => a - b);
    return {
      p50: percentile(delays, 50),
      p99: percentile(delays, 99),
      samples: delays.length,
      expected: segments * framesPerSegment * subscribers,
    };
  } finally {
    agent.destroy();
  }
}

/** Server RSS growth per channel that holds 5 segments of 1 KiB. */
export async function memoryPerChannel(target: Target, channels: number): Promise<number> {
  if (target.pid === undefined) return Number.NaN;
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const segment = Buffer.alloc(1024, 7);
    const settle = () => new Promise((r) => setTimeout(r, 1000));
    // warm up allocator and JIT with a few channels first
    const fill = async (prefix: string, n: number) => {
      const names = Array.from(
        { length: n },
        (_, i) => `${prefix}-${i}-${Math.random().toString(36).slice(2)}`,
      );
      for (let b = 0; b < names.length; b += 16) {
        await Promise.all(
          names.slice(b, b + 16).map(async (ch) => {
            await createChannel(agent, target, ch);
            for (let seq = 0; seq < 5; seq++) {
              await post(agent, `${target.url}${ch}/${seq}`, (write) => write(segment));
            }
          }),
        );
      }
    };
    await fill("warm", 50);
    await settle();
    const before = rssBytes(target.pid);
    await fill("mem", channels);
    await settle();
    const after = rssBytes(target.pid);
    return (after - before) / channels;
  } finally {
    agent.destroy();
  }
}

// ---- main -------------------------------------------------------------------------------------

interface Result {
  throughput: number;
  /** Server CPU time per MiB moved in the throughput test (ms; /proc schedstat). */
  serverCpu: number;
  /** The benchmark client's CPU time per MiB (publisher + subscriber, one process; ms). */
  clientCpu: number;
  p50: number;
  p99: number;
  delivered: string;
  memory: number;
}

/**
 * Runs every measurement on every target. Throughput and fan-out run in interleaved rounds (target A,
 * B, C, then again) and report the median, so a burst of load from elsewhere on the machine hits all
 * targets alike rather than one. Memory is measured once, first, on each fresh server.
 */
async function measureAll(
  targets: Target[],
  CFG: Config,
  log: (line: string) => void,
): Promise<Map<string, Result | string>> {
  const out = new Map<string, Result | string>();
  const acc = new Map<
    string,
    {
      tp: number[];
      cpu: number[];
      client: number[];
      p50: number[];
      p99: number[];
      got: number;
      want: number;
      mem: number;
    }
  >();
  const failed = new Set<string>();
  const attempt = async (t: Target, what: string, f: () => Promise<void>): Promise<void> => {
    if (failed.has(t.name)) return;
    try {
      await f();
    } catch (err) {
      failed.add(t.name);
      out.set(t.name, `failed during ${what}: ${(err as Error).message}`);
      log(`${t.name}: failed during ${what}: ${(err as Error).stack}`);
    }
  };
  for (const t of targets) {
    acc.set(t.name, { tp: [], cpu: [], client: [], p50: [], p99: [], got: 0, want: 0, mem: Number.NaN });
    await attempt(t, "memory", async () => {
      acc.get(t.name)!.mem = t.pipe ? Number.NaN : await memoryPerChannel(t, CFG.memChannels);
    });
    await attempt(t, "warm-up", async () => {
      await throughput(t, 5);
    });
  }
  for (let round = 0; round < Math.max(CFG.rounds, CFG.tpRounds); round++) {
    for (const t of round < CFG.tpRounds ? targets : []) {
      await attempt(t, "throughput", async () => {
        const cpu0 = processCpuMs(t.pid);
        const client0 = process.cpuUsage();
        const mbs = await throughput(t, CFG.tpSegments);
        const client = process.cpuUsage(client0);
        const a = acc.get(t.name)!;
        a.tp.push(mbs);
        a.cpu.push((processCpuMs(t.pid) - cpu0) / CFG.tpSegments);
        a.client.push((client.user + client.system) / 1000 / CFG.tpSegments);
        log(
          `round ${round + 1} ${t.name}: throughput ${mbs.toFixed(1)} MB/s; CPU per MiB: server ` +
            `${a.cpu.at(-1)!.toFixed(2)} ms, client ${a.client.at(-1)!.toFixed(2)} ms`,
        );
      });
    }
    for (const t of round < CFG.rounds ? targets : []) {
      await attempt(t, "fan-out", async () => {
        const fo = await fanout(t, CFG.subscribers, CFG.fanoutSeconds);
        const a = acc.get(t.name)!;
        a.p50.push(fo.p50);
        a.p99.push(fo.p99);
        a.got += fo.samples;
        a.want += fo.expected;
        log(`round ${round + 1} ${t.name}: fan-out p50 ${fo.p50.toFixed(2)} ms, p99 ${fo.p99.toFixed(2)} ms`);
      });
    }
  }
  for (const t of targets) {
    if (failed.has(t.name)) continue;
    const a = acc.get(t.name)!;
    out.set(t.name, {
      throughput: median(a.tp),
      serverCpu: median(a.cpu),
      clientCpu: median(a.client),
      p50: median(a.p50),
      p99: median(a.p99),
      delivered: `${((100 * a.got) / a.want).toFixed(1)}%`,
      memory: a.mem,
    });
  }
  return out;
}

/** Runs the trickle benchmark (tributary vs go-livepeer vs the Node pipe floor). */
export async function trickleBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const CFG = config(opts.quick);
  log(
    `trickle benchmark (${opts.quick ? "quick" : "full"}): throughput ${CFG.tpSegments} × 1 MiB; fan-out ` +
      `${CFG.subscribers} subscribers × ${CFG.fanoutSeconds} s at ${BITRATE / 1e6} Mbit/s; memory ${CFG.memChannels} channels; ` +
      `medians of ${CFG.tpRounds} (throughput) and ${CFG.rounds} (fan-out) interleaved round(s)`,
  );
  const results = new Map<string, Result | string>();
  const starters: [string, () => Promise<Target | string>][] = [
    ["tributary", () => startTributary()],
    ["go-livepeer", startGo],
    ["node pipe (floor)", startPipe],
  ];
  if (BEFORE_TREE !== undefined) {
    const name = `before (${BEFORE_TREE})`;
    starters.splice(1, 0, [name, () => startTributary(BEFORE_TREE, name)]);
  }
  const only = process.env.BENCH_ONLY;
  const targets: Target[] = [];
  try {
    for (const [name, start] of starters) {
      if (only !== undefined && !name.startsWith(only)) continue;
      const target = await start().catch((err: unknown) => `did not start: ${(err as Error).message}`);
      if (typeof target === "string") {
        results.set(name, target);
        log(`${name}: not available: ${target}`);
      } else {
        targets.push(target);
      }
    }
    for (const [name, r] of await measureAll(targets, CFG, log)) results.set(name, r);
  } finally {
    for (const t of targets) await t.close();
  }

  const ours = results.get("tributary");
  const before = BEFORE_TREE === undefined ? undefined : results.get(`before (${BEFORE_TREE})`);
  const go = results.get("go-livepeer");
  const pipe = results.get("node pipe (floor)");
  const val = (r: Result | string | undefined, k: keyof Result): number =>
    typeof r === "object" ? (r[k] as number) : Number.NaN;
  const rows: [string, keyof Result, number, string][] = [
    ["throughput, 1 channel, 1 MiB segments (MB/s, higher is better)", "throughput", 1, ""],
    ["fan-out 100 subs @ 2 Mbit/s: p50 delay (ms, lower is better)", "p50", 2, ""],
    ["fan-out 100 subs @ 2 Mbit/s: p99 delay (ms, lower is better)", "p99", 2, ""],
    ["memory per channel, 5 × 1 KiB segments (KiB RSS, lower is better)", "memory", 1, ""],
  ];
  const lines: string[] = [];
  lines.push(
    "| metric | tributary | go-livepeer | node pipe (floor) | tributary / go-livepeer | tributary / floor |",
  );
  lines.push("|---|---|---|---|---|---|");
  for (const [label, key, digits] of rows) {
    const scale = key === "memory" ? 1 / 1024 : 1;
    const o = val(ours, key) * scale;
    const g = val(go, key) * scale;
    const p = val(pipe, key) * scale;
    lines.push(
      `| ${label} | ${fmt(o, digits)} | ${fmt(g, digits)} | ${fmt(p, digits)} | ${ratio(o, g)} | ${ratio(o, p)} |`,
    );
  }
  const deliveredRow = [ours, go, pipe].map((r) => (typeof r === "object" ? r.delivered : "n/a"));
  lines.push(`| fan-out frames delivered | ${deliveredRow.join(" | ")} | | |`);
  for (const [label, key] of [
    ["server CPU per MiB in the throughput test (ms, lower is better)", "serverCpu"],
    [
      "benchmark client CPU per MiB, publisher + subscriber (ms; the same client for every server)",
      "clientCpu",
    ],
  ] as const) {
    const [o, g, p] = [ours, go, pipe].map((r) => val(r, key));
    lines.push(
      `| ${label} | ${fmt(o!, 2)} | ${fmt(g!, 2)} | ${fmt(p!, 2)} | ${ratio(o!, g!)} | ${ratio(o!, p!)} |`,
    );
  }
  if (typeof before === "object") {
    lines.push(
      "",
      `Before (${BEFORE_TREE}), same run: throughput ${fmt(before.throughput, 1)} MB/s = ` +
        `${ratio(before.throughput, val(pipe, "throughput"))} the floor (this checkout: ` +
        `${ratio(val(ours, "throughput"), val(pipe, "throughput"))}); server CPU per MiB ${fmt(before.serverCpu, 2)} ms; ` +
        `fan-out p50 / p99 ${fmt(before.p50, 2)} / ${fmt(before.p99, 2)} ms; memory per channel ${fmt(before.memory / 1024, 1)} KiB.`,
    );
  }
  const notes = [...results].filter(([, r]) => typeof r === "string").map(([name, r]) => `${name}: ${r}`);
  const goSkipped = typeof go === "string" || go === undefined;
  const goReason = existsSync(GO_TRICKLE)
    ? `go-livepeer ${typeof go === "string" ? go : "not measured"}`
    : "skipped: go-livepeer not installable here";
  if (goSkipped) notes.push(`go-livepeer: last measured throughput ${LAST_GO_THROUGHPUT}`);
  const o = (k: keyof Result) => val(ours, k);
  const base = (k: keyof Result, digits: number, scale = 1) =>
    goSkipped
      ? `${goReason}; node pipe ${fmt(val(pipe, k) * scale, digits)}`
      : `go-livepeer ${fmt(val(go, k) * scale, digits)}`;
  const vs = (k: keyof Result) => (goSkipped ? val(pipe, k) : val(go, k));
  const rowsOut: BenchRow[] = [
    {
      component: "trickle",
      measure: "throughput, 1 channel, 1 MiB segments (MB/s, higher is better)",
      ours: fmt(o("throughput"), 1),
      baseline: goSkipped
        ? `${goReason} (last measured: ${LAST_GO_THROUGHPUT}); node pipe ${fmt(val(pipe, "throughput"), 1)}`
        : `go-livepeer ${fmt(val(go, "throughput"), 1)}`,
      ratio: ratio(o("throughput"), vs("throughput")),
      goal: "≥ 1× go-livepeer",
      met: goSkipped
        ? "skipped: go-livepeer not installable here"
        : met(o("throughput") >= val(go, "throughput")),
    },
    {
      component: "trickle",
      measure: "throughput vs the Node pipe floor (MB/s; the floor relays and stores nothing)",
      ours: fmt(o("throughput"), 1),
      baseline: `node pipe ${fmt(val(pipe, "throughput"), 1)}`,
      ratio: ratio(o("throughput"), val(pipe, "throughput")),
      goal: "≥ 0.9× the floor",
      met: met(o("throughput") >= 0.9 * val(pipe, "throughput")),
    },
    {
      component: "trickle",
      measure: "fan-out 100 subs @ 2 Mbit/s, p50 delay (ms, lower is better)",
      ours: fmt(o("p50"), 2),
      baseline: base("p50", 2),
      ratio: ratio(o("p50"), vs("p50")),
      goal: "",
      met: "",
    },
    {
      component: "trickle",
      measure: "fan-out 100 subs @ 2 Mbit/s, p99 delay (ms, lower is better)",
      ours: fmt(o("p99"), 2),
      baseline: base("p99", 2),
      ratio: ratio(o("p99"), vs("p99")),
      goal: "≤ 1× go-livepeer",
      met: goSkipped ? "skipped: go-livepeer not installable here" : met(o("p99") <= val(go, "p99")),
    },
    {
      component: "trickle",
      measure: "memory per channel, 5 × 1 KiB segments (KiB RSS, lower is better)",
      ours: fmt(o("memory") / 1024, 1),
      baseline: goSkipped
        ? `${goReason}; the pipe stores nothing`
        : `go-livepeer ${fmt(val(go, "memory") / 1024, 1)}`,
      ratio: goSkipped ? "n/a" : ratio(o("memory"), val(go, "memory")),
      goal: "",
      met: "",
    },
  ];
  return { rows: rowsOut, detail: [lines.join("\n"), ...notes.map((n) => `\n${n}`)].join("\n") };
}

if (import.meta.main) console.log((await trickleBench({ quick: process.argv.includes("--quick") })).detail);
