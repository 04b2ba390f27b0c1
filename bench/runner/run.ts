/**
 * Passthrough throughput of a live container, Tributary's runner SDK vs a PyPI pytrickle 0.1.6
 * container, in the same run and through the same path. Ours runs twice: asking for yuv420p frames
 * (as decoded and as the encoder takes them: no colour conversion, the fastest correct path) and
 * asking for rgb24 frames (one conversion each way; the default of a pipeline with a `video`
 * handler, and what pytrickle does before making its RGB float tensors):
 *
 *   synthetic H.264 MPEG-TS (60 fps PTS, made first, not timed) → our trickle server → the container's
 *   subscriber (POST /stream/start) → decode → passthrough handler → encode → the container's publisher →
 *   our trickle server → this process, which records when each output segment completes and afterwards
 *   decodes the segments (node-av) to count their frames.
 *
 * Output rate = frames in output segments 2..N-1 / (completion of segment N-1 − completion of
 * segment 1): a segment completes when the next starts; the first carries the start-up and the last
 * the flush after the input ended. The input is published paced at a rate above what one core can
 * process (600 fps at 512×512, 200 at 1280×720: above our yuv420p capacity; until the runner stopped
 * dropping the frames of a burst it could still process, 240 and 100 were enough, and they now cap
 * ours at the input rate), so the figure is the container's capacity. Each input segment arrives
 * whole. Our runner processes a segment whole while no newer one waits and then drops frames beyond
 * a bounded backlog (3 segments, then 15 frames), so under overload its drain is about the last
 * segment's processing time; pytrickle 0.1.6 queues it all and works through the backlog after the
 * input ends, which the "drain" column shows.
 * Each size runs ROUNDS rounds (2; 1 with --quick) alternating which container goes first, and the
 * best round of each is reported (the machine may be shared). Each container runs pinned to one core with `taskset -c 1` (when taskset exists); this process is
 * pinned to core 0. Then the per-frame time our SDK spends around the handler (bench/runner/overhead.ts,
 * also on one core).
 *
 *   node bench/runner/run.ts [--quick]
 *
 * Needs the interop virtualenv (`node scripts/interop-setup.ts`) for the pytrickle side; without it only
 * our SDK is measured and the ratio column says so.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { TricklePublisher } from "../../src/trickle/publisher.ts";
import { type RunningTrickleServer, startTrickleServer } from "../../src/trickle/server.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import {
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  CACHE,
  fmt,
  logToStderr,
  met,
  processCpuMs,
  ROOT,
  ratio,
} from "../lib.ts";
import type { OverheadResult } from "./overhead.ts";

const hasTaskset = spawnSync("taskset", ["-V"]).status === 0;
const CONTAINER_CORE = "1";

/** Input seconds (of 60 fps PTS) and the paced publish rate in frames per wall second, per size. */
function cases(quick: boolean) {
  return [
    { size: "512x512", seconds: quick ? 16 : 40, inputFps: 600 },
    { size: "1280x720", seconds: quick ? 12 : 24, inputFps: 200 },
  ];
}
/** Rounds per size, alternating which container goes first; the best round of each is reported. */
const rounds = (quick: boolean) => (quick ? 1 : 2);

const python = join(CACHE, "venv", "bin", "python");
const havePython = existsSync(python);

