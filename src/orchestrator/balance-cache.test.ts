import assert from "node:assert/strict";
import { test } from "node:test";
import type { Address } from "viem";
import { type BalanceEntry, type BalanceStore, Balances, MemoryBalanceStore } from "../payments/balances.ts";
import { Rat } from "../payments/rational.ts";
import { CachedBalanceStore } from "./balance-cache.ts";

const A = "0x00000000000000000000000000000000000000aa" as Address;

/** A store that counts its reads and writes. */
function counting(): BalanceStore & { reads: number; writes: number; inner: MemoryBalanceStore } {
  const inner = new MemoryBalanceStore();
  const s = {
    inner,
    reads: 0,
    writes: 0,
    get(a: Address, m: string) {
      s.reads++;
      return inner.get(a, m);
    },
    update(a: Address, m: string, fn: (e: BalanceEntry) => BalanceEntry) {
      s.writes++;
      return inner.update(a, m, fn);
    },
    purgeIdle: (before: number) => inner.purgeIdle(before),
  };
  return s;
}

test("reads come from memory, debits are written behind once per flush, credits at once", () => {
  const store = counting();
  const cache = new CachedBalanceStore(store);
  try {
    const balances = new Balances(cache);
    balances.credit(A, "cap", Rat.of(100n));
    assert.equal(store.writes, 1, "a credit is written through");
    assert.equal(store.inner.get(A, "cap")?.amount.toString(), "100");
    for (let i = 0; i < 10; i++) {
      assert.ok(balances.balance(A, "cap"));
      balances.debit(A, "cap", Rat.of(3n));
    }
    assert.equal(store.reads, 1, "one read from the store, then memory");
    assert.equal(store.writes, 1, "debits not written yet");
    assert.equal(balances.balance(A, "cap")?.toString(), "70");
    assert.equal(store.inner.get(A, "cap")?.amount.toString(), "100");
    cache.flush();
    assert.equal(store.writes, 2, "ten debits, one write");
    assert.equal(store.inner.get(A, "cap")?.amount.toString(), "70");
    // a credit after pending debits writes the exact balance
    balances.debit(A, "cap", Rat.of(10n));
    balances.credit(A, "cap", Rat.of(5n));
    assert.equal(store.inner.get(A, "cap")?.amount.toString(), "65");
  } finally {
    cache.close();
  }
});

test("inside a failed transaction the balance in memory is restored; close() writes what is pending", () => {
  const store = counting();
  const cache = new CachedBalanceStore(store);
  const balances = new Balances(cache);
  balances.credit(A, "cap", Rat.of(50n));
  assert.throws(
    () =>
      cache.transaction(() => {
        balances.credit(A, "cap", Rat.of(1000n));
        assert.equal(store.inner.get(A, "cap")?.amount.toString(), "1050", "written in the transaction");
        throw new Error("the payment batch failed");
      }),
    /payment batch failed/,
  );
  // The store rolls its own write back (store.transaction); memory follows.
  assert.equal(balances.balance(A, "cap")?.toString(), "50");
  balances.debit(A, "cap", Rat.of(20n));
  cache.close();
  assert.equal(store.inner.get(A, "cap")?.amount.toString(), "30", "close() flushed the debit");
});
