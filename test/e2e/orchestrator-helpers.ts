/**
 * Helpers shared by the orchestrator and gateway e2e suites: one HTTPS request to an orchestrator
 * (trusting its self-signed certificate), and fixed in-memory chain facts for priced nodes without a
 * chain.
 */
import { request as httpsRequest } from "node:https";
import type { Hex } from "viem";
import type { RunningOrchestrator } from "../../src/orchestrator/index.ts";
import type { SenderMonitor, TimeSource } from "../../src/payments/chain-facts.ts";
import type { SenderInfo } from "../../src/payments/types.ts";

/** An orchestrator's answer, read whole. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request to `orch` on a fresh connection; resolves with the whole answer. */
export function call(
  orch: RunningOrchestrator,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${orch.url}${path}`,
      { method: init.method ?? "GET", headers: init.headers, ca: orch.cert, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** A chain that stands still: block 1000, round 10 initialized. */
export const time: TimeSource = {
  lastSeenL1Block: () => 1000n,
  lastInitializedRound: () => 10n,
  lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}` as Hex,
  preLastInitializedL1BlockHash: () => `0x${"99".repeat(32)}` as Hex,
};

/** Every sender holds 1 ETH of deposit and 1 ETH of reserve. */
export const senders: SenderMonitor = {
  senderInfo: (): SenderInfo => ({
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  }),
  maxFloat: () => 10n ** 30n,
};
