/**
 * The servers the trickle benchmark (run.ts) drives, each in its own process: our trickle server,
 * go-livepeer's (through test/interop/peers.ts, when built), and the Node pipe floor
 * (pipe-server.ts); and the resident memory of one of them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** A running benchmark server. */
export interface Target {
  name: string;
  /** Base URL ending with "/". */
  url: string;
  /** True for the pipe floor: a GET must be registered before the POST starts; nothing is stored. */
  pipe: boolean;
  pid: number | undefined;
  close(): Promise<void>;
}

function waitForUrl(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const hard = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(hard);
}

async function startNodeChild(name: string, args: string[], pipe: boolean): Promise<Target> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await waitForUrl(child, name);
  return { name, url, pipe, pid: child.pid, close: () => stopChild(child) };
}

/**
 * Our server from this checkout, or with `root` from another checkout of this repository (the
 * benchmark's "before" target: `BENCH_TRICKLE_BEFORE=<checkout>`), named `name`.
 */
export function startTributary(root?: string, name = "tributary"): Promise<Target> {
  const main =
    root === undefined
      ? fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url))
      : join(root, "src", "cli", "main.ts");
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return startNodeChild(name, [...nodeArgs, main, "trickle", "--port", "0", "--log-level", "silent"], false);
}

export function startPipe(): Promise<Target> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return startNodeChild(
    "node pipe (floor)",
    [...nodeArgs, fileURLToPath(new URL("./pipe-server.ts", import.meta.url))],
    true,
  );
}

/** The pids of this process's children whose command name is `comm`. */
function childPids(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      if (m && m[1] === comm && Number(m[2]) === process.pid) pids.push(Number(entry));
    } catch {
      // the process is gone
    }
  }
  return pids;
}

export async function startGo(): Promise<Target | string> {
  let peers: typeof import("../../test/interop/peers.ts");
  try {
    peers = await import("../../test/interop/peers.ts");
  } catch (err) {
    return `test/interop/peers.ts cannot be loaded (${(err as Error).message})`;
  }
  try {
    const before = new Set(childPids("go-trickle"));
    const go = await peers.startGoTrickleServer({ autocreate: true });
    const pid = childPids("go-trickle").find((p) => !before.has(p));
    return { name: "go-livepeer", url: go.url, pipe: false, pid, close: () => go.close() };
  } catch (err) {
    // The setup script only builds go-trickle where the Go module proxy serves go-livepeer; elsewhere
    // it is built by hand (docs/benchmarks.md, "Baselines").
    return `go-livepeer's trickle server did not start: ${(err as Error).message.split("\n")[0]} (where the Go module proxy refuses go-livepeer, build go-trickle by hand: docs/benchmarks.md, "Baselines")`;
  }
}

/** Resident memory of process `pid` (from /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : Number.NaN;
}
