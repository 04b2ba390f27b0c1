/**
 * The runner of the runner-proxy benchmark, in its own process: examples/runner-sse (our live runner
 * SDK; `POST /generate` streams a prompt's words as SSE events) plus `POST /echo` (the JSON body
 * back, for plain HTTP) and a WebSocket echo (the SDK's `upgrade` hook). With an orchestrator URL it
 * registers there by heartbeats (dynamic registration, the orchestrator secret `bench`).
 *
 * Prints one line `READY {"url": runner url, "runnerId": id}` once registered, and stops (unregistering)
 * when stdin closes or on SIGTERM.
 *
 *   node bench/runner-proxy/runner.ts https://127.0.0.1:PORT
 */

import { app as sse } from "../../examples/runner-sse/runner.ts";
import { defineRunnerApp, startLiveRunner } from "../../src/runner/index.ts";
import { acceptWebSocket } from "../../test/conformance/live-runner-kit.ts";

const orchUrl = process.argv[2];
if (!orchUrl) {
  process.stderr.write("usage: node bench/runner-proxy/runner.ts <orchestrator url>\n");
  process.exit(2);
}

const app = defineRunnerApp({
  ...sse,
  app: "bench/runner-proxy",
  capacity: 8,
  routes: { ...sse.routes, "POST /echo": async (call) => call.json() },
  upgrade: (req, socket) => acceptWebSocket(req, socket, (text) => text),
});

const runner = await startLiveRunner(app, {
  port: 0,
  orchUrl,
  orchSecret: "bench",
  heartbeat: { verifyTls: false },
});
let stopping = false;
const stop = async (): Promise<never> => {
  if (!stopping) {
    stopping = true;
    await runner.close().catch(() => {});
  }
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.stdin.resume();
process.stdin.on("end", () => void stop());
if (!(await runner.heartbeats?.registered)) {
  process.stderr.write("bench/runner-proxy/runner.ts: not registered with the orchestrator\n");
  process.exit(1);
}
process.stdout.write(`READY ${JSON.stringify({ url: runner.url, runnerId: runner.heartbeats?.runnerId })}\n`);
