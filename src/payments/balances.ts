/**
 * Credit balances per (address, manifest id) as exact rationals (docs/spec/payments.md#balances, #byoc-payments;
 * go-livepeer core/accounting.go). The orchestrator keys by sender address and credits ticket EV,
 * then debits price × units after the work; a gateway keys by orchestrator recipient address and
 * uses {@link stageUpdate} to decide how many tickets to send. Storage sits behind
 * {@link BalanceStore} so it can be persisted; {@link MemoryBalanceStore} keeps it in memory.
 */
import type { Address } from "viem";
import { MAX_SENDER_NONCES } from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";

/** One balance entry. */
export interface BalanceEntry {
  amount: Rat;
  /** Price fixed for the session by its first payment (go-livepeer `setFixedPricePerSession`). */
  fixedPrice?: Rat;
  /** ms since epoch of the last credit or debit. */
  lastUpdate: number;
}

/**
 * Storage of balance entries. Implementations must apply {@link BalanceStore.update} atomically
 * (synchronous on node:sqlite DatabaseSync or a Map).
 */
export interface BalanceStore {
  get(address: Address, manifestId: string): BalanceEntry | undefined;
  /** Applies `fn` to the entry (created with amount 0 if absent), stores and returns the result. */
  update(address: Address, manifestId: string, fn: (e: BalanceEntry) => BalanceEntry): BalanceEntry;
  /** Deletes entries not updated since `before` (ms since epoch); returns how many. */
  purgeIdle(before: number): number;
}

/** In-memory {@link BalanceStore}. */
export class MemoryBalanceStore implements BalanceStore {
  readonly #map = new Map<string, BalanceEntry>();

  #key(address: Address, manifestId: string): string {
    return `${address.toLowerCase()}\u0000${manifestId}`;
  }

  get(address: Address, manifestId: string): BalanceEntry | undefined {
    return this.#map.get(this.#key(address, manifestId));
  }

  update(address: Address, manifestId: string, fn: (e: BalanceEntry) => BalanceEntry): BalanceEntry {
    const k = this.#key(address, manifestId);
    const next = fn(this.#map.get(k) ?? { amount: Rat.ZERO, lastUpdate: 0 });
    this.#map.set(k, next);
    return next;
  }

  purgeIdle(before: number): number {
    let n = 0;
    for (const [k, v] of this.#map) {
      if (v.lastUpdate < before) {
        this.#map.delete(k);
        n++;
      }
    }
    return n;
  }
}

/** Balance accounting rules over a {@link BalanceStore}. */
export class Balances {
  readonly #store: BalanceStore;
  readonly #now: () => number;

