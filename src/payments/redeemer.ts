/**
 * The orchestrator's durable redemption queue for winning tickets (docs/spec/payments.md#redemption).
 *
 * Winning tickets are committed to the {@link WinnerQueue} (winner-queue.ts; the SQLite payment store
 * in store/ implements it) by the payment path (`enqueue`, a
 * synchronous insert, made inside the payment batch's transaction so a winner commits with its nonce
 * and credit) before the payment is acknowledged. The redeemer reads the store, so a restart
 * recovers every ticket that is still `pending` or `submitted`. For each due ticket, oldest first and
 * one at a time (one account, one nonce sequence):
 *
 * 1. `submitted` tickets: look up the recorded transaction. Mined and successful → `redeemed`;
 *    reverted → `failed`; still unknown to the node → if the ticket is used on-chain it is `redeemed`
 *    (by that transaction, once it shows), otherwise the signed transaction never left: back to
 *    `pending`.
 * 2. Wait until `paramsExpirationBlock <= latest block` (revealing recipientRand earlier would let the
 *    sender learn the outcome of its other tickets that share the recipientRandHash).
 * 3. Wait while the current round is not initialized or the recipient is not in the active pool
 *    (go-livepeer skips such tickets too; they may expire meanwhile).
 * 4. `usedTickets(hash)` → `failed` with "ticket is used", no transaction.
 * 5. Simulate `redeemWinningTicket` (gas estimate). A revert is permanent (`failed` with the contract's
 *    reason, e.g. "ticket is expired") except "current round is not initialized" / "system is paused".
 * 6. `txCost = gas × gasPrice` must be below the face value ("insufficient ticket face value for
 *    redeem tx cost") and below deposit + claimable reserve ("insufficient sender funds for redeem tx
 *    cost"); otherwise retried later (gas prices move; the ticket eventually expires).
 * 7. Sign the transaction, record its hash (`submitted`), broadcast it, wait for the receipt.
 *
 * Network errors (RPC down, timeouts) are retried with exponential backoff and never fail a ticket.
 * Other unexpected errors are retried up to `maxAttempts`, then the ticket is `failed`.
 */
import type { Address, Hash, Hex } from "viem";
import { TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import { silentLogger } from "../node/logger.ts";
import { ticketHash } from "./ticket.ts";
import type { SignedTicket } from "./types.ts";
import type { StoredWinningTicket, WinnerQueue } from "./winner-queue.ts";

/** A redemption call reverted (in simulation or on-chain); `reason` is the contract's revert string. */
export class RedeemRevertError extends TributaryError {
  readonly reason: string;
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super("REDEEM_REVERTED", `redeemWinningTicket reverted: ${reason}`, { ...options, status: 502 });
    this.reason = reason;
  }
}

/** The RPC could not be reached or timed out: always retryable. */
export class RedeemNetworkError extends TributaryError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("CHAIN_UNAVAILABLE", message, { ...options, status: 503 });
  }
}

/** A redemption transaction, signed and not yet broadcast. */
export interface SignedRedeemTx {
  hash: Hash;
  serialized: Hex;
}

/**
 * The chain operations the redeemer needs. `src/chain/redeemer-chain.ts` implements them with viem;
 * tests use fakes. Implementations throw {@link RedeemNetworkError} for transport failures and
 * {@link RedeemRevertError} for reverts.
 */
