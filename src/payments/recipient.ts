/**
 * The orchestrator side of probabilistic micropayments (docs/spec/payments.md#recipientrand, #ticket-parameters, #validation-order, #orchestrator-balances;
 * go-livepeer pm/recipient.go, pm/validator.go, core/orchestrator.go `ProcessPayment`):
 * recipientRand by HMAC, ticket parameter generation, ticket validation in go-livepeer's order with
 * its error meanings, sender nonces, and crediting ticket EV to balances. Ticket sizes are
 * ticket-sizing.ts's; the two phases of one payment, payment-batch.ts's.
 *
 * Pure apart from the injected chain facts, nonce store and randomness; no network or disk I/O.
 */
import { createHmac, randomBytes } from "node:crypto";
import { type Address, type Hex, hexToBytes, isAddressEqual, zeroAddress } from "viem";
import { bigIntToBytes, bytesToBigInt } from "../protocol/bigint-bytes.ts";
import type { Balances } from "./balances.ts";
import { ChainFactsStaleError, type SenderMonitor, type TimeSource } from "./chain-facts.ts";
import { MAX_SENDER_NONCES, PARAMS_EXPIRATION_BLOCKS } from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { MemoryNonceStore, type NonceStore } from "./nonce-store.ts";
import { type ProcessPaymentResult, processPaymentBatch } from "./payment-batch.ts";
import { Rat } from "./rational.ts";
import { checkSig } from "./signature.ts";
import { auxData, isWinningTicket, isZeroHash, recipientRandHash, ticketHashBytes } from "./ticket.ts";
import { TicketSizing, type TicketSizingOptions } from "./ticket-sizing.ts";
import type {
  Payment,
  SenderInfo,
  SignedTicket,
  Ticket,
  TicketExpirationParams,
  TicketParams,
} from "./types.ts";

export type { ProcessPaymentResult } from "./payment-batch.ts";
export { DEFAULT_TARGET_TICKETS_PER_PAYMENT, type TicketSizingOptions } from "./ticket-sizing.ts";

/** Configuration and collaborators of a {@link Recipient}. */
export interface RecipientOptions extends TicketSizingOptions {
  /** Ticket recipient address (may differ from the orchestrator's signing address). */
  address: Address;
  /** 32-byte HMAC secret; random when omitted (then params do not survive a restart, as upstream). */
  secret?: Uint8Array;
  time: TimeSource;
  senders: SenderMonitor;
  /** Defaults to an in-memory store. */
  nonces?: NonceStore;
  /** Source of the 32-byte seeds; defaults to node:crypto. */
  random?: (n: number) => Uint8Array;
  /**
   * Runs `fn` atomically: the nonces, balance updates and winners of one payment batch are written
   * inside it (e.g. `(fn, o) => store.transaction(fn, o)` over the node's store). `durable: false`
   * (a batch without a winning ticket) may commit without its own fsync. Default: runs `fn` as is
   * (in-memory stores).
   */
  transaction?: PaymentTransaction;
}

/**
 * Runs `fn` atomically. With `durable` (the default) it is on disk when it returns; `durable: false`
 * lets the store commit without an fsync of its own (it survives a crash of the process, not
 * necessarily of the OS): what a payment batch without a winning ticket asks for.
 */
export type PaymentTransaction = <T>(fn: () => T, options?: { durable?: boolean }) => T;

/** Everything recipientRand is derived from, besides the secret. */
interface RandInputs {
  seed: bigint;
  sender: Address;
  faceValue: bigint;
  winProb: bigint;
  expirationBlock: bigint;
  num: bigint;
  den: bigint;
  creationRound: bigint;
  creationRoundBlockHash: Hex;
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

/** The orchestrator's ticket recipient. */
export class Recipient {
  readonly address: Address;
  readonly #secret: Uint8Array;
  readonly #sizing: TicketSizing;
  readonly #time: TimeSource;
  readonly #senders: SenderMonitor;
  readonly #nonces: NonceStore;
  readonly #random: (n: number) => Uint8Array;
  readonly #transaction: PaymentTransaction;
  /** The last recipientRand derived for a ticket, with its inputs (a payment's tickets share them). */
  #lastRand: { key: RandInputs; rand: bigint; hash: string } | undefined;

