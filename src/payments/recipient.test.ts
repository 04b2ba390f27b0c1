/**
 * The Recipient: ticket params (expiry, round, recipientRand), ticket validation in go-livepeer's
 * order, nonces, crediting, one transaction per payment batch, and exact balances. Face value, win
 * probability and tickets sized for the price: ticket-sizing.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { Balances } from "./balances.ts";
import { MAX_SENDER_NONCES, MAX_WIN_PROB } from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";
import { Recipient } from "./recipient.ts";
import { BLOCK_HASH, gw, ORCH, PRICE, quote, setup, ZERO_HASH } from "./recipient-test-util.ts";
import { openStore } from "./store/store.ts";
import { isWinningTicket, recipientRandHash, ticketEV, ticketHash } from "./ticket.ts";
import type { Payment, PriceInfo, SignedTicket } from "./types.ts";

describe("recipient ticket params", () => {
  test("expire 40 L1 blocks ahead, carry the last round and its hash, and a fresh seed each time", async () => {
    const s = setup();
    const a = await quote(s);
    const b = await quote(s);
    assert.equal(a.expirationBlock, 1040n);
    assert.deepEqual(a.expirationParams, { creationRound: 10n, creationRoundBlockHash: BLOCK_HASH });
    assert.notEqual(a.seed, b.seed);
    assert.notEqual(a.recipientRandHash, b.recipientRandHash);
  });

  test("a zero block hash for the last round falls back to the previous round and its hash", async () => {
    const s = setup();
    s.time.hash = ZERO_HASH;
    const p = await quote(s);
    assert.deepEqual(p.expirationParams, { creationRound: 9n, creationRoundBlockHash: s.time.preHash });
  });

  test("a free price gives face value 0 and win probability 0 without asking for the max float", async () => {
    const s = setup();
    s.senders.float = 0n;
    const p = await quote(s, { ...PRICE, pricePerUnit: 0n });
    assert.equal(p.faceValue, 0n);
    assert.equal(p.winProb, 0n);
  });

  test("recipientRandHash commits to the HMAC of the params, and the price is used in lowest terms", async () => {
    const s = setup();
    const p = await quote(s);
    const rand = s.recipient.recipientRand(
      p.seed,
      gw.address,
      p.faceValue,
      p.winProb,
      p.expirationBlock,
      Rat.of(20n, 6n),
      p.expirationParams!,
    );
    assert.equal(recipientRandHash(rand), p.recipientRandHash);
  });
});

async function pay(s: ReturnType<typeof setup>, n: number, price: PriceInfo = PRICE): Promise<Payment> {
  const params = await quote(s, price);
  const id = s.sender.startSession(params);
  return s.sender.createPayment(id, n, price);
}

describe("recipient validation and accounting", () => {
  test("a valid batch is credited exactly n × EV and nonces start at 1", async () => {
    const s = setup();
    const payment = await pay(s, 3);
    assert.deepEqual(
      payment.senderParams.map((p) => p.senderNonce),
      [1, 2, 3],
    );
    const res = await s.recipient.processPayment(payment, "mid", s.balances);
    const ev = ticketEV(payment.ticketParams!.faceValue, payment.ticketParams!.winProb);
    assert.equal(res.error, undefined);
    assert.equal(res.creditedTickets, 3);
    assert.equal(res.credited.cmp(ev.mul(3n)), 0);
    assert.equal(s.balances.balance(gw.address, "mid")!.cmp(ev.mul(3n)), 0);
    assert.equal(s.balances.fixedPrice(gw.address, "mid")!.toString(), "10/3");
  });

  test("any change to an echoed field makes recipientRand mismatch: a fatal INVALID_RECIPIENT_RAND", async () => {
    const s = setup();
    const payment = await pay(s, 1);
    const tp = payment.ticketParams!;
    const mutations: Array<(p: Payment) => Payment> = [
      (p) => ({ ...p, ticketParams: { ...tp, seed: tp.seed + 1n } }),
      (p) => ({ ...p, ticketParams: { ...tp, expirationBlock: tp.expirationBlock + 1n } }),
      (p) => ({ ...p, expectedPrice: { ...PRICE, pricePerUnit: 11n } }),
      (p) => ({ ...p, expirationParams: { creationRound: 11n, creationRoundBlockHash: BLOCK_HASH } }),
    ];
    for (const m of mutations) {
      await assert.rejects(
        s.recipient.processPayment(m(payment), "mid", s.balances),
        (e: unknown) => e instanceof PaymentError && e.code === "INVALID_RECIPIENT_RAND" && e.fatal,
      );
    }
    // a price with the same ratio is accepted (20/6 = 10/3)
    const same = await s.recipient.processPayment(
      { ...payment, expectedPrice: { ...PRICE, pricePerUnit: 20n, pixelsPerUnit: 6n } },
      "m2",
      s.balances,
    );
    assert.equal(same.error, undefined);
  });

  test("a wrong recipient and an unlocking sender abort the payment", async () => {
    const s = setup();
    const payment = await pay(s, 1);
    await assert.rejects(
      s.recipient.processPayment(
        { ...payment, ticketParams: { ...payment.ticketParams!, recipient: gw.address } },
        "mid",
        s.balances,
      ),
      (e: unknown) =>
        e instanceof PaymentError &&
        e.code === "INVALID_TICKET_RECIPIENT" &&
        e.upstream === "invalid ticket recipient",
    );
    s.senders.info = { ...s.senders.info, withdrawRound: 11n };
    await assert.rejects(
      s.recipient.processPayment(payment, "mid", s.balances),
      (e: unknown) => e instanceof PaymentError && e.code === "SENDER_UNLOCKING" && e.fatal,
    );
  });

  test("a bad signature is non-fatal: later tickets are checked but not credited", async () => {
    const s = setup();
    const payment = await pay(s, 3);
    const sp = payment.senderParams;
    const badSig = `${sp[1]!.sig.slice(0, 130)}${sp[1]!.sig.endsWith("1b") ? "1c" : "1b"}` as Hex;
    const res = await s.recipient.processPayment(
      { ...payment, senderParams: [sp[0]!, { ...sp[1]!, sig: badSig }, sp[2]!] },
      "mid",
      s.balances,
    );
    assert.equal(res.creditedTickets, 1);
    assert.equal(res.error?.code, "INVALID_SIGNATURE");
    assert.equal(res.error?.upstream, "invalid ticket signature");
  });

  test("a reused nonce is NONCE_REUSED; out-of-order nonces are fine", async () => {
    const s = setup();
    const payment = await pay(s, 3);
    const [a, b, c] = payment.senderParams;
    const r1 = await s.recipient.processPayment({ ...payment, senderParams: [c!, a!] }, "mid", s.balances);
    assert.equal(r1.error, undefined);
    const r2 = await s.recipient.processPayment({ ...payment, senderParams: [b!, a!] }, "mid", s.balances);
    assert.equal(r2.creditedTickets, 1);
    assert.equal(r2.error?.code, "NONCE_REUSED");
    assert.match(r2.error!.upstream, /^invalid ticket senderNonce: already seen sender=0x.* nonce=1$/);
  });

  test("at most 600 nonces per recipientRand; purging on expiry forgets them", async () => {
    const s = setup();
    const params = await quote(s);
    const id = s.sender.startSession(params);
    const batch = await s.sender.createTicketBatch(id, MAX_SENDER_NONCES);
    const payment: Payment = {
      ticketParams: params,
      sender: gw.address,
      expirationParams: batch.expirationParams,
      senderParams: [...batch.senderParams, { senderNonce: 601, sig: batch.senderParams[0]!.sig }],
      expectedPrice: PRICE,
    };
    const res = await s.recipient.processPayment(payment, "mid", s.balances);
    assert.equal(res.creditedTickets, MAX_SENDER_NONCES);
    assert.ok(res.error?.code === "TOO_MANY_NONCES" || res.error?.code === "INVALID_SIGNATURE");
    await assert.rejects(
      s.sender.createTicketBatch(id, 1),
      (e: unknown) => e instanceof PaymentError && e.code === "TOO_MANY_NONCES",
    );
    assert.equal(s.recipient.purgeExpiredNonces(params.expirationBlock - 1n), 0);
    assert.equal(s.recipient.purgeExpiredNonces(params.expirationBlock), 1);
    assert.equal(s.nonces.size, 0);
  });

  test("a winner is handed to onWinner at once, so a fatal error later in the batch does not drop it", async () => {
    const s = setup({ ticketEV: 1000n, gasPrice: 0n });
    s.senders.float = 1001n; // face value just above EV: each ticket wins with probability 1000/1001
    let payment = await pay(s, 2);
    const wins = (p: Payment) => {
      const tp = p.ticketParams!;
      const price = Rat.of(PRICE.pricePerUnit, PRICE.pixelsPerUnit);
      const rand = s.recipient.recipientRand(
        tp.seed,
        gw.address,
        tp.faceValue,
        tp.winProb,
        tp.expirationBlock,
        price,
        p.expirationParams!,
      );
      return isWinningTicket(p.senderParams[0]!.sig, rand, tp.winProb);
    };
    while (!wins(payment)) payment = await pay(s, 2); // p = 1000/1001 per try
    const info = s.senders.info;
    let reads = 0;
    s.senders.senderInfo = () => {
      if (++reads > 1) throw new Error("RPC unreachable");
      return info;
    };
    const handed: Hex[] = [];
    await assert.rejects(
      s.recipient.processPayment(payment, "mid", s.balances, (w) => handed.push(w.sig)),
      (e: unknown) => e instanceof PaymentError && e.code === "SENDER_INFO_UNAVAILABLE" && e.fatal,
    );
    // The first ticket was credited and its nonce burned before the second failed: it must not be lost.
    assert.equal(s.balances.balance(gw.address, "mid")!.cmp(0n), 1);
    assert.deepEqual(handed, [payment.senderParams[0]!.sig]);
  });

  test("expired params are TICKET_EXPIRED after winning detection: a winner is still reported", async () => {
    const s = setup({ ticketEV: 1000n, gasPrice: 0n });
    // cap the face value just above EV so each ticket wins with probability 1000/1001
    s.senders.float = 1001n;
    const payment = await pay(s, 3);
    s.time.block = payment.ticketParams!.expirationBlock;
    const res = await s.recipient.processPayment(payment, "mid", s.balances);
    assert.equal(res.error?.code, "TICKET_EXPIRED");
    assert.equal(res.error?.upstream, "TicketParams expired");
    assert.equal(res.creditedTickets, 0);
    const expected = payment.senderParams.filter((sp) =>
      isWinningTicket(sp.sig, res.winners[0]?.recipientRand ?? 0n, payment.ticketParams!.winProb),
    ).length;
    assert.ok(res.winners.length >= 1, "with p = 1000/1001 per ticket, at least one of 3 wins");
    assert.equal(res.winners.length, expected);
    assert.equal(recipientRandHash(res.winners[0]!.recipientRand!), payment.ticketParams!.recipientRandHash);
  });

  test("no ticket params fixes a zero price of an existing session only; no sender or a bad price is refused", async () => {
    const s = setup();
    const free = { sender: gw.address, senderParams: [], expectedPrice: PRICE };
    const r = await s.recipient.processPayment(free, "x", s.balances);
    assert.equal(r.creditedTickets, 0);
    assert.equal(s.balances.balance(gw.address, "x"), undefined, "no state for a sender that paid nothing");
    s.balances.credit(gw.address, "x", Rat.of(5n));
    await s.recipient.processPayment(free, "x", s.balances);
    assert.equal(s.balances.fixedPrice(gw.address, "x")!.toString(), "0");
    const payment = await pay(s, 1);
    await assert.rejects(
      s.recipient.processPayment(
        { ...payment, sender: "0x0000000000000000000000000000000000000000" },
        "m",
        s.balances,
      ),
      (e: unknown) => e instanceof PaymentError && e.code === "MISSING_SENDER",
    );
    await assert.rejects(
      s.recipient.processPayment(
        { ...payment, expectedPrice: { ...PRICE, pixelsPerUnit: 0n } },
        "m",
        s.balances,
      ),
      (e: unknown) =>
        e instanceof PaymentError && e.code === "INVALID_PRICE" && /pixels per unit is 0/.test(e.upstream),
    );
    const { expectedPrice: _drop, ...noPrice } = payment;
    await assert.rejects(
      s.recipient.processPayment(noPrice, "m", s.balances),
      (e: unknown) => e instanceof PaymentError && /expected price is nil/.test(e.upstream),
    );
  });
});

describe("one transaction per payment batch (nonces, credit, winners)", () => {
  const EV = 10n ** 11n;
  /** A recipient over a SQLite store whose tickets all win (face value EV + 1: p = 1 − 1e-11). */
  function stored(float = EV + 1n, gasPrice = 0n) {
    const store = openStore({ path: ":memory:" });
    const base = setup({ ticketEV: EV, gasPrice: 0n });
    base.senders.float = float;
    let transactions = 0;
    /** SQLite's `synchronous` level inside each batch's transaction (2 FULL: fsync'd; 1 NORMAL). */
    const levels: number[] = [];
    const level = () => (store.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
    const recipient = new Recipient({
      address: ORCH,
      secret: new Uint8Array(32).fill(9),
      ticketEV: EV,
      redeemGas: 10_000n,
      time: base.time,
      gasPrice: { gasPrice: () => gasPrice },
      senders: base.senders,
      nonces: store.nonceStore(),
      transaction: (fn, options) => {
        transactions++;
        return store.transaction(() => {
          levels.push(level());
          return fn();
        }, options);
      },
    });
    const s = { ...base, recipient };
    const balances = new Balances(store.balanceStore());
    const count = (table: string) =>
      (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const enqueue = (t: SignedTicket) => {
      store.addWinningTicket(ticketHash(t), { ...t, recipientRand: t.recipientRand! });
    };
    return { s, store, recipient, balances, count, enqueue, levels, level, transactions: () => transactions };
  }

  test("a batch with a winner is fsync'd (synchronous=FULL); one without commits with NORMAL, FULL again after", async () => {
    const winners = stored();
    using _w = winners.store;
    const won = await winners.recipient.processPayment(
      await pay(winners.s, 3),
      "m",
      winners.balances,
      winners.enqueue,
    );
    assert.equal(won.winners.length, 3);
    assert.deepEqual(winners.levels, [2]);
    // Redemption gas at 10^12 wei sizes face values of 10^7 EVs: a ticket wins with probability 1e-7
    // (at gas price 0 the face value is 100 EVs, and 3 tickets had a 3 % chance of a winner).
    const plain = stored(EV * 10n ** 9n, 10n ** 12n);
    using _p = plain.store;
    const res = await plain.recipient.processPayment(
      await pay(plain.s, 3),
      "m",
      plain.balances,
      plain.enqueue,
    );
    assert.equal(res.winners.length, 0);
    assert.equal(res.creditedTickets, 3);
    assert.deepEqual(plain.levels, [1]);
    assert.equal(plain.level(), 2, "every other write is fsync'd again");
    assert.equal(plain.count("seen_nonces"), 3, "the nonces committed with the credit");
    assert.equal(plain.balances.balance(gw.address, "m")!.cmp(res.credited), 0);
  });

  test("a batch of winners commits nonces, credit and every winner in one transaction", async () => {
    const t = stored();
    using _store = t.store;
    const payment = await pay(t.s, 20);
    const res = await t.recipient.processPayment(payment, "m", t.balances, t.enqueue);
    assert.equal(res.creditedTickets, 20);
    assert.equal(res.winners.length, 20);
    assert.equal(t.transactions(), 1);
    assert.equal(t.count("winning_tickets"), 20);
    assert.equal(t.count("seen_nonces"), 20);
    assert.equal(t.balances.balance(gw.address, "m")!.cmp(res.credited), 0);
  });

  test("a crash while queueing a winner mid-batch leaves no credit, nonce or winner of that batch", async () => {
    const t = stored();
    using _store = t.store;
    const payment = await pay(t.s, 10);
    let queued = 0;
    const crash = new Error("process died while queueing a winner");
    await assert.rejects(
      t.recipient.processPayment(payment, "m", t.balances, (w) => {
        if (++queued === 4) throw crash;
        t.enqueue(w);
      }),
      crash,
    );
    // Credit without its winner on disk would be money the orchestrator can never redeem.
    assert.equal(t.count("winning_tickets"), 0);
    assert.equal(t.count("seen_nonces"), 0);
    assert.equal(t.balances.balance(gw.address, "m"), undefined);
    // The same payment is accepted whole afterwards.
    const res = await t.recipient.processPayment(payment, "m", t.balances, t.enqueue);
    assert.equal(res.creditedTickets, 10);
    assert.equal(t.count("winning_tickets"), 10);
  });

  test("rejected payments from random senders create no balance row and no nonce", async () => {
    const t = stored();
    using _store = t.store;
    const good = await pay(t.s, 2);
    for (let i = 0; i < 30; i++) {
      const stranger = privateKeyToAccount(`0x${(i + 1).toString(16).padStart(64, "a")}`).address;
      const variants: Payment[] = [
        { sender: stranger, senderParams: [], expectedPrice: PRICE }, // no ticket params
        { ...good, sender: stranger }, // tickets bound to another sender: fatal recipientRand mismatch
        {
          ...good,
          senderParams: good.senderParams.map((p) => ({ ...p, sig: `0x${"22".repeat(65)}` as Hex })),
        }, // bad signatures (non-fatal, nothing credited)
      ];
      for (const p of variants) {
        try {
          const r = await t.recipient.processPayment(p, `m${i}`, t.balances, t.enqueue);
          assert.equal(r.creditedTickets, 0);
        } catch (err) {
          assert.ok(err instanceof PaymentError, String(err));
        }
      }
    }
    assert.equal(t.count("balances"), 0);
    assert.equal(t.count("seen_nonces"), 0);
    assert.equal(t.count("winning_tickets"), 0);
  });
});