export interface RedeemerChain {
  /** The address redemptions are sent from (the orchestrator's account). */
  readonly account: Address;
  /** Latest block number (L1 block on Arbitrum). */
  blockNumber(): Promise<bigint>;
  /** BondingManager.isActiveTranscoder(address). */
  isActiveTranscoder(address: Address): Promise<boolean>;
  currentRoundInitialized(): Promise<boolean>;
  isUsedTicket(ticketHash: Hash): Promise<boolean>;
  /** Sender deposit, and the reserve `claimant` may claim this round. */
  senderFunds(sender: Address, claimant: Address): Promise<{ deposit: bigint; claimableReserve: bigint }>;
  gasPrice(): Promise<bigint>;
  /** Simulates redeemWinningTicket from {@link RedeemerChain.account}; returns the gas it needs. */
  estimateRedeemGas(ticket: SignedTicket & { recipientRand: bigint }): Promise<bigint>;
  /** Signs a redeemWinningTicket transaction (its hash is known before broadcast). */
  signRedeem(
    ticket: SignedTicket & { recipientRand: bigint },
    gas: bigint,
    gasPrice: bigint,
  ): Promise<SignedRedeemTx>;
  /** Broadcasts a signed transaction. "already known" is not an error. */
  broadcast(tx: SignedRedeemTx): Promise<void>;
  /** Receipt status of a transaction, or undefined if it is not mined (yet). */
  receiptStatus(hash: Hash): Promise<"success" | "reverted" | undefined>;
  /** Waits up to `timeoutMs` for the receipt; undefined on timeout. */
  waitForReceipt(hash: Hash, timeoutMs: number): Promise<"success" | "reverted" | undefined>;
  /** True if the node knows the transaction (pending or mined). */
  isKnownTransaction(hash: Hash): Promise<boolean>;
}

/** Revert reasons after which the ticket is retried later instead of failed. */
export const RETRYABLE_REVERTS: readonly string[] = ["current round is not initialized", "system is paused"];

/** Options of {@link Redeemer}. */
export interface RedeemerOptions {
  store: WinnerQueue;
  chain: RedeemerChain;
  /** Stops the loop. */
  signal?: AbortSignal;
  logger?: Logger;
  /** How often due tickets are looked at without a {@link Redeemer.notify}; default 1000 ms. */
  pollIntervalMs?: number;
  /** First retry delay after a retryable error; doubles per attempt; default 1000 ms. */
  backoffBaseMs?: number;
  /** Largest retry delay; default 60 000 ms. */
  backoffMaxMs?: number;
  /** Attempts after which an unexpected (non-network) error fails the ticket; default 10. */
  maxAttempts?: number;
  /** How long to wait for a receipt before checking again on a later pass; default 60 000 ms. */
  receiptTimeoutMs?: number;
  /** Clock (epoch ms). */
  now?: () => number;
}

/** Outcome of handling one ticket in a pass. */
export type RedeemOutcome =
  | { id: number; outcome: "redeemed"; txHash: Hash | undefined }
  | { id: number; outcome: "failed"; reason: string; txHash?: Hash }
  | { id: number; outcome: "waiting"; reason: string }
  | { id: number; outcome: "retry"; reason: string };

/** The redemption queue. Start it with {@link Redeemer.start}; dispose it to stop. */
export class Redeemer implements AsyncDisposable {
  readonly #store: WinnerQueue;
  readonly #chain: RedeemerChain;
  readonly #log: Logger;
  readonly #poll: number;
  readonly #backoffBase: number;
  readonly #backoffMax: number;
  readonly #maxAttempts: number;
  readonly #receiptTimeout: number;
  readonly #now: () => number;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #pass: Promise<RedeemOutcome[]> | undefined;

  constructor(options: RedeemerOptions) {
    this.#store = options.store;
    this.#chain = options.chain;
    this.#log = options.logger ?? silentLogger();
    this.#poll = options.pollIntervalMs ?? 1000;
    this.#backoffBase = options.backoffBaseMs ?? 1000;
    this.#backoffMax = options.backoffMaxMs ?? 60_000;
    this.#maxAttempts = options.maxAttempts ?? 10;
    this.#receiptTimeout = options.receiptTimeoutMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    if (options.signal) {
      if (options.signal.aborted) this.#abort.abort();
      else options.signal.addEventListener("abort", () => this.#abort.abort(), { once: true });
    }
    this.#abort.signal.addEventListener("abort", () => this.#wake?.(), { once: true });
  }

  /**
   * Commits a winning ticket to the store (durable when this returns) and wakes the loop. Returns the
   * stored row; enqueuing the same ticket twice is harmless. The ticket must carry its recipientRand
   * (as `Recipient.processPayment` winners do).
   */
  enqueue(ticket: SignedTicket): StoredWinningTicket {
    const { recipientRand } = ticket;
    if (recipientRand === undefined)
      throw new TypeError("a winning ticket needs its recipientRand to be redeemed");
    const { ticket: stored } = this.#store.addWinningTicket(ticketHash(ticket), { ...ticket, recipientRand });
    this.notify();
    return stored;
  }

