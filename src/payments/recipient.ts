/**
 * The orchestrator side of probabilistic micropayments (docs/spec/payments.md#recipientrand, #ticket-parameters, #validation-order, #orchestrator-balances;
 * go-livepeer pm/recipient.go, pm/validator.go, core/orchestrator.go `ProcessPayment`):
 * recipientRand by HMAC, ticket parameter generation, ticket validation in go-livepeer's order with
 * its error meanings, sender nonces, and crediting ticket EV to balances.
 *
 * Pure apart from the injected chain facts, nonce store and randomness; no network or disk I/O.
 */
import { createHmac, randomBytes } from "node:crypto";
import { type Address, type Hex, hexToBytes, isAddressEqual } from "viem";
import { bigIntToBytes, bytesToBigInt } from "../protocol/bigint-bytes.ts";
import type { Balances } from "./balances.ts";
import {
  ChainFactsStaleError,
  type GasPriceSource,
  type SenderMonitor,
  type TimeSource,
} from "./chain-facts.ts";
import {
  AVG_GAS_PRICE,
  DEFAULT_MAX_TICKET_EV,
  EV_MULTIPLIER,
  MAX_SENDER_NONCES,
  MAX_WIN_PROB,
  PARAMS_EXPIRATION_BLOCKS,
  TX_COST_MULTIPLIER,
} from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { MemoryNonceStore, type NonceStore } from "./nonce-store.ts";
import { Rat } from "./rational.ts";
import { checkSig } from "./signature.ts";
import {
  auxData,
  isWinningTicket,
  isZeroHash,
  newTicket,
  priceRat,
  recipientRandHash,
  ticketEV,
  ticketHash,
} from "./ticket.ts";
import type {
  Payment,
  SenderInfo,
  SignedTicket,
  Ticket,
  TicketExpirationParams,
  TicketParams,
} from "./types.ts";

/**
 * Default most tickets a gateway's usual payment should take ({@link RecipientOptions.targetTicketsPerPayment}):
 * 50 tickets are a `Livepeer-Payment` header of about 5 KB and about 25 ms of signing, and one
 * ticket is then at most 2 % of the payment (2.4 s of a BYOC price), so rounding up to whole tickets
 * overpays little.
 */
export const DEFAULT_TARGET_TICKETS_PER_PAYMENT = 50;

/** processPayment yields to the event loop after this many tickets. */
const YIELD_EVERY = 16;

const ZERO_ADDRESS: Address = "0x0000000000000000000000000000000000000000";

/** Configuration and collaborators of a {@link Recipient}. */
export interface RecipientOptions {
  /** Ticket recipient address (may differ from the orchestrator's signing address). */
  address: Address;
  /** 32-byte HMAC secret; random when omitted (then params do not survive a restart, as upstream). */
  secret?: Uint8Array;
  /** Required EV per ticket in wei (`-ticketEV`, default 8000000000). */
  ticketEV: bigint;
  /** Gas to redeem one ticket: REDEEM_GAS_L2 on Arbitrum, REDEEM_GAS_L1 on L1. */
  redeemGas: bigint;
  /** Face value = txCost × this (default 100). */
  txCostMultiplier?: bigint;
  /** Upper bound on face value; 0 or undefined = unlimited (`-maxFaceValue`). */
  maxFaceValue?: bigint;
  /**
   * Most tickets a gateway's usual payment at the quoted price should take; 0 = always quote
   * `ticketEV`. Default {@link DEFAULT_TARGET_TICKETS_PER_PAYMENT}. See {@link Recipient.ticketParams}.
   */
  targetTicketsPerPayment?: number;
  /**
   * Highest EV a raised quote may have (wei); default go-livepeer gateways' `-maxTicketEV`
   * (3000 gwei), which they refuse to exceed.
   */
  maxScaledTicketEV?: bigint;
  time: TimeSource;
  gasPrice: GasPriceSource;
  senders: SenderMonitor;
  /** Defaults to an in-memory store. */
  nonces?: NonceStore;
  /** Source of the 32-byte seeds; defaults to node:crypto. */
  random?: (n: number) => Uint8Array;
  /**
   * Runs `fn` atomically and durably: the nonces, balance updates and winners of one payment
   * batch are written inside it (e.g. `(fn) => store.transaction(fn)` over the node's store). Default:
   * runs `fn` as is (in-memory stores).
   */
  transaction?: <T>(fn: () => T) => T;
}

