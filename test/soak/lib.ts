/**
 * Shared by the soak test and the memory-per-stream benchmark: the forked local network
 * (test/soak/network.ts), per-process samples from /proc, and one live-video stream driven through
 * the gateway (synthetic MPEG-TS published in real time, the green-tinted output read back).
 */
import { type ChildProcess, fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { DevNetworkSummary } from "../../src/dev/network.ts";
import { TricklePublisher, TrickleSubscriber } from "../../src/trickle/index.ts";
import type { NetworkCommand, NetworkMessage } from "./ipc.ts";

/** Resident set size in bytes of a process (`VmRSS` in /proc/<pid>/status), or undefined if gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Number of open file descriptors of a process (entries of /proc/<pid>/fd), or undefined if gone. */
export function fdsOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** What a network process reports when ready (the parts of a {@link DevNetworkSummary} used here). */
export type NetworkSummary = Pick<DevNetworkSummary, "gateway" | "childPids" | "readyMs">;

/** The forked network process. */
export interface NetworkProcess extends AsyncDisposable {
  readonly summary: NetworkSummary;
  readonly pid: number;
  /** The network process's `process.memoryUsage()` (after a full GC when `gc` and it has `--expose-gc`). */
  memory(gc?: boolean): Promise<NodeJS.MemoryUsage>;
  /** Resolves with a message when the process reports a failure or exits unasked. */
  readonly failed: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Forks test/soak/network.ts (devnet unless `offchain`), or `script` with `args` speaking the same IPC
 * protocol ({@link NetworkMessage}), and resolves once its network is ready. `exposeGc` starts it with
 * `--expose-gc` so {@link NetworkProcess.memory} can collect first.
 */
export async function startNetworkProcess(
  opts: { offchain?: boolean; exposeGc?: boolean; script?: string; args?: string[] } = {},
): Promise<NetworkProcess> {
  const child: ChildProcess = fork(
    opts.script ?? fileURLToPath(new URL("./network.ts", import.meta.url)),
    opts.script ? (opts.args ?? []) : opts.offchain ? ["--offchain"] : [],
    {
      execArgv: opts.exposeGc ? ["--expose-gc"] : [],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, TRIBUTARY_LOG_LEVEL: "silent" },
    },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let stopping = false;
  const pending = new Map<number, (m: NodeJS.MemoryUsage) => void>();
  let nextId = 0;
  let onFail: (msg: string) => void = () => {};
  const failed = new Promise<string>((r) => {
    onFail = r;
  });
  const ready = new Promise<NetworkSummary>((resolve, reject) => {
    child.on("message", (raw) => {
      const m = raw as NetworkMessage;
      if (m.type === "ready") resolve(m.summary);
      else if (m.type === "error") {
        reject(new Error(m.message));
        onFail(m.message);
      } else if (m.type === "sample") {
        pending.get(m.id)?.(m.memory);
        pending.delete(m.id);
      }
    });
    child.once("exit", (code, signal) => {
      const msg = `the network process exited (${code ?? signal})`;
      reject(new Error(msg));
      if (!stopping) onFail(msg);
    });
  });
  const stop = async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      const cmd: NetworkCommand = { type: "stop" };
      if (child.connected) child.send(cmd);
      else child.kill("SIGTERM");
      const hard = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(hard);
    }
  };
  let summary: NetworkSummary;
  try {
    summary = await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    summary,
    pid: child.pid as number,
    failed,
    memory: (gc = false) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, resolve);
        const cmd: NetworkCommand = { type: "sample", id, gc };
        child.send(cmd, (err) => {
          if (err) {
            pending.delete(id);
            reject(err);
          }
        });
      }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** What the gateway answers to `POST /live/video-to-video`. */
export interface LiveStart {
  stream_id: string;
  publish_url: string;
  subscribe_url: string;
  stop_url: string;
  status_url: string;
}

/** One live stream through the gateway: started, fed in real time, read back. */
export interface LiveStream {
  readonly start: LiveStart;
  /** Output segments read so far. */
  readonly outputSegments: number;
  /** Bytes of output read so far. */
  readonly outputBytes: number;
  /** Publishes `segments` one per `segmentMs` (real time); rejects on a publish failure. */
  feed(segments: readonly Uint8Array[], segmentMs: number, signal?: AbortSignal): Promise<void>;
  /** Waits (up to `timeoutMs`) until at least `n` output segments arrived; returns the count. */
  waitOutput(n: number, timeoutMs: number): Promise<number>;
  /** Stops the stream at the gateway and closes the publisher and subscriber. */
  stop(): Promise<void>;
}

/** Starts a live-video-to-video stream on green-tint through the gateway at `gatewayUrl`. */
export async function startLiveStream(
  gatewayUrl: string,
  params: Record<string, unknown> = { width: 192, height: 144, green: 80 },
): Promise<LiveStream> {
  const r = await fetch(`${gatewayUrl}/live/video-to-video`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model_id: "green-tint", params }),
  });
  if (r.status !== 200) throw new Error(`live start: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
  const start = (await r.json()) as LiveStart;
  let outputSegments = 0;
  let outputBytes = 0;
  const sub = new TrickleSubscriber(start.subscribe_url, { start: 0 });
  const reading = (async () => {
    for await (const seg of sub) {
      outputBytes += (await seg.bytes()).byteLength;
      outputSegments++;
    }
  })().catch(() => {});
  const pub = new TricklePublisher(start.publish_url, { mimeType: "video/mp2t" });
  return {
    start,
    get outputSegments() {
      return outputSegments;
    },
    get outputBytes() {
      return outputBytes;
    },
    async feed(segments, segmentMs, signal) {
      const t0 = performance.now();
      for (let i = 0; i < segments.length && !signal?.aborted; i++) {
        await pub.write(segments[i] as Uint8Array);
        const wait = t0 + (i + 1) * segmentMs - performance.now();
        if (wait > 0) await sleep(wait, undefined, signal ? { signal } : {}).catch(() => {});
      }
    },
    async waitOutput(n, timeoutMs) {
      const end = performance.now() + timeoutMs;
      while (outputSegments < n && performance.now() < end) await sleep(100);
      return outputSegments;
    },
    async stop() {
      await fetch(start.stop_url, { method: "POST" })
        .then((res) => res.arrayBuffer())
        .catch(() => {});
      await pub.close().catch(() => {});
      sub.close();
      await reading;
    },
  };
}
