/**
 * The size of the tickets a Recipient quotes (ticket-sizing.ts): go-livepeer's face value and win
 * probability vectors, and tickets raised for a gateway's usual payment at the price.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { DEFAULT_MAX_TICKET_EV, MAX_WIN_PROB } from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";
import { Recipient } from "./recipient.ts";
import { FakeSenders, FakeTime, gw, ORCH, quote, setup } from "./recipient-test-util.ts";
import { ticketEV } from "./ticket.ts";
import type { PriceInfo } from "./types.ts";
import { BYOC_USUAL_PAYMENT_SECONDS, LIVE_USUAL_PAYMENT_PIXELS, usualPaymentUnits } from "./usual-payment.ts";

const vectors = JSON.parse(readFileSync(new URL("./testdata/pm-vectors.json", import.meta.url), "utf8")) as {
  ticket_params: {
    config: Record<string, string>;
    cases: Array<{
      name: string;
      inputs: { gasPrice: string | null; maxFloat: string | null };
      expected: { faceValue?: string; winProb?: string; error?: string };
    }>;
  };
};

describe("ticket parameter vectors (go-livepeer pm/recipient_test.go)", () => {
  const cfg = vectors.ticket_params.config;
  for (const c of vectors.ticket_params.cases) {
    test(`ticket params: ${c.name}`, async () => {
      const senders = new FakeSenders();
      if (c.inputs.maxFloat !== null) senders.float = BigInt(c.inputs.maxFloat);
      const r = new Recipient({
        address: ORCH,
        ticketEV: BigInt(cfg.EV!),
        redeemGas: BigInt(cfg.RedeemGas!),
        txCostMultiplier: BigInt(cfg.TxCostMultiplier!),
        time: new FakeTime(),
        gasPrice: { gasPrice: () => (c.inputs.gasPrice === null ? 1n : BigInt(c.inputs.gasPrice)) },
        senders,
      });
      if (c.expected.error) {
        await assert.rejects(
          r.ticketParams(gw.address, Rat.of(1n)),
          (e: unknown) =>
            e instanceof PaymentError &&
            e.upstream === c.expected.error &&
            e.code === "INSUFFICIENT_SENDER_RESERVE",
        );
        return;
      }
      const p = await r.ticketParams(gw.address, Rat.of(1n));
      assert.equal(p.faceValue.toString(), c.expected.faceValue);
      assert.equal(p.winProb.toString(), c.expected.winProb);
      assert.equal(r.winProb(BigInt(c.expected.faceValue!)).toString(), c.expected.winProb);
    });
  }

  test("winProb is max when faceValue equals EV and 0 for a zero face value", () => {
    const s = setup({ ticketEV: 5n });
    assert.equal(s.recipient.winProb(5n), MAX_WIN_PROB);
    assert.equal(s.recipient.winProb(0n), 0n);
  });

  test("a face value below both txCost and txCost at 3 gwei is refused even above EV", async () => {
    const s = setup({ ticketEV: 5n, gasPrice: 10n ** 12n });
    s.senders.float = 10_000n; // ≥ EV but < redeemGas × 3 gwei and < txCost
    await assert.rejects(
      quote(s),
      (e: unknown) => e instanceof PaymentError && /fund at least/.test(e.message),
    );
  });
});

describe("tickets sized for the usual payment at the price", () => {
  // setup(): ticket EV 1000 wei, txCost 10 000 wei, so the default face value is 1 000 000 wei.
  const BYOC = BYOC_USUAL_PAYMENT_SECONDS;
  const perSecond = (wei: bigint): PriceInfo => ({
    pricePerUnit: wei,
    pixelsPerUnit: 1n,
    capability: 0,
    constraint: "",
  });
  const ratOf = (p: PriceInfo) => Rat.of(p.pricePerUnit, p.pixelsPerUnit);

  /** Quotes at `price` for BYOC, pays `seconds` of it with the Sender, has the Recipient take it. */
  async function byocPayment(s: ReturnType<typeof setup>, price: PriceInfo, seconds = BYOC) {
    const params = await s.recipient.ticketParams(gw.address, ratOf(price), BYOC);
    const ev = ticketEV(params.faceValue, params.winProb);
    const n = Number(ratOf(price).mul(seconds).div(ev).ceil());
    const id = s.sender.startSession(params);
    const payment = await s.sender.createPayment(id, n, price);
    const res = await s.recipient.processPayment(payment, "cap", s.balances);
    return { params, ev, n, res };
  }

  test("a price of 100 × EV a second is quoted tickets worth more: 120 s of it in at most 50 tickets, credited in full", async () => {
    const s = setup();
    const price = perSecond(100_000n);
    const { params, ev, n, res } = await byocPayment(s, price);
    assert.ok(ev.cmp(1000n) > 0, `EV ${ev} should be above the default 1000`);
    assert.ok(ev.cmp(params.faceValue) < 0, "EV stays below the face value (win probability < 1)");
    assert.ok(n <= 50, `${n} tickets`);
    assert.ok(n >= 49, `${n} tickets: the EV is not raised further than needed`);
    assert.equal(
      params.faceValue,
      1_000_000n,
      "txCost × 100 already covers the EV: only the win probability rises",
    );
    assert.equal(res.error, undefined);
    assert.equal(res.creditedTickets, n);
    assert.equal(res.credited.cmp(ev.mul(BigInt(n))), 0);
    assert.ok(res.credited.cmp(ratOf(price).mul(BYOC)) >= 0, "the payment covers 120 s of price");
  });

  test("a cheap price, no usual units, or a target of 0 quote exactly the default params", async () => {
    for (const [opts, price, units] of [
      [{}, perSecond(400n), BYOC], // 120 s × 400 = 48 000 = 48 tickets of 1000: within the target
      [{}, perSecond(100_000n), 0n], // transcoding, or a caller that does not say
      [{ target: 0 }, perSecond(100_000n), BYOC],
    ] as const) {
      const s = setup(opts);
      const scaled = await s.recipient.ticketParams(gw.address, ratOf(price), units);
      assert.equal(scaled.faceValue, 1_000_000n);
      assert.equal(scaled.winProb, s.recipient.winProb(1_000_000n));
      assert.equal(ticketEV(scaled.faceValue, scaled.winProb).floor(), 1000n);
    }
  });

  test("when txCost × 100 is below the wanted EV the face value rises as go-livepeer's rule gives (EV × 100)", async () => {
    const s = setup();
    const price = perSecond(10_000_000n); // want 120 × 10^7 / 50 = 24 000 000 wei > txCost × 100
    const { params, ev, n, res } = await byocPayment(s, price);
    assert.equal(params.faceValue, 2_400_000_000n);
    assert.equal(ev.ceil(), 24_000_001n);
    assert.ok(n <= 50);
    assert.equal(res.error, undefined);
    assert.equal(res.creditedTickets, n);
  });

  test("--max-face-value bounds the raise: EV stays below it and the gateway sends more tickets", async () => {
    const s = setup();
    s.recipient.setMaxFaceValue(100_000n);
    const price = perSecond(100_000n);
    const { params, ev, n, res } = await byocPayment(s, price);
    assert.equal(params.faceValue, 100_000n);
    assert.ok(ev.cmp(100_000n) < 0 && ev.cmp(99_999n) >= 0, `EV ${ev}`);
    assert.equal(n, 121);
    assert.equal(res.error, undefined);
    assert.equal(res.creditedTickets, 121);
  });

  test("the sender's max float and its deposit bound the face value", async () => {
    const s = setup();
    s.senders.float = 50_000n; // the default face value is already capped to it
    const low = await byocPayment(s, perSecond(100_000n));
    assert.equal(low.params.faceValue, 50_000n);
    assert.ok(low.ev.cmp(50_000n) < 0 && low.ev.cmp(1000n) > 0);
    assert.equal(low.n, 241);
    assert.equal(low.res.creditedTickets, 241);

    const t = setup();
    t.senders.info = { ...t.senders.info, deposit: 10_000_000n };
    // Wanted EV 24 000 000 → face value 2.4e9 by go-livepeer's rule; the deposit caps it at 1e7, a
    // face value the gateway accepts (it refuses one above its deposit).
    const dep = await byocPayment(t, perSecond(10_000_000n));
    assert.equal(dep.params.faceValue, 10_000_000n);
    assert.equal(dep.n, 121);
    assert.equal(dep.res.creditedTickets, 121);
  });

  test("a raised EV never exceeds gateways' default max ticket EV (3000 gwei)", async () => {
    const s = setup({ ticketEV: 8_000_000_000n });
    const price = perSecond(10n ** 15n); // 120 s = 1.2e17 wei: 50 tickets would need 2.4e15 each
    const p = await s.recipient.ticketParams(gw.address, ratOf(price), BYOC);
    const ev = ticketEV(p.faceValue, p.winProb);
    assert.equal(ev.floor(), DEFAULT_MAX_TICKET_EV - 1n);
    assert.ok(ev.cmp(DEFAULT_MAX_TICKET_EV) < 0);
    await s.sender.validateTicketParams(p, 1); // our (and go-livepeer's) sender takes it
    const capped = setup({ ticketEV: 8_000_000_000n, maxScaledTicketEV: 10n ** 11n });
    const q = await capped.recipient.ticketParams(gw.address, ratOf(price), BYOC);
    assert.equal(ticketEV(q.faceValue, q.winProb).floor(), 10n ** 11n - 1n);
  });

  test("usual payment units per kind of work: BYOC 120 s, live 60 s of 720p30, AI one default-size job, transcoding none", () => {
    assert.equal(usualPaymentUnits(37), 120n);
    assert.equal(usualPaymentUnits(35), LIVE_USUAL_PAYMENT_PIXELS);
    assert.equal(LIVE_USUAL_PAYMENT_PIXELS, 60n * 1280n * 720n * 30n);
    assert.equal(usualPaymentUnits(27), 512n * 512n);
    assert.equal(usualPaymentUnits(33), 256n);
    assert.equal(usualPaymentUnits(0), 0n);
    assert.equal(usualPaymentUnits(undefined), 0n);
  });
});
