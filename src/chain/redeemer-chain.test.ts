import assert from "node:assert/strict";
import { test } from "node:test";
import { RedeemNetworkError } from "../payments/redeemer.ts";
import { createChainClients } from "./clients.ts";
import { ANVIL_DEV_KEYS, DEVNET_DEFAULT_ADDRESSES } from "./devnet.ts";
import { createRedeemerChain } from "./redeemer-chain.ts";

test("an unreachable RPC surfaces as a retryable RedeemNetworkError", async () => {
  const clients = createChainClients({
    rpcUrl: "http://127.0.0.1:1",
    chainId: 31337,
    privateKey: ANVIL_DEV_KEYS[2],
    retryCount: 0,
  });
  const chain = createRedeemerChain({
    clients,
    ticketBroker: DEVNET_DEFAULT_ADDRESSES.ticketBroker,
    roundsManager: DEVNET_DEFAULT_ADDRESSES.roundsManager,
    bondingManager: DEVNET_DEFAULT_ADDRESSES.bondingManager,
  });
  await assert.rejects(chain.blockNumber(), RedeemNetworkError);
  await assert.rejects(chain.isUsedTicket(`0x${"00".repeat(32)}`), RedeemNetworkError);
});
