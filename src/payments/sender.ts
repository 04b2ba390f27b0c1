/**
 * The gateway side of probabilistic micropayments (docs/spec/payments.md#sender-rules, #gateway-balance; go-livepeer
 * pm/sender.go): sessions per recipientRandHash, ticket batches with nonces starting at 1, the
 * sender-side parameter checks, and signing.
 *
 * Differences from go-livepeer, on purpose: a batch that would push a session past 600 nonces is
 * refused with TOO_MANY_NONCES (a go-livepeer orchestrator would reject those tickets anyway, issue
 * #3378); one payment carries at most {@link SenderOptions.maxTicketsPerPayment} tickets (default
 * 600, as go-livepeer) and a larger batch is refused with TOO_MANY_TICKETS instead of being cut
 * short (an underpaid job the orchestrator then refuses); errors say what to fund or refresh.
 */
import type { Address } from "viem";
import type { SenderInfoSource, TimeSource } from "./chain-facts.ts";
import {
  DEFAULT_DEPOSIT_MULTIPLIER,
  DEFAULT_MAX_TICKET_EV,
  DEFAULT_MAX_TOTAL_EV,
  MAX_SENDER_NONCES,
  PARAMS_EXPIRY_BUFFER,
} from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { Rat } from "./rational.ts";
import { type MessageSigner, signPersonal } from "./signature.ts";
import { isZeroHash, newTicket, ticketEV, ticketHash } from "./ticket.ts";
import type {
  Payment,
  PriceInfo,
  TicketExpirationParams,
  TicketParams,
  TicketSenderParams,
} from "./types.ts";

/** Configuration and collaborators of a {@link Sender}. */
export interface SenderOptions {
  /** Signs tickets; its address is the ticket sender. */
  signer: MessageSigner;
  /** L1 block and round facts (only the round/hash fallback and expiry checks use it). */
  time: Pick<TimeSource, "lastSeenL1Block" | "lastInitializedRound" | "lastInitializedL1BlockHash">;
  /** The sender's own TicketBroker info. */
  senders: SenderInfoSource;
  /** Max EV of one ticket in wei (`-maxTicketEV`, default 3000000000000). */
  maxTicketEV?: Rat;
  /** Max EV of one batch in wei (`-maxTotalEV`, default 20000000000000). */
  maxTotalEV?: Rat;
  /** Face value must be ≤ deposit / this (`-depositMultiplier`, default 1). */
  depositMultiplier?: bigint;
  /**
   * Most tickets in one payment (1 to 600); default {@link DEFAULT_MAX_TICKETS_PER_PAYMENT}. The
   * ticket EV is the orchestrator's (its face value and win probability are bound to the params by
   * their recipientRand), so this bounds what one payment can carry: EV × this.
   */
  maxTicketsPerPayment?: number;
}

/**
 * Default most tickets per payment: 600, what an orchestrator accepts on one set of ticket params
 * (go-livepeer `maxSenderNonces`) and what a go-livepeer gateway sends at most: a `Livepeer-Payment`
 * header of about 58 KB (96 bytes a ticket) and about 0.2 s of signing. Lower it to keep payments
 * small; native AI fees that need more tickets are then refused (TOO_MANY_TICKETS).
 */
export const DEFAULT_MAX_TICKETS_PER_PAYMENT = MAX_SENDER_NONCES;

/** A signed batch of tickets sharing params (go-livepeer `pm.TicketBatch`). */
export interface TicketBatch {
  params: TicketParams;
  expirationParams: TicketExpirationParams;
  sender: Address;
  senderParams: TicketSenderParams[];
}

interface Session {
  params: TicketParams;
  nonce: number;
}

const fmtEV = (r: Rat) => r.toFixed(5);

/** The gateway's ticket sender. */
export class Sender {
  readonly #signer: MessageSigner;
  readonly #time: SenderOptions["time"];
  readonly #senders: SenderInfoSource;
  readonly #maxTicketEV: Rat;
  readonly #maxTotalEV: Rat;
  readonly #depositMultiplier: bigint;
  readonly #maxTicketsPerPayment: number;
  readonly #sessions = new Map<string, Session>();

