/**
 * The payment store's schema: the SQLite migrations (applied in order by src/node/sqlite.ts) and the
 * row shapes the store reads back. Money amounts are stored exactly, as decimal strings.
 */
import type { Address, Hash, Hex } from "viem";
import type { StoredWinningTicket, WinningTicketStatus } from "../winner-queue.ts";

/** File name of the store inside a data directory. */
export const STORE_FILE_NAME = "tributary.sqlite";

// Schema migrations, applied in order; PRAGMA user_version holds the number applied.
export const MIGRATIONS: string[] = [
  `CREATE TABLE winning_tickets (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     ticket_hash TEXT NOT NULL UNIQUE,
     sender TEXT NOT NULL,
     recipient TEXT NOT NULL,
     face_value TEXT NOT NULL,
     win_prob TEXT NOT NULL,
     sender_nonce INTEGER NOT NULL,
     recipient_rand_hash TEXT NOT NULL,
     creation_round TEXT NOT NULL,
     creation_round_block_hash TEXT NOT NULL,
     params_expiration_block TEXT NOT NULL,
     sig TEXT NOT NULL,
     recipient_rand TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'submitted', 'redeemed', 'failed')),
     tx_hash TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     next_attempt_at INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX winning_tickets_status ON winning_tickets (status, next_attempt_at);
   CREATE TABLE seen_nonces (
     sender TEXT NOT NULL,
     recipient_rand_hash TEXT NOT NULL,
     nonce INTEGER NOT NULL,
     expiration_block INTEGER NOT NULL,
     PRIMARY KEY (sender, recipient_rand_hash, nonce)
   ) WITHOUT ROWID;
   CREATE INDEX seen_nonces_expiry ON seen_nonces (expiration_block);
   CREATE TABLE balances (
     sender TEXT NOT NULL,
     manifest_id TEXT NOT NULL,
     num TEXT NOT NULL,
     den TEXT NOT NULL,
     fixed_price_num TEXT,
     fixed_price_den TEXT,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (sender, manifest_id)
   ) WITHOUT ROWID;`,
];

/** Schema version this code writes. */
export const STORE_SCHEMA_VERSION = MIGRATIONS.length;

export interface TicketRow {
  id: number;
  ticket_hash: string;
  sender: string;
  recipient: string;
  face_value: string;
  win_prob: string;
  sender_nonce: number;
  recipient_rand_hash: string;
  creation_round: string;
  creation_round_block_hash: string;
  params_expiration_block: string;
  sig: string;
  recipient_rand: string;
  status: WinningTicketStatus;
  tx_hash: string | null;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  created_at: number;
  updated_at: number;
}

export function rowToTicket(r: TicketRow): StoredWinningTicket {
  return {
    id: r.id,
    ticketHash: r.ticket_hash as Hash,
    ticket: {
      recipient: r.recipient as Address,
      sender: r.sender as Address,
      faceValue: BigInt(r.face_value),
      winProb: BigInt(r.win_prob),
      senderNonce: r.sender_nonce,
      recipientRandHash: r.recipient_rand_hash as Hex,
      creationRound: BigInt(r.creation_round),
      creationRoundBlockHash: r.creation_round_block_hash as Hex,
      paramsExpirationBlock: BigInt(r.params_expiration_block),
      sig: r.sig as Hex,
      recipientRand: BigInt(r.recipient_rand),
    },
    status: r.status,
    txHash: (r.tx_hash ?? undefined) as Hash | undefined,
    attempts: r.attempts,
    lastError: r.last_error ?? undefined,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface BalanceRow {
  num: string;
  den: string;
  fixed_price_num: string | null;
  fixed_price_den: string | null;
  updated_at: number;
}
