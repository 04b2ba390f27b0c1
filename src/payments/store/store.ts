/**
 * The orchestrator's payment store: one SQLite file (node:sqlite, WAL, `synchronous=FULL`) in the data
 * directory, opened by src/node/sqlite.ts with the versioned migrations of schema.ts. It holds the money state that must survive a crash
 * (durable money: written before the work is acknowledged, so a crash loses no ticket):
 *
 * - winning tickets, a redemption queue with a status (`pending` → `submitted` → `redeemed`, or
 *   `failed`), the transaction hash, the attempt count, the last error and the next attempt time;
 * - seen ticket nonces per (sender, recipientRandHash) with the params expiration block, so a replayed
 *   ticket is refused after a restart;
 * - balances per (sender, manifest id) stored exactly as numerator/denominator decimal strings, plus the
 *   per-session fixed price.
 *
 * Every write is a synchronous SQLite transaction: when a method returns, the row is on disk, so a
 * caller may acknowledge a payment right after {@link PaymentStore.addWinningTicket} returns. The
 * payment path wraps one payment batch in {@link PaymentStore.transaction} (nonces, credit and winners
 * commit together, one fsync per batch); the per-row methods called inside it join that transaction.
 * A batch without a winning ticket asks for `durable: false`: it commits with `synchronous=NORMAL`
 * (in the WAL before the method returns, so it survives SIGKILL; an OS crash or power loss may lose
 * the last such batches, their nonces and their credit together, so a ticket replayed afterwards is
 * credited once in all; go-livepeer keeps nonces in memory only). Winners are always fsync'd.
 * Exception: balance writes ({@link PaymentStore.updateBalanceEntry}) commit with
 * `synchronous=NORMAL` (no fsync of their own; about 0.03 ms instead of 0.36 ms per write here): they
 * reach the WAL file before the method returns, so they survive a crash of the process (SIGKILL), but
 * an OS crash or power loss can lose the balance updates made since the last fsync (the next
 * fsync'd write — a winning ticket, a nonce, a redemption — or a checkpoint makes them durable too). A
 * credit balance may then be slightly stale after such a crash; tickets, nonces and redemptions never
 * are.
 *
 * The file (and its -wal/-shm files) is created 0600 in a data directory created 0700: it holds
 * pending winners' recipientRand. {@link PaymentStore.startPurging} deletes expired nonces and
 * balances with no credit left that were idle for an hour, on an unref'd timer stopped by `close()`.
 *
 * {@link PaymentStore.nonceStore} and {@link PaymentStore.balanceStore} adapt the store to the payment
 * modules' storage interfaces (`NonceStore` of nonce-store.ts, `BalanceStore` of
 * balances.ts), so `new Recipient({ nonces: store.nonceStore(), … })` and
 * `new Balances(store.balanceStore())` persist their state here.
 */
import { join } from "node:path";
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { Address, Hash, Hex } from "viem";
import { openSqlite } from "../../node/sqlite.ts";
import type { BalanceEntry, BalanceStore } from "../balances.ts";
import type { NonceAddResult, NonceStore } from "../nonce-store.ts";
import { Rat } from "../rational.ts";
import type { SignedTicket } from "../types.ts";
import type { StoredWinningTicket, WinnerQueue, WinningTicketStatus } from "../winner-queue.ts";
import { type BalanceRow, MIGRATIONS, rowToTicket, STORE_FILE_NAME, type TicketRow } from "./schema.ts";

export { STORE_FILE_NAME, STORE_SCHEMA_VERSION } from "./schema.ts";

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** Path of the SQLite file, or `":memory:"`. Exclusive with `dataDir`. */
  path?: string;
  /** Data directory; the file is `<dataDir>/tributary.sqlite`. Created if missing. */
  dataDir?: string;
  /** Clock (epoch ms); tests inject one. */
  now?: () => number;
}

/** Default period of the purge timer ({@link PaymentStore.startPurging}): one minute. */
export const PURGE_INTERVAL_MS = 60_000;
/** Default idle time after which a balance with no credit is purged: one hour. */
export const BALANCE_IDLE_MS = 3_600_000;

/** Options of {@link PaymentStore.startPurging}. */
export interface PurgeOptions {
  /** Latest L1 block seen (nonces of params expired at or before it are purged); undefined: unknown yet. */
  latestBlock: () => bigint | undefined;
  /** Period, ms; default {@link PURGE_INTERVAL_MS}. */
  intervalMs?: number;
  /** Idle time before a balance with no credit is deleted, ms; default {@link BALANCE_IDLE_MS}. */
  balanceIdleMs?: number;
  /** Called after each pass with what it deleted. */
  onPurge?: (result: PurgeResult) => void;
  /** Called when a pass throws (it is retried at the next tick). */
  onError?: (err: unknown) => void;
}

/** Rows one purge pass deleted. */
export interface PurgeResult {
  nonces: number;
  balances: number;
}

const lower = (a: string) => a.toLowerCase();
// Block numbers beyond SQLite's INTEGER range (only a hostile sender sends those) are clamped.
const MAX_SQLITE_INT = (1n << 63n) - 1n;