  constructor(o: SenderOptions) {
    this.#signer = o.signer;
    this.#time = o.time;
    this.#senders = o.senders;
    this.#maxTicketEV = o.maxTicketEV ?? Rat.of(DEFAULT_MAX_TICKET_EV);
    this.#maxTotalEV = o.maxTotalEV ?? Rat.of(DEFAULT_MAX_TOTAL_EV);
    this.#depositMultiplier = o.depositMultiplier ?? DEFAULT_DEPOSIT_MULTIPLIER;
    if (this.#depositMultiplier <= 0n) throw new RangeError("depositMultiplier must be > 0");
    this.#maxTicketsPerPayment = o.maxTicketsPerPayment ?? DEFAULT_MAX_TICKETS_PER_PAYMENT;
    const m = this.#maxTicketsPerPayment;
    if (!Number.isInteger(m) || m < 1 || m > MAX_SENDER_NONCES)
      throw new RangeError(`maxTicketsPerPayment must be an integer from 1 to ${MAX_SENDER_NONCES}`);
  }

  /** Most tickets one payment may carry. */
  get maxTicketsPerPayment(): number {
    return this.#maxTicketsPerPayment;
  }

  /** The ticket sender address. */
  get address(): Address {
    return this.#signer.address;
  }

  /**
   * Starts (or restarts) a session for `params`; returns its id, the lower-case recipientRandHash.
   * Nonces continue from `nonce` (default 0, so the first ticket has nonce 1).
   */
  startSession(params: TicketParams, nonce = 0): string {
    const id = params.recipientRandHash.toLowerCase();
    this.#sessions.set(id, { params, nonce });
    return id;
  }

  /** How many sessions are open (each {@link startSession} until its {@link cleanupSession}). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Forgets a session. */
  cleanupSession(id: string): void {
    this.#sessions.delete(id.toLowerCase());
  }

  /** EV of one ticket of the session. */
  ev(id: string): Rat {
    const s = this.#session(id);
    return ticketEV(s.params.faceValue, s.params.winProb);
  }

  /** Last nonce used in the session. */
  nonce(id: string): number {
    return this.#session(id).nonce;
  }

  #session(id: string): Session {
    const s = this.#sessions.get(id.toLowerCase());
    if (!s) {
      throw new PaymentError(
        "UNKNOWN_SESSION",
        `no payment session ${id}; start one with the orchestrator's ticket params`,
        {
          upstream: `error loading session: ${id}`,
        },
      );
    }
    return s;
  }

