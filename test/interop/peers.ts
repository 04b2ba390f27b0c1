/**
 * Typed access to the real upstream trickle peers installed by `scripts/interop-setup.ts`:
 * go-livepeer's trickle package (through our `go-trickle` program) and the Python clients of PyPI
 * `pytrickle` and `livepeer-gateway` (through the scripts in `test/interop/py/`).
 *
 * Every peer is a child process that prints one JSON object per line on stdout. The helpers here start
 * them, collect those lines, and kill them on dispose, on abort and on timeout, so that a failing test
 * leaves no process behind. A helper called before the setup script ran fails with an error saying to
 * run it; {@link peerUnavailable} gives the reason a peer could not be installed (tests skip with it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { TributaryError } from "../../src/node/errors.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/** A peer is not installed: the message says which command installs it. */
export class InteropSetupError extends TributaryError {
  constructor(message: string) {
    super("INTEROP_SETUP_MISSING", message);
  }
}

/** A peer process failed or timed out; `lines` and `stderr` hold what it printed. */
export class PeerProcessError extends TributaryError {
  constructor(message: string, details: { lines: PeerLine[]; stderr: string; code: number | null }) {
    super("INTEROP_PEER_FAILED", message, { details });
  }
}

/** The cache directory the setup script installs into (`$TRIBUTARY_CACHE`, default `~/.cache/tributary`). */
export function interopCache(): string {
  return resolve(process.env.TRIBUTARY_CACHE ?? join(homedir(), ".cache", "tributary"));
}

const SETUP_HINT = "run `node scripts/interop-setup.ts` (or `npm run test:interop`) first";

interface SetupStatus {
  python?: { ok: boolean; detail: string };
  go?: { ok: boolean; detail: string };
}

function readStatus(): SetupStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(interopCache(), "status.json"), "utf8")) as SetupStatus;
  } catch {
    return undefined;
  }
}

/**
 * Why a peer cannot run here, or undefined when it can. Throws {@link InteropSetupError} when the setup
 * script never ran (that is a mistake, not a machine limit).
 */
export function peerUnavailable(peer: "go" | "python"): string | undefined {
  const status = readStatus();
  if (!status)
    throw new InteropSetupError(`interop peers are not installed in ${interopCache()}: ${SETUP_HINT}`);
  const part = status[peer];
  if (!part) return `the setup script did not record the ${peer} peer: ${SETUP_HINT}`;
  return part.ok ? undefined : part.detail;
}

/** Path of the go-trickle binary; throws {@link InteropSetupError} if it is not built. */
export function goTricklePath(): string {
  const bin = join(interopCache(), "bin", "go-trickle");
  if (!existsSync(bin)) {
    const reason = readStatus()?.go?.detail;
    throw new InteropSetupError(
      `go-trickle is not built at ${bin}${reason ? ` (${reason.split("\n")[0]})` : ""}: ${SETUP_HINT}`,
    );
  }
  return bin;
}

/** One JSON line printed by a peer. `event` is "segment", "error", "end", "eos", "not_found", … */
export interface PeerLine {
  event: string;
  seq?: number;
  bytes?: number;
  sha256?: string;
  latest?: number;
  reason?: string;
  type?: string;
  error?: string | null;
  [key: string]: unknown;
}

/** The outcome of a finished peer process. */
export interface PeerResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: PeerLine[];
  stderr: string;
}

/** Options of a peer process. */
export interface PeerOptions {
  /** Kill the process after this long and reject `done`; default 60 s. */
  timeoutMs?: number;
  /** Kills the process when aborted. */
  signal?: AbortSignal;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** A running peer. Dispose (or `kill()`) in teardown. */
export interface PeerProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  /** JSON lines received so far. */
  readonly lines: PeerLine[];
  /** Resolves when the process exits (any exit code); rejects on timeout or spawn failure. */
  readonly done: Promise<PeerResult>;
  /** Resolves with the first line (already received or future) that matches. */
  waitFor(match: (line: PeerLine) => boolean, timeoutMs?: number): Promise<PeerLine>;
  /** Writes a line to the process's stdin. */
  send(line: string): void;
  /** SIGTERM, then SIGKILL after 2 s; resolves once the process is gone. Idempotent. */
  kill(): Promise<void>;
}