/** The store. Open with {@link openStore}; close with `close()` or `using`. */
export class PaymentStore implements WinnerQueue, Disposable {
  /** The underlying database, for diagnostics and tests. */
  readonly db: DatabaseSync;
  readonly path: string;
  readonly #now: () => number;

  constructor(db: DatabaseSync, path: string, now: () => number) {
    this.db = db;
    this.path = path;
    this.#now = now;
  }

  /** Prepared statements of the per-job paths, by SQL text (compiled once). */
  readonly #statements = new Map<string, StatementSync>();

  #statement(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (st === undefined) {
      st = this.db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction: every write it makes commits together (one fsync) or not
   * at all when it throws. Nested calls (from `fn`, e.g. the store's own per-row methods) join the
   * outer transaction. `durable: false` commits with `synchronous=NORMAL` (no fsync of its own, as
   * balance writes: see the module comment): for a payment batch without a winning ticket.
   */
  transaction<T>(fn: () => T, options?: { durable?: boolean }): T {
    if (this.db.isTransaction) return fn();
    const relaxed = options?.durable === false;
    // The safety level cannot change inside a transaction: it is set for this one before BEGIN.
    if (relaxed) this.db.exec("PRAGMA synchronous = NORMAL");
    try {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const out = fn();
        this.db.exec("COMMIT");
        return out;
      } catch (err) {
        this.db.exec("ROLLBACK");
        throw err;
      }
    } finally {
      if (relaxed) this.db.exec("PRAGMA synchronous = FULL");
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
    const res = this.#statement(
      `INSERT INTO winning_tickets (ticket_hash, sender, recipient, face_value, win_prob, sender_nonce,
           recipient_rand_hash, creation_round, creation_round_block_hash, params_expiration_block, sig,
           recipient_rand, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (ticket_hash) DO NOTHING`,
    ).run(
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
    const r = this.#statement("SELECT * FROM winning_tickets WHERE ticket_hash = ?").get(lower(ticketHash)) as
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

  /** Earliest next-attempt time among `pending` and `submitted` tickets, or undefined if there are none. */
  nextDueAt(): number | undefined {
    const r = this.db
      .prepare(
        "SELECT MIN(next_attempt_at) AS t FROM winning_tickets WHERE status IN ('pending', 'submitted')",
      )
      .get() as { t: number | null };
    return r.t ?? undefined;
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

  /**
   * Records `nonce` for (sender, recipientRandHash): `"seen"` if recorded before, `"full"` if
   * `maxNonces` are already recorded for the pair (nothing is written then), else `"added"`.
   * `expirationBlock` (the params expiration block) drives {@link PaymentStore.purgeExpiredNonces}.
   */
  recordNonce(
    sender: Address | "",
    recipientRandHash: Hex,
    nonce: number,
    expirationBlock: bigint,
    maxNonces: number,
  ): NonceAddResult {
    const s = lower(sender);
    const h = lower(recipientRandHash);
    return this.transaction(() => {
      const seen = this.#statement(
        "SELECT 1 FROM seen_nonces WHERE sender = ? AND recipient_rand_hash = ? AND nonce = ?",
      ).get(s, h, nonce);
      if (seen) return "seen";
      const { n } = this.#statement(
        "SELECT COUNT(*) AS n FROM seen_nonces WHERE sender = ? AND recipient_rand_hash = ?",
      ).get(s, h) as { n: number };
      if (n >= maxNonces) return "full";
      this.#statement(
        "INSERT INTO seen_nonces (sender, recipient_rand_hash, nonce, expiration_block) VALUES (?, ?, ?, ?)",
      ).run(s, h, nonce, expirationBlock > MAX_SQLITE_INT ? MAX_SQLITE_INT : expirationBlock);
      return "added";
    });
  }

  /** Deletes nonces whose params expiration block is ≤ `latestBlock`; returns how many. */
  purgeExpiredNonces(latestBlock: bigint): number {
    const block = latestBlock > MAX_SQLITE_INT ? MAX_SQLITE_INT : latestBlock;
    return Number(this.db.prepare("DELETE FROM seen_nonces WHERE expiration_block <= ?").run(block).changes);
  }

  // ------------------------------------------------------------------ balances

