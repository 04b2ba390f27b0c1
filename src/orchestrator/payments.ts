/**
 * The orchestrator's payment gate: one path for every priced route over
 * the payments module's {@link Recipient} and {@link Balances} (docs/spec/payments.md#validation-order, #orchestrator-balances, #byoc-payments).
 *
 * - {@link PaymentGate.ticketParams}: params for a sender at a price (`GET /process/token`,
 *   `GetOrchestrator`); "insufficient sender reserve" answers 503 on the token route.
 * - {@link PaymentGate.receive}: decodes `Livepeer-Payment` (402 when undecodable), validates and
 *   credits the tickets, and hands every winner to `enqueueWinner` (the durable redemption queue)
 *   **before** returning, so the work is acknowledged only after the tickets are on disk.
 * - {@link PaymentGate.require}: throws {@link InsufficientBalanceError} naming how much is missing.
 * - {@link PaymentGate.debit}: charges `price × units` after the work.
 * - {@link PaymentGate.meter}: per-second billing of one running BYOC job ({@link JobMeter}).
 */
import type { Address } from "viem";
import { TributaryError } from "../node/errors.ts";
import type { Balances } from "../payments/balances.ts";
import { PaymentError } from "../payments/errors.ts";
import { Rat } from "../payments/rational.ts";
import type { Recipient } from "../payments/recipient.ts";
import type { SignedTicket, TicketParams } from "../payments/types.ts";
import { decodePaymentHeader } from "../protocol/payment-header.ts";

/** The balance is below what the work needs. `details` has `balance`, `required`, `missing` (wei). */
export class InsufficientBalanceError extends TributaryError {
  constructor(manifestId: string, balance: Rat, required: Rat, status: number) {
    const missing = required.sub(balance);
    super(
      "INSUFFICIENT_BALANCE",
      `Insufficient balance for request: ${manifestId} needs ${required.ceil()} wei of credit, the balance is ` +
        `${balance.floor()} wei; send tickets worth at least ${missing.ceil()} wei more`,
      {
        status,
        details: {
          manifest_id: manifestId,
          balance: balance.toString(),
          required: required.toString(),
          missing: missing.toString(),
        },
      },
    );
  }
}

/**
 * A running job was stopped because the sender's credit could not pay for its next period (the
 * batch-job rule of {@link JobMeter}). Answers 402; `details` has the balance and the seconds run.
 */
export class CreditExhaustedError extends TributaryError {
  constructor(manifestId: string, balance: Rat, seconds: number) {
    super(
      "CREDIT_EXHAUSTED",
      `job stopped after ${seconds} s: the credit left for ${manifestId} (${balance.floor()} wei) does not pay for ` +
        "the next seconds of work; send tickets worth the job's timeout_seconds × price before long jobs",
      { status: 402, details: { manifest_id: manifestId, balance: balance.toString(), seconds } },
    );
  }
}

/** Options of {@link PaymentGate.meter}. */
export interface JobMeterOptions {
  /** How often the running job is debited, ms (whole seconds; at least one second). */
  periodMs: number;
  /** Called once, from the timer, when the credit left cannot pay for the next period: stop the job. */
  onExhausted: (error: CreditExhaustedError) => void;
}

/**
 * Per-second billing of one running job (BYOC batch jobs, streamed or not). Every period it debits
 * the whole seconds run so far, and when the balance left is below (period + 1) seconds of price — the
 * next period plus the second the final charge may round up — it calls `onExhausted` and stops
 * metering. {@link JobMeter.finish} charges the rest, so a job costs `max(1, ceil(seconds run))` × price
 * (go-livepeer's `ceil(elapsed)` units, at least one) whether it ends, fails, times out or its client
 * leaves. One job alone never takes a balance below zero; concurrent jobs of one sender share the
 * balance and can each overdraw it by at most one period + 1 s of price.
 */
export class JobMeter {
  readonly #gate: PaymentGate;
  readonly #sender: Address;
  readonly #manifestId: string;
  readonly #price: Rat;
  readonly #floor: Rat;
  readonly #started = performance.now();
  readonly #timer: NodeJS.Timeout;
  readonly #onExhausted: (error: CreditExhaustedError) => void;
  #charged = 0n;
  #balance: Rat | undefined;
  #exhausted = false;

  constructor(gate: PaymentGate, sender: Address, manifestId: string, price: Rat, options: JobMeterOptions) {
    this.#gate = gate;
    this.#sender = sender;
    this.#manifestId = manifestId;
    this.#price = price;
    this.#onExhausted = options.onExhausted;
    const periodSeconds = BigInt(Math.max(1, Math.round(options.periodMs / 1000)));
    this.#floor = price.mul(periodSeconds + 1n);
    this.#timer = setInterval(() => this.#tick(), Number(periodSeconds) * 1000);
    this.#timer.unref();
  }

