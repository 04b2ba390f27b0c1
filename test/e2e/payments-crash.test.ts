/**
 * Crash safety of winning tickets: a child process acting as the recipient commits each winning
 * ticket to its store, then acknowledges it on stdout, while its redeemer runs. The child is
 * SIGKILLed mid-stream and restarted; afterwards every acknowledged ticket is redeemed exactly once:
 * used on-chain, one WinningTicketRedeemed event per ticket, and one transaction per ticket.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { type Hash, parseEther } from "viem";
import { createChainClients, ticketBrokerAbi } from "../../src/chain/index.ts";
import { openStore } from "../../src/payments/store/store.ts";
import { devnetFixture } from "../devnet.ts";

const src = (p: string) => JSON.stringify(new URL(`../../src/${p}`, import.meta.url).href);

// The recipient process. argv: mode ("receive" | "recover"), config JSON.
const CHILD = `
import { createChainClients } from ${src("chain/clients.ts")};
import { createSignedTicket } from ${src("chain/devnet-tickets.ts")};
import { createRedeemerChain } from ${src("chain/redeemer-chain.ts")};
import { openStore } from ${src("payments/store/store.ts")};
import { Redeemer } from ${src("payments/redeemer.ts")};
const [mode, json] = process.argv.slice(1);
const c = JSON.parse(json);
const clients = createChainClients({ rpcUrl: c.rpcUrl, chainId: c.chainId, privateKey: c.orchestratorKey });
const store = openStore({ path: c.storePath });
const redeemer = new Redeemer({
  store,
  chain: createRedeemerChain({ clients, ticketBroker: c.ticketBroker, roundsManager: c.roundsManager, bondingManager: c.bondingManager }),
  pollIntervalMs: 10,
  backoffBaseMs: 10,
});
if (mode === "receive") {
  redeemer.start();
  for (let i = 1; i <= c.count; i++) {
    const t = await createSignedTicket({
      clients, roundsManager: c.roundsManager, senderKey: c.gatewayKey, recipient: clients.account.address,
      faceValue: BigInt(c.faceValue), senderNonce: i,
    });
    redeemer.enqueue(t); // durable when this returns
    process.stdout.write("ack " + t.hash + "\\n");
    await new Promise((r) => setTimeout(r, 15));
  }
  process.stdout.write("all-acked\\n");
  await new Promise(() => {}); // wait to be killed
} else {
  for (;;) {
    const n = store.countWinningTickets();
    if (n.pending === 0 && n.submitted === 0) break;
    await redeemer.runOnce();
    await new Promise((r) => setTimeout(r, 10));
  }
  process.stdout.write("done " + JSON.stringify(store.countWinningTickets()) + "\\n");
  store.close();
}
`;

const children: ChildProcess[] = [];

function runChild(
  mode: "receive" | "recover",
  config: object,
): { child: ChildProcess; lines: AsyncIterable<string> } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, mode, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return { child, lines: createInterface({ input: child.stdout! }) };
}

test("every acknowledged winning ticket is redeemed exactly once across a SIGKILL and a restart", async (t) => {
  await using net = await devnetFixture({
    roundLength: 1000,
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  net.defer(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
  const { devnet } = net;
  const storePath = join(net.dir, "recipient.sqlite");
  const config = {
    rpcUrl: devnet.rpcUrl,
    chainId: devnet.chainId,
    orchestratorKey: devnet.accounts.orchestrator.privateKey,
    gatewayKey: devnet.accounts.gateway.privateKey,
    ticketBroker: devnet.contracts.ticketBroker,
    roundsManager: devnet.contracts.roundsManager,
    bondingManager: devnet.contracts.bondingManager,
    storePath,
    count: 30,
    faceValue: parseEther("0.001").toString(),
  };
  const o = createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId });
  const orchestrator = devnet.accounts.orchestrator.address;
  const txCountBefore = await o.publicClient.getTransactionCount({ address: orchestrator });
  const fromBlock = await o.publicClient.getBlockNumber({ cacheTime: 0 });

  // 1. Receive tickets; kill the recipient without warning after some acknowledgements.
  const acked: Hash[] = [];
  const first = runChild("receive", config);
  const exited = new Promise((r) => first.child.once("exit", r));
  for await (const line of first.lines) {
    if (line.startsWith("ack ")) acked.push(line.slice(4) as Hash);
    if (acked.length === 10) {
      first.child.kill("SIGKILL");
      break;
    }
  }
  await exited;
  assert.equal(first.child.signalCode, "SIGKILL");
  assert.equal(acked.length, 10);

  {
    using s = openStore({ path: storePath });
    const n = s.countWinningTickets();
    t.diagnostic(`store after SIGKILL: ${JSON.stringify(n)}`); // how far redemption got before the kill
  }
  // 2. Restart: the redeemer recovers whatever the store holds.
  const second = runChild("recover", config);
  let done: string | undefined;
  for await (const line of second.lines) if (line.startsWith("done ")) done = line;
  assert.ok(done, "the restarted recipient finished");

  // 3. Every acknowledged ticket is redeemed, once.
  using store = openStore({ path: storePath });
  const all = store.listWinningTickets();
  assert.ok(all.length >= acked.length, "the store holds at least every acknowledged ticket");
  assert.deepEqual(store.countWinningTickets(), {
    pending: 0,
    submitted: 0,
    redeemed: all.length,
    failed: 0,
  });
  for (const hash of acked) {
    assert.equal(store.getWinningTicketByHash(hash)?.status, "redeemed");
    assert.equal(
      await o.publicClient.readContract({
        address: devnet.contracts.ticketBroker,
        abi: ticketBrokerAbi,
        functionName: "usedTickets",
        args: [hash],
      }),
      true,
    );
  }
  const events = await o.publicClient.getContractEvents({
    address: devnet.contracts.ticketBroker,
    abi: ticketBrokerAbi,
    eventName: "WinningTicketRedeemed",
    args: { recipient: orchestrator },
    fromBlock,
  });
  const nonces = events.map((e) => e.args.senderNonce);
  assert.equal(events.length, all.length, "one redemption event per stored ticket");
  assert.equal(new Set(nonces).size, nonces.length, "no ticket redeemed twice");
  const txCountAfter = await o.publicClient.getTransactionCount({ address: orchestrator });
  assert.equal(txCountAfter - txCountBefore, all.length, "one transaction per ticket, none wasted");
});
