/**
 * Fault injection: the orchestrator's chain RPC goes away while paid jobs run. The orchestrator's
 * on-chain payment path (`startOnchainPayments`: chain facts, recipient, redeemer) reaches anvil
 * through a TCP proxy that the test cuts and restores. Every ticket wins (face value EV + 1), so every
 * paid job queues a winning ticket.
 *
 * Pass criteria: while the RPC is cut (connections reset) or hangs (connections never answered), paid
 * jobs keep succeeding (validation runs on cached chain facts), and the redeemer records network
 * errors and retries with backoff; once the RPC is back, every winning ticket is redeemed on chain,
 * once, and the sender's on-chain funds drop by exactly the face value the store holds as redeemed.
 *
 * Cached facts are trusted for a bounded time only: a second orchestrator with a short
 * `maxChainStalenessMs` (`--max-chain-staleness`) keeps serving paid jobs for a cut shorter than the
 * bound, refuses ticket params and tickets with 503 CHAIN_FACTS_STALE once the cut is longer, queues
 * nothing meanwhile, and serves paid jobs again on its own once the RPC answers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type ChainFacts, startChainFacts } from "../../src/chain/chain-facts.ts";
import {
  createChainClients,
  type Devnet,
  fundSender,
  mineBlocks,
  readSenderInfo,
  startDevnet,
  ticketBrokerAbi,
} from "../../src/chain/index.ts";
import { createLogger } from "../../src/node/logger.ts";
import { type OnchainPayments, startOnchainPayments } from "../../src/orchestrator/onchain.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/orchestrator.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { defineBatchPipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { httpsCall, openPaidSession, paidJob, startTcpProxy, type TcpProxy } from "./helpers.ts";

/**
 * Face value EV + 1: a ticket wins with probability EV/(EV+1) (the Sender requires face value > EV);
 * well above a redemption's cost on anvil (~2e14 wei).
 */
const EV = 2n * 10n ** 15n;
const CAPABILITY = "shout";

let devnet: Devnet;
let dir: string;
let proxy: TcpProxy;
let onchain: OnchainPayments;
let gatewayFacts: ChainFacts;
let worker: RunningRunner;
let orch: RunningOrchestrator;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "fault-rpc-"));
  devnet = await startDevnet({ roundLength: 1000 });
  const g = createChainClients({
    rpcUrl: devnet.rpcUrl,
    chainId: devnet.chainId,
    privateKey: devnet.accounts.gateway.privateKey,
  });
  await fundSender(g, devnet.contracts.ticketBroker, { deposit: parseEther("1"), reserve: parseEther("1") });
  gatewayFacts = await startChainFacts({
    clients: g,
    contracts: devnet.contracts,
    recipient: devnet.accounts.orchestrator.address,
    pollIntervalMs: 200,
  });
  proxy = await startTcpProxy(Number(new URL(devnet.rpcUrl).port));
  onchain = await startOnchainPayments({
    network: "devnet",
    ethUrl: proxy.url,
    privateKey: devnet.accounts.orchestrator.privateKey,
    contracts: devnet.contracts,
    dataDir: dir,
    ticketEV: EV,
    maxFaceValue: EV + 1n,
  });
  worker = await startRunner(
    defineBatchPipeline({ name: CAPABILITY, run: (i: { text: string }) => ({ text: i.text.toUpperCase() }) }),
    { port: 0 },
  );
  orch = await startPaidOrchestrator(dir, onchain);
});

