import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hashMessage, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { recoverSigner, recoverSignerHere, recoveryParallelism } from "./ecrecover.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";
import { gw, PRICE, quote, setup } from "./recipient-test-util.ts";
import { ticketEV, ticketsOfPayment } from "./ticket.ts";
import { startVerifyPool, type VerifyPool } from "./verify-pool.ts";

const signer = privateKeyToAccount(`0x${"17".repeat(32)}`);

async function signed(i: number) {
  const msg = new Uint8Array(32).fill(i);
  const sig = hexToBytes(await signer.signMessage({ message: { raw: msg } }));
  return { digest: hexToBytes(hashMessage({ raw: msg })), sig };
}

describe("verify pool", () => {
  let pool: VerifyPool;
  before(() => {
    pool = startVerifyPool({ threads: 2 });
  });
  after(() => pool.close());

  test("recovers in the workers what the main thread recovers, invalid signatures included", async () => {
    assert.equal(recoveryParallelism(), 2);
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => signed(i)));
    const bad = { digest: jobs[0]!.digest, sig: new Uint8Array(65).fill(0, 0, 64).fill(27, 64) };
    const all = [...jobs, bad];
    const before = pool.offloaded;
    const pooled = await Promise.all(all.map((j) => recoverSigner(j.digest, j.sig)));
    const here = await Promise.all(all.map((j) => recoverSignerHere(j.digest, j.sig)));
    assert.deepEqual(pooled, here);
    assert.equal(
      pooled.slice(0, 40).every((a) => a === signer.address.toLowerCase()),
      true,
    );
    assert.equal(pooled[40], undefined);
    assert.equal(pool.offloaded - before, all.length, "a burst goes to the workers");
  });

  test("a lone recovery on an idle pool runs on the calling thread", async () => {
    const j = await signed(99);
    const inline = pool.inline;
    assert.equal(await recoverSigner(j.digest, j.sig), signer.address.toLowerCase());
    assert.equal(pool.inline, inline + 1);
  });

  test("the same payment processed many times at once is credited once: nonces and balance stay on the main thread", async () => {
    const s = setup();
    const params = await quote(s);
    const payment = await s.sender.createPayment(s.sender.startSession(params), 20, PRICE);
    const offloaded = pool.offloaded;
    const results = await Promise.all(
      Array.from({ length: 6 }, () => s.recipient.processPayment(payment, "mid", s.balances)),
    );
    assert.ok(pool.offloaded - offloaded >= 6 * 20, "the signatures were recovered in the workers");
    const ev = ticketEV(params.faceValue, params.winProb);
    assert.deepEqual(results.map((r) => r.creditedTickets).sort(), [0, 0, 0, 0, 0, 20]);
    for (const r of results.filter((x) => x.creditedTickets === 0))
      assert.ok(r.error instanceof PaymentError && r.error.code === "NONCE_REUSED");
    assert.equal(s.balances.balance(gw.address, "mid")!.cmp(ev.mul(20n)), 0);
  });

  test("one ticket received many times at once passes once; the others are NONCE_REUSED", async () => {
    const s = setup();
    const params = await quote(s);
    const payment = await s.sender.createPayment(s.sender.startSession(params), 1, PRICE);
    const [t] = ticketsOfPayment(payment);
    const price = Rat.of(PRICE.pricePerUnit, PRICE.pixelsPerUnit);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => s.recipient.receiveTicket(t!, t!.sig, params.seed, price)),
    );
    assert.equal(results.filter((r) => r.error === undefined).length, 1);
    assert.equal(results.filter((r) => r.error?.code === "NONCE_REUSED").length, 7);
  });

  test("close finishes queued recoveries on the main thread and uninstalls the pool", async () => {
    const other = startVerifyPool({ threads: 1 });
    const jobs = await Promise.all(Array.from({ length: 8 }, (_, i) => signed(i)));
    const pending = Promise.all(jobs.map((j) => recoverSigner(j.digest, j.sig)));
    await other.close();
    assert.deepEqual(
      await pending,
      jobs.map(() => signer.address.toLowerCase()),
    );
    assert.equal(recoveryParallelism(), 1);
    pool = startVerifyPool({ threads: 2 }); // for after()
  });
});