/** Starts `cmd args` as a peer that prints JSON lines (and, for a server, a `LISTENING url` line). */
export function spawnPeer(cmd: string, args: string[], options: PeerOptions = {}): PeerProcess {
  const { timeoutMs = 60_000, signal, env } = options;
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  const lines: PeerLine[] = [];
  const waiters = new Set<{ match: (l: PeerLine) => boolean; resolve: (l: PeerLine) => void }>();
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  child.stdin?.on("error", () => {});
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  rl.on("line", (text) => {
    let line: PeerLine;
    if (text.startsWith("LISTENING "))
      line = { event: "listening", url: text.slice("LISTENING ".length).trim() };
    else {
      try {
        line = JSON.parse(text) as PeerLine;
      } catch {
        line = { event: "text", text };
      }
    }
    lines.push(line);
    for (const w of waiters) {
      if (w.match(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  let exited = false;
  const exitedPromise = new Promise<void>((res) => child.once("close", () => res()));
  const kill = async (): Promise<void> => {
    if (!exited && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const hard = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exitedPromise;
      clearTimeout(hard);
    }
    await exitedPromise;
  };
  const describe = `${cmd.split("/").pop()} ${args.join(" ")}`;
  const done = new Promise<PeerResult>((res, rej) => {
    const timer = setTimeout(() => {
      void kill();
      rej(
        new PeerProcessError(`peer timed out after ${timeoutMs} ms: ${describe}`, {
          lines,
          stderr,
          code: null,
        }),
      );
    }, timeoutMs);
    const onAbort = () => void kill();
    signal?.addEventListener("abort", onAbort, { once: true });
    child.once("error", (err) => {
      clearTimeout(timer);
      rej(new PeerProcessError(`cannot start ${describe}: ${err.message}`, { lines, stderr, code: null }));
    });
    child.once("close", (code, sig) => {
      exited = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      rl.close();
      res({ code, signal: sig, lines, stderr });
    });
  });
  done.catch(() => {});
  const waitFor = (match: (line: PeerLine) => boolean, waitMs = timeoutMs): Promise<PeerLine> => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<PeerLine>((res, rej) => {
      const entry = {
        match,
        resolve: (l: PeerLine) => {
          clearTimeout(timer);
          res(l);
        },
      };
      const fail = (why: string) => {
        waiters.delete(entry);
        clearTimeout(timer);
        rej(
          new PeerProcessError(
            `${why}: ${describe}\nlines: ${JSON.stringify(lines)}\nstderr: ${stderr.slice(-2000)}`,
            {
              lines,
              stderr,
              code: child.exitCode,
            },
          ),
        );
      };
      const timer = setTimeout(() => fail(`no matching line within ${waitMs} ms`), waitMs);
      waiters.add(entry);
      void exitedPromise.then(() => {
        // Lines are delivered before 'close'; anything unmatched by now never will be.
        setImmediate(() => {
          if (waiters.has(entry)) fail("peer exited without a matching line");
        });
      });
    });
  };
  return {
    child,
    lines,
    done,
    waitFor,
    send: (line: string) => {
      child.stdin?.write(`${line}\n`);
    },
    kill,
    [Symbol.asyncDispose]: kill,
  };
}

/** Runs a peer to completion; rejects if it times out or cannot start (a non-zero exit resolves). */
export async function runPeer(cmd: string, args: string[], options: PeerOptions = {}): Promise<PeerResult> {
  const peer = spawnPeer(cmd, args, options);
  try {
    return await peer.done;
  } finally {
    await peer.kill();
  }
}

/** Runs `go-trickle <args>` to completion (see test/interop/go-trickle/main.go for the modes). */
export function runGoTrickle(args: string[], options: PeerOptions = {}): Promise<PeerResult> {
  return runPeer(goTricklePath(), args, options);
}

/** Starts `go-trickle <args>` in the background. */
export function spawnGoTrickle(args: string[], options: PeerOptions = {}): PeerProcess {
  return spawnPeer(goTricklePath(), args, options);
}

/** Options of {@link startGoTrickleServer}. */
export interface GoTrickleServerOptions {
  /** Base path; default "/". */
  basePath?: string;
  /** Channels are created by the first POST; default true. */
  autocreate?: boolean;
  /** The `_changes` channel; default false. */
  changefeed?: boolean;
  /** go-livepeer's IdleTimeout (0 or absent = its default, 5 min). */
  idleTimeoutMs?: number;
  /** go-livepeer's SweepInterval (0 or absent = its default, 1 min). */
  sweepIntervalMs?: number;
  /** Create/delete hooks that refuse channels named `deny<status>-…` (4xx: RequestError; else 500). */
  denyHooks?: boolean;
  signal?: AbortSignal;
}

/** A running go-livepeer trickle server. */
export interface GoTrickleServer extends AsyncDisposable {
  /** Base URL ending with the base path, e.g. `http://127.0.0.1:40123/`. */
  url: string;
  /** Process id of the server (for resource measurements). */
  pid: number | undefined;
  /** Pre-creates a channel (go-livepeer's local publisher `CreateChannel`, as an orchestrator does). */
  createChannel(name: string, mime?: string): Promise<void>;
  /** Closes a channel from inside the server (local publisher `Close`). */
  closeChannel(name: string): Promise<void>;
  /** Stops the server process. Idempotent. */
  close(): Promise<void>;
}

/** Starts go-livepeer's trickle server (`go-trickle server`) on 127.0.0.1 with a free port. */
export async function startGoTrickleServer(options: GoTrickleServerOptions = {}): Promise<GoTrickleServer> {
  const args = ["server", "-addr", "127.0.0.1:0", "-base", options.basePath ?? "/"];
  args.push(`-autocreate=${options.autocreate ?? true}`, `-changefeed=${options.changefeed ?? false}`);
  if (options.idleTimeoutMs) args.push("-idle-timeout", `${options.idleTimeoutMs}ms`);
  if (options.sweepIntervalMs) args.push("-sweep-interval", `${options.sweepIntervalMs}ms`);
  if (options.denyHooks) args.push("-deny-hooks");
  // The server runs until stopped; its own timeout only guards against a leaked process.
  const peer = spawnGoTrickle(args, { timeoutMs: 30 * 60_000, signal: options.signal });
  let listening: PeerLine;
  try {
    listening = await peer.waitFor((l) => l.event === "listening", 15_000);
  } catch (err) {
    await peer.kill();
    throw err;
  }
  let pending = Promise.resolve();
  const command = (verb: "create" | "close", name: string, extra = ""): Promise<void> => {
    // One command at a time so that each reply matches its request.
    pending = pending.then(async () => {
      const seen = peer.lines.length;
      peer.send(`${verb} ${name} ${extra}`.trim());
      const reply = await peer.waitFor(
        (l) => peer.lines.indexOf(l) >= seen && (l.event === `${verb}d` || l.event === "error"),
        10_000,
      );
      if (reply.event === "error" || reply.error)
        throw new PeerProcessError(`go-trickle ${verb} ${name} failed: ${reply.error}`, {
          lines: peer.lines,
          stderr: "",
          code: null,
        });
    });
    return pending;
  };
  return {
    url: String(listening.url),
    pid: peer.child.pid,
    createChannel: (name, mime = "application/octet-stream") => command("create", name, mime),
    closeChannel: (name) => command("close", name),
    close: () => peer.kill(),
    [Symbol.asyncDispose]: () => peer.kill(),
  };
}

/** How to run the Python peers: the interpreter of the setup script's virtualenv. */
export interface PythonPeer {
  /** The interpreter. */
  python: string;
  /** Runs `test/interop/py/<script> <args>` to completion. */
  run(script: PythonScript, args: string[], options?: PeerOptions): Promise<PeerResult>;
  /** Starts `test/interop/py/<script> <args>` in the background. */
  spawn(script: PythonScript, args: string[], options?: PeerOptions): PeerProcess;
}

/** The Python peer scripts under test/interop/py/. */
export type PythonScript = "pytrickle_peer.py" | "gateway_peer.py";

/** The Python peers; throws {@link InteropSetupError} if the virtualenv is missing. */
export function pythonPeer(): PythonPeer {
  const python = join(interopCache(), "venv", "bin", "python");
  if (!existsSync(python))
    throw new InteropSetupError(`no Python peer virtualenv at ${python}: ${SETUP_HINT}`);
  const argv = (script: PythonScript, args: string[]) => [join(HERE, "py", script), ...args];
  const env = { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
  return {
    python,
    run: (script, args, options = {}) =>
      runPeer(python, argv(script, args), { ...options, env: { ...env, ...options.env } }),
    spawn: (script, args, options = {}) =>
      spawnPeer(python, argv(script, args), { ...options, env: { ...env, ...options.env } }),
  };
}

/** Segment `seq` of a run as every peer generates it: byte i is (seq*31 + i) mod 256. */
export function peerPayload(seq: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const base = (seq * 31) % 256;
  for (let i = 0; i < size; i++) out[i] = (base + i) % 256;
  return out;
}

/** Hex SHA-256, as the peers print it. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The "segment" lines of a result, in order. */
export function segmentLines(lines: PeerLine[]): PeerLine[] {
  return lines.filter((l) => l.event === "segment");
}
