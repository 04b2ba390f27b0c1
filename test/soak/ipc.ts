/**
 * The IPC protocol between a parent (test/soak/lib.ts) and a forked process running nodes
 * (test/soak/network.ts, bench/memory/nodes.ts):
 *
 * - the child sends `{ type: "ready", summary }` once its nodes serve, or `{ type: "error", message }`;
 * - a `{ type: "sample", id }` message is answered with `{ type: "sample", id, memory }`
 *   (`process.memoryUsage()`, after a `gc` when run with `--expose-gc` and asked `{ gc: true }`);
 * - a `{ type: "stop" }` message, SIGTERM or the loss of the IPC channel (the parent died) stops it.
 */
import type { DevNetworkSummary } from "../../src/dev/network.ts";

/** Messages the nodes process sends to its parent. */
export type NetworkMessage =
  | { type: "ready"; summary: Pick<DevNetworkSummary, "gateway" | "childPids" | "readyMs"> }
  | { type: "sample"; id: number; memory: NodeJS.MemoryUsage }
  | { type: "error"; message: string };

/** Messages the parent sends to the nodes process. */
export type NetworkCommand = { type: "sample"; id: number; gc?: boolean } | { type: "stop" };

/** Sends `m` to the parent (nothing when there is no IPC channel). */
export function sendToParent(m: NetworkMessage): void {
  process.send?.(m);
}

/**
 * The child's side: answers `sample`, and calls `stop(0)` on `stop`, SIGTERM or disconnect. Exits
 * with code 2 and a usage line when the process was not forked with an IPC channel.
 */
export function answerParent(usage: string, stop: (code: number) => Promise<void>): void {
  if (process.send === undefined) {
    process.stderr.write(`${usage}\n`);
    process.exit(2);
  }
  process.on("SIGTERM", () => void stop(0));
  process.on("disconnect", () => void stop(0));
  process.on("message", (raw) => {
    const m = raw as NetworkCommand;
    if (m.type === "stop") void stop(0);
    else if (m.type === "sample") {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (m.gc && gc) gc();
      sendToParent({ type: "sample", id: m.id, memory: process.memoryUsage() });
    }
  });
}
