/**
 * Opens a node's SQLite file (node:sqlite) the way every durable store here wants it: owner-only file
 * modes (the directory 0700, the file and its -wal/-shm files 0600), WAL with `synchronous=FULL`, a
 * busy timeout, and versioned schema migrations (PRAGMA user_version holds how many were applied).
 * What the tables mean belongs to the store that declares the migrations (src/payments/store).
 */
import { chmodSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DATA_FILE_MODE, ensureDataDir, ensurePrivateFile } from "./data-dir.ts";
import { TributaryError } from "./errors.ts";

/**
 * Opens (creating if needed) the SQLite file at `path` (or `":memory:"`) and applies the
 * `migrations` not applied yet, each in its own transaction. Throws `STORE_SCHEMA_TOO_NEW` if the file
 * was written by a newer version (more migrations than `migrations` holds).
 */
export function openSqlite(path: string, migrations: readonly string[]): DatabaseSync {
  if (path !== ":memory:") {
    // Owner-only: a store may hold secrets (the payment store: pending winners' recipientRand).
    // SQLite gives the -wal and -shm files the database file's mode; files left by an older version
    // are tightened too.
    ensureDataDir(dirname(path));
    ensurePrivateFile(path);
    for (const suffix of ["-wal", "-shm"])
      if (existsSync(path + suffix)) chmodSync(path + suffix, DATA_FILE_MODE);
  }
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: DatabaseSync, migrations: readonly string[]): void {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
  if (version > migrations.length) {
    throw new TributaryError(
      "STORE_SCHEMA_TOO_NEW",
      `store schema version ${version} is newer than this Tributary supports (${migrations.length}); upgrade Tributary`,
      { status: 500, details: { version, supported: migrations.length } },
    );
  }
  for (let v = version; v < migrations.length; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migrations[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }
}
