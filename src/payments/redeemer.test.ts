import assert from "node:assert/strict";
import { test } from "node:test";
import type { Address, Hash, Hex } from "viem";
import {
  Redeemer,
  type RedeemerChain,
  RedeemNetworkError,
  RedeemRevertError,
  type SignedRedeemTx,
} from "./redeemer.ts";
import { openStore, type PaymentStore } from "./store/store.ts";
import { ticketHash } from "./ticket.ts";
import type { SignedTicket } from "./types.ts";

const SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as Address;
const RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" as Address;

function winning(nonce: number, over: Partial<SignedTicket> = {}): SignedTicket & { recipientRand: bigint } {
  return {
    recipient: RECIPIENT,
    sender: SENDER,
    faceValue: 10n ** 18n,
    winProb: (1n << 256n) - 1n,
    senderNonce: nonce,
    recipientRandHash: `0x${"ab".repeat(32)}`,
    creationRound: 3n,
    creationRoundBlockHash: `0x${"cd".repeat(32)}`,
    paramsExpirationBlock: 100n,
    sig: `0x${"11".repeat(65)}` as Hex,
    recipientRand: 42n,
    ...over,
  };
}

/** A scriptable chain: tests set its state and inject failures. */
class FakeChain implements RedeemerChain {
  readonly account = RECIPIENT;
  block = 100n;
  roundInitialized = true;
  active = true;
  used = new Set<string>();
  deposit = 10n ** 18n;
  claimable = 0n;
  price = 1n;
  gas = 100_000n;
  /** Thrown once by the next call of the named method. */
  failNext = new Map<string, Error>();
  /** Revert reason every simulation throws. */
  revert: string | undefined;
  signed: SignedRedeemTx[] = [];
  broadcasts: SignedRedeemTx[] = [];
  mined = new Map<string, "success" | "reverted">();
  /** Broadcasts are dropped instead of mined (a lost transaction). */
  dropBroadcasts = false;
  #n = 0;
  #tickets = new Map<string, Hash>();

  #maybeFail(name: string): void {
    const e = this.failNext.get(name);
    if (e) {
      this.failNext.delete(name);
      throw e;
    }
  }
  async blockNumber() {
    this.#maybeFail("blockNumber");
    return this.block;
  }
  async isActiveTranscoder() {
    return this.active;
  }
  async currentRoundInitialized() {
    return this.roundInitialized;
  }
  async isUsedTicket(hash: Hash) {
    this.#maybeFail("isUsedTicket");
    return this.used.has(hash);
  }
  async senderFunds() {
    return { deposit: this.deposit, claimableReserve: this.claimable };
  }
  async gasPrice() {
    return this.price;
  }
  async estimateRedeemGas(t: SignedTicket & { recipientRand: bigint }) {
    this.#maybeFail("estimateRedeemGas");
    if (this.revert) throw new RedeemRevertError(this.revert);
    if (this.used.has(ticketHash(t))) throw new RedeemRevertError("ticket is used");
    return this.gas;
  }
  async signRedeem(t: SignedTicket & { recipientRand: bigint }) {
    const hash = `0x${(++this.#n).toString(16).padStart(64, "0")}` as Hash;
    this.#tickets.set(hash, ticketHash(t));
    const tx = { hash, serialized: "0x01" as Hex };
    this.signed.push(tx);
    return tx;
  }
  async broadcast(tx: SignedRedeemTx) {
    this.#maybeFail("broadcast");
    this.broadcasts.push(tx);
    if (this.dropBroadcasts) return;
    this.used.add(this.#tickets.get(tx.hash)!);
    this.mined.set(tx.hash, "success");
  }
  async receiptStatus(hash: Hash) {
    this.#maybeFail("receiptStatus");
    return this.mined.get(hash);
  }
  async waitForReceipt(hash: Hash) {
    return this.mined.get(hash);
  }
  async isKnownTransaction(hash: Hash) {
    return this.mined.has(hash);
  }
}

function setup(now = { t: 0 }) {
  const store = openStore({ path: ":memory:", now: () => now.t });
  const chain = new FakeChain();
  const redeemer = new Redeemer({ store, chain, now: () => now.t, backoffBaseMs: 1000, pollIntervalMs: 500 });
  return { store, chain, redeemer, now };
}