  /** The balance entry of (address, manifest id), if any. */
  getBalanceEntry(address: Address, manifestId: string): BalanceEntry | undefined {
    const r = this.#statement(
      `SELECT num, den, fixed_price_num, fixed_price_den, updated_at FROM balances
         WHERE sender = ? AND manifest_id = ?`,
    ).get(lower(address), manifestId) as BalanceRow | undefined;
    if (!r) return undefined;
    const entry: BalanceEntry = { amount: Rat.of(BigInt(r.num), BigInt(r.den)), lastUpdate: r.updated_at };
    if (r.fixed_price_num !== null && r.fixed_price_den !== null) {
      entry.fixedPrice = Rat.of(BigInt(r.fixed_price_num), BigInt(r.fixed_price_den));
    }
    return entry;
  }

  /**
   * Atomically applies `fn` to the entry (amount 0 if absent) and stores the result, exactly:
   * numerator and denominator as decimal strings.
   */
  updateBalanceEntry(
    address: Address,
    manifestId: string,
    fn: (e: BalanceEntry) => BalanceEntry,
  ): BalanceEntry {
    // Inside a caller's transaction (a payment batch) the balance commits with it, fsync'd.
    if (this.db.isTransaction) return this.#updateBalanceEntry(address, manifestId, fn);
    // No fsync for balances (see the module comment); FULL again for every other write.
    this.db.exec("PRAGMA synchronous = NORMAL");
    try {
      return this.#updateBalanceEntry(address, manifestId, fn);
    } finally {
      this.db.exec("PRAGMA synchronous = FULL");
    }
  }

  #updateBalanceEntry(
    address: Address,
    manifestId: string,
    fn: (e: BalanceEntry) => BalanceEntry,
  ): BalanceEntry {
    return this.transaction(() => {
      const next = fn(this.getBalanceEntry(address, manifestId) ?? { amount: Rat.ZERO, lastUpdate: 0 });
      this.#statement(
        `INSERT INTO balances (sender, manifest_id, num, den, fixed_price_num, fixed_price_den, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (sender, manifest_id) DO UPDATE SET num = excluded.num, den = excluded.den,
             fixed_price_num = excluded.fixed_price_num, fixed_price_den = excluded.fixed_price_den,
             updated_at = excluded.updated_at`,
      ).run(
        lower(address),
        manifestId,
        next.amount.num.toString(),
        next.amount.den.toString(),
        next.fixedPrice?.num.toString() ?? null,
        next.fixedPrice?.den.toString() ?? null,
        next.lastUpdate,
      );
      return next;
    });
  }

  /** Deletes balances last updated before `before` (epoch ms); returns how many. */
  purgeIdleBalances(before: number): number {
    return Number(this.db.prepare("DELETE FROM balances WHERE updated_at < ?").run(before).changes);
  }

  /**
   * Deletes balances last updated before `before` (epoch ms) that hold no credit (amount ≤ 0: spent,
   * or a debt the sender walked away from); returns how many. Positive credit is kept: it was paid
   * for with validated tickets.
   */
  purgeSpentBalances(before: number): number {
    return Number(
      this.#statement("DELETE FROM balances WHERE updated_at < ? AND (num = '0' OR num LIKE '-%')").run(
        before,
      ).changes,
    );
  }

  // ------------------------------------------------------------------ purging

  #purgeTimer: NodeJS.Timeout | undefined;

  /**
   * One purge pass: nonces whose params expired at or before `latestBlock` (skipped while it is
   * unknown) and balances with no credit idle for `balanceIdleMs`.
   */
  purge(latestBlock: bigint | undefined, balanceIdleMs: number = BALANCE_IDLE_MS): PurgeResult {
    return {
      nonces: latestBlock === undefined ? 0 : this.purgeExpiredNonces(latestBlock),
      balances: this.purgeSpentBalances(this.#now() - balanceIdleMs),
    };
  }

  /**
   * Runs {@link PaymentStore.purge} every `intervalMs` (unref'd) until {@link PaymentStore.close} or
   * the returned stop function. Starting again replaces the previous timer.
   */
  startPurging(options: PurgeOptions): () => void {
    this.stopPurging();
    const interval = options.intervalMs ?? PURGE_INTERVAL_MS;
    const timer = setInterval(() => {
      if (!this.db.isOpen) return this.stopPurging();
      try {
        const r = this.purge(options.latestBlock(), options.balanceIdleMs);
        options.onPurge?.(r);
      } catch (err) {
        options.onError?.(err);
      }
    }, interval);
    timer.unref();
    this.#purgeTimer = timer;
    return () => {
      if (this.#purgeTimer === timer) this.stopPurging();
    };
  }

  /** Stops the purge timer, if any. */
  stopPurging(): void {
    clearInterval(this.#purgeTimer);
    this.#purgeTimer = undefined;
  }

  /** This store as the payment modules' `BalanceStore` (balances.ts). */
  balanceStore(): BalanceStore {
    return {
      get: (address, manifestId) => this.getBalanceEntry(address, manifestId),
      update: (address, manifestId, fn) => this.updateBalanceEntry(address, manifestId, fn),
      purgeIdle: (before) => this.purgeIdleBalances(before),
    };
  }

  /**
   * This store as the recipient's `NonceStore` (nonce-store.ts), which keys nonces by
   * recipientRandHash alone (the hash already binds the sender through the HMAC); rows are stored
   * with an empty sender.
   */
  nonceStore(): NonceStore {
    return {
      add: (recipientRandHash, nonce, expirationBlock, max) =>
        this.recordNonce("", recipientRandHash, nonce, expirationBlock, max),
      purgeExpired: (latestL1Block) => this.purgeExpiredNonces(latestL1Block),
    };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Stops purging and closes the database. Idempotent. */
  close(): void {
    this.stopPurging();
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
  return new PaymentStore(openSqlite(path, MIGRATIONS), path, options.now ?? Date.now);
}
