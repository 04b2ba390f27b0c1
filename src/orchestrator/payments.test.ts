import assert from "node:assert/strict";
import { test } from "node:test";
import type { Address } from "viem";
import { Balances } from "../payments/balances.ts";
import { Rat } from "../payments/rational.ts";
import type { Recipient } from "../payments/recipient.ts";
import {
  balanceHeader,
  type CreditExhaustedError,
  InsufficientBalanceError,
  type JobMeter,
  PaymentGate,
} from "./payments.ts";

test("insufficient balance names what is missing, in wei, with the route's status", () => {
  const e = new InsufficientBalanceError("cap", Rat.of(250n), Rat.of(600n), 402);
  assert.equal(e.status, 402);
  assert.equal(e.code, "INSUFFICIENT_BALANCE");
  assert.deepEqual(e.details, { manifest_id: "cap", balance: "250", required: "600", missing: "350" });
  assert.match(e.message, /^Insufficient balance for request: .*at least 350 wei more/);
});

test("Livepeer-Balance is go's FloatString(0): rounded, may be negative", () => {
  assert.equal(balanceHeader(Rat.of(5n, 2n)), "3");
  assert.equal(balanceHeader(Rat.of(-7n, 2n)), "-4");
  assert.equal(balanceHeader(Rat.of(12n)), "12");
});

/** A gate over a plain Balances (no tickets needed for debits) and one funded sender. */
function fundedGate(wei: bigint): { gate: PaymentGate; sender: Address } {
  const sender: Address = "0x00000000000000000000000000000000000000a1";
  const balances = new Balances();
  balances.credit(sender, "cap", Rat.of(wei));
  const recipient = {} as Recipient; // debits never touch the recipient
  return { gate: new PaymentGate({ recipient, balances, enqueueWinner: () => {} }), sender };
}

test("a metered job shorter than a period costs one second of price (the minimum), charged at the end", () => {
  const { gate, sender } = fundedGate(1000n);
  const meter = gate.meter(sender, "cap", Rat.of(10n), { periodMs: 5000, onExhausted: () => assert.fail() });
  assert.equal(gate.balance(sender, "cap").toString(), "1000", "nothing is charged up front");
  assert.equal(meter.finish().toString(), "990");
  assert.equal(meter.finish().toString(), "990", "finish is idempotent");
  assert.equal(gate.balance(sender, "cap").toString(), "990");
});

test("a metered job is debited each period and stopped, never below zero, when the credit cannot pay the next one", async () => {
  // 35 wei at 10 wei/s, 1 s periods: 25 after 1 s (≥ 2 s of price: goes on), 15 after 2 s: stopped.
  const { gate, sender } = fundedGate(35n);
  const started = performance.now();
  const stopped = await new Promise<{ err: CreditExhaustedError; meter: JobMeter }>((resolve) => {
    const meter: JobMeter = gate.meter(sender, "cap", Rat.of(10n), {
      periodMs: 1000,
      onExhausted: (err) => resolve({ err, meter }),
    });
  });
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds >= 1.9 && seconds < 3.5, `stopped after ${seconds} s`);
  assert.equal(stopped.err.status, 402);
  assert.equal(stopped.err.code, "CREDIT_EXHAUSTED");
  assert.match(stopped.err.message, /job stopped after 2 s/);
  assert.ok(stopped.meter.exhausted);
  assert.equal(stopped.meter.finish().toString(), "15", "no further charge after the stop");
  assert.equal(gate.balance(sender, "cap").toString(), "15");
});
