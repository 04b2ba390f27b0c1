/**
 * The soak test's network in its own process (`fork`ed by test/soak/run.ts): {@link startDevNetwork}
 * on free ports — devnet (anvil + contracts, the gateway pays the orchestrator with tickets) unless
 * `--offchain` — speaking the IPC protocol of ./ipc.ts. A start failure is sent as
 * `{ type: "error", message }` and exits with code 1.
 *
 *   node test/soak/network.ts [--offchain]   (meant to be forked; stdout is not used)
 */
import { type DevNetwork, startDevNetwork } from "../../src/dev/network.ts";
import { answerParent, sendToParent as send } from "./ipc.ts";

let network: DevNetwork | undefined;
let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await network?.stop();
  } finally {
    process.exit(code);
  }
}

answerParent("test/soak/network.ts must be forked with an IPC channel", stop);

try {
  network = await startDevNetwork({
    offchain: process.argv.includes("--offchain"),
    orchestratorPort: 0,
    gatewayPort: 0,
    chainPort: 0,
    readyTimeoutMs: 60_000,
  });
  void network.failed.then((err) => {
    send({ type: "error", message: `network failed: ${err.message}` });
    void stop(1);
  });
  send({ type: "ready", summary: network.summary });
} catch (err) {
  send({ type: "error", message: (err as Error).stack ?? String(err) });
  await stop(1);
}
