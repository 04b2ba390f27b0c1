import assert from "node:assert/strict";
import { test } from "node:test";
import { Rat } from "../payments/rational.ts";
import { balanceHeader, InsufficientBalanceError } from "./payments.ts";

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