/** What happened to one ticket. */
export interface ReceiveResult {
  /** The ticket wins: queue it for redemption (even when `error` is set). */
  won: boolean;
  /** The recipientRand the ticket was checked with. */
  recipientRand: bigint;
  /**
   * Why the ticket was refused, if it was. `error.fatal` (go-livepeer `FatalReceiveErr`) means the
   * whole payment must be aborted; otherwise later tickets are still checked but not credited.
   */
  error?: PaymentError;
}

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

/** The orchestrator's ticket recipient. */
export class Recipient {
  readonly address: Address;
  readonly #secret: Uint8Array;
  readonly #ev: bigint;
  readonly #redeemGas: bigint;
  readonly #txCostMultiplier: bigint;
  #maxFaceValue: bigint;
  readonly #target: bigint;
  readonly #maxScaledEV: bigint;
  readonly #time: TimeSource;
  readonly #gas: GasPriceSource;
  readonly #senders: SenderMonitor;
  readonly #nonces: NonceStore;
  readonly #random: (n: number) => Uint8Array;
  readonly #transaction: <T>(fn: () => T) => T;

  constructor(o: RecipientOptions) {
    this.address = o.address;
    this.#secret = o.secret ?? new Uint8Array(randomBytes(32));
    if (this.#secret.length !== 32) throw new RangeError("recipient secret must be 32 bytes");
    if (o.ticketEV < 0n) throw new RangeError("ticketEV must be ≥ 0");
    this.#ev = o.ticketEV;
    this.#redeemGas = o.redeemGas;
    this.#txCostMultiplier = o.txCostMultiplier ?? TX_COST_MULTIPLIER;
    this.#maxFaceValue = o.maxFaceValue ?? 0n;
    const target = o.targetTicketsPerPayment ?? DEFAULT_TARGET_TICKETS_PER_PAYMENT;
    if (!Number.isInteger(target) || target < 0)
      throw new RangeError("targetTicketsPerPayment must be an integer ≥ 0");
    this.#target = BigInt(target);
    this.#maxScaledEV = o.maxScaledTicketEV ?? DEFAULT_MAX_TICKET_EV;
    this.#time = o.time;
    this.#gas = o.gasPrice;
    this.#senders = o.senders;
    this.#nonces = o.nonces ?? new MemoryNonceStore();
    this.#random = o.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#transaction = o.transaction ?? ((fn) => fn());
  }

  /** Required EV per ticket in wei, as a rational (go-livepeer `Recipient.EV()`). */
  get ev(): Rat {
    return Rat.of(this.#ev);
  }

  /** Changes the face value cap; 0 = unlimited. */
  setMaxFaceValue(max: bigint): void {
    this.#maxFaceValue = max;
  }

  /**
   * recipientRand = uint256(HMAC-SHA256(secret, seed ‖ sender(20) ‖ faceValue ‖ winProb ‖
   * expirationBlock ‖ price.num ‖ price.den ‖ auxData)), integers as minimal big-endian bytes and the
   * price reduced to lowest terms.
   */
  recipientRand(
    seed: bigint,
    sender: Address,
    faceValue: bigint,
    winProb: bigint,
    expirationBlock: bigint,
    price: Rat,
    expirationParams: TicketExpirationParams,
  ): bigint {
    const h = createHmac("sha256", this.#secret);
    h.update(bigIntToBytes(seed));
    h.update(hexToBytes(sender, { size: 20 }));
    h.update(bigIntToBytes(faceValue));
    h.update(bigIntToBytes(winProb));
    h.update(bigIntToBytes(expirationBlock));
    h.update(bigIntToBytes(price.num));
    h.update(bigIntToBytes(price.den));
    h.update(auxData(expirationParams));
    return bytesToBigInt(h.digest());
  }

  /** Redemption transaction cost at the current gas price. */
  txCost(gasPrice: bigint = this.#gas.gasPrice() ?? 0n): bigint {
    return this.#redeemGas * gasPrice;
  }

  /**
   * Face value for `sender` (docs/spec/payments.md#ticket-parameters): txCost × multiplier, or EV × 100 if that is below EV; capped by the
   * sender's max float and `maxFaceValue`. Throws INSUFFICIENT_SENDER_RESERVE when the result is
   * below EV, or below both txCost and txCost at 3 gwei.
   */
  async faceValue(sender: Address): Promise<bigint> {
    const txCost = this.txCost();
    let fv = txCost * this.#txCostMultiplier;
    if (fv < this.#ev) fv = this.#ev * EV_MULTIPLIER;
    const maxFloat = await this.#senders.maxFloat(sender);
    if (fv > maxFloat) fv = maxFloat;
    if (this.#maxFaceValue > 0n && this.#maxFaceValue < fv) fv = this.#maxFaceValue;
    const avgTxCost = this.txCost(AVG_GAS_PRICE);
    if (fv < this.#ev || (fv < txCost && fv < avgTxCost)) {
      let needed = txCost;
      if (avgTxCost < needed) needed = avgTxCost;
      if (this.#ev > needed) needed = this.#ev;
      throw new PaymentError(
        "INSUFFICIENT_SENDER_RESERVE",
        `sender ${sender} can only back tickets of ${maxFloat} wei towards this orchestrator (its reserve share), ` +
          `but a ticket needs a face value of at least ${needed} wei: fund at least ${needed - maxFloat} wei more ` +
          `reserve per active orchestrator (the reserve is split across the active set)`,
        {
          upstream: "insufficient sender reserve",
          details: {
            sender,
            maxFloat: maxFloat.toString(),
            required: needed.toString(),
            faceValue: fv.toString(),
          },
        },
      );
    }
    return fv;
  }

  /**
   * Win probability for a face value (docs/spec/payments.md#ticket-parameters): 0 for 0; 2^256 − 1 when faceValue = EV; else
   * EV × ceil-ish(maxWinProb / faceValue) exactly as go-livepeer computes it.
   */
  winProb(faceValue: bigint, ev: bigint = this.#ev): bigint {
    if (faceValue === 0n) return 0n;
    if (faceValue === ev) return MAX_WIN_PROB;
    const x = MAX_WIN_PROB / faceValue;
    return MAX_WIN_PROB % faceValue !== 0n ? ev * (x + 1n) : ev * x;
  }

  /**
   * The EV to quote at `price` for a usual payment of `usualUnits` units: the ticket EV, or, when
   * price × units would take more than the target number of tickets of that EV, ceil(price × units /
   * target), below {@link RecipientOptions.maxScaledTicketEV}. Never below the ticket EV.
   */
  wantedEV(price: Rat, usualUnits: bigint): bigint {
    if (this.#target === 0n || usualUnits <= 0n || price.cmp(0n) <= 0) return this.#ev;
    const want = price.mul(usualUnits).div(this.#target).ceil();
    let ev = want;
    // − 1: the win probability rounds up, so the EV quoted is a fraction of a wei above this one.
    if (ev >= this.#maxScaledEV) ev = this.#maxScaledEV - 1n;
    if (ev < this.#ev) ev = this.#ev;
    return ev;
  }

  /**
   * Face value and win probability at `price` (docs/spec/payments.md#ticket-parameters): go-livepeer's
   * at the ticket EV, unless {@link wantedEV} is higher. Then go-livepeer's face value rule runs at
   * that EV (txCost × multiplier, or EV × 100 when that is below the EV), bounded by the sender's
   * max float, `maxFaceValue` and the sender's deposit (a gateway refuses a face value above its
   * deposit; a default face value already above it is kept), and never below the default face
   * value; the EV is then kept below the face value (win probability under 1). Where the bounds
   * leave no room, the quote is the default one and the gateway sends more tickets.
   */
  async #faceValueAndWinProb(
    sender: Address,
    price: Rat,
    usualUnits: bigint,
  ): Promise<{ fv: bigint; wp: bigint }> {
    const fv = await this.faceValue(sender);
    const want = this.wantedEV(price, usualUnits);
    if (want === this.#ev) return { fv, wp: this.winProb(fv) };
    let big = this.txCost() * this.#txCostMultiplier;
    if (big < want) big = want * EV_MULTIPLIER;
    const maxFloat = await this.#senders.maxFloat(sender);
    if (big > maxFloat) big = maxFloat;
    if (this.#maxFaceValue > 0n && big > this.#maxFaceValue) big = this.#maxFaceValue;
    const { deposit } = await this.#senders.senderInfo(sender);
    if (big > deposit) big = deposit;
    if (big < fv) big = fv;
    const ev = want < big ? want : big - 1n;
    const wp = this.winProb(big, ev);
    if (ev <= this.#ev || wp >= MAX_WIN_PROB) return { fv, wp: this.winProb(fv) };
    return { fv: big, wp };
  }

  /** faceValue / txCost for `sender` (go-livepeer `TxCostMultiplier`); 0 when gas is free. */
  async txCostMultiplierFor(sender: Address): Promise<Rat> {
    const fv = await this.faceValue(sender);
    const txCost = this.txCost();
    return txCost <= 0n ? Rat.ZERO : Rat.of(fv, txCost);
  }

  /** Expiration params for new tickets: the last initialized round, or the one before if its hash is zero. */
  expirationParams(): TicketExpirationParams {
    const round = this.#time.lastInitializedRound();
    const hash = this.#time.lastInitializedL1BlockHash();
    if (isZeroHash(hash)) {
      return {
        creationRound: round - 1n,
        creationRoundBlockHash: this.#time.preLastInitializedL1BlockHash(),
      };
    }
    return { creationRound: round, creationRoundBlockHash: hash };
  }

  /**
   * Ticket params for `sender` at `price` wei per unit (go-livepeer `TicketParams`): a fresh seed,
   * face value and win probability (0 and 0 for a free price), expiry 40 L1 blocks ahead, and
   * expiration params. Throws INSUFFICIENT_SENDER_RESERVE when the sender cannot back a ticket.
   *
   * `usualUnits` (see usual-payment.ts) is how many units a gateway usually pays for at once: when
   * that payment would take more than the target number of tickets, the tickets quoted are worth
   * more (face value and/or win probability raised within the orchestrator's limits), so the
   * gateway sends fewer. 0 (the default), a cheap price or a target of 0 quote go-livepeer's params.
   */
  async ticketParams(sender: Address, price: Rat, usualUnits = 0n): Promise<TicketParams> {
    const seed = bytesToBigInt(this.#random(32));
    const { fv: faceValue, wp: winProb } =
      price.num > 0n ? await this.#faceValueAndWinProb(sender, price, usualUnits) : { fv: 0n, wp: 0n };
    const expirationBlock = this.#time.lastSeenL1Block() + PARAMS_EXPIRATION_BLOCKS;
    const expirationParams = this.expirationParams();
    const rand = this.recipientRand(
      seed,
      sender,
      faceValue,
      winProb,
      expirationBlock,
      price,
      expirationParams,
    );
    return {
      recipient: this.address,
      faceValue,
      winProb,
      recipientRandHash: recipientRandHash(rand),
      seed,
      expirationBlock,
      expirationParams,
    };
  }

  /** Checks the sender is not unlocking before the next round (go-livepeer `ValidateSender`). */
  async validateSender(sender: Address): Promise<SenderInfo> {
    let info: SenderInfo;
    try {
      info = await this.#senders.senderInfo(sender);
    } catch (cause) {
      if (cause instanceof ChainFactsStaleError) throw cause; // its own 503, naming the cause
      throw new PaymentError(
        "SENDER_INFO_UNAVAILABLE",
        `could not read sender info for ${sender}; retry later`,
        {
          upstream: `could not get sender info for ${sender}: ${cause instanceof Error ? cause.message : String(cause)}`,
          fatal: true,
          cause,
          status: 503,
        },
      );
    }
    const maxWithdrawRound = this.#time.lastInitializedRound() + 1n;
    if (info.withdrawRound !== 0n && info.withdrawRound <= maxWithdrawRound) {
      throw new PaymentError(
        "SENDER_UNLOCKING",
        `sender ${sender} has started to unlock its deposit and reserve (withdraw round ${info.withdrawRound}); it must cancel the unlock (cancelUnlock or fund again) before paying`,
        { upstream: `deposit and reserve for sender ${sender} is set to unlock soon`, fatal: true },
      );
    }
    return info;
  }

  /**
   * Validates one ticket in go-livepeer's order (docs/spec/payments.md#validation-order): derive recipientRand; sender not unlocking;
   * recipient; sender ≠ 0; recipientRandHash; signature (non-fatal); winning; nonce; params expiry
   * (after winning detection, so an expired winner is still reported as won).
   *
   * @param price the payment's expected price (bound into recipientRand by the HMAC).
   * @param seed the seed echoed in the payment's ticket params.
   */
  async receiveTicket(ticket: Ticket, sig: Hex, seed: bigint, price: Rat): Promise<ReceiveResult> {
    const checked = await this.#check(ticket, sig, seed, price);
    return checked.error ? checked : this.#record(ticket, checked.won, checked.recipientRand);
  }

  /** Every check of {@link Recipient.receiveTicket} before the nonce; writes nothing. */
  async #check(ticket: Ticket, sig: Hex, seed: bigint, price: Rat): Promise<ReceiveResult> {
    const rand = this.recipientRand(
      seed,
      ticket.sender,
      ticket.faceValue,
      ticket.winProb,
      ticket.paramsExpirationBlock,
      price,
      ticket,
    );
    try {
      await this.validateSender(ticket.sender);
    } catch (err) {
      if (err instanceof PaymentError) return { won: false, recipientRand: rand, error: err };
      throw err;
    }
    const fatal = (
      code: "INVALID_TICKET_RECIPIENT" | "INVALID_TICKET_SENDER" | "INVALID_RECIPIENT_RAND",
      msg: string,
      up: string,
    ) => ({
      won: false,
      recipientRand: rand,
      error: new PaymentError(code, msg, { upstream: up, fatal: true }),
    });
    if (!isAddressEqual(ticket.recipient, this.address)) {
      return fatal(
        "INVALID_TICKET_RECIPIENT",
        `ticket recipient ${ticket.recipient} is not this orchestrator (${this.address}); use the ticket params this orchestrator quoted`,
        "invalid ticket recipient",
      );
    }
    if (isAddressEqual(ticket.sender, ZERO_ADDRESS)) {
      return fatal(
        "INVALID_TICKET_SENDER",
        "ticket sender is the zero address; set the payment sender",
        "invalid ticket sender",
      );
    }
    if (recipientRandHash(rand).toLowerCase() !== ticket.recipientRandHash.toLowerCase()) {
      return fatal(
        "INVALID_RECIPIENT_RAND",
        "ticket params do not match what this orchestrator quoted (seed, face value, win probability, expiration block or params, or expected price changed, or the orchestrator restarted); fetch fresh ticket params and echo them exactly",
        "invalid recipientRand for ticket recipientRandHash",
      );
    }
    const check = await checkSig(ticket.sender, ticketHash(ticket), sig);
    if (!check.valid) {
      return {
        won: false,
        recipientRand: rand,
        error: new PaymentError(
          "INVALID_SIGNATURE",
          `ticket signature is not a valid 65-byte low-s personal-sign signature by ${ticket.sender} over the ticket hash (${check.reason})`,
          { upstream: "invalid ticket signature", details: { reason: check.reason } },
        ),
      };
    }
    return { won: isWinningTicket(sig, rand, ticket.winProb), recipientRand: rand };
  }

  /** Records the nonce of a checked ticket, then checks its params expiry (synchronous). */
  #record(ticket: Ticket, won: boolean, rand: bigint): ReceiveResult {
    const added = this.#nonces.add(
      ticket.recipientRandHash,
      ticket.senderNonce,
      ticket.paramsExpirationBlock,
      MAX_SENDER_NONCES,
    );
    if (added === "seen") {
      return {
        won,
        recipientRand: rand,
        error: new PaymentError(
          "NONCE_REUSED",
          `sender nonce ${ticket.senderNonce} was already used with these ticket params; allocate a new nonce`,
          {
            upstream: `invalid ticket senderNonce: already seen sender=${ticket.sender} nonce=${ticket.senderNonce}`,
          },
        ),
      };
    }
    if (added === "full") {
      return {
        won,
        recipientRand: rand,
        error: new PaymentError(
          "TOO_MANY_NONCES",
          `${MAX_SENDER_NONCES} tickets were already received with these ticket params; fetch fresh ticket params`,
          {
            upstream: `invalid ticket senderNonce: too many values sender=${ticket.sender} nonce=${ticket.senderNonce}`,
          },
        ),
      };
    }
    if (ticket.paramsExpirationBlock <= this.#time.lastSeenL1Block()) {
      return {
        won,
        recipientRand: rand,
        error: new PaymentError(
          "TICKET_EXPIRED",
          `ticket params expired at L1 block ${ticket.paramsExpirationBlock} (now ${this.#time.lastSeenL1Block()}); fetch fresh ticket params`,
          { upstream: "TicketParams expired" },
        ),
      };
    }
    return { won, recipientRand: rand };
  }

  /**
   * Processes a decoded `Livepeer-Payment` for `manifestId` (go-livepeer `ProcessPayment`): no ticket
   * params ⇒ nothing to credit; otherwise parse the expected price, check each ticket and credit its
   * EV to (sender, manifestId) until the first non-fatal error. Fatal errors are thrown
   * ({@link PaymentError} with `fatal`); winners are returned even after an error.
   *
   * Two phases. First every ticket is checked (signatures, recipientRand; nothing is written). Then,
   * in one {@link RecipientOptions.transaction}, each checked ticket's nonce is recorded in order, the
   * credited EV is added to the balance (fixing the session price) and every winner is handed to
   * `onWinner`: nonces, credit and winners commit together or not at all, so a crash never leaves
   * credit or a burnt nonce for a winner that is not queued, and a batch costs one commit. A ticket
   * failing a fatal check ends the batch: the tickets before it are committed, then the error is
   * thrown. No state is created for a sender none of whose tickets passed the checks.
   *
   * The caller must first check that this orchestrator is active in the current round, like
   * go-livepeer does ("orchestrator … is inactive in round …, cannot process payments").
   *
   * @param onWinner called synchronously, inside the transaction, with each winning ticket: give it
   *   the durable redemption queue (a write to the same store joins the transaction). If it throws,
   *   the whole batch is rolled back and the error is thrown.
   */
  async processPayment(
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
    if (isAddressEqual(sender, ZERO_ADDRESS)) {
      throw new PaymentError(
        "MISSING_SENDER",
        "payment has ticket params but no sender; set Payment.sender",
        {
          upstream: "Could not find Sender for payment",
          fatal: true,
        },
      );
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

    // Phase 1: check every ticket; nothing is written.
    const checked: { ticket: Ticket; sig: Hex; r: ReceiveResult }[] = [];
    let fatal: PaymentError | undefined;
    for (const [i, sp] of payment.senderParams.entries()) {
      // signature recovery is CPU-bound (~ms each): let other requests run during a large batch
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
      const ticket = newTicket(params, payment.expirationParams, sender, sp.senderNonce);
      const r = await this.#check(ticket, sp.sig, params.seed, price);
      if (r.error?.fatal) {
        fatal = r.error;
        break;
      }
      checked.push({ ticket, sig: sp.sig, r });
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
    this.#transaction(() => {
      let credited = Rat.ZERO;
      for (const c of checked) {
        const r = c.r.error ? c.r : this.#record(c.ticket, c.r.won, c.r.recipientRand);
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
    });
    if (fatal) throw fatal;
    return result;
  }

  /** Forgets nonces of params that expired at or before `latestL1Block`; call on every new L1 block. */
  purgeExpiredNonces(latestL1Block: bigint): number {
    return this.#nonces.purgeExpired(latestL1Block);
  }
}
