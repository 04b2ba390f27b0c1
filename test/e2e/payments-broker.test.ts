/**
 * The devnet TicketBroker against docs/spec/payments.md#ticketbroker: every revert string of
 * redeemWinningTicket in its check order, funding rules, unlock / cancelUnlock / withdraw, and the
 * reserve split over the active pool.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Address,
  type BaseError,
  ContractFunctionRevertedError,
  type Hex,
  parseEther,
  toHex,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ANVIL_DEV_KEYS,
  advanceRound,
  bondingManagerAbi,
  createChainClients,
  createSignedTicket,
  fundSender,
  readSenderInfo,
  type SigningChainClients,
  ticketBrokerAbi,
  toContractTicket,
} from "../../src/chain/index.ts";
import { SECP256K1_N } from "../../src/payments/constants.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import { devnetFixture } from "../devnet.ts";

const FACE = parseEther("0.01");

test("TicketBroker on the devnet", async (suite) => {
  await using net = await devnetFixture({
    roundLength: 10,
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const o = net.clients("orchestrator");
  let nonce = 0;
  const clientsFor = (privateKey: Hex) =>
    createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId, privateKey });

  const ticket = (senderKey: Hex, over: { winProb?: bigint; faceValue?: bigint } = {}) =>
    createSignedTicket({
      clients: o,
      roundsManager: devnet.contracts.roundsManager,
      senderKey,
      recipient: devnet.accounts.orchestrator.address,
      faceValue: over.faceValue ?? FACE,
      winProb: over.winProb,
      senderNonce: ++nonce,
    });

  /** The revert reason of simulating `functionName`, or undefined if it would succeed. */
  async function reason(
    from: SigningChainClients,
    functionName: string,
    args: readonly unknown[],
    value?: bigint,
  ): Promise<string | undefined> {
    try {
      await from.publicClient.simulateContract({
        account: from.account,
        address: devnet.contracts.ticketBroker,
        abi: ticketBrokerAbi,
        functionName,
        args,
        value,
      } as never);
      return undefined;
    } catch (err) {
      const revert = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError);
      return (revert as ContractFunctionRevertedError | null)?.reason;
    }
  }
  const redeemReason = (t: SignedTicket & { recipientRand: bigint }, tuple = toContractTicket(t)) =>
    reason(o, "redeemWinningTicket", [tuple, t.sig, t.recipientRand]);

  async function send(from: SigningChainClients, functionName: string, args: readonly unknown[] = []) {
    const hash = await from.walletClient.writeContract({
      address: devnet.contracts.ticketBroker,
      abi: ticketBrokerAbi,
      functionName,
      args,
    } as never);
    const receipt = await from.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "success");
  }

  await suite.test(
    "redeemWinningTicket checks in go-livepeer's order, with the TicketBroker's revert strings",
    async () => {
      const g = devnet.accounts.gateway.privateKey;
      const t = await ticket(g);
      const tuple = toContractTicket(t);
      assert.equal(
        await redeemReason(t, { ...tuple, recipient: zeroAddress }),
        "ticket recipient is null address",
      );
      assert.equal(await redeemReason(t, { ...tuple, sender: zeroAddress }), "ticket sender is null address");
      assert.equal(
        await redeemReason(t, { ...tuple, auxData: "0x" }),
        "invalid length for ticket auxData: must be 64 bytes",
      );
      assert.equal(
        await redeemReason({ ...t, creationRound: 10_000n }),
        "ticket creationRound does not have a block hash",
      );
      assert.equal(
        await redeemReason({ ...t, creationRoundBlockHash: `0x${"01".repeat(32)}` }),
        "ticket creationRoundBlockHash invalid for creationRound",
      );
      assert.equal(
        await redeemReason({ ...t, recipientRand: t.recipientRand + 1n }),
        "recipientRand does not match recipientRandHash",
      );
      assert.equal(await redeemReason({ ...t, sig: `0x${t.sig.slice(4)}` }), "INVALID_SIGNATURE_LENGTH");
      assert.equal(
        await redeemReason({ ...t, faceValue: t.faceValue + 1n }),
        "invalid signature over ticket hash",
      );
      // The same signature with s replaced by n − s (and v flipped) recovers the same key, but is refused.
      const s = BigInt(`0x${t.sig.slice(66, 130)}`);
      const v = Number.parseInt(t.sig.slice(130), 16);
      const highS =
        `${t.sig.slice(0, 66)}${toHex(SECP256K1_N - s, { size: 32 }).slice(2)}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
      assert.equal(await redeemReason({ ...t, sig: highS }), "ECDSA: invalid signature 's' value");
      const loser = await ticket(g, { winProb: 0n });
      assert.equal(await redeemReason(loser), "ticket did not win");
      const stranger = await ticket(generatePrivateKey());
      assert.equal(await redeemReason(stranger), "sender deposit and reserve are zero");
      assert.equal(await redeemReason(t), undefined, "the untouched ticket is valid");
    },
  );

  await suite.test(
    "batchRedeemWinningTickets redeems the valid tickets and swallows the failures",
    async () => {
      const g = devnet.accounts.gateway.privateKey;
      const good = await ticket(g);
      const bad = await ticket(g, { winProb: 0n });
      const hash = await o.walletClient.writeContract({
        address: devnet.contracts.ticketBroker,
        abi: ticketBrokerAbi,
        functionName: "batchRedeemWinningTickets",
        // Failures are swallowed, so an estimate would find the gas at which every inner call fails.
        gas: 2_000_000n,
        args: [
          [toContractTicket(bad), toContractTicket(good)],
          [bad.sig, good.sig],
          [bad.recipientRand, good.recipientRand],
        ],
      });
      const receipt = await o.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(receipt.status, "success");
      const used = (h: Hex) =>
        o.publicClient.readContract({
          address: devnet.contracts.ticketBroker,
          abi: ticketBrokerAbi,
          functionName: "usedTickets",
          args: [h],
        });
      assert.equal(await used(good.hash), true);
      assert.equal(await used(bad.hash), false);
      assert.equal(await redeemReason(good), "ticket is used");
    },
  );

  await suite.test("fundDepositAndReserve requires msg.value to equal the sum", async () => {
    const g = clientsFor(devnet.accounts.gateway.privateKey);
    assert.equal(
      await reason(g, "fundDepositAndReserve", [1n, 1n], 3n),
      "msg.value does not equal sum of deposit amount and reserve amount",
    );
  });

  await suite.test(
    "unlock, cancelUnlock and withdraw follow the unlock period; an unlocked sender's tickets are refused",
    async () => {
      const key = ANVIL_DEV_KEYS[3];
      const s = clientsFor(key);
      assert.equal(await reason(s, "unlock", []), "sender deposit and reserve are zero");
      assert.equal(await reason(s, "cancelUnlock", []), "no unlock request in progress");
      await fundSender(s, devnet.contracts.ticketBroker, { deposit: FACE, reserve: FACE });
      await send(s, "unlock");
      assert.equal(await reason(s, "unlock", []), "unlock already initiated");
      assert.equal(await reason(s, "withdraw", []), "account is locked");
      const info = await readSenderInfo(s, devnet.contracts.ticketBroker, s.account.address);
      assert.equal(info.withdrawRound, (await advanceRound(devnet, 0)) + BigInt(devnet.unlockPeriod));

      await send(s, "cancelUnlock");
      assert.equal(
        (await readSenderInfo(s, devnet.contracts.ticketBroker, s.account.address)).withdrawRound,
        0n,
      );
      await send(s, "unlock");
      await advanceRound(devnet, devnet.unlockPeriod);
      const t = await ticket(key);
      assert.equal(await redeemReason(t), "sender is unlocked");

      const before = await s.publicClient.getBalance({ address: s.account.address });
      await send(s, "withdraw");
      const after = await s.publicClient.getBalance({ address: s.account.address });
      assert.ok(after > before, "deposit and reserve came back (minus gas)");
      const empty = await readSenderInfo(s, devnet.contracts.ticketBroker, s.account.address);
      assert.deepEqual(empty, {
        deposit: 0n,
        withdrawRound: 0n,
        reserve: { fundsRemaining: 0n, claimedInCurrentRound: 0n },
      });
    },
  );

  await suite.test("each active orchestrator may claim reserve / poolSize per round", async () => {
    const d = clientsFor(devnet.accounts.deployer.privateKey);
    const second = clientsFor(generatePrivateKey());
    await d.walletClient.sendTransaction({ to: second.account.address, value: parseEther("1") });
    const bm = devnet.contracts.bondingManager;
    await second.publicClient.waitForTransactionReceipt({
      hash: await second.walletClient.writeContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "transcoder",
        args: [0n, 0n],
      }),
    });
    await d.publicClient.waitForTransactionReceipt({
      hash: await d.walletClient.writeContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "setTranscoderStake",
        args: [second.account.address, 1n],
      }),
    });
    assert.equal(
      await o.publicClient.readContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "getTranscoderPoolSize",
      }),
      2n,
    );
    const claimable = (claimant: Address) =>
      o.publicClient.readContract({
        address: devnet.contracts.ticketBroker,
        abi: ticketBrokerAbi,
        functionName: "claimableReserve",
        args: [devnet.accounts.gateway.address, claimant],
      });
    const { reserve } = await readSenderInfo(
      o,
      devnet.contracts.ticketBroker,
      devnet.accounts.gateway.address,
    );
    assert.equal(await claimable(devnet.accounts.orchestrator.address), reserve.fundsRemaining / 2n);
    assert.equal(await claimable(second.account.address), reserve.fundsRemaining / 2n);
    assert.equal(
      await claimable(privateKeyToAccount(generatePrivateKey()).address),
      0n,
      "not in the pool: nothing",
    );
  });
});
