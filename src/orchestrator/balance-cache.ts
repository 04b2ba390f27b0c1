/**
 * The orchestrator's balances in memory over the durable store (`PaymentStore.balanceStore()`):
 * every paid job reads its sender's balance two or three times and debits it once, which on SQLite
 * is a read and a write transaction per job on the event loop. Here reads are served from memory and
 * a debit is written behind, within {@link BALANCE_FLUSH_MS}, one write per balance however many jobs
 * charged it meanwhile.
 *
 * What stays durable at once: any change that is not a pure debit (a credit, a fixed price) is written
 * through before it is returned, and inside {@link CachedBalanceStore.transaction} (a payment batch:
 * nonces, credit and winners) the write joins the caller's transaction and the memory is restored if
 * that transaction fails. What a crash can lose: the debits of the last {@link BALANCE_FLUSH_MS} (the
 * senders are charged a little less, never more). `close()` writes what is pending.
 */
import type { Address } from "viem";
import type { BalanceEntry, BalanceStore } from "../payments/balances.ts";
import { Rat } from "../payments/rational.ts";

/** Longest time a debit stays in memory before it is written to the store. */
export const BALANCE_FLUSH_MS = 250;
/** Balances untouched this long are dropped from memory (they are in the store). */
export const BALANCE_IDLE_EVICT_MS = 60_000;

interface Cached {
  address: Address;
  manifestId: string;
  /** undefined: the store has no entry. */
  entry: BalanceEntry | undefined;
  dirty: boolean;
  /** performance.now() of the last read or write. */
  touched: number;
}

/** A {@link BalanceStore} that serves reads from memory and writes debits behind. */
export class CachedBalanceStore implements BalanceStore {
  readonly #inner: BalanceStore;
  readonly #entries = new Map<string, Cached>();
  readonly #timer: NodeJS.Timeout;
  readonly #onError: (err: unknown) => void;
  /** Entries as they were before the running transaction changed them (restored on failure). */
  #undo: Map<string, Cached> | undefined;
  #lastSweep = performance.now();
  #closed = false;

  /** `onError`: a pending write that failed (kept and tried again at the next flush). */
  constructor(inner: BalanceStore, onError: (err: unknown) => void = () => {}) {
    this.#inner = inner;
    this.#onError = onError;
    this.#timer = setInterval(() => this.flush(), BALANCE_FLUSH_MS);
    this.#timer.unref();
  }

  #key(address: Address, manifestId: string): string {
    return `${address.toLowerCase()}\u0000${manifestId}`;
  }

  #load(address: Address, manifestId: string): Cached {
    const k = this.#key(address, manifestId);
    let c = this.#entries.get(k);
    if (c === undefined) {
      c = { address, manifestId, entry: this.#inner.get(address, manifestId), dirty: false, touched: 0 };
      this.#entries.set(k, c);
    }
    c.touched = performance.now();
    return c;
  }

  get(address: Address, manifestId: string): BalanceEntry | undefined {
    if (this.#closed) return this.#inner.get(address, manifestId);
    return this.#load(address, manifestId).entry;
  }

  update(address: Address, manifestId: string, fn: (e: BalanceEntry) => BalanceEntry): BalanceEntry {
    if (this.#closed) return this.#inner.update(address, manifestId, fn);
    const c = this.#load(address, manifestId);
    const before = c.entry ?? { amount: Rat.ZERO, lastUpdate: 0 };
    const next = fn(before);
    const k = this.#key(address, manifestId);
    if (this.#undo !== undefined && !this.#undo.has(k)) this.#undo.set(k, { ...c });
    const pureDebit =
      this.#undo === undefined &&
      c.entry !== undefined &&
      next.amount.cmp(before.amount) <= 0 &&
      next.fixedPrice === before.fixedPrice;
    if (pureDebit) {
      c.entry = next;
      c.dirty = true;
      return next;
    }
    // Written through (with what was pending for this balance): the store holds exactly `next`.
    const stored = this.#inner.update(address, manifestId, () => next);
    c.entry = stored;
    c.dirty = false;
    return stored;
  }

  /**
   * Runs `fn` (which runs the store's transaction) so that balance writes inside it go to the store
   * at once and are undone in memory when it throws.
   */
  transaction<T>(fn: () => T): T {
    if (this.#undo !== undefined) return fn();
    const undo = new Map<string, Cached>();
    this.#undo = undo;
    try {
      return fn();
    } catch (err) {
      for (const [k, c] of undo) this.#entries.set(k, c);
      throw err;
    } finally {
      this.#undo = undefined;
    }
  }

  /** Writes every pending debit to the store; drops balances idle for {@link BALANCE_IDLE_EVICT_MS}. */
  flush(): void {
    if (this.#undo !== undefined) return; // never inside a caller's transaction
    for (const c of this.#entries.values()) {
      if (!c.dirty || c.entry === undefined) continue;
      const entry = c.entry;
      try {
        this.#inner.update(c.address, c.manifestId, () => entry);
        c.dirty = false;
      } catch (err) {
        // Kept in memory and tried again at the next flush (a busy or full disk).
        this.#onError(err);
        return;
      }
    }
    const now = performance.now();
    if (now - this.#lastSweep < BALANCE_IDLE_EVICT_MS) return;
    this.#lastSweep = now;
    for (const [k, c] of this.#entries)
      if (!c.dirty && now - c.touched > BALANCE_IDLE_EVICT_MS) this.#entries.delete(k);
  }

  purgeIdle(before: number): number {
    this.flush();
    for (const [k, c] of this.#entries)
      if (c.entry !== undefined && c.entry.lastUpdate < before) this.#entries.delete(k);
    return this.#inner.purgeIdle(before);
  }

  /** Writes what is pending and stops the timer; later calls go straight to the store. */
  close(): void {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.flush();
    this.#closed = true;
    this.#entries.clear();
  }

  /** Balances held in memory (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }
}
