/**
 * A priced BYOC job on the devnet (anvil + our contracts): the orchestrator's Recipient runs on chain
 * facts read with viem, the gateway's Sender signs real tickets against a funded deposit and
 * reserve, the job is paid and charged, the winning ticket goes to the durable store before the
 * answer, and the redeemer redeems it on chain.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { keccak256, parseEther, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { startChainFacts } from "../../src/chain/chain-facts.ts";
import {
  createChainClients,
  initializeCurrentRound,
  mineBlocks,
  ticketBrokerAbi,
} from "../../src/chain/index.ts";
import { PaymentGate, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Recipient } from "../../src/payments/recipient.ts";
import { Redeemer } from "../../src/payments/redeemer.ts";
import { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import { openStore } from "../../src/payments/store/store.ts";
import { ticketHash } from "../../src/payments/ticket.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { priceInfoFromGoJson, ticketParamsFromGoJson } from "../../src/protocol/ticket-params-json.ts";
import { defineBatchPipeline, startRunner } from "../../src/runner/index.ts";
import { devnetFixture } from "../devnet.ts";
import { until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

/** Above the real redemption cost on anvil (~2e14 wei), which the redeemer checks. */
const EV = 10n ** 15n;

describe("orchestrator on the devnet", () => {
  test("a paid BYOC job: tickets validated on chain facts, job charged, the winner stored and redeemed", async () => {
    await using net = await devnetFixture({
      fundGateway: { deposit: parseEther("0.01"), reserve: parseEther("1") },
    });
    const { devnet } = net;
    const facts = net.use(
      await startChainFacts({
        clients: net.clients("orchestrator"),
        contracts: devnet.contracts,
        recipient: devnet.accounts.orchestrator.address,
        pollIntervalMs: 200,
      }),
    );
    const store = net.use(openStore({ dataDir: net.dir }));
    const redeemer = net.use(
      new Redeemer({ store, chain: net.redeemerChain(), pollIntervalMs: 0, backoffBaseMs: 0 }),
    );
    let seed = 0;
    const recipient = new Recipient({
      address: devnet.accounts.orchestrator.address,
      ticketEV: EV,
      redeemGas: 1n,
      // Face value just above EV: a ticket wins with probability EV/(EV+1); seeds are deterministic.
      maxFaceValue: EV + 1n,
      random: (n) => new Uint8Array(n).fill(++seed),
      time: facts,
      gasPrice: facts,
      senders: facts,
      nonces: store.nonceStore(),
    });
    const gate = new PaymentGate({
      recipient,
      balances: new Balances(store.balanceStore()),
      enqueueWinner: (t) => redeemer.enqueue(t),
      isActive: () => facts.isActive(),
    });
    const worker = net.use(
      await startRunner(
        defineBatchPipeline({
          name: "shout",
          run: (i: { text: string }) => ({ text: i.text.toUpperCase() }),
        }),
        { port: 0 },
      ),
    );
    const orch = net.use(
      await startOrchestrator({
        port: 0,
        dataDir: net.dir,
        orchSecret: "s",
        network: "devnet",
        payments: gate,
        address: devnet.accounts.orchestrator.address,
        health: { intervalMs: 100, failureThreshold: 1 },
      }),
    );
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s" },
      body: JSON.stringify({
        name: "shout",
        url: worker.url,
        capacity: 1,
        price_per_unit: 1000,
        price_scaling: 1,
      }),
    });
    assert.equal(reg.status, 200);
    await until("the container to be healthy", () => orch.registry.advertised().length > 0);

    const gw = privateKeyToAccount(devnet.accounts.gateway.privateKey);
    const sig = await signPayload(gw, gw.address);
    const tokenRes = await call(orch, "/process/token", {
      headers: {
        "livepeer-eth-address": Buffer.from(JSON.stringify({ addr: gw.address, sig })).toString("base64"),
        "livepeer-capability": "shout",
      },
    });
    assert.equal(tokenRes.status, 200, tokenRes.body);
    const token = JSON.parse(tokenRes.body) as Record<string, unknown>;
    const sender = new Sender({
      signer: gw,
      time: facts,
      senders: facts,
      maxTicketEV: Rat.of(EV * 10n),
      maxTotalEV: Rat.of(EV * 10n),
    });
    const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
    const payment = await sender.createPayment(session, 1, priceInfoFromGoJson(token.price));
    const request = "{}";
    const parameters = "{}";
    const jobSig = await gw.signMessage({ message: { raw: keccak256(stringToBytes(request + parameters)) } });
    const header = Buffer.from(
      JSON.stringify({
        request,
        parameters,
        capability: "shout",
        timeout_seconds: 10,
        sender: gw.address,
        sig: jobSig,
      }),
    ).toString("base64");
    const res = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: {
        livepeer: header,
        "livepeer-payment": encodePaymentHeader(payment),
        "content-type": "application/json",
      },
      body: JSON.stringify({ text: "on chain" }),
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { text: "ON CHAIN" });
    const balance = BigInt(String(res.headers["livepeer-balance"]));
    assert.ok(balance > 0n && balance < EV, `credited EV minus the charge, got ${balance}`);

    const [stored] = store.listWinningTickets({ limit: 10 });
    assert.ok(stored, "the winning ticket was stored before the answer");
    // The queue redeems a ticket once its params expiration block (40 blocks ahead) has passed.
    const [first] = await redeemer.runOnce();
    assert.equal(first?.outcome, "waiting");
    await mineBlocks(devnet.rpcUrl, 41);
    await initializeCurrentRound(net.clients("deployer"), devnet.contracts.roundsManager);
    // viem caches the block number for a few seconds, so the redeemer may see the new blocks late.
    await until(
      () => `the winner to be redeemed: ${store.getWinningTicket(stored.id)!.lastError}`,
      async () => {
        await redeemer.runOnce();
        return store.getWinningTicket(stored.id)!.status === "redeemed";
      },
      15_000,
      250,
    );
    const reader = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
    const used = await reader.publicClient.readContract({
      address: devnet.contracts.ticketBroker,
      abi: ticketBrokerAbi,
      functionName: "usedTickets",
      args: [ticketHash(stored.ticket)],
    });
    assert.equal(used, true);
  });
});
