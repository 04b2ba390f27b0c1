/**
 * Launches a local anvil chain (npm `@foundry-rs/anvil`) for the devnet and the e2e tests.
 *
 * The process is bound to 127.0.0.1 (or the given host) on the given port, or on an ephemeral port when
 * none is given. {@link startAnvil} resolves once the JSON-RPC endpoint answers `eth_chainId`. The
 * process dies with its owner: on `stop()`, on `[Symbol.asyncDispose]`, when the `signal` aborts, when
 * the owning Node process exits, and even when the owner is SIGKILLed (anvil runs under a tiny `sh`
 * watchdog that kills it once the owner's end of its stdin pipe closes).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TributaryError } from "../node/errors.ts";

/** The devnet's JSON-RPC port when the CLI is not told another: anvil's own default (8545). */
export const DEFAULT_CHAIN_PORT = 8545;

/** Options of {@link startAnvil}. */
export interface AnvilOptions {
  /** TCP port; 0 or undefined picks an ephemeral port. */
  port?: number;
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Chain id; default 31337 (anvil's default). */
  chainId?: number;
  /**
   * Seconds between blocks mined on a timer, in addition to one block per transaction (anvil
   * `--mixed-mining`); default: only one block per transaction.
   */
  blockTime?: number;
  /** Abort to stop the chain. */
  signal?: AbortSignal;
  /** How long to wait for the RPC to answer; default 20 s. */
  startTimeoutMs?: number;
  /** Path of the anvil binary; default `node_modules/.bin/anvil` of this repository. */
  binary?: string;
  /** Extra command-line arguments passed to anvil verbatim. */
  extraArgs?: string[];
}

/** A running anvil chain. */
export interface Anvil extends AsyncDisposable {
  /** `http://host:port`. */
  readonly rpcUrl: string;
  readonly host: string;
  readonly port: number;
  readonly chainId: number;
  /** PID of the anvil process itself (not of its watchdog shell). */
  readonly pid: number | undefined;
  /** Stops anvil (SIGTERM, then SIGKILL after 2 s) and resolves when it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** anvil failed to start or answer. */
export class AnvilStartError extends TributaryError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super("ANVIL_START_FAILED", message, options);
  }
}

/**
 * Path of the anvil binary installed by npm in this repository: the platform package's executable
 * itself (`@foundry-rs/anvil-<os>-<arch>/bin/anvil`), not the `node_modules/.bin/anvil` Node launcher,
 * whose pid is not anvil's (killing the launcher would orphan anvil). The launcher is the fallback.
 */
export function defaultAnvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  try {
    const pkg = createRequire(import.meta.url).resolve(
      `@foundry-rs/anvil-${process.platform}-${arch}/package.json`,
    );
    const bin = join(dirname(pkg), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
    if (existsSync(bin)) return bin;
  } catch {
    // no platform package: use the launcher
  }
  return fileURLToPath(new URL("../../node_modules/.bin/anvil", import.meta.url));
}

// The watchdog: anvil runs in the background with stdin from /dev/null; `cat` reads the owner's pipe on
// fd 3 and returns on EOF (owner gone or stop requested), then anvil is killed. If anvil exits first,
// the shell exits with its status.
const WATCHDOG = [
  "exec 3<&0",
  '"$@" </dev/null &',
  "a=$!",
  "trap 'kill -TERM $a 2>/dev/null; wait $a; kill $w 2>/dev/null; exit 143' TERM INT",
  "{ cat <&3 >/dev/null; kill -TERM $a 2>/dev/null; } &",
  "w=$!",
  'echo "anvil-pid $a"',
  "wait $a",
  "s=$?",
  "kill $w 2>/dev/null",
  "exit $s",
].join("\n");

/** Starts anvil and resolves once its RPC answers. Throws {@link AnvilStartError} otherwise. */
export async function startAnvil(options: AnvilOptions = {}): Promise<Anvil> {
  const host = options.host ?? "127.0.0.1";
  const chainId = options.chainId ?? 31337;
  const binary = options.binary ?? defaultAnvilBinary();
  if (!existsSync(binary)) {
    throw new AnvilStartError(
      `anvil binary not found at ${binary}; run npm install (package @foundry-rs/anvil)`,
    );
  }
  options.signal?.throwIfAborted();
  const args = ["--host", host, "--port", String(options.port ?? 0), "--chain-id", String(chainId)];
  if (options.blockTime !== undefined) args.push("--block-time", String(options.blockTime), "--mixed-mining");
  args.push(...(options.extraArgs ?? []));

  const child = spawn("/bin/sh", ["-c", WATCHDOG, "sh", binary, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  let anvilPid: number | undefined;
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });
  const onProcessExit = () => child.kill("SIGKILL");
  process.once("exit", onProcessExit);

  const listening = new Promise<{ host: string; port: number }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      // Keep only a bounded tail for error messages; anvil logs every transaction.
      output = (output + chunk.toString("utf8")).slice(-8192);
      const pidMatch = /anvil-pid (\d+)/.exec(output);
      if (pidMatch && anvilPid === undefined) anvilPid = Number(pidMatch[1]);
      const m = /Listening on ([^\s:]+|\[[^\]]+\]):(\d+)/.exec(output);
      if (m) resolve({ host: m[1]!, port: Number(m[2]) });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) =>
      reject(
        new AnvilStartError(`anvil exited before listening (code ${code}, signal ${signal})`, {
          details: { output: output.slice(-2000) },
        }),
      ),
    );
    child.once("error", (err) =>
      reject(new AnvilStartError(`cannot spawn anvil: ${err.message}`, { cause: err })),
    );
  });

  listening.catch(() => {}); // observed below; never an unhandled rejection if anvil dies late
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      if (!exited) {
        // Closing the pipe makes the watchdog kill anvil and wait for it; signals are the fallback.
        child.stdin!.end();
        const term = setTimeout(() => child.kill("SIGTERM"), 3000);
        const kill = setTimeout(() => {
          if (anvilPid !== undefined) {
            try {
              process.kill(anvilPid, "SIGKILL");
            } catch {}
          }
          child.kill("SIGKILL");
        }, 5000);
        await exitPromise;
        clearTimeout(term);
        clearTimeout(kill);
      }
      process.removeListener("exit", onProcessExit);
      child.stdout!.destroy();
      child.stderr!.destroy();
    })();
    return stopping;
  };
  const onAbort = () => void stop();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    const timeoutMs = options.startTimeoutMs ?? 20_000;
    const addr = await withTimeout(listening, timeoutMs, "anvil did not start listening");
    const rpcUrl = `http://${addr.host}:${addr.port}`;
    await waitForRpc(rpcUrl, timeoutMs, options.signal);
    options.signal?.throwIfAborted();
    return {
      rpcUrl,
      host: addr.host,
      port: addr.port,
      chainId,
      get pid() {
        return anvilPid;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await stop();
    if (err instanceof AnvilStartError) throw err;
    throw new AnvilStartError(`anvil failed to start: ${(err as Error).message}`, {
      cause: err,
      details: { output: output.slice(-2000) },
    });
  }
}

/** Polls `eth_chainId` until the endpoint answers. */
async function waitForRpc(rpcUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(1000),
      });
      if (res.ok) {
        await res.json();
        return;
      }
      lastError = new Error(`HTTP ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new AnvilStartError(`anvil RPC at ${rpcUrl} did not answer within ${timeoutMs} ms`, {
    cause: lastError,
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AnvilStartError(`${message} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