  /** Wakes the loop to look at due tickets now. */
  notify(): void {
    this.#wake?.();
  }

  /** Starts the background loop (idempotent). It runs until the signal aborts or `stop()`. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop and waits for the ticket in progress. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await this.runOnce();
      } catch (err) {
        this.#log.error({ err }, "redeemer pass failed");
      }
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#delayUntilNextDue());
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  #delayUntilNextDue(): number {
    const next = this.#store.nextDueAt();
    if (next === undefined) return this.#poll;
    return Math.max(0, Math.min(this.#poll, next - this.#now()));
  }

  /**
   * Handles every due ticket once, oldest first, and returns what happened to each. Concurrent calls
   * share one pass.
   */
  runOnce(): Promise<RedeemOutcome[]> {
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  async #runPass(): Promise<RedeemOutcome[]> {
    const out: RedeemOutcome[] = [];
    const due = this.#store.listWinningTickets({ status: ["pending", "submitted"], dueAt: this.#now() });
    for (const t of due) {
      if (this.#abort.signal.aborted) break;
      const outcome = await this.#handle(t);
      out.push(outcome);
      const level =
        outcome.outcome === "waiting" ? "debug" : outcome.outcome === "redeemed" ? "info" : "warn";
      const reason = "reason" in outcome ? outcome.reason : undefined;
      const txHash = "txHash" in outcome ? outcome.txHash : undefined;
      this.#log[level](
        {
          ticket: t.ticketHash,
          sender: t.ticket.sender,
          id: outcome.id,
          outcome: outcome.outcome,
          reason,
          tx_hash: txHash,
        },
        "winning ticket",
      );
      // The chain is shared by all tickets: if it is unreachable, stop this pass.
      if (outcome.outcome === "retry" && outcome.reason.startsWith("network:")) break;
    }
    return out;
  }

  #backoff(attempts: number): number {
    return Math.min(this.#backoffMax, this.#backoffBase * 2 ** Math.max(0, attempts));
  }

