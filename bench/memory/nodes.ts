/**
 * The memory benchmark's nodes in one process, offchain: `N` green-tint containers (the runner SDK
 * over examples/green-tint, one live stream each), an orchestrator offering them as
 * `live-video-to-video/green-tint` (one aiModels entry per container) and a gateway in front. Forked
 * by bench/memory/run.ts; speaks the IPC protocol of test/soak/ipc.ts (`ready`, `sample`, `stop`).
 *
 *   node --expose-gc bench/memory/nodes.ts N   (meant to be forked)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { answerParent, sendToParent as send } from "../../test/soak/ipc.ts";

const n = Number(process.argv[2] ?? "5");
const USAGE = "usage: fork bench/memory/nodes.ts N (N ≥ 1) with an IPC channel";
if (!Number.isInteger(n) || n < 1) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const stops: (() => Promise<void>)[] = [];
const dir = mkdtempSync(join(tmpdir(), "bench-mem-"));
let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const s of stops.reverse()) await s().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
answerParent(USAGE, stop);

try {
  const t0 = performance.now();
  const runners: RunningRunner[] = [];
  stops.push(async () => {
    await Promise.all(runners.map((r) => r.close()));
  });
  for (let i = 0; i < n; i++) {
    const r = await startRunner(greenTint, {
      host: "127.0.0.1",
      port: 0,
      pipelineName: "live-video-to-video",
      modelId: "green-tint",
    });
    runners.push(r);
    await r.loaded;
  }
  const orch = await startOrchestrator({
    host: "127.0.0.1",
    port: 0,
    models: parseAiModels(
      JSON.stringify(
        runners.map((r) => ({
          pipeline: "live-video-to-video",
          model_id: "green-tint",
          url: r.url,
          warm: true,
        })),
      ),
      "bench/memory",
    ),
    orchSecret: "bench",
    dataDir: join(dir, "orchestrator"),
    reload: { sighup: false },
  });
  stops.push(() => orch.close());
  const end = Date.now() + 60_000;
  while (runners.some((r) => orch.registry.container(r.url)?.health !== "ready")) {
    if (Date.now() > end) throw new Error("the green-tint containers never became ready");
    await orch.health.checkAll();
    await new Promise((r) => setTimeout(r, 100));
  }
  const abort = new AbortController();
  const gw = await startGateway({
    host: "127.0.0.1",
    port: 0,
    discovery: { orchAddr: [orch.url] },
    signal: abort.signal,
  });
  stops.push(() => gw.close());
  if ((await gw.pool.current(abort.signal)).length === 0)
    throw new Error("the gateway cannot use the orchestrator");
  send({
    type: "ready",
    summary: {
      gateway: { url: gw.url, dashboard: `${gw.url}/dashboard` },
      childPids: [],
      readyMs: performance.now() - t0,
    },
  });
} catch (err) {
  send({ type: "error", message: (err as Error).stack ?? String(err) });
  await stop(1);
}