const statusOf = (store: PaymentStore, id: number) => store.getWinningTicket(id)!;

test("waits until the params expiration block is reached, then redeems and records the tx hash", async () => {
  const { store, chain, redeemer, now } = setup();
  chain.block = 99n;
  const t = redeemer.enqueue(winning(1));
  const [first] = await redeemer.runOnce();
  assert.equal(first?.outcome, "waiting");
  assert.equal(chain.signed.length, 0);
  assert.equal(statusOf(store, t.id).status, "pending");
  assert.equal(statusOf(store, t.id).attempts, 0, "waiting is not an attempt");

  chain.block = 100n;
  now.t += 500;
  const [second] = await redeemer.runOnce();
  assert.equal(second?.outcome, "redeemed");
  const stored = statusOf(store, t.id);
  assert.equal(stored.status, "redeemed");
  assert.equal(stored.txHash, chain.signed[0]!.hash);
  assert.equal(chain.broadcasts.length, 1);
  assert.deepEqual(await redeemer.runOnce(), [], "a redeemed ticket is not looked at again");
});

test("a ticket already used on-chain fails with 'ticket is used' and sends nothing", async () => {
  const { store, chain, redeemer } = setup();
  const t = redeemer.enqueue(winning(2));
  chain.used.add(t.ticketHash);
  const [r] = await redeemer.runOnce();
  assert.deepEqual(r, { id: t.id, outcome: "failed", reason: "ticket is used" });
  assert.equal(statusOf(store, t.id).lastError, "ticket is used");
  assert.equal(chain.signed.length, 0);
});

test("a revert in simulation is a permanent failure carrying the contract's reason", async () => {
  const { store, chain, redeemer } = setup();
  chain.revert = "ticket is expired";
  const t = redeemer.enqueue(winning(3));
  await redeemer.runOnce();
  assert.equal(statusOf(store, t.id).status, "failed");
  assert.equal(statusOf(store, t.id).lastError, "ticket is expired");
  assert.equal(chain.signed.length, 0);
});

test("'current round is not initialized' is waited out, not a failure", async () => {
  const { store, chain, redeemer, now } = setup();
  chain.revert = "current round is not initialized";
  const t = redeemer.enqueue(winning(4));
  await redeemer.runOnce();
  assert.equal(statusOf(store, t.id).status, "pending");
  chain.revert = undefined;
  now.t += 500;
  await redeemer.runOnce();
  assert.equal(statusOf(store, t.id).status, "redeemed");
});

test("tickets wait while the recipient is not in the active pool", async () => {
  const { store, chain, redeemer, now } = setup();
  chain.active = false;
  const t = redeemer.enqueue(winning(12));
  const [r] = await redeemer.runOnce();
  assert.equal(r?.outcome, "waiting");
  assert.match(statusOf(store, t.id).lastError!, /is not active in the current round/);
  chain.active = true;
  now.t += 500;
  await redeemer.runOnce();
  assert.equal(statusOf(store, t.id).status, "redeemed");
});

test("a ticket without its recipientRand cannot be enqueued", () => {
  const { redeemer } = setup();
  const { recipientRand: _, ...bare } = winning(13);
  assert.throws(() => redeemer.enqueue(bare), /needs its recipientRand/);
});

test("an RPC outage is retried with exponential backoff and never fails the ticket", async () => {
  const { store, chain, redeemer, now } = setup();
  const t = redeemer.enqueue(winning(5));
  for (let i = 0; i < 12; i++) {
    chain.failNext.set("blockNumber", new RedeemNetworkError("fetch failed"));
    const [r] = await redeemer.runOnce();
    assert.equal(r?.outcome, "retry");
    const s = statusOf(store, t.id);
    assert.equal(s.status, "pending");
    assert.equal(s.lastError, "network: fetch failed");
    assert.equal(s.nextAttemptAt - now.t, Math.min(60_000, 1000 * 2 ** i), `backoff after attempt ${i + 1}`);
    assert.deepEqual(await redeemer.runOnce(), [], "not retried before the backoff elapses");
    now.t = s.nextAttemptAt;
  }
  await redeemer.runOnce();
  assert.equal(statusOf(store, t.id).status, "redeemed");
});

