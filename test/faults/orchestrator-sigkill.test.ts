/**
 * Fault injection: SIGKILL of the orchestrator under paid load. The orchestrator is a real child
 * process (`node src/cli/main.ts orchestrator --network devnet …`); four concurrent clients send paid
 * BYOC jobs with our Sender (every ticket wins: face value EV + 1), while its redeemer is redeeming the
 * winners of an earlier phase. The process is SIGKILLed without warning and restarted on the same data
 * directory. (test/e2e/payments-crash.test.ts kills the payments layer alone; this goes through the
 * whole orchestrator: HTTP route, payment gate, store, redeemer.)
 *
 * Pass criteria: every winning ticket the orchestrator answered 2xx for before the kill is in its
 * store or used on chain right after the kill; after the restart every stored ticket is redeemed, each
 * acknowledged ticket is used on chain, none is redeemed twice (one WinningTicketRedeemed event and one
 * transaction per stored ticket, no failed redemption); the sender's on-chain funds dropped by exactly
 * the face value the store holds as redeemed; and the credit balance the store kept is the one the
 * last answers reported (within what the jobs in flight at the kill could change).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { type ChainFacts, startChainFacts } from "../../src/chain/chain-facts.ts";
import {
  createChainClients,
  DEVNET_DEFAULT_ADDRESSES,
  type Devnet,
  fundSender,
  mineBlocks,
  readSenderInfo,
  startDevnet,
  ticketBrokerAbi,
} from "../../src/chain/index.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { openStore } from "../../src/payments/store/store.ts";
import { ticketEV } from "../../src/payments/ticket.ts";
import { defineBatchPipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { httpsCall, openPaidSession, type PaidSession, paidJob, preparePaidJob } from "./helpers.ts";

const EV = 2n * 10n ** 15n;
const CAPABILITY = "shout";
const WORKERS = 4;
const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

let devnet: Devnet;
let dir: string;
let worker: RunningRunner;
let gatewayFacts: ChainFacts;
const children: ChildProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "fault-sigkill-"));
  devnet = await startDevnet({ roundLength: 1000 });
  assert.deepEqual(devnet.contracts, DEVNET_DEFAULT_ADDRESSES, "the CLI's devnet addresses");
  const g = createChainClients({
    rpcUrl: devnet.rpcUrl,
    chainId: devnet.chainId,
    privateKey: devnet.accounts.gateway.privateKey,
  });
  await fundSender(g, devnet.contracts.ticketBroker, { deposit: parseEther("2"), reserve: parseEther("1") });
  gatewayFacts = await startChainFacts({
    clients: g,
    contracts: devnet.contracts,
    recipient: devnet.accounts.orchestrator.address,
    pollIntervalMs: 200,
  });
  worker = await startRunner(
    defineBatchPipeline({ name: CAPABILITY, run: (i: { text: string }) => ({ text: i.text.toUpperCase() }) }),
    { port: 0 },
  );
  writeFileSync(join(dir, "orchestrator.key"), devnet.accounts.orchestrator.privateKey, { mode: 0o600 });
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await worker?.close();
  await gatewayFacts?.close();
  await devnet?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One anvil JSON-RPC call. */