function pinned(cmd: string, args: string[]): [string, string[]] {
  return hasTaskset ? ["taskset", ["-c", CONTAINER_CORE, cmd, ...args]] : [cmd, args];
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Container {
  url: string;
  /** CPU seconds the container process has used so far (all its threads), or NaN where unreadable. */
  cpuSeconds(): number;
  close(): Promise<void>;
}

/** The containers compared: ours with yuv420p frames, ours with rgb24 frames, pytrickle (RGB tensors). */
type Kind = "tributary" | "tributary-rgb24" | "pytrickle";

async function startContainer(kind: Kind): Promise<Container> {
  const port = await freePort();
  const [cmd, args] =
    kind !== "pytrickle"
      ? pinned(process.execPath, [
          join(ROOT, "src/cli/main.ts"),
          "serve",
          join(ROOT, "bench/runner/passthrough.ts"),
          "--port",
          String(port),
        ])
      : pinned(python, [join(ROOT, "test/interop/py/passthrough_pytrickle.py"), String(port)]);
  const child: ChildProcess = spawn(cmd, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      TRIBUTARY_LOG_LEVEL: "warn",
      PYTHONUNBUFFERED: "1",
      TRIBUTARY_BENCH_PIXEL_FORMAT: kind === "tributary-rgb24" ? "rgb24" : "yuv420p",
    },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise((r) => child.once("exit", r));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} container exited:\n${stderr}`);
    try {
      const body = (await (await fetch(`${url}/health`)).json()) as { status?: string };
      // taskset execs the container, so the child's pid is the container's.
      if (body.status === "IDLE") return { url, close, cpuSeconds: () => processCpuMs(child.pid) / 1000 };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`${kind} container not ready in 90 s:\n${stderr}`);
    }
    await sleep(200);
  }
}

interface StreamResult {
  /** Output frames per second over segments 2..N. */
  fps: number;
  outFrames: number;
  outSegments: number;
  inFrames: number;
  /** Seconds from the last input write to the last output segment: the backlog the container built. */
  drainS: number;
  /**
   * Output frames per CPU second of the container (all its threads, from the start request to the
   * stop): its capacity on one dedicated core, whatever share of the core the machine's other load
   * left it. Ours also pays here for decoding the frames its bounded queue then drops.
   */
  fpsPerCpu: number;
}

let streamNo = 0;

async function measureStream(
  trickle: RunningTrickleServer,
  container: Container,
  input: Uint8Array[],
  width: number,
  height: number,
  inputFps: number,
): Promise<StreamResult> {
  const id = `bench-${++streamNo}`;
  const base = trickle.url.replace(/\/$/, "");
  for (const [name, mime] of [
    [id, "video/mp2t"],
    [`${id}-out`, "video/mp2t"],
    [`${id}-control`, "application/json"],
    [`${id}-events`, "application/json"],
  ] as const)
    trickle.trickle.createChannel(name, mime);
  const out: { bytes: Uint8Array; at: number }[] = [];
  const outSub = new TrickleSubscriber(`${base}/${id}-out`, { start: 0 });
  const outDone = (async () => {
    for await (const s of outSub) out.push({ bytes: await s.bytes(), at: performance.now() });
  })();
  const cpu0 = container.cpuSeconds();
  const r = await fetch(`${container.url}/stream/start`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      gateway_request_id: id,
      subscribe_url: `${base}/${id}`,
      publish_url: `${base}/${id}-out`,
      control_url: `${base}/${id}-control`,
      events_url: `${base}/${id}-events`,
      params: { width, height, max_framerate: 60 },
    }),
  });
  if (r.status !== 200) throw new Error(`start failed: ${r.status} ${await r.text()}`);
  await sleep(1000); // let the container's subscriber connect before publishing
  const pub = new TricklePublisher(`${base}/${id}`, { mimeType: "video/mp2t" });
  const framesPerSegment = 120; // 2 s segments of 60 fps
  const t0 = performance.now();
  for (let i = 0; i < input.length; i++) {
    await pub.write(input[i] as Uint8Array);
    const due = t0 + (((i + 1) * framesPerSegment) / inputFps) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const inputEnd = performance.now();
  // The end of the input ends the stream (both containers flush their last segment); wait until the
  // output stops growing (no new segment for 6 s: a 2 s segment at 20 fps takes 6 s). A container
  // still busy after 60 s is stopped: what came out by then counts. pytrickle 0.1.6 completes its last
  // segment only at the stop, so its drain time (to the last segment completed before the stop) is
  // short by up to one segment.
  await pub.close().catch(() => {});
  const settle = performance.now();
  let lastCount = -1;
  while (performance.now() - settle < 60_000) {
    await sleep(6000);
    if (out.length === lastCount) break;
    lastCount = out.length;
  }
  const stopSent = performance.now();
  const cpuS = container.cpuSeconds() - cpu0;
  await fetch(`${container.url}/stream/stop`, { method: "POST" }).catch(() => {});
  await sleep(500);
  outSub.close();
  await outDone.catch(() => {});
  for (const name of [id, `${id}-out`, `${id}-control`, `${id}-events`]) trickle.trickle.deleteChannel(name);

  const counts: number[] = [];
  for (const s of out) counts.push((await decodeSegments([s.bytes], 64, 64)).video.length);
  const nonEmpty = out.map((s, i) => ({ ...s, frames: counts[i] as number })).filter((s) => s.frames > 0);
  const outFrames = counts.reduce((a, b) => a + b, 0);
  let fps = Number.NaN;
  // A segment completes when the next one starts, so segments 2..N-1 were produced between the
  // completions of segment 1 and N-1 (the first carries the start-up, the last the flush at the end).
  if (nonEmpty.length >= 4) {
    const first = nonEmpty[0] as { at: number };
    const last = nonEmpty[nonEmpty.length - 2] as { at: number };
    const frames = nonEmpty.slice(1, -1).reduce((a, s) => a + s.frames, 0);
    fps = frames / ((last.at - first.at) / 1000);
  }
  // Only segments completed before the stop request: the container finished them on its own.
  const lastAt = nonEmpty.filter((s) => s.at < stopSent).at(-1)?.at ?? inputEnd;
  return {
    fps,
    outFrames,
    outSegments: out.length,
    inFrames: input.length * framesPerSegment,
    drainS: (lastAt - inputEnd) / 1000,
    fpsPerCpu: outFrames / cpuS,
  };
}

function overhead(
  size: string,
  seconds: number,
  handler: "passthrough" | "tint",
  format: "rgb24" | "yuv420p",
): OverheadResult {
  const [cmd, args] = pinned(process.execPath, [
    join(ROOT, "bench/runner/overhead.ts"),
    size,
    String(seconds),
    handler,
    format,
  ]);
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`overhead.ts failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop() as string) as OverheadResult;
}

