/**
 * End to end on a real EVM: anvil + our devnet contracts. A gateway funds its deposit and reserve,
 * signs always-winning tickets; the orchestrator's redeemer redeems them; balances move by the face
 * value; the reserve covers what the deposit cannot; a replayed ticket and an expired ticket are
 * refused with the TicketBroker's revert strings.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type BaseError, ContractFunctionRevertedError, parseEther } from "viem";
import {
  advanceRound,
  bondingManagerAbi,
  createSignedTicket,
  fundSender,
  initializeCurrentRound,
  mineBlocks,
  readSenderInfo,
  ticketBrokerAbi,
  toContractTicket,
} from "../../src/chain/index.ts";
import { Redeemer } from "../../src/payments/redeemer.ts";
import { openStore } from "../../src/payments/store/store.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import { devnetFixture } from "../devnet.ts";

const FACE = parseEther("0.01");

test("payments on the devnet", async (suite) => {
  await using net = await devnetFixture({ roundLength: 20 });
  const { devnet } = net;
  const o = net.clients("orchestrator");
  const store = net.use(openStore({ dataDir: net.dir }));
  const redeemer = net.use(
    new Redeemer({ store, chain: net.redeemerChain(), pollIntervalMs: 0, backoffBaseMs: 0 }),
  );
  let nonce = 0;

  const ticket = (over: { faceValue?: bigint; paramsExpirationBlock?: bigint } = {}) =>
    createSignedTicket({
      clients: o,
      roundsManager: devnet.contracts.roundsManager,
      senderKey: devnet.accounts.gateway.privateKey,
      recipient: devnet.accounts.orchestrator.address,
      faceValue: over.faceValue ?? FACE,
      senderNonce: ++nonce,
      paramsExpirationBlock: over.paramsExpirationBlock,
    });

  /** Reverts of a direct redeemWinningTicket simulation, as the contract's reason string. */
  async function revertReason(t: SignedTicket & { recipientRand: bigint }): Promise<string | undefined> {
    try {
      await o.publicClient.simulateContract({
        account: o.account,
        address: devnet.contracts.ticketBroker,
        abi: ticketBrokerAbi,
        functionName: "redeemWinningTicket",
        args: [toContractTicket(t), t.sig, t.recipientRand],
      });
      return undefined;
    } catch (err) {
      const revert = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError);
      return (revert as ContractFunctionRevertedError | null)?.reason;
    }
  }

  async function redeemAll(): Promise<void> {
    let last: unknown;
    for (let i = 0; i < 20; i++) {
      const counts = store.countWinningTickets();
      if (counts.pending === 0 && counts.submitted === 0) return;
      last = await redeemer.runOnce();
    }
    assert.fail(`tickets still pending after 20 passes: ${JSON.stringify(last)}`);
  }

  await suite.test("the sender funds its deposit and reserve", async () => {
    const res = await fundSender(net.clients("gateway"), devnet.contracts.ticketBroker, {
      deposit: FACE * 2n,
      reserve: parseEther("1"),
    });
    assert.equal(res.info.deposit, FACE * 2n);
    assert.equal(res.info.reserve.fundsRemaining, parseEther("1"));
    assert.equal(res.info.withdrawRound, 0n);
  });

  await suite.test(
    "winning tickets are redeemed; deposit, reserve and the orchestrator's fees move by the face value",
    async () => {
      const tickets = [await ticket(), await ticket(), await ticket()];
      for (const t of tickets) redeemer.enqueue(t);
      await redeemAll();
      for (const t of tickets) {
        const stored = store.getWinningTicketByHash(t.hash)!;
        assert.equal(stored.status, "redeemed", stored.lastError);
        assert.match(stored.txHash ?? "", /^0x[0-9a-f]{64}$/);
        const receipt = await o.publicClient.getTransactionReceipt({ hash: stored.txHash! });
        assert.equal(receipt.status, "success");
        assert.equal(
          await o.publicClient.readContract({
            address: devnet.contracts.ticketBroker,
            abi: ticketBrokerAbi,
            functionName: "usedTickets",
            args: [t.hash],
          }),
          true,
        );
      }
      const info = await readSenderInfo(o, devnet.contracts.ticketBroker, devnet.accounts.gateway.address);
      // Two face values came from the deposit, the third from the reserve (pool of one orchestrator).
      assert.equal(info.deposit, 0n);
      assert.equal(info.reserve.fundsRemaining, parseEther("1") - FACE);
      assert.equal(info.reserve.claimedInCurrentRound, FACE);
      const transcoder = await o.publicClient.readContract({
        address: devnet.contracts.bondingManager,
        abi: bondingManagerAbi,
        functionName: "getTranscoder",
        args: [devnet.accounts.orchestrator.address],
      });
      assert.equal(transcoder[8], 3n * FACE, "cumulativeFees");
      assert.equal(await o.publicClient.getBalance({ address: devnet.contracts.bondingManager }), 3n * FACE);
    },
  );

  await suite.test(
    "a replayed ticket is rejected: 'ticket is used' on-chain, and the redeemer sends nothing",
    async () => {
      const [first] = store.listWinningTickets({ status: ["redeemed"], limit: 1 });
      const replay = { ...first!.ticket };
      assert.equal(await revertReason(replay), "ticket is used");
      // A second node (fresh store) that got the same ticket does not waste a transaction on it.
      using other = openStore({ path: ":memory:" });
      const r2 = new Redeemer({ store: other, chain: net.redeemerChain() });
      const before = await o.publicClient.getTransactionCount({ address: o.account.address });
      const stored = r2.enqueue(replay);
      await r2.runOnce();
      assert.equal(other.getWinningTicket(stored.id)!.status, "failed");
      assert.equal(other.getWinningTicket(stored.id)!.lastError, "ticket is used");
      assert.equal(await o.publicClient.getTransactionCount({ address: o.account.address }), before);
    },
  );

  await suite.test("a ticket is redeemed only once its params expiration block is reached", async () => {
    const block = await o.publicClient.getBlockNumber({ cacheTime: 0 });
    const t = await ticket({ paramsExpirationBlock: block + 5n });
    const stored = redeemer.enqueue(t);
    const [r] = await redeemer.runOnce();
    assert.equal(r?.outcome, "waiting");
    assert.equal(store.getWinningTicket(stored.id)!.status, "pending");
    await mineBlocks(devnet.rpcUrl, 5);
    // Mining may cross a round boundary; a devnet keeps its rounds initialized.
    await initializeCurrentRound(net.clients("deployer"), devnet.contracts.roundsManager);
    await redeemAll();
    assert.equal(store.getWinningTicket(stored.id)!.status, "redeemed");
  });

  await suite.test(
    "a ticket whose creation round is past the validity period fails with 'ticket is expired'",
    async () => {
      const t = await ticket();
      await advanceRound(devnet, 2);
      assert.equal(await revertReason(t), "ticket is expired");
      const stored = redeemer.enqueue(t);
      await redeemAll();
      const s = store.getWinningTicket(stored.id)!;
      assert.equal(s.status, "failed");
      assert.equal(s.lastError, "ticket is expired");
      assert.equal(s.txHash, undefined, "no transaction was sent");
    },
  );

  await suite.test("other on-chain checks answer with the TicketBroker's revert strings", async () => {
    const t = await ticket();
    assert.equal(
      await revertReason({ ...t, recipientRand: t.recipientRand + 1n }),
      "recipientRand does not match recipientRandHash",
    );
    assert.equal(await revertReason({ ...t, sig: `0x${t.sig.slice(4)}` }), "INVALID_SIGNATURE_LENGTH");
    assert.equal(
      await revertReason({ ...t, faceValue: t.faceValue + 1n }),
      "invalid signature over ticket hash",
    );
    assert.equal(
      await revertReason({ ...t, creationRoundBlockHash: `0x${"01".repeat(32)}` }),
      "ticket creationRoundBlockHash invalid for creationRound",
    );
    assert.equal(
      await revertReason({ ...t, creationRound: 10_000n }),
      "ticket creationRound does not have a block hash",
    );
    assert.equal(await revertReason({ ...t, winProb: 0n }), "invalid signature over ticket hash");
    assert.equal(await revertReason(t), undefined, "the untouched ticket is valid");
  });
});
