/**
 * A container-suite target that runs the suite's reference pipelines on a real pytrickle `StreamServer`
 * (a small Python program written to a temporary folder). For the interop run (`test/interop/**`, after
 * `scripts/interop-setup.ts` installed pytrickle into its virtualenv):
 *
 * ```ts
 * containerSuite(pytrickleTarget({ python: "<cache>/venv/bin/python" }));
 * ```
 *
 * Measured against pytrickle 0.1.6 (PyPI): all cases pass with {@link PYTRICKLE_0_1_6_QUIRKS}, in about
 * 40 s (each container imports torch at start-up).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ContainerQuirks, type ContainerTarget, PYTRICKLE_0_1_6_QUIRKS } from "./container-suite.ts";

/** The reference pipelines as a pytrickle program: `python ref.py <port> ready|loading|fail`. */
export const PYTRICKLE_REFERENCE_PROGRAM = `
import asyncio, sys
from aiohttp import web
from pytrickle import StreamServer, FrameProcessor

port = int(sys.argv[1])
mode = sys.argv[2]
release = asyncio.Event()

class Reference(FrameProcessor):
    async def load_model(self, **kwargs):
        if mode == "loading":
            await release.wait()
        if mode == "fail":
            raise RuntimeError("no weights")

    async def process_video_async(self, frame):
        return frame

    async def process_audio_async(self, frame):
        return [frame]

    async def update_params(self, params):
        if params.get("reject") is True:
            raise ValueError("rejected by the reference pipeline")

async def release_load(request):
    release.set()
    return web.json_response({})

async def main():
    server = StreamServer(frame_processor=Reference(), port=port, host="127.0.0.1",
                          custom_routes=[{"method": "POST", "path": "/_release", "handler": release_load}])
    await server.run_forever()

asyncio.run(main())
`;

/** Options of {@link pytrickleTarget}. */
export interface PytrickleTargetOptions {
  /** A Python with pytrickle installed. */
  python: string;
  /** Suite name; default "pytrickle". */
  name?: string;
  /** Default {@link PYTRICKLE_0_1_6_QUIRKS}. */
  quirks?: ContainerQuirks;
  /** How long a container may take to answer /health; default 60 s (torch import). */
  startTimeoutMs?: number;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A {@link ContainerTarget} backed by pytrickle. */
export function pytrickleTarget(options: PytrickleTargetOptions): ContainerTarget {
  const timeout = options.startTimeoutMs ?? 60_000;
  const start = async (mode: "ready" | "loading" | "fail") => {
    const dir = mkdtempSync(join(tmpdir(), "tributary-pytrickle-"));
    const program = join(dir, "reference.py");
    writeFileSync(program, PYTRICKLE_REFERENCE_PROGRAM);
    const port = await freePort();
    const child: ChildProcess = spawn(options.python, [program, String(port), mode], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const url = `http://127.0.0.1:${port}`;
    const close = async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + timeout;
    for (;;) {
      if (child.exitCode !== null) {
        await close();
        throw new Error(`pytrickle exited early:\n${stderr}`);
      }
      try {
        const r = await fetch(`${url}/health`);
        const body = (await r.json()) as { status?: string };
        if (mode !== "ready" || body.status === "IDLE") break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await close();
        throw new Error(`pytrickle did not become ready in ${timeout} ms:\n${stderr}`);
      }
      await sleep(100);
    }
    return { url, close };
  };
  return {
    name: options.name ?? "pytrickle",
    startLive: () => start("ready"),
    async startLoading() {
      const c = await start("loading");
      return {
        ...c,
        release: () => {
          void fetch(`${c.url}/_release`, { method: "POST" }).catch(() => {});
        },
      };
    },
    startFailingLoad: () => start("fail"),
    quirks: options.quirks ?? PYTRICKLE_0_1_6_QUIRKS,
    features: { bodyLimitBytes: 1024 * 1024 }, // aiohttp's default client_max_size
  };
}