/**
 * Runs the runner benchmark. This process is pinned to core 0 meanwhile (its previous affinity is
 * restored at the end), the containers to core 1.
 */
export async function runnerBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const quick = opts.quick;
  const CASES = cases(quick);
  const ROUNDS = rounds(quick);
  const affinity = hasTaskset
    ? /: (\S+)\s*$/.exec(spawnSync("taskset", ["-cp", String(process.pid)], { encoding: "utf8" }).stdout)?.[1]
    : undefined;
  if (hasTaskset) spawnSync("taskset", ["-a", "-cp", "0", String(process.pid)], { stdio: "ignore" });
  try {
    return await runnerBenchPinned(quick, CASES, ROUNDS, log);
  } finally {
    if (affinity) spawnSync("taskset", ["-a", "-cp", affinity, String(process.pid)], { stdio: "ignore" });
  }
}

async function runnerBenchPinned(
  quick: boolean,
  CASES: ReturnType<typeof cases>,
  ROUNDS: number,
  log: (line: string) => void,
): Promise<BenchResult> {
  log(
    `runner passthrough bench${quick ? " (--quick)" : ""}: containers on ${hasTaskset ? `core ${CONTAINER_CORE} (taskset)` : "any core (no taskset)"}, ` +
      `pytrickle ${havePython ? "from the interop venv" : "MISSING (run node scripts/interop-setup.ts)"}`,
  );
  const trickle = await startTrickleServer({ port: 0 });
  const rows: {
    size: string;
    inputFps: number;
    ours: StreamResult;
    rgb: StreamResult;
    py: StreamResult | undefined;
  }[] = [];
  try {
    for (const c of CASES) {
      const [width, height] = c.size.split("x").map(Number) as [number, number];
      const input = await syntheticSegments({ width, height, fps: 60, seconds: c.seconds });
      const run = async (kind: Kind) => {
        const container = await startContainer(kind);
        try {
          const res = await measureStream(trickle, container, input, width, height, c.inputFps);
          log(
            `  ${c.size} ${kind}: ${res.fps.toFixed(1)} fps out (${res.outFrames} of ${res.inFrames} frames, ${res.outSegments} segments, last output ${res.drainS.toFixed(1)} s after the last input, ${res.fpsPerCpu.toFixed(1)} frames per CPU second)`,
          );
          return res;
        } finally {
          await container.close();
        }
      };
      const best = (a: StreamResult | undefined, b: StreamResult) => (a && a.fps >= b.fps ? a : b);
      let ours: StreamResult | undefined;
      let rgb: StreamResult | undefined;
      let py: StreamResult | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const order: Kind[] =
          round % 2 === 0
            ? ["tributary", "pytrickle", "tributary-rgb24"]
            : ["tributary-rgb24", "pytrickle", "tributary"];
        for (const kind of order) {
          if (kind === "pytrickle" && !havePython) continue;
          const res = await run(kind);
          if (kind === "tributary") ours = best(ours, res);
          else if (kind === "tributary-rgb24") rgb = best(rgb, res);
          else py = best(py, res);
        }
      }
      rows.push({
        size: c.size,
        inputFps: c.inputFps,
        ours: ours as StreamResult,
        rgb: rgb as StreamResult,
        py,
      });
    }
  } finally {
    await trickle.close();
  }

  const out: string[] = [];
  out.push(
    `passthrough, one core per container, output frames per second (best of ${ROUNDS}); ours with yuv420p frames (no colour conversion) and with rgb24 frames, pytrickle with RGB float32 tensors:\n`,
  );
  out.push(
    "| size | input fps | tributary yuv420p fps | tributary rgb24 fps | pytrickle 0.1.6 fps | ratio yuv420p | ratio rgb24 | frames per CPU second (yuv420p / rgb24 / pytrickle) | CPU ratio (yuv420p / rgb24) | frames out of input (yuv420p / rgb24 / pytrickle) | drain after input ends (yuv420p / rgb24 / pytrickle) |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    out.push(
      `| ${r.size} | ${r.inputFps} | ${r.ours.fps.toFixed(1)} | ${r.rgb.fps.toFixed(1)} | ${r.py ? r.py.fps.toFixed(1) : "n/a"} | ` +
        `${r.py ? ratio(r.ours.fps, r.py.fps) : "n/a"} | ${r.py ? ratio(r.rgb.fps, r.py.fps) : "n/a"} | ` +
        `${r.ours.fpsPerCpu.toFixed(1)} / ${r.rgb.fpsPerCpu.toFixed(1)} / ${r.py ? r.py.fpsPerCpu.toFixed(1) : "n/a"} | ` +
        `${r.py ? `${ratio(r.ours.fpsPerCpu, r.py.fpsPerCpu)} / ${ratio(r.rgb.fpsPerCpu, r.py.fpsPerCpu)}` : "n/a"} | ` +
        `${r.ours.outFrames} / ${r.rgb.outFrames} / ${r.py?.outFrames ?? "n/a"} of ${r.ours.inFrames} | ` +
        `${r.ours.drainS.toFixed(1)} s / ${r.rgb.drainS.toFixed(1)} s / ${r.py ? `${r.py.drainS.toFixed(1)} s` : "n/a"} |`,
    );
  }

  out.push(
    "\nour SDK per frame, one core, in process (decode + crop/convert + queues + encode vs the handler; CPU includes FFmpeg threads):\n",
  );
  const sdk: OverheadResult[] = [];
  out.push(
    "| size | handler | pixel format | ms/frame total | ms/frame handler | ms/frame SDK | SDK share | CPU ms per decoded frame |",
  );
  out.push("|---|---|---|---|---|---|---|---|");
  const splits = [
    ["passthrough", "yuv420p"],
    ["passthrough", "rgb24"],
    ["tint", "rgb24"],
  ] as const;
  for (const c of CASES) {
    for (const [handler, format] of splits) {
      const o = overhead(c.size, quick ? 6 : 12, handler, format);
      if (handler === "passthrough" && format === "yuv420p") sdk.push(o);
      out.push(
        `| ${o.size} | ${handler} | ${format} | ${o.perFrameMs.toFixed(2)} | ${o.handlerPerFrameMs.toFixed(3)} | ${o.sdkPerFrameMs.toFixed(2)} | ${((o.sdkPerFrameMs / o.perFrameMs) * 100).toFixed(0)}% | ${(o.cpuMs / Math.max(1, o.decoded)).toFixed(2)} |`,
      );
    }
  }
  const baseline = (r: (typeof rows)[number]) =>
    r.py ? `pytrickle 0.1.6 ${fmt(r.py.fps, 1)}` : "pytrickle missing (run node scripts/interop-setup.ts)";
  const goalRows: BenchRow[] = rows.flatMap((r) => [
    {
      component: "runner",
      measure: `passthrough fps at ${r.size}, one core; ours yuv420p frames, pytrickle RGB tensors (higher is better)`,
      ours: fmt(r.ours.fps, 1),
      baseline: baseline(r),
      ratio: r.py ? ratio(r.ours.fps, r.py.fps) : "n/a",
      goal: "≥ 2× pytrickle",
      met: r.py ? met(r.ours.fps >= 2 * r.py.fps) : "skipped: no pytrickle venv",
    },
    {
      component: "runner",
      measure: `passthrough fps at ${r.size}, one core; ours rgb24 frames too (higher is better)`,
      ours: fmt(r.rgb.fps, 1),
      baseline: baseline(r),
      ratio: r.py ? ratio(r.rgb.fps, r.py.fps) : "n/a",
      goal: "",
      met: "",
    },
    {
      component: "runner",
      measure: `passthrough frames per CPU second at ${r.size} (container CPU, all threads; ours yuv420p; higher is better)`,
      ours: fmt(r.ours.fpsPerCpu, 1),
      baseline: r.py ? `pytrickle 0.1.6 ${fmt(r.py.fpsPerCpu, 1)}` : "pytrickle missing",
      ratio: r.py ? ratio(r.ours.fpsPerCpu, r.py.fpsPerCpu) : "n/a",
      goal: "",
      met: "",
    },
  ]);
  for (const o of sdk)
    goalRows.push({
      component: "runner",
      measure: `SDK time per frame at ${o.size}, passthrough yuv420p, one core (ms, lower is better)`,
      ours: fmt(o.sdkPerFrameMs, 2),
      baseline: "",
      ratio: "",
      goal: "",
      met: "",
    });
  return { rows: goalRows, detail: out.join("\n") };
}

if (import.meta.main) console.log((await runnerBench({ quick: process.argv.includes("--quick") })).detail);
