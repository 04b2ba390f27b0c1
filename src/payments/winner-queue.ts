/**
 * The redemption queue the {@link Redeemer} (redeemer.ts) works through, as the interface it needs:
 * winning tickets stored durably with a status (`pending` → `submitted` → `redeemed`, or `failed`),
 * the transaction hash, the attempt count, the last error and the next attempt time. The SQLite
 * payment store (store/store.ts) implements it; tests may use any other implementation.
 */
import type { Hash } from "viem";
import type { SignedTicket } from "./types.ts";

/** Status of a winning ticket in the redemption queue. */
export type WinningTicketStatus = "pending" | "submitted" | "redeemed" | "failed";

/** A winning ticket as stored, with its queue state. */
export interface StoredWinningTicket {
  /** Row id, increasing in insertion order. */
  id: number;
  /** keccak256 ticket hash (the TicketBroker `usedTickets` key). */
  ticketHash: Hash;
  ticket: SignedTicket & { recipientRand: bigint };
  status: WinningTicketStatus;
  /** Hash of the last redemption transaction signed for this ticket, if any. */
  txHash: Hash | undefined;
  attempts: number;
  /** Last error text (retryable errors) or the permanent failure reason (status `failed`). */
  lastError: string | undefined;
  /** Epoch ms before which the redeemer does not retry. */
  nextAttemptAt: number;
  createdAt: number;
  updatedAt: number;
}

/** What the redeemer reads and writes; every write is durable when the method returns. */
export interface WinnerQueue {
  /**
   * Stores a winning ticket as `pending`. Idempotent on the ticket hash: a second insert of the same
   * ticket returns the existing row with `inserted: false`.
   */
  addWinningTicket(
    ticketHash: Hash,
    ticket: SignedTicket & { recipientRand: bigint },
  ): { ticket: StoredWinningTicket; inserted: boolean };
  getWinningTicket(id: number): StoredWinningTicket | undefined;
  /** Tickets in the given statuses, oldest first; with `dueAt`, only those due by then. */
  listWinningTickets(filter?: {
    status?: WinningTicketStatus[];
    dueAt?: number;
    limit?: number;
  }): StoredWinningTicket[];
  /** Earliest next-attempt time among `pending` and `submitted` tickets, or undefined. */
  nextDueAt(): number | undefined;
  /** Records a signed redemption transaction before it is broadcast (status `submitted`). */
  markSubmitted(id: number, txHash: Hash): void;
  /** The ticket is redeemed on-chain (by `txHash`, if known). */
  markRedeemed(id: number, txHash: Hash | undefined): void;
  /** The ticket can never be redeemed by us; `reason` says why. */
  markFailed(id: number, reason: string, txHash?: Hash): void;
  /** A retryable problem: back to `pending`, retried at `nextAttemptAt`. */
  markRetry(id: number, error: string, nextAttemptAt: number, countAttempt?: boolean): void;
  /** Postpones a ticket without counting an attempt (e.g. params not yet expired). */
  postpone(id: number, nextAttemptAt: number, note?: string): void;
}