/** An orchestrator on `payments` with the worker registered as CAPABILITY and advertised. */
async function startPaidOrchestrator(
  dataDir: string,
  payments: OnchainPayments,
): Promise<RunningOrchestrator> {
  const o = await startOrchestrator({
    port: 0,
    dataDir,
    orchSecret: "s",
    network: "devnet",
    payments: payments.gate,
    address: payments.address,
    health: { intervalMs: 200, failureThreshold: 1 },
  });
  const reg = await httpsCall(o.url, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: CAPABILITY,
      url: worker.url,
      capacity: 4,
      price_per_unit: 1000,
      price_scaling: 1,
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  await until("the container is advertised", () => o.registry.advertised().length > 0, 20_000);
  return o;
}

after(async () => {
  await orch?.close();
  await worker?.close();
  await onchain?.close();
  await gatewayFacts?.close();
  await proxy?.close();
  await devnet?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("with the chain RPC cut, paid jobs keep flowing and every winning ticket is redeemed once it is back", async (t) => {
  const gw = privateKeyToAccount(devnet.accounts.gateway.privateKey);
  const sender = new Sender({
    signer: gw,
    time: gatewayFacts,
    senders: gatewayFacts,
    maxTicketEV: Rat.of(EV * 10n),
    maxTotalEV: Rat.of(EV * 10n),
  });
  const reader = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
  const fromBlock = await reader.publicClient.getBlockNumber({ cacheTime: 0 });
  const fundsBefore = await readSenderInfo(reader, devnet.contracts.ticketBroker, gw.address);
  const paid: Hex[] = [];
  const runJobs = async (n: number, label: string, session = s) => {
    for (let i = 0; i < n; i++) {
      const r = await paidJob(orch.url, gw, sender, session, CAPABILITY, { text: `${label} ${i}` });
      assert.equal(r.status, 200, `${label} job ${i}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { text: `${label} ${i}`.toUpperCase() });
      paid.push(...r.tickets);
    }
  };

  // 1. RPC up: paid jobs, every ticket a winner, queued.
  const s = await openPaidSession(orch.url, gw, sender, CAPABILITY);
  await runJobs(3, "before");

  // 2. Cut the RPC. Jobs keep flowing, on the session's params and on fresh ones.
  proxy.cut();
  await runJobs(5, "during");
  const fresh = await openPaidSession(orch.url, gw, sender, CAPABILITY);
  await runJobs(2, "during-fresh", fresh);
  // The RPC hangs instead (accepts connections, never answers): jobs still flow, each waiting at most
  // the cache's stale bound rather than the RPC client's timeouts and retries.
  proxy.hang();
  // Let the quiet period the cut started (one 2 s facts poll) lapse, so reads try the hung RPC.
  await new Promise((r) => setTimeout(r, 2500));
  const hangStart = performance.now();
  await runJobs(3, "hung", fresh);
  t.diagnostic(`3 paid jobs while the RPC hangs: ${(performance.now() - hangStart).toFixed(0)} ms`);
  proxy.cut();
  // Make the queued tickets due (their params expire 40 blocks on) while the orchestrator cannot look.
  await mineBlocks(devnet.rpcUrl, 45);
  onchain.redeemer.notify();
  const deadline = Date.now() + 30_000;
  const networkErrors = () =>
    onchain.store.listWinningTickets().filter((w) => w.lastError?.startsWith("network:")).length;
  const maxAttempts = () => Math.max(0, ...onchain.store.listWinningTickets().map((w) => w.attempts));
  // Retried, with backoff (1 s, then 2 s, …): wait for the second failed attempt.
  while (networkErrors() === 0 || maxAttempts() < 2) {
    if (Date.now() > deadline) throw new Error("the redeemer never hit the cut RPC");
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(onchain.store.countWinningTickets().redeemed, 0, "nothing redeemed while the RPC is cut");
  t.diagnostic(
    `while cut: ${proxy.refused} RPC connections refused; ${JSON.stringify(onchain.store.countWinningTickets())}`,
  );

  // 3. Restore: the redeemer catches up.
  proxy.restore();
  await onchain.facts.refresh(); // the old params expired with the mined blocks: quote fresh ones
  await runJobs(2, "after", await openPaidSession(orch.url, gw, sender, CAPABILITY));
  await mineBlocks(devnet.rpcUrl, 45);
  const catchUpStart = performance.now();
  const until = Date.now() + 120_000;
  for (;;) {
    const n = onchain.store.countWinningTickets();
    if (n.pending === 0 && n.submitted === 0) break;
    if (Date.now() > until) throw new Error(`redemption did not catch up: ${JSON.stringify(n)}`);
    onchain.redeemer.notify();
    await new Promise((r) => setTimeout(r, 200));
  }
  t.diagnostic(
    `caught up ${((performance.now() - catchUpStart) / 1000).toFixed(1)} s after the RPC returned`,
  );

  const all = onchain.store.listWinningTickets();
  assert.equal(all.length, paid.length, "every paid ticket won and was stored");
  for (const w of all)
    assert.equal(w.status, "redeemed", `${w.ticketHash}: ${w.status} ${w.lastError ?? ""}`);
  for (const hash of paid) {
    const used = await reader.publicClient.readContract({
      address: devnet.contracts.ticketBroker,
      abi: ticketBrokerAbi,
      functionName: "usedTickets",
      args: [hash],
    });
    assert.equal(used, true, `ticket ${hash} used on chain`);
  }
  const events = await reader.publicClient.getContractEvents({
    address: devnet.contracts.ticketBroker,
    abi: ticketBrokerAbi,
    eventName: "WinningTicketRedeemed",
    args: { recipient: onchain.address },
    fromBlock,
  });
  assert.equal(events.length, paid.length, "one redemption per ticket, none twice");
  const fundsAfter = await readSenderInfo(reader, devnet.contracts.ticketBroker, gw.address);
  const spent =
    fundsBefore.deposit +
    fundsBefore.reserve.fundsRemaining -
    fundsAfter.deposit -
    fundsAfter.reserve.fundsRemaining;
  const stored = all.reduce((sum, w) => sum + w.ticket.faceValue, 0n);
  assert.equal(stored, (EV + 1n) * BigInt(paid.length));
  assert.equal(spent, stored, "the sender paid on chain exactly the face value the store holds as redeemed");
});

test("with the chain RPC cut longer than the staleness bound, paid work is refused with 503 CHAIN_FACTS_STALE, and flows again once it is back", async (t) => {
  const BOUND_MS = 5_000; // the default is 8 min; the facts poll runs every 2 s
  const staleDir = mkdtempSync(join(tmpdir(), "fault-rpc-stale-"));
  const lines: { msg: string }[] = [];
  const logger = createLogger({
    name: "stale-test",
    level: "info",
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString("utf8").split("\n")) if (l) lines.push(JSON.parse(l));
        done();
      },
    }),
  });
  const logged = (re: RegExp) => lines.filter((l) => re.test(l.msg)).length;
  await using staleProxy = await startTcpProxy(Number(new URL(devnet.rpcUrl).port));
  const payments = await startOnchainPayments({
    network: "devnet",
    ethUrl: staleProxy.url,
    privateKey: devnet.accounts.orchestrator.privateKey,
    contracts: devnet.contracts,
    dataDir: staleDir,
    ticketEV: EV,
    maxFaceValue: EV + 1n,
    maxChainStalenessMs: BOUND_MS,
    logger,
  });
  let o: RunningOrchestrator | undefined;
  try {
    o = await startPaidOrchestrator(staleDir, payments);
    const url = o.url;
    const gw = privateKeyToAccount(devnet.accounts.gateway.privateKey);
    const sender = new Sender({
      signer: gw,
      time: gatewayFacts,
      senders: gatewayFacts,
      maxTicketEV: Rat.of(EV * 10n),
      maxTotalEV: Rat.of(EV * 10n),
    });
    const job = async (session: Awaited<ReturnType<typeof openPaidSession>>, text: string) =>
      paidJob(url, gw, sender, session, CAPABILITY, { text });
    const s = await openPaidSession(url, gw, sender, CAPABILITY);
    assert.equal((await job(s, "up")).status, 200);

    // A cut shorter than the bound: paid jobs go on, on cached facts.
    staleProxy.cut();
    const cutAt = performance.now();
    const short = await job(s, "short cut");
    assert.equal(short.status, 200, short.body);
    assert.ok(performance.now() - cutAt < BOUND_MS - 2_000, "the short-cut job ran well within the bound");

    // Longer than the bound: paid jobs are refused with a 503 that names the cause (one job every
    // 250 ms until then, each one still served on cached facts).
    const host = new URL(staleProxy.url).host.replace(/\./g, "\\.");
    const staleText = new RegExp(
      `^chain facts are stale: no successful read from the chain RPC at ${host} for \\d`,
    );
    let served = 0;
    await until(
      "a paid job refused on stale chain facts",
      async () => {
        const r = await job(s, `cut ${served}`);
        if (r.status === 200) served++;
        else {
          assert.equal(r.status, 503, r.body);
          assert.match(r.body, staleText);
        }
        return r.status !== 200;
      },
      BOUND_MS + 10_000,
      250,
    );
    const staleAfter = performance.now() - cutAt;
    t.diagnostic(
      `${served} paid jobs served during the cut; refused from ${(staleAfter / 1000).toFixed(1)} s on`,
    );
    assert.ok(staleAfter > BOUND_MS - 2_000, "not refused before the bound (less one 2 s poll)");
    assert.equal(payments.facts.stale()?.code, "CHAIN_FACTS_STALE");
    // Nothing is credited or queued while refused; ticket params are refused too.
    const queued = payments.store.listWinningTickets().length;
    const balance = payments.gate.balance(gw.address, CAPABILITY);
    const refused = await job(s, "stale");
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.body, staleText);
    await assert.rejects(openPaidSession(url, gw, sender, CAPABILITY), (err: Error) => {
      assert.match(err.message, /answered 503: chain facts are stale/);
      return true;
    });
    assert.equal(payments.store.listWinningTickets().length, queued, "the refused ticket was not queued");
    assert.equal(payments.gate.balance(gw.address, CAPABILITY).cmp(balance), 0, "nor credited");
    assert.equal(logged(/^chain facts are stale/), 1, "going stale is logged once");

    // The RPC is back: the next good poll lifts the refusal, with no restart.
    staleProxy.restore();
    const restoredAt = performance.now();
    let fresh: Awaited<ReturnType<typeof openPaidSession>> | undefined;
    await until(
      "ticket params are quoted again",
      async () => {
        fresh = await openPaidSession(url, gw, sender, CAPABILITY).catch(() => undefined);
        return fresh !== undefined;
      },
      15_000,
      100,
    );
    t.diagnostic(
      `paid work accepted again ${((performance.now() - restoredAt) / 1000).toFixed(1)} s after the RPC returned`,
    );
    for (let i = 0; i < 2; i++) {
      const r = await job(fresh!, `back ${i}`);
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body), { text: `back ${i}`.toUpperCase() });
    }
    assert.equal((await job(s, "back on the old session")).status, 200);
    assert.equal(logged(/^chain facts fresh again/), 1, "the recovery is logged");
    assert.equal(payments.facts.stale(), undefined);
  } finally {
    await o?.close();
    await payments.close();
    rmSync(staleDir, { recursive: true, force: true });
  }
});
