/**
 * The remote signer's durable state, one SQLite file in its data directory (`signer.db`):
 * - **nonces**: the last ticket nonce handed out per recipientRandHash. A payment reserves its range
 *   with one `INSERT … ON CONFLICT DO UPDATE … RETURNING` together with its spend and session, and
 *   its tickets leave the process only once that is committed (WAL, `synchronous=FULL`), so neither
 *   concurrent clients nor a restart after SIGKILL can hand out a nonce twice. Reservations made in
 *   one event-loop turn share one commit (group commit: one sync for many payments).
 * - **sessions**: one row per payment state the signer gave a client (orchestrator, payment type,
 *   manifest id, app, initial price, the credit estimate at the orchestrator, last payment time). The
 *   client only holds an HMAC-tagged reference to its row; nothing it sends back is trusted beyond
 *   naming the row.
 * - **spend**: wei of ticket EV signed per app and spending window (for the limits and metrics).
 * - **meta**: the HMAC key of the state references (random, created with the file).
 *
 * Everything here is synchronous (node:sqlite): a reservation runs without yielding to the event
 * loop, so two requests never interleave inside one.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { TributaryError } from "../node/errors.ts";
import { openSqlite } from "../node/sqlite.ts";
import { Rat } from "../payments/rational.ts";

/** File name of the signer's store inside its data directory. */
export const SIGNER_DB_FILE = "signer.db";

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
   CREATE TABLE nonces (
     recipient_rand_hash TEXT PRIMARY KEY,
     nonce INTEGER NOT NULL,
     updated_ms INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     orchestrator TEXT NOT NULL,
     type TEXT NOT NULL,
     manifest_id TEXT NOT NULL,
     app TEXT NOT NULL,
     initial_price TEXT NOT NULL,
     balance TEXT NOT NULL,
     last_update_ms INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     auth_expiry INTEGER NOT NULL
   );
   CREATE INDEX sessions_last_update ON sessions (last_update_ms);
   CREATE TABLE spend (
     app TEXT NOT NULL,
     window INTEGER NOT NULL,
     wei TEXT NOT NULL,
     tickets INTEGER NOT NULL,
     PRIMARY KEY (app, window)
   );`,
];

/** One payment state, as the signer keeps it. */
export interface SignerSession {
  id: string;
  /** The orchestrator's signing address, lower case. */
  orchestrator: string;
  type: string;
  manifestId: string;
  app: string;
  /** Price per unit of the first payment (wei, exact). */
  initialPrice: Rat;
  /** Credit the signer estimates the orchestrator holds for this session (wei, may be < 0). */
  balance: Rat;
  /** ms since epoch of the last payment; 0 before the first. */
  lastUpdateMs: number;
  seq: number;
  /** Unix seconds until which the auth webhook's approval holds; 0 = ask every time. */
  authExpiry: number;
}

/** What one payment commits: spend, nonces and the session's new state. */
export interface Reservation {
  app: string;
  /** Spending window index (see {@link SignerStore.window}). */
  window: number;
  /** Wei of EV the tickets carry. */
  value: Rat;
  tickets: number;
  recipientRandHash: string;
  session: SignerSession;
}

/** Spend limits checked inside the reservation, wei per window; undefined = none. */
export interface SpendLimits {
  perApp?: bigint;
  total?: bigint;
}

/** A spending limit would be passed: 429, the client may retry in the next window. */
export class SpendLimitError extends TributaryError {
  constructor(what: string, spent: Rat, value: Rat, limit: bigint) {
    super(
      "SPEND_LIMIT_REACHED",
      `${what} spent ${spent.ceil()} wei this window and this payment adds ${value.ceil()} wei, over its limit of ${limit} wei; wait for the next window or raise the limit`,
      {
        status: 429,
        details: {
          spent: spent.ceil().toString(),
          payment: value.ceil().toString(),
          limit: limit.toString(),
        },
      },
    );
  }
}

/** The state reference a client sent back does not verify or names no session. */
export class BadStateError extends TributaryError {
  constructor(why: string) {
    super("BAD_SIGNER_STATE", `invalid payment state: ${why}; start a new session without 'state'`, {
      status: 400,
    });
  }
}

interface SessionRow {
  id: string;
  orchestrator: string;
  type: string;
  manifest_id: string;
  app: string;
  initial_price: string;
  balance: string;
  last_update_ms: number;
  seq: number;
  auth_expiry: number;
}

function toSession(r: SessionRow): SignerSession {
  return {
    id: r.id,
    orchestrator: r.orchestrator,
    type: r.type,
    manifestId: r.manifest_id,
    app: r.app,
    initialPrice: Rat.parse(r.initial_price),
    balance: Rat.parse(r.balance),
    lastUpdateMs: Number(r.last_update_ms),
    seq: Number(r.seq),
    authExpiry: Number(r.auth_expiry),
  };
}

/** Options of {@link openSignerStore}. */
export interface SignerStoreOptions {
  /** The data directory (the file is `signer.db` in it), or `":memory:"` for tests. */
  dataDir: string;
  /** Length of a spending window in ms; default 24 h. */
  windowMs?: number;
  now?: () => number;
}

/** See the module documentation. */
export class SignerStore implements Disposable {
  readonly #db: DatabaseSync;
  readonly #key: Buffer;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #q: Record<string, StatementSync>;
  /** The transaction the reservations of this event-loop turn share (see {@link reserve}). */
  #group: { done: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(db: DatabaseSync, options: SignerStoreOptions) {
    this.#db = db;
    this.#windowMs = options.windowMs ?? 24 * 3600_000;
    this.#now = options.now ?? Date.now;
    const row = db.prepare("SELECT value FROM meta WHERE key = 'state_key'").get() as
      | { value: Uint8Array }
      | undefined;
    if (row) this.#key = Buffer.from(row.value);
    else {
      this.#key = randomBytes(32);
      db.prepare("INSERT INTO meta (key, value) VALUES ('state_key', ?)").run(this.#key);
    }
    this.#q = {
      session: db.prepare("SELECT * FROM sessions WHERE id = ?"),
      putSession: db.prepare(
        `INSERT INTO sessions (id, orchestrator, type, manifest_id, app, initial_price, balance, last_update_ms, seq, auth_expiry)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET balance = excluded.balance, last_update_ms = excluded.last_update_ms,
           seq = excluded.seq, auth_expiry = excluded.auth_expiry, app = excluded.app`,
      ),
      reserve: db.prepare(
        `INSERT INTO nonces (recipient_rand_hash, nonce, updated_ms) VALUES (?, ?, ?)
         ON CONFLICT(recipient_rand_hash) DO UPDATE SET nonce = nonce + excluded.nonce, updated_ms = excluded.updated_ms
         RETURNING nonce`,
      ),
      nonce: db.prepare("SELECT nonce FROM nonces WHERE recipient_rand_hash = ?"),
      spent: db.prepare("SELECT wei, tickets FROM spend WHERE app = ? AND window = ?"),
      spentAll: db.prepare("SELECT wei FROM spend WHERE window = ?"),
      putSpend: db.prepare(
        `INSERT INTO spend (app, window, wei, tickets) VALUES (?, ?, ?, ?)
         ON CONFLICT(app, window) DO UPDATE SET wei = excluded.wei, tickets = excluded.tickets`,
      ),
      totals: db.prepare("SELECT app, wei, tickets FROM spend"),
      pruneSessions: db.prepare("DELETE FROM sessions WHERE last_update_ms < ? AND last_update_ms > 0"),
      pruneNonces: db.prepare("DELETE FROM nonces WHERE updated_ms < ?"),
    };
  }

  /** The spending window `now` falls in. */
  window(now = this.#now()): number {
    return Math.floor(now / this.#windowMs);
  }

  /** The opaque state a client echoes back: `{State, Sig}` base64, as go-livepeer's JSON of []byte. */
  stateRef(session: SignerSession): { State: string; Sig: string } {
    const state = Buffer.from(JSON.stringify({ id: session.id, seq: session.seq }));
    return { State: state.toString("base64"), Sig: this.#tag(state).toString("base64") };
  }

  /** The session a state reference names; throws {@link BadStateError}. */
  sessionOf(ref: unknown): SignerSession {
    if (typeof ref !== "object" || ref === null) throw new BadStateError("'state' is not an object");
    const { State, Sig } = ref as { State?: unknown; Sig?: unknown };
    if (typeof State !== "string" || typeof Sig !== "string")
      throw new BadStateError("'state' needs State and Sig strings");
    const state = Buffer.from(State, "base64");
    const sig = Buffer.from(Sig, "base64");
    const want = this.#tag(state);
    if (sig.length !== want.length || !timingSafeEqual(sig, want))
      throw new BadStateError("it was not issued by this signer");
    let id: unknown;
    try {
      id = (JSON.parse(state.toString("utf8")) as { id?: unknown }).id;
    } catch {
      throw new BadStateError("unreadable");
    }
    const row = typeof id === "string" ? (this.#q.session!.get(id) as SessionRow | undefined) : undefined;
    if (!row) throw new BadStateError("its session expired or is unknown");
    return toSession(row);
  }

  #tag(state: Buffer): Buffer {
    return createHmac("sha256", this.#key).update(state).digest();
  }

  /** The last nonce handed out for `recipientRandHash` (0 when none). */
  lastNonce(recipientRandHash: string): number {
    const r = this.#q.nonce!.get(recipientRandHash.toLowerCase()) as { nonce: number } | undefined;
    return r ? Number(r.nonce) : 0;
  }

  /** Wei and tickets `app` spent in `window`. */
  spent(app: string, window = this.window()): { wei: Rat; tickets: number } {
    const r = this.#q.spent!.get(app, window) as { wei: string; tickets: number } | undefined;
    return r ? { wei: Rat.parse(r.wei), tickets: Number(r.tickets) } : { wei: Rat.ZERO, tickets: 0 };
  }

  /** Wei every app spent in `window`. */
  spentTotal(window = this.window()): Rat {
    let sum = Rat.ZERO;
    for (const r of this.#q.spentAll!.all(window) as { wei: string }[]) sum = sum.add(Rat.parse(r.wei));
    return sum;
  }

  /** Everything spent per app since the file was created (for the metrics at start). */
  totals(): Map<string, { wei: Rat; tickets: number }> {
    const out = new Map<string, { wei: Rat; tickets: number }>();
    for (const r of this.#q.totals!.all() as { app: string; wei: string; tickets: number }[]) {
      const t = out.get(r.app) ?? { wei: Rat.ZERO, tickets: 0 };
      out.set(r.app, { wei: t.wei.add(Rat.parse(r.wei)), tickets: t.tickets + Number(r.tickets) });
    }
    return out;
  }

  /**
   * Group commit: the reservations of one event-loop turn share one transaction, committed (and
   * synced) at the next `setImmediate`. Returns the promise of that commit. Each reservation runs in
   * its own savepoint inside it, so one that throws leaves nothing behind.
   */
  #join(): Promise<void> {
    if (this.#group === undefined) {
      this.#db.exec("BEGIN IMMEDIATE");
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#group = { done, resolve, reject };
      setImmediate(() => this.#commit());
    }
    return this.#group.done;
  }

  #commit(): void {
    const g = this.#group;
    if (g === undefined) return;
    this.#group = undefined;
    try {
      this.#db.exec("COMMIT");
      g.resolve();
    } catch (err) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // the transaction is gone already
      }
      g.reject(err);
    }
  }

  #inSavepoint<T>(fn: () => T): { value: T; durable: Promise<void> } {
    const durable = this.#join();
    this.#db.exec("SAVEPOINT reservation");
    try {
      const value = fn();
      this.#db.exec("RELEASE reservation");
      return { value, durable };
    } catch (err) {
      this.#db.exec("ROLLBACK TO reservation");
      this.#db.exec("RELEASE reservation");
      throw err;
    }
  }

  /**
   * Checks the limits, adds the spend, reserves `tickets` nonces on `recipientRandHash` and writes
   * the session, all at once. Returns the first reserved nonce and the promise that all of it is on
   * disk (group commit): nothing made on these nonces may leave the process before it resolves.
   * Throws {@link SpendLimitError} (nothing written).
   */
  reserve(r: Reservation, limits: SpendLimits): { first: number; durable: Promise<void> } {
    const { value: first, durable } = this.#inSavepoint(() => {
      const mine = this.spent(r.app, r.window);
      if (limits.perApp !== undefined && mine.wei.add(r.value).cmp(limits.perApp) > 0)
        throw new SpendLimitError(`app "${r.app}"`, mine.wei, r.value, limits.perApp);
      if (limits.total !== undefined) {
        const all = this.spentTotal(r.window);
        if (all.add(r.value).cmp(limits.total) > 0)
          throw new SpendLimitError("this signer", all, r.value, limits.total);
      }
      this.#q.putSpend!.run(r.app, r.window, mine.wei.add(r.value).toString(), mine.tickets + r.tickets);
      let first = this.lastNonce(r.recipientRandHash) + 1;
      if (r.tickets > 0) {
        const row = this.#q.reserve!.get(r.recipientRandHash.toLowerCase(), r.tickets, this.#now()) as {
          nonce: number;
        };
        first = Number(row.nonce) - r.tickets + 1;
      }
      this.#putSession(r.session);
      return first;
    });
    return { first, durable };
  }

  /** Takes back the spend and the credit of a reservation whose tickets could not be signed (nonces stay used). */
  refund(r: Reservation, previous: SignerSession): Promise<void> {
    return this.#inSavepoint(() => {
      const mine = this.spent(r.app, r.window);
      this.#q.putSpend!.run(
        r.app,
        r.window,
        mine.wei.sub(r.value).toString(),
        Math.max(0, mine.tickets - r.tickets),
      );
      this.#putSession(previous);
    }).durable;
  }

  #putSession(s: SignerSession): void {
    this.#q.putSession!.run(
      s.id,
      s.orchestrator,
      s.type,
      s.manifestId,
      s.app,
      s.initialPrice.toString(),
      s.balance.toString(),
      s.lastUpdateMs,
      s.seq,
      s.authExpiry,
    );
  }

  /** Drops sessions idle for `sessionIdleMs` and nonce rows untouched for `nonceIdleMs`. */
  prune(sessionIdleMs: number, nonceIdleMs: number): void {
    const now = this.#now();
    this.#q.pruneSessions!.run(now - sessionIdleMs);
    this.#q.pruneNonces!.run(now - nonceIdleMs);
  }

  close(): void {
    this.#commit();
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Opens (creating) the signer's store in `dataDir`. The caller holds the data directory's lock. */
export function openSignerStore(options: SignerStoreOptions): SignerStore {
  const path = options.dataDir === ":memory:" ? ":memory:" : join(options.dataDir, SIGNER_DB_FILE);
  return new SignerStore(openSqlite(path, MIGRATIONS), options);
}
