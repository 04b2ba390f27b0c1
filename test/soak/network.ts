/**
 * The soak test's network in its own process (`fork`ed by test/soak/run.ts, also usable by the memory
 * benchmark): {@link startDevNetwork} on free ports — devnet (anvil + contracts, the gateway pays the
 * orchestrator with tickets) unless `--offchain` — then IPC:
 *
 * - on ready it sends `{ type: "ready", summary }` (the {@link DevNetworkSummary});
 * - a `{ type: "sample", id }` message is answered with `{ type: "sample", id, memory }`
 *   (`process.memoryUsage()`, after an optional `gc` when run with `--expose-gc` and `{ gc: true }`);
 * - a `{ type: "stop" }` message, SIGTERM or the loss of the IPC channel (the parent died) stops the
 *   network and exits.
 *
 * A start failure is sent as `{ type: "error", message }` and exits with code 1.
 *
 *   node test/soak/network.ts [--offchain]   (meant to be forked; stdout is not used)
 */
import { type DevNetwork, type DevNetworkSummary, startDevNetwork } from "../../src/dev/network.ts";

/** Messages the network process sends to its parent. */
export type NetworkMessage =
  | { type: "ready"; summary: Pick<DevNetworkSummary, "gateway" | "childPids" | "readyMs"> }
  | { type: "sample"; id: number; memory: NodeJS.MemoryUsage }
  | { type: "error"; message: string };

/** Messages the parent sends to the network process. */
export type NetworkCommand = { type: "sample"; id: number; gc?: boolean } | { type: "stop" };

if (process.send === undefined) {
  process.stderr.write("test/soak/network.ts must be forked with an IPC channel\n");
  process.exit(2);
}
const send = (m: NetworkMessage) => process.send?.(m);

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

process.on("SIGTERM", () => void stop(0));
process.on("disconnect", () => void stop(0));
process.on("message", (raw) => {
  const m = raw as NetworkCommand;
  if (m.type === "stop") void stop(0);
  else if (m.type === "sample") {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (m.gc && gc) gc();
    send({ type: "sample", id: m.id, memory: process.memoryUsage() });
  }
});

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