  constructor(store: BalanceStore = new MemoryBalanceStore(), now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  /** Current balance, or undefined when none was ever recorded (go-livepeer returns nil). */
  balance(address: Address, manifestId: string): Rat | undefined {
    return this.#store.get(address, manifestId)?.amount;
  }

  /** Adds `amount` (e.g. a ticket's EV); returns the new balance. */
  credit(address: Address, manifestId: string, amount: Rat): Rat {
    return this.#store.update(address, manifestId, (e) => ({
      ...e,
      amount: e.amount.add(amount),
      lastUpdate: this.#now(),
    })).amount;
  }

  /** Subtracts `amount`; the balance may go negative (go-livepeer `Debit`). Returns the new balance. */
  debit(address: Address, manifestId: string, amount: Rat): Rat {
    return this.#store.update(address, manifestId, (e) => ({
      ...e,
      amount: e.amount.sub(amount),
      lastUpdate: this.#now(),
    })).amount;
  }

  /** Debits `price × units` after work was done (go-livepeer `DebitFees`). Returns the new balance. */
  debitFees(address: Address, manifestId: string, price: Rat, units: bigint): Rat {
    return this.debit(address, manifestId, price.mul(units));
  }

  /**
   * Takes the whole balance out, leaving 0, and returns it (go-livepeer `Balance.Reserve`, used by a
   * gateway while it stages a payment).
   */
  reserve(address: Address, manifestId: string): Rat {
    let taken = Rat.ZERO;
    this.#store.update(address, manifestId, (e) => {
      taken = e.amount;
      return { ...e, amount: Rat.ZERO };
    });
    return taken;
  }

  /** The session's fixed price, if one was set. */
  fixedPrice(address: Address, manifestId: string): Rat | undefined {
    return this.#store.get(address, manifestId)?.fixedPrice;
  }

  /** Fixes the session price unless one is already fixed; returns the price in force. */
  fixPrice(address: Address, manifestId: string, price: Rat): Rat {
    return this.#store.update(address, manifestId, (e) => (e.fixedPrice ? e : { ...e, fixedPrice: price }))
      .fixedPrice!;
  }

  /** True when a balance exists and is ≥ `min` (go-livepeer `SufficientBalance` with min = ticket EV). */
  sufficient(address: Address, manifestId: string, min: Rat): boolean {
    const b = this.balance(address, manifestId);
    return b !== undefined && b.cmp(min) >= 0;
  }

  /**
   * Throws INSUFFICIENT_BALANCE unless the balance is ≥ `min`. `min` is the ticket EV for AI and
   * transcoding, 60 × price for BYOC (see {@link byocMinimumBalance}).
   */
  requireSufficient(address: Address, manifestId: string, min: Rat): void {
    const b = this.balance(address, manifestId) ?? Rat.ZERO;
    if (b.cmp(min) >= 0) return;
    throw new PaymentError(
      "INSUFFICIENT_BALANCE",
      `insufficient balance for ${manifestId}: have ${b.toFixed(0)} wei, need at least ${min.toFixed(0)} wei; send a payment with more tickets`,
      {
        upstream: "Insufficient balance",
        details: { address, manifestId, balance: b.toString(), required: min.toString() },
      },
    );
  }

  /** Drops entries idle longer than `ttlMs` (go-livepeer cleans up every 10 min). */
  purgeIdle(ttlMs: number): number {
    return this.#store.purgeIdle(this.#now() - ttlMs);
  }
}

/** BYOC: an orchestrator accepts work only with balance ≥ 60 × price. // go-livepeer byoc/ */
export function byocMinimumBalance(price: Rat): Rat {
  return price.mul(60n);
}

/** BYOC: a gateway sends tickets only when its synced balance is < 120 × price. // go-livepeer byoc/ */
export function byocGatewayTopUpThreshold(price: Rat): Rat {
  return price.mul(120n);
}

/** Result of {@link stageUpdate}. */
export interface StagedUpdate {
  /** Tickets to send. */
  numTickets: number;
  /** numTickets × EV. */
  newCredit: Rat;
  /** Credit that already existed. */
  existing: Rat;
}

/**
 * How many tickets a gateway sends so that its credit reaches `minCredit` (go-livepeer
 * `Balance.StageUpdate`): none when `existing ≥ minCredit` or EV is 0, else
 * `ceil((minCredit − existing) / ev)`. Callers pass `minCredit = max(fee, ev)`.
 */
export function stageUpdate(existing: Rat, minCredit: Rat, ev: Rat): StagedUpdate {
  if (existing.cmp(minCredit) >= 0 || ev.isZero()) return { numTickets: 0, newCredit: Rat.ZERO, existing };
  const n = minCredit.sub(existing).div(ev).ceil();
  return { numTickets: Number(n), newCredit: ev.mul(n), existing };
}

/**
 * BYOC ticket count for a job: `ceil(cost / ev)` capped at 600, 0 for a zero EV
 * (go-livepeer byoc `createPayment`).
 */
export function byocTicketCount(cost: Rat, ev: Rat): number {
  if (ev.isZero() || cost.cmp(0n) <= 0) return 0;
  const n = cost.div(ev).ceil();
  return Number(n > BigInt(MAX_SENDER_NONCES) ? BigInt(MAX_SENDER_NONCES) : n);
}