test("tx cost above the face value or the sender's funds postpones the ticket with the reason", async () => {
  const { store, chain, redeemer, now } = setup();
  const t = redeemer.enqueue(winning(6, { faceValue: 1000n }));
  chain.gas = 1000n;
  chain.price = 1n;
  let [r] = await redeemer.runOnce();
  assert.equal(r?.outcome, "retry");
  assert.match(statusOf(store, t.id).lastError!, /^insufficient ticket face value for redeem tx cost/);

  chain.gas = 10n;
  chain.deposit = 5n;
  chain.claimable = 5n;
  now.t = statusOf(store, t.id).nextAttemptAt;
  [r] = await redeemer.runOnce();
  assert.match(statusOf(store, t.id).lastError!, /^insufficient sender funds for redeem tx cost/);

  chain.claimable = 6n; // deposit + claimable reserve (11) > txCost (10)
  now.t = statusOf(store, t.id).nextAttemptAt;
  [r] = await redeemer.runOnce();
  assert.equal(r?.outcome, "redeemed");
});

test("after a restart a submitted ticket whose tx was mined is marked redeemed without a resend", async () => {
  const { store, chain } = setup();
  const first = new Redeemer({ store, chain });
  const t = first.enqueue(winning(7));
  await first.runOnce();
  // Simulate a crash after broadcast and before the receipt was recorded.
  store.db.prepare("UPDATE winning_tickets SET status = 'submitted' WHERE id = ?").run(t.id);
  const second = new Redeemer({ store, chain });
  const [r] = await second.runOnce();
  assert.equal(r?.outcome, "redeemed");
  assert.equal(chain.broadcasts.length, 1);
  assert.equal(statusOf(store, t.id).txHash, chain.signed[0]!.hash);
});

test("after a restart a submitted ticket whose tx never left is sent again, once", async () => {
  const { store, chain } = setup();
  const t = store.addWinningTicket(ticketHash(winning(8)), winning(8)).ticket;
  store.markSubmitted(t.id, `0x${"ee".repeat(32)}`); // recorded, then crashed before broadcast
  const redeemer = new Redeemer({ store, chain });
  const [r] = await redeemer.runOnce();
  assert.equal(r?.outcome, "redeemed");
  assert.equal(chain.broadcasts.length, 1);
  assert.equal(statusOf(store, t.id).attempts, 2);
});

test("a dropped transaction is resent after the node forgets it", async () => {
  const { store, chain, now } = setup();
  const redeemer = new Redeemer({ store, chain, now: () => now.t, pollIntervalMs: 500 });
  chain.dropBroadcasts = true;
  const t = redeemer.enqueue(winning(9));
  let [r] = await redeemer.runOnce();
  assert.equal(r?.outcome, "waiting");
  assert.equal(statusOf(store, t.id).status, "submitted");
  chain.dropBroadcasts = false;
  now.t += 500;
  [r] = await redeemer.runOnce();
  assert.equal(r?.outcome, "redeemed");
  assert.equal(chain.broadcasts.length, 2);
  assert.notEqual(statusOf(store, t.id).txHash, chain.signed[0]!.hash);
});

test("unexpected errors fail the ticket after maxAttempts", async () => {
  const { store, chain, now } = setup();
  const redeemer = new Redeemer({ store, chain, now: () => now.t, maxAttempts: 3, backoffBaseMs: 1 });
  const t = redeemer.enqueue(winning(10));
  for (let i = 0; i < 3; i++) {
    chain.failNext.set("estimateRedeemGas", new Error("weird"));
    now.t += 10_000;
    await redeemer.runOnce();
  }
  const s = statusOf(store, t.id);
  assert.equal(s.status, "failed");
  assert.match(s.lastError!, /gave up after 3 attempts: weird/);
});

test("the background loop redeems enqueued tickets and stops when the signal aborts", async () => {
  const store = openStore({ path: ":memory:" });
  const chain = new FakeChain();
  const ac = new AbortController();
  const redeemer = new Redeemer({ store, chain, signal: ac.signal, pollIntervalMs: 20 });
  redeemer.start();
  const t = redeemer.enqueue(winning(11));
  while (statusOf(store, t.id).status !== "redeemed") await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await redeemer.stop();
  store.close();
});