  async #handle(t: StoredWinningTicket): Promise<RedeemOutcome> {
    try {
      if (t.status === "submitted") {
        const settled = await this.#checkSubmitted(t);
        if (settled) return settled;
      }
      return await this.#redeem(t);
    } catch (err) {
      return this.#onError(t, err);
    }
  }

  /** Settles a submitted ticket, or returns undefined when it must be (re)sent. */
  async #checkSubmitted(t: StoredWinningTicket): Promise<RedeemOutcome | undefined> {
    const hash = t.txHash!;
    const status = await this.#chain.receiptStatus(hash);
    if (status === "success") {
      this.#store.markRedeemed(t.id, hash);
      return { id: t.id, outcome: "redeemed", txHash: hash };
    }
    if (status === "reverted") return this.#settleReverted(t, hash);
    if (await this.#chain.isKnownTransaction(hash)) {
      this.#store.postpone(t.id, this.#now() + this.#poll);
      return { id: t.id, outcome: "waiting", reason: "transaction pending" };
    }
    if (await this.#chain.isUsedTicket(t.ticketHash)) {
      // Used, yet our transaction is unknown: someone else redeemed it (or our node lost the tx).
      this.#store.markFailed(t.id, "ticket is used");
      return { id: t.id, outcome: "failed", reason: "ticket is used" };
    }
    // Signed but never broadcast (e.g. a crash between recording and sending): send a fresh one.
    return undefined;
  }

  async #settleReverted(t: StoredWinningTicket, hash: Hash): Promise<RedeemOutcome> {
    const reason = `transaction failed${(await this.#chain.isUsedTicket(t.ticketHash)) ? ": ticket is used" : ""}`;
    this.#store.markFailed(t.id, reason, hash);
    return { id: t.id, outcome: "failed", reason, txHash: hash };
  }

  async #redeem(t: StoredWinningTicket): Promise<RedeemOutcome> {
    const ticket = t.ticket;
    const block = await this.#chain.blockNumber();
    if (ticket.paramsExpirationBlock > block) {
      const reason = `waiting for params expiration block ${ticket.paramsExpirationBlock} (latest ${block})`;
      this.#store.postpone(t.id, this.#now() + this.#poll);
      return { id: t.id, outcome: "waiting", reason };
    }
    if (!(await this.#chain.currentRoundInitialized())) {
      this.#store.postpone(t.id, this.#now() + this.#poll);
      return { id: t.id, outcome: "waiting", reason: "current round is not initialized" };
    }
    if (!(await this.#chain.isActiveTranscoder(ticket.recipient))) {
      const reason = `recipient ${ticket.recipient} is not active in the current round`;
      this.#store.postpone(t.id, this.#now() + this.#poll, reason);
      return { id: t.id, outcome: "waiting", reason };
    }
    if (await this.#chain.isUsedTicket(t.ticketHash)) {
      this.#store.markFailed(t.id, "ticket is used");
      return { id: t.id, outcome: "failed", reason: "ticket is used" };
    }
    const gas = await this.#chain.estimateRedeemGas(ticket);
    const gasPrice = await this.#chain.gasPrice();
    const txCost = gas * gasPrice;
    const funds = await this.#chain.senderFunds(ticket.sender, ticket.recipient);
    let blocked: string | undefined;
    if (funds.deposit + funds.claimableReserve <= txCost)
      blocked = "insufficient sender funds for redeem tx cost";
    else if (ticket.faceValue <= txCost) blocked = "insufficient ticket face value for redeem tx cost";
    if (blocked) {
      const reason = `${blocked} (txCost ${txCost} wei, faceValue ${ticket.faceValue}, deposit ${funds.deposit}, claimable reserve ${funds.claimableReserve})`;
      this.#store.markRetry(t.id, reason, this.#now() + this.#backoff(t.attempts));
      return { id: t.id, outcome: "retry", reason };
    }

    const tx = await this.#chain.signRedeem(ticket, gas, gasPrice);
    this.#store.markSubmitted(t.id, tx.hash);
    await this.#chain.broadcast(tx);
    const status = await this.#chain.waitForReceipt(tx.hash, this.#receiptTimeout);
    if (status === "success") {
      this.#store.markRedeemed(t.id, tx.hash);
      return { id: t.id, outcome: "redeemed", txHash: tx.hash };
    }
    if (status === "reverted") return this.#settleReverted(t, tx.hash);
    this.#store.postpone(t.id, this.#now() + this.#poll);
    return { id: t.id, outcome: "waiting", reason: "transaction pending" };
  }

  #onError(t: StoredWinningTicket, err: unknown): RedeemOutcome {
    const current = this.#store.getWinningTicket(t.id) ?? t;
    if (err instanceof RedeemRevertError) {
      if (RETRYABLE_REVERTS.includes(err.reason)) {
        this.#store.markRetry(t.id, err.reason, this.#now() + this.#poll, false);
        return { id: t.id, outcome: "waiting", reason: err.reason };
      }
      // A submitted-but-unsent transaction may exist; the revert makes it moot.
      this.#store.markFailed(t.id, err.reason);
      return { id: t.id, outcome: "failed", reason: err.reason };
    }
    const message = err instanceof Error ? err.message.split("\n")[0]! : String(err);
    if (err instanceof RedeemNetworkError) {
      const reason = `network: ${message}`;
      // Keep a recorded transaction hash (status submitted) so the next pass checks it first.
      if (current.status === "submitted")
        this.#store.postpone(t.id, this.#now() + this.#backoff(current.attempts), reason);
      else this.#store.markRetry(t.id, reason, this.#now() + this.#backoff(current.attempts));
      return { id: t.id, outcome: "retry", reason };
    }
    if (current.attempts + 1 >= this.#maxAttempts) {
      const reason = `gave up after ${current.attempts + 1} attempts: ${message}`;
      this.#store.markFailed(t.id, reason);
      return { id: t.id, outcome: "failed", reason };
    }
    if (current.status === "submitted") {
      this.#store.postpone(t.id, this.#now() + this.#backoff(current.attempts), message);
    } else {
      this.#store.markRetry(t.id, message, this.#now() + this.#backoff(current.attempts));
    }
    return { id: t.id, outcome: "retry", reason: message };
  }
}