async function anvil(method: string, params: unknown[]): Promise<void> {
  const res = await fetch(devnet.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { error?: { message: string } };
  if (body.error) throw new Error(`${method} failed: ${body.error.message}`);
}

/** Starts `tributary orchestrator` on devnet; resolves with its URL once it listens and advertises. */
async function startChild(dataDir = join(dir, "orch")): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "orchestrator",
      "--network",
      "devnet",
      "--eth-url",
      devnet.rpcUrl,
      "--key-file",
      join(dir, "orchestrator.key"),
      "--data-dir",
      dataDir,
      "--service-addr",
      "127.0.0.1:0",
      "--orch-secret",
      "s",
      "--ticket-ev",
      String(EV),
      "--max-face-value",
      String(EV + 1n),
      "--health-interval",
      "200ms",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = /orchestrator listening on (\S+)/.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`orchestrator exited (${code}): ${stderr}`)));
  });
  const reg = await httpsCall(url, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: CAPABILITY,
      url: worker.url,
      capacity: 8,
      price_per_unit: 1000,
      price_scaling: 1,
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  for (const end = Date.now() + 30_000; ; ) {
    const caps = await httpsCall(url, "/capabilities");
    if (caps.status === 200 && caps.body.includes(CAPABILITY)) break;
    if (Date.now() > end) throw new Error(`capability never advertised: ${caps.body}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url };
}

test("SIGKILL under paid load: no acknowledged winning ticket lost or redeemed twice, balances consistent", async (t) => {
  const gw = privateKeyToAccount(devnet.accounts.gateway.privateKey);
  const sender = new Sender({
    signer: gw,
    time: gatewayFacts,
    senders: gatewayFacts,
    maxTicketEV: Rat.of(EV * 10n),
    maxTotalEV: Rat.of(EV * 10n),
  });
  const reader = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
  const orchestrator = devnet.accounts.orchestrator.address;
  const fromBlock = await reader.publicClient.getBlockNumber({ cacheTime: 0 });
  const txCountBefore = await reader.publicClient.getTransactionCount({ address: orchestrator });
  const fundsBefore = await readSenderInfo(reader, devnet.contracts.ticketBroker, gw.address);
  const used = (hash: Hex) =>
    reader.publicClient.readContract({
      address: devnet.contracts.ticketBroker,
      abi: ticketBrokerAbi,
      functionName: "usedTickets",
      args: [hash],
    });

  /** A session whose params the gateway still accepts (the orchestrator's block clock may lag). */
  const freshSession = async (url: string): Promise<PaidSession> => {
    for (const end = Date.now() + 30_000; ; ) {
      const s = await openPaidSession(url, gw, sender, CAPABILITY);
      const block = await reader.publicClient.getBlockNumber({ cacheTime: 0 });
      // Margin for the blocks the redeemer's own transactions mine meanwhile.
      if (s.expirationBlock > block + 30n) return s;
      sender.cleanupSession(s.session);
      if (Date.now() > end) throw new Error("the orchestrator keeps quoting expired params");
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const acked: Hex[] = [];
  let killed = false;
  let lastAckedBalance: bigint | undefined;
  let seq = 0;
  /** WORKERS concurrent clients until `stop()` is true or a request fails (the kill). */
  const load = (url: string, s: PaidSession, stop: () => boolean) =>
    Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (!stop()) {
          const n = seq++;
          let r: Awaited<ReturnType<typeof paidJob>>;
          try {
            r = await paidJob(url, gw, sender, s, CAPABILITY, { text: `job ${n}` });
          } catch (err) {
            if (killed) return; // connection reset by the kill
            throw err;
          }
          assert.equal(r.status, 200, r.body);
          acked.push(...r.tickets);
          if (r.balance !== undefined) lastAckedBalance = r.balance;
        }
      }),
    );

  // Phase 1: paid load, then make its winners due so the redeemer gets busy.
  const first = await startChild();
  await load(first.url, await freshSession(first.url), () => acked.length >= 24);
  const phase1 = acked.length;
  // Blocks are mined only on request from here on: a redemption transaction stays pending (the
  // ticket stays `submitted`) until the test mines, so the kill below lands inside that window.
  await anvil("evm_setAutomine", [false]);
  await mineBlocks(devnet.rpcUrl, 45);

  // Phase 2: more paid load while phase 1 is being redeemed; SIGKILL without warning mid-load, while
  // a redemption transaction is in flight (recorded as submitted, broadcast, not mined): the restart
  // must settle it from its receipt, not send it again.
  const storeDir = join(dir, "orch");
  const exited = new Promise((r) => first.child.once("exit", r));
  let killedWhile = "";
  const kill = (why: string): void => {
    if (killed) return;
    killed = true;
    killedWhile = why;
    first.child.kill("SIGKILL");
  };
  const watcher = openStore({ dataDir: storeDir });
  const watch = setInterval(() => {
    if (acked.length >= phase1 + 2 && watcher.countWinningTickets().submitted > 0)
      kill("a redemption was submitted");
  }, 5);
  try {
    const s2 = await freshSession(first.url);
    await load(first.url, s2, () => {
      if (acked.length >= phase1 + 40) kill("no redemption caught in flight");
      return killed;
    });
    await exited;
  } finally {
    clearInterval(watch);
    watcher.close();
  }
  assert.equal(first.child.signalCode, "SIGKILL");
  t.diagnostic(`killed while ${killedWhile}`);
  // The transaction in flight is mined while the orchestrator is down.
  await anvil("evm_setAutomine", [true]);
  await mineBlocks(devnet.rpcUrl, 1);
  const ackedAtKill = [...acked];

  // Right after the kill: every acknowledged ticket is in the store or used on chain.
  {
    using store = openStore({ dataDir: storeDir });
    for (const hash of ackedAtKill)
      assert.ok(
        store.getWinningTicketByHash(hash) !== undefined || (await used(hash)),
        `acknowledged ticket ${hash} is neither stored nor redeemed`,
      );
    t.diagnostic(
      `${ackedAtKill.length} tickets acknowledged before the kill; store after SIGKILL: ${JSON.stringify(store.countWinningTickets())}`,
    );
    const kept = store.getBalanceEntry(gw.address, CAPABILITY)?.amount;
    assert.ok(kept !== undefined && lastAckedBalance !== undefined, "a credit balance was kept");
    const drift = kept.sub(Rat.of(lastAckedBalance));
    const slack = Rat.of((EV + 1n) * BigInt(WORKERS));
    assert.ok(
      drift.cmp(slack) <= 0 && drift.cmp(Rat.ZERO.sub(slack)) >= 0,
      `the kept balance ${kept.floor()} is the last reported ${lastAckedBalance} within the jobs in flight`,
    );
  }

  // Restart on the same data directory; more paid jobs; let redemption catch up.
  const second = await startChild();
  const s3 = await freshSession(second.url);
  let afterRestart = 0;
  await load(second.url, s3, () => ++afterRestart > 4);
  await mineBlocks(devnet.rpcUrl, 45);
  const catchUp = performance.now();
  for (const end = Date.now() + 120_000; ; ) {
    {
      using store = openStore({ dataDir: storeDir });
      const n = store.countWinningTickets();
      if (n.pending === 0 && n.submitted === 0) break;
      if (Date.now() > end) throw new Error(`redemption did not catch up: ${JSON.stringify(n)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  t.diagnostic(`caught up ${((performance.now() - catchUp) / 1000).toFixed(1)} s after the last blocks`);
  const stopped = new Promise((r) => second.child.once("exit", r));
  second.child.kill("SIGTERM");
  await stopped;

  using store = openStore({ dataDir: storeDir });
  const all = store.listWinningTickets();
  const n = store.countWinningTickets();
  t.diagnostic(`final store: ${JSON.stringify(n)}; ${acked.length} tickets acknowledged in all`);
  assert.deepEqual(n, { pending: 0, submitted: 0, redeemed: all.length, failed: 0 });
  for (const hash of acked) {
    assert.equal(store.getWinningTicketByHash(hash)?.status, "redeemed", `ticket ${hash}`);
    assert.equal(await used(hash), true, `ticket ${hash} used on chain`);
  }
  const events = await reader.publicClient.getContractEvents({
    address: devnet.contracts.ticketBroker,
    abi: ticketBrokerAbi,
    eventName: "WinningTicketRedeemed",
    args: { recipient: orchestrator },
    fromBlock,
  });
  const keys = events.map((e) => `${e.args.recipientRand}/${e.args.senderNonce}`);
  assert.equal(events.length, all.length, "one redemption event per stored ticket");
  assert.equal(new Set(keys).size, keys.length, "no ticket redeemed twice");
  const txCountAfter = await reader.publicClient.getTransactionCount({ address: orchestrator });
  assert.equal(txCountAfter - txCountBefore, all.length, "one transaction per ticket, none wasted");
  const fundsAfter = await readSenderInfo(reader, devnet.contracts.ticketBroker, gw.address);
  const spent =
    fundsBefore.deposit +
    fundsBefore.reserve.fundsRemaining -
    fundsAfter.deposit -
    fundsAfter.reserve.fundsRemaining;
  const redeemedFaceValue = all.reduce((sum, w) => sum + w.ticket.faceValue, 0n);
  assert.equal(spent, redeemedFaceValue, "the sender paid on chain exactly what the store holds as redeemed");
});

test("SIGKILL inside a 150-ticket batch: every credited or burnt winning ticket is queued; a second orchestrator on the data directory is refused", async (t) => {
  const gw = privateKeyToAccount(devnet.accounts.gateway.privateKey);
  const sender = new Sender({
    signer: gw,
    time: gatewayFacts,
    senders: gatewayFacts,
    maxTicketEV: Rat.of(EV * 10n),
    maxTotalEV: Rat.of(EV * 1000n),
  });
  const dataDir = join(dir, "orch-batch");
  let running = await startChild(dataDir);

  // Two orchestrators on one data directory would redeem the same queue: the second is refused,
  // naming the pid that holds the directory.
  await assert.rejects(startChild(dataDir), (err: Error) => {
    assert.match(err.message, /orchestrator exited \(1\)/);
    assert.match(
      err.message,
      new RegExp(`in use by another Tributary process \\(pid ${running.child.pid}\\)`),
    );
    return true;
  });

  for (const [i, delayMs] of [60, 120, 250].entries()) {
    if (i > 0) running = await startChild(dataDir); // takes over the lock the killed process left
    const s = await openPaidSession(running.url, gw, sender, CAPABILITY);
    const job = await preparePaidJob(gw, sender, s, CAPABILITY, 150);
    const exited = new Promise((r) => running.child.once("exit", r));
    const answered = httpsCall(running.url, `/process/request/${CAPABILITY}`, {
      method: "POST",
      headers: job.headers,
      body: JSON.stringify({ text: "batch" }),
    }).then(
      (r) => r.status,
      () => "reset",
    );
    await new Promise((r) => setTimeout(r, delayMs));
    running.child.kill("SIGKILL");
    await exited;
    const status = await answered;

    using store = openStore({ dataDir });
    const count = (table: string) =>
      (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const winners = store.listWinningTickets();
    const nonces = count("seen_nonces");
    const kept = store.getBalanceEntry(gw.address, CAPABILITY)?.amount ?? Rat.ZERO;
    const queuedEV = winners.reduce(
      (sum, w) => sum.add(ticketEV(w.ticket.faceValue, w.ticket.winProb)),
      Rat.ZERO,
    );
    t.diagnostic(
      `kill ${delayMs} ms into the request (answer: ${status}): ${nonces} nonces recorded, ${winners.length} winners queued, credit ${kept.floor()} wei (queued winners' EV ${queuedEV.floor()})`,
    );
    // Every ticket wins (face value EV + 1): a nonce recorded without its winner queued is a lost
    // winning ticket, and credit above the queued winners' EV is credit for a ticket that is not on disk.
    assert.equal(nonces, winners.length, "every recorded nonce has its winning ticket queued");
    assert.ok(kept.cmp(queuedEV) <= 0, `credit ${kept} ≤ the EV of the queued winners ${queuedEV}`);
    assert.ok(nonces % 150 === 0, `a batch is recorded whole or not at all (${nonces} nonces)`);
  }
});