  /**
   * The sender-side checks of go-livepeer `validateTicketParams`, in order: expiration block set and
   * more than 1 block ahead; nothing else for a zero EV; EV < faceValue; EV ≤ max ticket EV; sender
   * not unlocking, reserve > 0, deposit > 0; EV × n ≤ max total EV; faceValue ≤ deposit / multiplier.
   */
  async validateTicketParams(params: TicketParams, numTickets = 1): Promise<void> {
    if (params.expirationBlock === 0n) {
      throw new PaymentError(
        "INVALID_TICKET_PARAMS",
        "ticket params have no expiration block; fetch fresh params",
        {
          upstream: "ticketParams expiration block is 0",
        },
      );
    }
    const latest = this.#time.lastSeenL1Block();
    if (params.expirationBlock - latest <= PARAMS_EXPIRY_BUFFER) {
      throw new PaymentError(
        "TICKET_EXPIRED",
        `ticket params expire at L1 block ${params.expirationBlock} (now ${latest}); refresh them with GetOrchestrator`,
        {
          upstream: "TicketParams expired",
          details: { expirationBlock: params.expirationBlock.toString(), latest: latest.toString() },
        },
      );
    }
    const ev = ticketEV(params.faceValue, params.winProb);
    if (ev.cmp(0n) <= 0) return;
    if (ev.cmp(params.faceValue) >= 0) {
      throw new PaymentError(
        "FACE_VALUE_TOO_LOW",
        `ticket face value ${params.faceValue} is not above its EV; the orchestrator's params are invalid`,
        {
          upstream: `ticket faceValue too low faceValue=${params.faceValue}`,
        },
      );
    }
    if (ev.cmp(this.#maxTicketEV) > 0) {
      throw new PaymentError(
        "TICKET_EV_TOO_HIGH",
        `the orchestrator asks for a ticket EV of ${fmtEV(ev)} wei, above this gateway's max ticket EV of ${fmtEV(this.#maxTicketEV)} wei; raise --max-ticket-ev or pick another orchestrator`,
        { upstream: `ticket EV ${fmtEV(ev)} > max ticket EV ${fmtEV(this.#maxTicketEV)}` },
      );
    }
    const info = await this.#senders.senderInfo(this.address);
    const maxWithdrawRound = this.#time.lastInitializedRound() + 1n;
    if (info.withdrawRound !== 0n && info.withdrawRound <= maxWithdrawRound) {
      throw new PaymentError(
        "SENDER_UNLOCKING",
        `this gateway's deposit and reserve unlock in round ${info.withdrawRound}; cancel the unlock (cancelUnlock) before paying`,
        { upstream: "unable to validate sender: deposit and reserve is set to unlock soon" },
      );
    }
    if (info.reserve.fundsRemaining === 0n) {
      throw new PaymentError(
        "NO_SENDER_RESERVE",
        `sender ${this.address} has no TicketBroker reserve; fund one (fundReserve / fundDepositAndReserve) of at least ${params.faceValue} wei per active orchestrator`,
        { upstream: "no sender reserve" },
      );
    }
    if (info.deposit === 0n) {
      throw new PaymentError(
        "NO_SENDER_DEPOSIT",
        `sender ${this.address} has no TicketBroker deposit; fund at least ${params.faceValue * this.#depositMultiplier} wei (fundDeposit)`,
        { upstream: "no sender deposit" },
      );
    }
    const totalEV = ev.mul(BigInt(numTickets));
    if (totalEV.cmp(this.#maxTotalEV) > 0) {
      throw new PaymentError(
        "TOTAL_EV_TOO_HIGH",
        `${numTickets} tickets carry ${fmtEV(totalEV)} wei of EV, above this gateway's max total EV of ${fmtEV(this.#maxTotalEV)} wei; raise --max-total-ev or send smaller requests`,
        {
          upstream: `total ticket EV ${fmtEV(totalEV)} for ${numTickets} tickets > max total ticket EV ${fmtEV(this.#maxTotalEV)}`,
        },
      );
    }
    const maxFaceValue = info.deposit / this.#depositMultiplier;
    if (params.faceValue > maxFaceValue) {
      const need = params.faceValue * this.#depositMultiplier - info.deposit;
      throw new PaymentError(
        "FACE_VALUE_ABOVE_DEPOSIT",
        `deposit is ${info.deposit} wei, but the orchestrator's tickets have a face value of ${params.faceValue} wei: fund ${need} wei more deposit`,
        { upstream: `ticket faceValue ${params.faceValue} > max faceValue ${maxFaceValue}` },
      );
    }
  }

  /**
   * Creates and signs `n` tickets for a session (go-livepeer `CreateTicketBatch`). Nonces are
   * allocated synchronously, so concurrent batches on one session never share a nonce. Uses the
   * session params' expiration params unless they are missing or zero, then this node's own last
   * round and block hash.
   */
  async createTicketBatch(id: string, n: number): Promise<TicketBatch> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError("ticket count must be a non-negative integer");
    const session = this.#session(id);
    if (n > this.#maxTicketsPerPayment) throw tooManyTickets(n, this.#maxTicketsPerPayment);
    await this.validateTicketParams(session.params, n);
    if (session.nonce + n > MAX_SENDER_NONCES) {
      throw new PaymentError(
        "TOO_MANY_NONCES",
        `these ticket params already carried ${session.nonce} tickets and an orchestrator accepts at most ${MAX_SENDER_NONCES}; fetch fresh ticket params`,
        { upstream: "invalid ticket senderNonce: too many values" },
      );
    }
    const first = session.nonce + 1;
    session.nonce += n;
    const p = session.params.expirationParams;
    const expirationParams =
      !p || p.creationRound === 0n || isZeroHash(p.creationRoundBlockHash)
        ? {
            creationRound: this.#time.lastInitializedRound(),
            creationRoundBlockHash: this.#time.lastInitializedL1BlockHash(),
          }
        : p;
    const senderParams: TicketSenderParams[] = [];
    for (let i = 0; i < n; i++) {
      const senderNonce = first + i;
      const ticket = newTicket(session.params, expirationParams, this.address, senderNonce);
      senderParams.push({ senderNonce, sig: await signPersonal(this.#signer, ticketHash(ticket)) });
    }
    return { params: session.params, expirationParams, sender: this.address, senderParams };
  }

  /**
   * A complete payment for the `Livepeer-Payment` header: `n` tickets from the session, or (n = 0)
   * only sender and price. `expectedPrice` must be the orchestrator's price_info as received.
   */
  async createPayment(id: string, n: number, expectedPrice: PriceInfo): Promise<Payment> {
    if (n === 0) return { sender: this.address, senderParams: [], expectedPrice };
    const b = await this.createTicketBatch(id, n);
    return {
      ticketParams: b.params,
      sender: b.sender,
      expirationParams: b.expirationParams,
      senderParams: b.senderParams,
      expectedPrice,
    };
  }
}

/**
 * TOO_MANY_TICKETS: a payment of `n` tickets is over the sender's limit `max`: the orchestrator's
 * ticket EV is small for its price (or the job's timeout long).
 */
export function tooManyTickets(n: number, max: number, what = "this payment"): PaymentError {
  return new PaymentError(
    "TOO_MANY_TICKETS",
    `${what} needs ${n} tickets, over this gateway's limit of ${max} per payment: the orchestrator's ticket EV is small for its price; raise --max-tickets-per-payment (at most ${MAX_SENDER_NONCES}) or pick an orchestrator with a higher ticket EV`,
    { upstream: `${n} tickets over the limit of ${max} per payment`, details: { tickets: n, max } },
  );
}

/** A gateway refuses a price above this multiple of the session's initial price. // go-livepeer server/segment_rpc.go priceIncreaseThreshold */
export const PRICE_INCREASE_THRESHOLD = 2n;

/**
 * Throws PRICE_INCREASED when the orchestrator's `current` price is more than twice the session's
 * `initial` price (go-livepeer `validatePrice`, PR #2995).
 */
export function checkPriceIncrease(initial: Rat, current: Rat): void {
  if (current.cmp(initial.mul(PRICE_INCREASE_THRESHOLD)) <= 0) return;
  throw new PaymentError(
    "PRICE_INCREASED",
    `the orchestrator's price ${current} wei/unit is more than double the session's initial ${initial} wei/unit; start a new session or pick another orchestrator`,
    {
      upstream: `Orchestrator price has more than doubled, Orchestrator price: ${current}, Orchestrator initial price: ${initial}`,
    },
  );
}