  /** True once the meter stopped the job for want of credit. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** Whole seconds run so far. */
  get seconds(): number {
    return Math.floor((performance.now() - this.#started) / 1000);
  }

  #tick(): void {
    const due = BigInt(this.seconds) - this.#charged;
    const balance = this.#debit(due);
    if (balance.cmp(this.#floor) >= 0) return;
    clearInterval(this.#timer);
    this.#exhausted = true;
    this.#balance = balance;
    this.#onExhausted(new CreditExhaustedError(this.#manifestId, balance, Number(this.#charged)));
  }

  #debit(units: bigint): Rat {
    if (units > 0n) this.#charged += units;
    return this.#gate.debit(this.#sender, this.#manifestId, this.#price, units);
  }

  /**
   * Ends the meter (idempotent): charges what is left of `max(1, ceil(seconds run))` — nothing more
   * after the meter stopped the job — and returns the balance.
   */
  finish(): Rat {
    if (this.#balance !== undefined) return this.#balance;
    clearInterval(this.#timer);
    const total = BigInt(Math.max(1, Math.ceil((performance.now() - this.#started) / 1000)));
    this.#balance = this.#debit(total - this.#charged);
    return this.#balance;
  }
}

/** Options of {@link PaymentGate}. */
export interface PaymentGateOptions {
  recipient: Recipient;
  balances: Balances;
  /** Durable, synchronous winner sink (e.g. `redeemer.enqueue`). */
  enqueueWinner: (ticket: SignedTicket) => void;
  /**
   * Whether this orchestrator is in the active set now; tickets are refused while it is not (they
   * could not be redeemed). Default: always active.
   */
  isActive?: () => boolean;
}

/** What {@link PaymentGate.receive} did. */
export interface Received {
  /** The payment's sender (zero address when the header was absent). */
  sender: Address | undefined;
  /** Tickets credited. */
  tickets: number;
  winners: number;
}

/** The orchestrator's payment path. */
export class PaymentGate {
  readonly recipient: Recipient;
  readonly balances: Balances;
  readonly #enqueue: (ticket: SignedTicket) => void;
  readonly #isActive: () => boolean;
  /** Totals for metrics. */
  readonly totals = { tickets: 0, winners: 0, rejectedPayments: 0 };
  /** Last known balance per (sender, manifest) this process touched, for metrics. */
  readonly #seen = new Map<string, Rat>();

  constructor(options: PaymentGateOptions) {
    this.recipient = options.recipient;
    this.balances = options.balances;
    this.#enqueue = options.enqueueWinner;
    this.#isActive = options.isActive ?? (() => true);
  }

  /**
   * Ticket params for `sender` at `price`, sized for a usual payment of `usualUnits` units
   * (`Recipient.ticketParams`); maps "insufficient sender reserve" to 503.
   */
  async ticketParams(sender: Address, price: Rat, usualUnits = 0n): Promise<TicketParams> {
    try {
      return await this.recipient.ticketParams(sender, price, usualUnits);
    } catch (err) {
      if (err instanceof PaymentError && err.code === "INSUFFICIENT_SENDER_RESERVE")
        throw new TributaryError(err.code, err.message, { status: 503, details: err.details, cause: err });
      throw err;
    }
  }

  /**
   * Processes a `Livepeer-Payment` header value (absent or empty: nothing to credit), crediting
   * (payment sender, `manifestId`). Winners are enqueued before this returns. A rejected ticket
   * answers 400 after the tickets before it were credited (go-livepeer's behaviour).
   */
  async receive(value: string | undefined, manifestId: string): Promise<Received> {
    if (value === undefined || value.trim() === "") return { sender: undefined, tickets: 0, winners: 0 };
    const payment = decodePaymentHeader(value);
    if (payment.ticketParams && !this.#isActive())
      throw new TributaryError(
        "ORCHESTRATOR_INACTIVE",
        `orchestrator ${this.recipient.address} is not in the active set this round, cannot process payments; ` +
          "bond enough stake to enter the active set",
        { status: 400 },
      );
    let result: Awaited<ReturnType<Recipient["processPayment"]>>;
    try {
      // Each winner goes to the durable queue as soon as it is found (not after the batch).
      result = await this.recipient.processPayment(payment, manifestId, this.balances, this.#enqueue);
    } catch (err) {
      this.totals.rejectedPayments++;
      throw err;
    }
    if (result.balance !== undefined) this.#seen.set(`${payment.sender}|${manifestId}`, result.balance);
    this.totals.tickets += result.creditedTickets;
    this.totals.winners += result.winners.length;
    if (result.error) {
      this.totals.rejectedPayments++;
      throw result.error;
    }
    return { sender: payment.sender, tickets: result.creditedTickets, winners: result.winners.length };
  }

  /** The balance of (sender, manifest), 0 when none. */
  balance(sender: Address, manifestId: string): Rat {
    return this.balances.balance(sender, manifestId) ?? Rat.ZERO;
  }

  /** Throws {@link InsufficientBalanceError} (with `status`) unless the balance is ≥ `required`. */
  require(sender: Address, manifestId: string, required: Rat, status = 400): void {
    const b = this.balance(sender, manifestId);
    if (b.cmp(required) < 0) throw new InsufficientBalanceError(manifestId, b, required, status);
  }

  /** Charges `price × units`; returns the new balance (may go negative). */
  debit(sender: Address, manifestId: string, price: Rat, units: bigint): Rat {
    if (price.isZero() || units <= 0n) return this.balance(sender, manifestId);
    const balance = this.balances.debitFees(sender, manifestId, price, units);
    this.#seen.set(`${sender}|${manifestId}`, balance);
    return balance;
  }

  /**
   * Starts per-second billing of one job by `sender` at `price` per second (see {@link JobMeter});
   * call `finish()` when the job ends, however it ends.
   */
  meter(sender: Address, manifestId: string, price: Rat, options: JobMeterOptions): JobMeter {
    return new JobMeter(this, sender, manifestId, price, options);
  }

  /** Sum of the positive balances this process touched (wei) and how many balances that is. */
  creditHeld(): { wei: number; balances: number } {
    let sum = Rat.ZERO;
    for (const b of this.#seen.values()) if (b.cmp(0n) > 0) sum = sum.add(b);
    return { wei: Number(sum.floor()), balances: this.#seen.size };
  }
}

/** go-livepeer's `Livepeer-Balance` value: `big.Rat.FloatString(0)` (rounded, may be negative). */
export function balanceHeader(balance: Rat): string {
  return balance.toFixed(0);
}
