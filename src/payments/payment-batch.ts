/**
 * Processing one decoded `Livepeer-Payment` (go-livepeer core/orchestrator.go `ProcessPayment`):
 * every ticket checked first, then the nonces, the credit and the winners written together.
 * The per-ticket checks are {@link Recipient}'s; this module owns the batch and its two phases.
 */
import { type Hex, isAddressEqual, zeroAddress } from "viem";
import type { Balances } from "./balances.ts";
import { recoveryParallelism } from "./ecrecover.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";
import type { PaymentTransaction, ReceiveResult } from "./recipient.ts";
import { newTicket, priceRat, ticketEV } from "./ticket.ts";
import type { Payment, SignedTicket, Ticket } from "./types.ts";

/** A batch checked on the main thread yields to the event loop after this many tickets. */
const YIELD_EVERY = 16;
/** Tickets checked at once when a recovery pool runs signatures in parallel. */
const PARALLEL_CHUNK = 64;

/** Result of {@link Recipient.processPayment}. */
export interface ProcessPaymentResult {
  /** Tickets whose EV was credited. */
  creditedTickets: number;
  /** Sum of the credited EVs. */
  credited: Rat;
  /** Balance after crediting (undefined when nothing was ever credited). */
  balance: Rat | undefined;
  /** Winning tickets, with recipientRand, to hand to the redemption queue. */
  winners: SignedTicket[];
  /**
   * The last non-fatal error (go-livepeer answers it as HTTP 400 after crediting the tickets before
   * it). Fatal errors are thrown instead.
   */
  error?: PaymentError;
}

/** What a batch needs from the recipient: the two halves of one ticket's validation, and a transaction. */
export interface TicketChecks {
  /** Every check before the nonce; writes nothing. */
  check(ticket: Ticket, sig: Hex, seed: bigint, price: Rat): Promise<ReceiveResult>;
  /** Records the nonce of a checked ticket, then checks its params expiry (synchronous). */
  record(ticket: Ticket, won: boolean, rand: bigint): ReceiveResult;
  /** Runs `fn` atomically, durably unless `durable: false` (`RecipientOptions.transaction`). */
  transaction: PaymentTransaction;
}

/** {@link Recipient.processPayment} over `checks` (its documentation describes the phases). */
export async function processPaymentBatch(
  checks: TicketChecks,
  payment: Payment,
  manifestId: string,
  balances: Balances,
  onWinner?: (ticket: SignedTicket) => void,
): Promise<ProcessPaymentResult> {
  const sender = payment.sender;
  const params = payment.ticketParams;
  const empty = { creditedTickets: 0, credited: Rat.ZERO, winners: [] as SignedTicket[] };
  if (!params) {
    // A free payment (go-livepeer fixes a zero session price): only an existing session's price
    // is fixed, so a header naming any sender creates no state.
    const balance = balances.balance(sender, manifestId);
    if (balance !== undefined) balances.fixPrice(sender, manifestId, Rat.ZERO);
    return { ...empty, balance };
  }
  if (isAddressEqual(sender, zeroAddress)) {
    throw new PaymentError("MISSING_SENDER", "payment has ticket params but no sender; set Payment.sender", {
      upstream: "Could not find Sender for payment",
      fatal: true,
    });
  }
  const priceInfo = payment.expectedPrice;
  const price = priceInfo ? priceRat(priceInfo) : undefined;
  if (!price) {
    const why = priceInfo ? "pixels per unit is 0" : "expected price is nil";
    throw new PaymentError(
      "INVALID_PRICE",
      `payment expected_price is invalid (${why}); echo the price_info that came with the ticket params`,
      { upstream: `invalid expected price sent with payment err="${why}"`, fatal: true },
    );
  }

  // Phase 1: check every ticket; nothing is written. With a recovery pool installed, a chunk of
  // tickets is checked at once (their signatures recovered in parallel), the results read in order.
  const checked: { ticket: Ticket; sig: Hex; r: ReceiveResult }[] = [];
  let fatal: PaymentError | undefined;
  const chunk = recoveryParallelism() > 1 ? PARALLEL_CHUNK : 1;
  const all = payment.senderParams;
  for (let start = 0; start < all.length && !fatal; start += chunk) {
    // signature recovery is CPU-bound (~0.1 ms each): let other requests run during a large batch
    if (chunk === 1 && start > 0 && start % YIELD_EVERY === 0)
      await new Promise<void>((r) => setImmediate(r));
    const part = all.slice(start, start + chunk).map((sp) => {
      const ticket = newTicket(params, payment.expirationParams, sender, sp.senderNonce);
      return { ticket, sig: sp.sig, r: checks.check(ticket, sp.sig, params.seed, price) };
    });
    // read in order below; one failing after an earlier fatal one must not go unhandled
    for (const p of part) p.r.catch(() => {});
    for (const p of part) {
      const r = await p.r;
      if (r.error?.fatal) {
        fatal = r.error;
        break;
      }
      checked.push({ ticket: p.ticket, sig: p.sig, r });
    }
  }

  // Phase 2: nonces, credit and winners in one transaction.
  const result: ProcessPaymentResult = { ...empty, balance: undefined };
  if (checked.every((c) => c.r.error)) {
    // Nothing passed the checks: no nonce, credit or winner to record (and no row to create).
    result.error = checked.at(-1)?.r.error;
    if (fatal) throw fatal;
    result.balance = balances.balance(sender, manifestId);
    return result;
  }
  // A batch without a winning ticket commits without its own fsync: what an OS crash could then lose
  // is its nonces and its credit together (a replayed ticket is credited once in all), never a
  // winner, which is on disk before the payment is answered.
  const durable = checked.some((c) => c.r.won);
  checks.transaction(
    () => {
      let credited = Rat.ZERO;
      for (const c of checked) {
        const r = c.r.error ? c.r : checks.record(c.ticket, c.r.won, c.r.recipientRand);
        if (r.error) result.error = r.error;
        if (!result.error) {
          credited = credited.add(ticketEV(c.ticket.faceValue, c.ticket.winProb));
          result.creditedTickets++;
        }
        if (r.won) {
          const winner: SignedTicket = { ...c.ticket, sig: c.sig, recipientRand: r.recipientRand };
          onWinner?.(winner);
          result.winners.push(winner);
        }
      }
      if (result.creditedTickets > 0) {
        balances.fixPrice(sender, manifestId, price);
        result.balance = balances.credit(sender, manifestId, credited);
      } else {
        result.balance = balances.balance(sender, manifestId);
      }
      result.credited = credited;
    },
    { durable },
  );
  if (fatal) throw fatal;
  return result;
}
