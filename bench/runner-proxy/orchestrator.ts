/**
 * The orchestrator of the runner-proxy benchmark, in its own process: offchain, live runners on (what
 * `--use-live-runners` turns on) with the orchestrator secret `bench` for dynamic registration, no
 * models. Prints one line `READY {"url": service url}` once listening, and stops when stdin closes or
 * on SIGTERM.
 *
 *   node bench/runner-proxy/orchestrator.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator } from "../../src/orchestrator/orchestrator.ts";

const dir = mkdtempSync(join(tmpdir(), "bench-lr-"));
const orch = await startOrchestrator({
  host: "127.0.0.1",
  port: 0,
  models: [],
  orchSecret: "bench",
  dataDir: dir,
  reload: { sighup: false },
  liveRunners: {},
});
let stopping = false;
const stop = async (): Promise<never> => {
  if (!stopping) {
    stopping = true;
    await orch.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.stdin.resume();
process.stdin.on("end", () => void stop());
process.stdout.write(`READY ${JSON.stringify({ url: orch.url })}\n`);