describe("balances", () => {
  test("credit EV and debit price × units stay exact for any sequence", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constant("credit" as const),
              fv: fc.bigInt({ min: 0n, max: 10n ** 20n }),
              wp: fc.bigInt({ min: 0n, max: MAX_WIN_PROB }),
            }),
            fc.record({
              kind: fc.constant("debit" as const),
              ppu: fc.bigInt({ min: 0n, max: 10n ** 6n }),
              ppx: fc.bigInt({ min: 1n, max: 10n ** 3n }),
              units: fc.bigInt({ min: 0n, max: 10n ** 9n }),
            }),
          ),
          { maxLength: 20 },
        ),
        (ops) => {
          const b = new Balances();
          // exact reference: numerator over the common denominator MAX_WIN_PROB × lcm-free product
          let refNum = 0n;
          let refDen = 1n;
          for (const op of ops) {
            if (op.kind === "credit") {
              b.credit(gw.address, "m", ticketEV(op.fv, op.wp));
              refNum = refNum * MAX_WIN_PROB + op.fv * op.wp * refDen;
              refDen *= MAX_WIN_PROB;
            } else {
              b.debitFees(gw.address, "m", Rat.of(op.ppu, op.ppx), op.units);
              refNum = refNum * op.ppx - op.ppu * op.units * refDen;
              refDen *= op.ppx;
            }
          }
          const got = b.balance(gw.address, "m") ?? Rat.ZERO;
          assert.equal(got.cmp(Rat.of(refNum, refDen)), 0);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("requireSufficient says how much is missing", () => {
    const b = new Balances();
    b.credit(gw.address, "m", Rat.of(5n));
    assert.throws(
      () => b.requireSufficient(gw.address, "m", Rat.of(8n)),
      (e: unknown) =>
        e instanceof PaymentError &&
        e.code === "INSUFFICIENT_BALANCE" &&
        /have 5 wei, need at least 8 wei/.test(e.message),
    );
    b.requireSufficient(gw.address, "m", Rat.of(5n));
  });
});
