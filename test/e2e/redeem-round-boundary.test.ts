/**
 * Winning tickets at a round boundary on an automine devnet (a block only when a transaction comes).
 * At the last block of a round, the latest block's round is initialized, yet every transaction lands
 * in the next block: the first block of a round nobody has initialized. The redeemer's gas estimate
 * reverts "current round is not initialized" and it waits; the round initializer must then initialize
 * the round the next transaction lands in, or nothing ever moves and the winners stay unredeemed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEther } from "viem";
import {
  createSignedTicket,
  fundSender,
  initializeCurrentRound,
  mineBlocks,
  roundsManagerAbi,
  startRoundInitializer,
} from "../../src/chain/index.ts";
import { Redeemer, type RedeemOutcome } from "../../src/payments/redeemer.ts";
import { openStore } from "../../src/payments/store/store.ts";
import { type DevnetFixture, devnetFixture } from "../devnet.ts";

const FACE = parseEther("0.001");

async function setUp(roundLength: number, winners: number) {
  const net = await devnetFixture({ roundLength });
  const { devnet } = net;
  const o = net.clients("orchestrator");
  await fundSender(net.clients("gateway"), devnet.contracts.ticketBroker, {
    deposit: FACE * BigInt(winners * 2),
    reserve: parseEther("1"),
  });
  const store = net.use(openStore({ dataDir: net.dir }));
  const read = (functionName: "currentRound" | "currentRoundStartBlock" | "currentRoundInitialized") =>
    o.publicClient.readContract({
      address: devnet.contracts.roundsManager,
      abi: roundsManagerAbi,
      functionName,
    });
  let nonce = 0;
  const ticket = () =>
    createSignedTicket({
      clients: o,
      roundsManager: devnet.contracts.roundsManager,
      senderKey: devnet.accounts.gateway.privateKey,
      recipient: devnet.accounts.orchestrator.address,
      faceValue: FACE,
      senderNonce: ++nonce,
    });
  return { net, store, read, ticket, o };
}

/** Mines to the last block of the current round (the latest block's round stays initialized). */
async function toLastBlockOfRound(
  net: DevnetFixture,
  read: (f: "currentRoundStartBlock") => Promise<unknown>,
) {
  const o = net.clients("orchestrator");
  const start = (await read("currentRoundStartBlock")) as bigint;
  const block = await o.publicClient.getBlockNumber({ cacheTime: 0 });
  const last = start + BigInt(net.devnet.roundLength) - 1n;
  if (last > block) await mineBlocks(net.devnet.rpcUrl, Number(last - block));
  assert.equal(await o.publicClient.getBlockNumber({ cacheTime: 0 }), last);
}

test("at the last block of a round, initializeCurrentRound initializes the round the next transaction lands in", async () => {
  const WINNERS = 10;
  const { net, store, read, ticket } = await setUp(20, WINNERS);
  await using _ = net;
  await initializeCurrentRound(net.clients("deployer"), net.devnet.contracts.roundsManager);
  await toLastBlockOfRound(net, read);
  const round = (await read("currentRound")) as bigint;
  assert.equal(await read("currentRoundInitialized"), true, "the latest block's round is initialized");
  const redeemer = new Redeemer({ store, chain: net.redeemerChain(), pollIntervalMs: 0, backoffBaseMs: 0 });
  for (let i = 0; i < WINNERS; i++) redeemer.enqueue(await ticket());

  const waiting = await redeemer.runOnce();
  assert.equal(waiting.length, WINNERS);
  for (const r of waiting)
    assert.deepEqual(r, { id: r.id, outcome: "waiting", reason: "current round is not initialized" });

  // Before the fix this read the latest block, found its round initialized and sent nothing.
  assert.equal(
    await initializeCurrentRound(net.clients("deployer"), net.devnet.contracts.roundsManager),
    round + 1n,
  );
  let last: RedeemOutcome[] = [];
  for (let i = 0; i < 5 && store.countWinningTickets().pending > 0; i++) last = await redeemer.runOnce();
  const counts = store.countWinningTickets();
  assert.deepEqual(counts, { pending: 0, submitted: 0, redeemed: WINNERS, failed: 0 }, JSON.stringify(last));
});

test("with the devnet's round initializer, a running redeemer redeems every winner across several round boundaries", async () => {
  const WINNERS = 24;
  const BATCH = 4;
  const { net, store, read, ticket, o } = await setUp(6, WINNERS);
  await using _ = net;
  const rounds = new AbortController();
  net.defer(() => rounds.abort());
  const errors: unknown[] = [];
  startRoundInitializer({
    clients: net.clients("deployer"),
    roundsManager: net.devnet.contracts.roundsManager,
    signal: rounds.signal,
    onEvent: (e) => {
      if (e.error !== undefined) errors.push(e.error);
    },
  });
  const redeemer = net.use(
    new Redeemer({ store, chain: net.redeemerChain(), pollIntervalMs: 50, backoffBaseMs: 50 }),
  );
  redeemer.start();
  const first = (await read("currentRound")) as bigint;
  // Winners arrive in batches as a live orchestrator's do; each batch is redeemed before the next,
  // so no ticket outlives its validity period while the chain moves on.
  for (let sent = 0; sent < WINNERS; sent += BATCH) {
    for (let i = 0; i < BATCH; i++) redeemer.enqueue(await ticket());
    const deadline = Date.now() + 15_000;
    while (store.countWinningTickets().redeemed < sent + BATCH) {
      const c = store.countWinningTickets();
      const stuck = store.listWinningTickets({ status: ["pending"], limit: 1 })[0];
      assert.ok(
        Date.now() < deadline,
        `batch at ${sent}: ${JSON.stringify(c)} at block ${await o.publicClient.getBlockNumber({ cacheTime: 0 })}, last error ${stuck?.lastError}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const counts = store.countWinningTickets();
  assert.deepEqual(counts, { pending: 0, submitted: 0, redeemed: WINNERS, failed: 0 });
  const crossed = ((await read("currentRound")) as bigint) - first;
  assert.ok(crossed >= 3n, `the redemptions crossed ${crossed} round boundaries`);
  assert.deepEqual(errors, []);
});