  constructor(o: RecipientOptions) {
    this.address = o.address;
    this.#secret = o.secret ?? new Uint8Array(randomBytes(32));
    if (this.#secret.length !== 32) throw new RangeError("recipient secret must be 32 bytes");
    this.#sizing = new TicketSizing(o);
    this.#time = o.time;
    this.#senders = o.senders;
    this.#nonces = o.nonces ?? new MemoryNonceStore();
    this.#random = o.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#transaction = o.transaction ?? ((fn) => fn());
  }

  /** Required EV per ticket in wei, as a rational (go-livepeer `Recipient.EV()`). */
  get ev(): Rat {
    return Rat.of(this.#sizing.ev);
  }

  /** Changes the face value cap; 0 = unlimited. */
  setMaxFaceValue(max: bigint): void {
    this.#sizing.setMaxFaceValue(max);
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

  /** Redemption transaction cost at the current gas price ({@link TicketSizing.txCost}). */
  txCost(gasPrice?: bigint): bigint {
    return this.#sizing.txCost(gasPrice);
  }

  /** Face value for `sender`, or INSUFFICIENT_SENDER_RESERVE ({@link TicketSizing.faceValue}). */
  faceValue(sender: Address): Promise<bigint> {
    return this.#sizing.faceValue(sender);
  }

  /** Win probability for a face value at `ev` ({@link TicketSizing.winProb}). */
  winProb(faceValue: bigint, ev?: bigint): bigint {
    return this.#sizing.winProb(faceValue, ev);
  }

  /** The EV to quote at `price` for a usual payment of `usualUnits` units ({@link TicketSizing.wantedEV}). */
  wantedEV(price: Rat, usualUnits: bigint): bigint {
    return this.#sizing.wantedEV(price, usualUnits);
  }

  /** faceValue / txCost for `sender` ({@link TicketSizing.txCostMultiplierFor}). */
  txCostMultiplierFor(sender: Address): Promise<Rat> {
    return this.#sizing.txCostMultiplierFor(sender);
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
      price.num > 0n ? await this.#sizing.faceValueAndWinProb(sender, price, usualUnits) : { fv: 0n, wp: 0n };
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
    const { rand, hash: randHash } = this.#ticketRand(ticket, seed, price);
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
    if (isAddressEqual(ticket.sender, zeroAddress)) {
      return fatal(
        "INVALID_TICKET_SENDER",
        "ticket sender is the zero address; set the payment sender",
        "invalid ticket sender",
      );
    }
    if (randHash !== ticket.recipientRandHash.toLowerCase()) {
      return fatal(
        "INVALID_RECIPIENT_RAND",
        "ticket params do not match what this orchestrator quoted (seed, face value, win probability, expiration block or params, or expected price changed, or the orchestrator restarted); fetch fresh ticket params and echo them exactly",
        "invalid recipientRand for ticket recipientRandHash",
      );
    }
    const check = await checkSig(ticket.sender, ticketHashBytes(ticket), sig);
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

  /**
   * recipientRand and its hash (lower-case) for a ticket: the HMAC and the hash are a pure function of
   * the ticket params, seed and price, so a payment's tickets (which share them) derive them once.
   */
  #ticketRand(ticket: Ticket, seed: bigint, price: Rat): { rand: bigint; hash: string } {
    const last = this.#lastRand;
    const k = last?.key;
    if (
      k !== undefined &&
      k.seed === seed &&
      k.sender === ticket.sender &&
      k.faceValue === ticket.faceValue &&
      k.winProb === ticket.winProb &&
      k.expirationBlock === ticket.paramsExpirationBlock &&
      k.num === price.num &&
      k.den === price.den &&
      k.creationRound === ticket.creationRound &&
      k.creationRoundBlockHash === ticket.creationRoundBlockHash
    )
      return last!;
    const rand = this.recipientRand(
      seed,
      ticket.sender,
      ticket.faceValue,
      ticket.winProb,
      ticket.paramsExpirationBlock,
      price,
      ticket,
    );
    const key: RandInputs = {
      seed,
      sender: ticket.sender,
      faceValue: ticket.faceValue,
      winProb: ticket.winProb,
      expirationBlock: ticket.paramsExpirationBlock,
      num: price.num,
      den: price.den,
      creationRound: ticket.creationRound,
      creationRoundBlockHash: ticket.creationRoundBlockHash,
    };
    this.#lastRand = { key, rand, hash: recipientRandHash(rand).toLowerCase() };
    return this.#lastRand;
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
    const checks = {
      check: (ticket: Ticket, sig: Hex, seed: bigint, price: Rat) => this.#check(ticket, sig, seed, price),
      record: (ticket: Ticket, won: boolean, rand: bigint) => this.#record(ticket, won, rand),
      transaction: this.#transaction,
    };
    return processPaymentBatch(checks, payment, manifestId, balances, onWinner);
  }

  /** Forgets nonces of params that expired at or before `latestL1Block`; call on every new L1 block. */
  purgeExpiredNonces(latestL1Block: bigint): number {
    return this.#nonces.purgeExpired(latestL1Block);
  }
}
