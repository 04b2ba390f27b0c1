/**
 * The node's durable store: one SQLite file (node:sqlite, WAL, `synchronous=FULL`) in the data
 * directory, with versioned schema migrations. It holds the money state that must survive a crash
 * (architecture principle 7):
 *
 * - winning tickets, a redemption queue with a status (`pending` → `submitted` → `redeemed`, or
 *   `failed`), the transaction hash, the attempt count, the last error and the next attempt time;
 * - seen ticket nonces per (sender, recipientRandHash) with the params expiration block, so a replayed
 *   ticket is refused after a restart;
 * - balances per (sender, manifest id) stored exactly as numerator/denominator decimal strings, plus the
 *   per-session fixed price.
 *
 * Every write is a synchronous SQLite transaction: when a method returns, the row is on disk, so a
 * caller may acknowledge a payment right after {@link PaymentStore.addWinningTicket} returns.
 *
 * The nonce and balance interfaces ({@link NonceStore}, {@link BalanceStore}) are defined here because
 * the recipient and balance modules did not define storage interfaces yet when this was written; they
 * are small so an adapter is trivial if those modules choose other names.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { Address, Hash, Hex } from "viem";
import { Rat } from "../payments/rational.ts";
import type { SignedTicket } from "../payments/types.ts";

/** File name of the store inside a data directory. */
export const STORE_FILE_NAME = "tributary.sqlite";

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

/** Result of {@link NonceStore.recordNonce}. */
export type NonceResult = "added" | "seen" | "full";

/** Durable seen-nonce bookkeeping (spec §9 step 5). */
export interface NonceStore {
  /**
   * Records `nonce` for (sender, recipientRandHash). Returns `"seen"` if it was recorded before,
   * `"full"` if `maxNonces` nonces are already recorded for that pair (nothing is written then),
   * else `"added"`. `expirationBlock` is the ticket params expiration block; entries are purged by
   * {@link NonceStore.purgeExpiredNonces}.
   */
  recordNonce(
    sender: Address,
    recipientRandHash: Hex,
    nonce: number,
    expirationBlock: bigint,
    maxNonces: number,
  ): NonceResult;
  /** Deletes entries whose expiration block is ≤ `latestBlock`; returns how many. */
  purgeExpiredNonces(latestBlock: bigint): number;
}

/** Durable per (sender, manifest id) balances, exact rationals (spec §15.1). */
export interface BalanceStore {
  /** The balance, or undefined if none is stored. */
  getBalance(sender: Address, manifestId: string): Rat | undefined;
  /** Adds `amount` (may be negative) atomically and returns the new balance. */
  addBalance(sender: Address, manifestId: string, amount: Rat): Rat;
  /** Overwrites the balance. */
  setBalance(sender: Address, manifestId: string, amount: Rat): void;
  /** The fixed per-session price, if set. */
  getFixedPrice(sender: Address, manifestId: string): Rat | undefined;
  /** Sets the fixed per-session price. */
  setFixedPrice(sender: Address, manifestId: string, price: Rat): void;
  /** Deletes balances not updated since `olderThanMs` (epoch ms); returns how many. */
  purgeIdleBalances(olderThanMs: number): number;
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** Path of the SQLite file, or `":memory:"`. Exclusive with `dataDir`. */
  path?: string;
  /** Data directory; the file is `<dataDir>/tributary.sqlite`. Created if missing. */
  dataDir?: string;
  /** Clock (epoch ms); tests inject one. */
  now?: () => number;
}

// Schema migrations, applied in order; PRAGMA user_version holds the number applied.
const MIGRATIONS: string[] = [
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

interface TicketRow {
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

function rowToTicket(r: TicketRow): StoredWinningTicket {
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

const lower = (a: string) => a.toLowerCase();
// Block numbers beyond SQLite's INTEGER range (only a hostile sender sends those) are clamped.
const MAX_SQLITE_INT = (1n << 63n) - 1n;

/** The store. Open with {@link openStore}; close with `close()` or `using`. */
export class PaymentStore implements NonceStore, BalanceStore, Disposable {
  /** The underlying database, for diagnostics and tests. */
  readonly db: DatabaseSync;
  readonly path: string;
  readonly #now: () => number;

  constructor(db: DatabaseSync, path: string, now: () => number) {
    this.db = db;
    this.path = path;
    this.#now = now;
  }

  /** Runs `fn` in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  // ------------------------------------------------------------------ winning tickets

  /**
   * Stores a winning ticket as `pending`, durably, before returning. Idempotent on the ticket hash:
   * a second insert of the same ticket returns the existing row with `inserted: false`.
   */
  addWinningTicket(
    ticketHash: Hash,
    ticket: SignedTicket & { recipientRand: bigint },
  ): { ticket: StoredWinningTicket; inserted: boolean } {
    const now = this.#now();
    const res = this.db
      .prepare(
        `INSERT INTO winning_tickets (ticket_hash, sender, recipient, face_value, win_prob, sender_nonce,
           recipient_rand_hash, creation_round, creation_round_block_hash, params_expiration_block, sig,
           recipient_rand, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (ticket_hash) DO NOTHING`,
      )
      .run(
        lower(ticketHash),
        ticket.sender,
        ticket.recipient,
        ticket.faceValue.toString(),
        ticket.winProb.toString(),
        ticket.senderNonce,
        lower(ticket.recipientRandHash),
        ticket.creationRound.toString(),
        lower(ticket.creationRoundBlockHash),
        ticket.paramsExpirationBlock.toString(),
        lower(ticket.sig),
        ticket.recipientRand.toString(),
        now,
        now,
      );
    const stored = this.getWinningTicketByHash(ticketHash);
    if (!stored) throw new Error("winning ticket vanished after insert");
    return { ticket: stored, inserted: Number(res.changes) === 1 };
  }

  getWinningTicket(id: number): StoredWinningTicket | undefined {
    const r = this.db.prepare("SELECT * FROM winning_tickets WHERE id = ?").get(id) as TicketRow | undefined;
    return r ? rowToTicket(r) : undefined;
  }

  getWinningTicketByHash(ticketHash: Hash): StoredWinningTicket | undefined {
    const r = this.db.prepare("SELECT * FROM winning_tickets WHERE ticket_hash = ?").get(lower(ticketHash)) as
      | TicketRow
      | undefined;
    return r ? rowToTicket(r) : undefined;
  }

  /**
   * Tickets in the given statuses, oldest first. With `dueAt`, only those whose next attempt time is
   * ≤ `dueAt`.
   */
  listWinningTickets(
    filter: { status?: WinningTicketStatus[]; dueAt?: number; limit?: number } = {},
  ): StoredWinningTicket[] {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (filter.status && filter.status.length > 0) {
      where.push(`status IN (${filter.status.map(() => "?").join(", ")})`);
      params.push(...filter.status);
    }
    if (filter.dueAt !== undefined) {
      where.push("next_attempt_at <= ?");
      params.push(filter.dueAt);
    }
    const sql = `SELECT * FROM winning_tickets ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id LIMIT ?`;
    params.push(filter.limit ?? -1);
    return (this.db.prepare(sql).all(...params) as unknown as TicketRow[]).map(rowToTicket);
  }

  /** Counts of tickets per status. */
  countWinningTickets(): Record<WinningTicketStatus, number> {
    const out: Record<WinningTicketStatus, number> = { pending: 0, submitted: 0, redeemed: 0, failed: 0 };
    for (const r of this.db
      .prepare("SELECT status, COUNT(*) AS n FROM winning_tickets GROUP BY status")
      .all() as {
      status: WinningTicketStatus;
      n: number;
    }[])
      out[r.status] = r.n;
    return out;
  }

  /** Records a signed redemption transaction before it is broadcast (status `submitted`). */
  markSubmitted(id: number, txHash: Hash): void {
    this.#update(id, "status = 'submitted', tx_hash = ?, attempts = attempts + 1", [lower(txHash)]);
  }

  /** The ticket is redeemed on-chain (by `txHash`, if known). */
  markRedeemed(id: number, txHash: Hash | undefined): void {
    this.#update(id, "status = 'redeemed', tx_hash = COALESCE(?, tx_hash), last_error = NULL", [
      txHash ? lower(txHash) : null,
    ]);
  }

  /** The ticket can never be redeemed by us; `reason` says why. */
  markFailed(id: number, reason: string, txHash?: Hash): void {
    this.#update(id, "status = 'failed', last_error = ?, tx_hash = COALESCE(?, tx_hash)", [
      reason,
      txHash ? lower(txHash) : null,
    ]);
  }

  /** A retryable problem: back to `pending`, retried at `nextAttemptAt`. */
  markRetry(id: number, error: string, nextAttemptAt: number, countAttempt = true): void {
    this.#update(
      id,
      `status = 'pending', last_error = ?, next_attempt_at = ?${countAttempt ? ", attempts = attempts + 1" : ""}`,
      [error, nextAttemptAt],
    );
  }

  /** Postpones a ticket without counting an attempt (e.g. params not yet expired). */
  postpone(id: number, nextAttemptAt: number, note?: string): void {
    this.#update(id, "next_attempt_at = ?, last_error = COALESCE(?, last_error)", [
      nextAttemptAt,
      note ?? null,
    ]);
  }

  #update(id: number, set: string, params: SQLInputValue[]): void {
    const res = this.db
      .prepare(`UPDATE winning_tickets SET ${set}, updated_at = ? WHERE id = ?`)
      .run(...params, this.#now(), id);
    if (Number(res.changes) !== 1) throw new Error(`winning ticket ${id} not found`);
  }

  // ------------------------------------------------------------------ nonces

  recordNonce(
    sender: Address,
    recipientRandHash: Hex,
    nonce: number,
    expirationBlock: bigint,
    maxNonces: number,
  ): NonceResult {
    const s = lower(sender);
    const h = lower(recipientRandHash);
    return this.transaction(() => {
      const seen = this.db
        .prepare("SELECT 1 FROM seen_nonces WHERE sender = ? AND recipient_rand_hash = ? AND nonce = ?")
        .get(s, h, nonce);
      if (seen) return "seen";
      const { n } = this.db
        .prepare("SELECT COUNT(*) AS n FROM seen_nonces WHERE sender = ? AND recipient_rand_hash = ?")
        .get(s, h) as { n: number };
      if (n >= maxNonces) return "full";
      this.db
        .prepare(
          "INSERT INTO seen_nonces (sender, recipient_rand_hash, nonce, expiration_block) VALUES (?, ?, ?, ?)",
        )
        .run(s, h, nonce, expirationBlock > MAX_SQLITE_INT ? MAX_SQLITE_INT : expirationBlock);
      return "added";
    });
  }

  purgeExpiredNonces(latestBlock: bigint): number {
    const block = latestBlock > MAX_SQLITE_INT ? MAX_SQLITE_INT : latestBlock;
    return Number(this.db.prepare("DELETE FROM seen_nonces WHERE expiration_block <= ?").run(block).changes);
  }

  // ------------------------------------------------------------------ balances

  getBalance(sender: Address, manifestId: string): Rat | undefined {
    const r = this.db
      .prepare("SELECT num, den FROM balances WHERE sender = ? AND manifest_id = ?")
      .get(lower(sender), manifestId) as { num: string; den: string } | undefined;
    return r ? Rat.of(BigInt(r.num), BigInt(r.den)) : undefined;
  }

  addBalance(sender: Address, manifestId: string, amount: Rat): Rat {
    return this.transaction(() => {
      const next = (this.getBalance(sender, manifestId) ?? Rat.ZERO).add(amount);
      this.setBalance(sender, manifestId, next);
      return next;
    });
  }

  setBalance(sender: Address, manifestId: string, amount: Rat): void {
    this.db
      .prepare(
        `INSERT INTO balances (sender, manifest_id, num, den, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sender, manifest_id) DO UPDATE SET num = excluded.num, den = excluded.den,
           updated_at = excluded.updated_at`,
      )
      .run(lower(sender), manifestId, amount.num.toString(), amount.den.toString(), this.#now());
  }

  getFixedPrice(sender: Address, manifestId: string): Rat | undefined {
    const r = this.db
      .prepare(
        "SELECT fixed_price_num AS num, fixed_price_den AS den FROM balances WHERE sender = ? AND manifest_id = ?",
      )
      .get(lower(sender), manifestId) as { num: string | null; den: string | null } | undefined;
    return r?.num != null && r.den != null ? Rat.of(BigInt(r.num), BigInt(r.den)) : undefined;
  }

  setFixedPrice(sender: Address, manifestId: string, price: Rat): void {
    this.db
      .prepare(
        `INSERT INTO balances (sender, manifest_id, num, den, fixed_price_num, fixed_price_den, updated_at)
         VALUES (?, ?, '0', '1', ?, ?, ?)
         ON CONFLICT (sender, manifest_id) DO UPDATE SET fixed_price_num = excluded.fixed_price_num,
           fixed_price_den = excluded.fixed_price_den, updated_at = excluded.updated_at`,
      )
      .run(lower(sender), manifestId, price.num.toString(), price.den.toString(), this.#now());
  }

  purgeIdleBalances(olderThanMs: number): number {
    return Number(this.db.prepare("DELETE FROM balances WHERE updated_at < ?").run(olderThanMs).changes);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Closes the database. Idempotent. */
  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens (creating if needed) the store and migrates its schema. Throws if the file was written by a
 * newer version of Tributary.
 */
export function openStore(options: StoreOptions): PaymentStore {
  const path = options.path ?? (options.dataDir ? join(options.dataDir, STORE_FILE_NAME) : undefined);
  if (!path) throw new Error("openStore needs a path or a dataDir");
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return new PaymentStore(db, path, options.now ?? Date.now);
}

function migrate(db: DatabaseSync): void {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
  if (version > MIGRATIONS.length) {
    throw new Error(
      `store schema version ${version} is newer than this Tributary supports (${MIGRATIONS.length}); upgrade Tributary`,
    );
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }
}
