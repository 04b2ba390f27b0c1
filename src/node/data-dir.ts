/**
 * A node's data directory: created owner-only (0700), its state files owner-only (0600), and held by
 * one process at a time through a lock file.
 *
 * The lock is `<dataDir>/tributary.lock`, created with O_EXCL and holding the owner's pid. A second
 * process is refused with {@link DataDirLockedError} naming that pid. A lock whose pid is no longer
 * alive (the holder was SIGKILLed or the machine crashed) is stale and taken over. The lock is removed
 * by `release()` and, as a fallback, when the process exits normally.
 *
 * Limits: a pid reused by an unrelated process after a crash makes the stale lock look held (the error
 * says to delete the file then); two processes taking over the same stale lock at the same instant
 * can both win (the window is one unlink and one create).
 */
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { TributaryError } from "./errors.ts";

/** File name of the lock inside a data directory. */
export const LOCK_FILE_NAME = "tributary.lock";

/** Mode of the data directory. */
export const DATA_DIR_MODE = 0o700;
/** Mode of the files in it. */
export const DATA_FILE_MODE = 0o600;

/** Another live process holds the data directory. */
export class DataDirLockedError extends TributaryError {
  constructor(dataDir: string, pid: number, lockPath: string) {
    super(
      "DATA_DIR_LOCKED",
      `data directory ${dataDir} is in use by another Tributary process (pid ${pid}); stop that process or give ` +
        `this node its own --data-dir (if no Tributary process has pid ${pid}, delete ${lockPath})`,
      { status: 500, details: { dataDir, pid, lockPath } },
    );
  }
}

/**
 * Creates `dir` (and missing parents) with mode 0700 if it does not exist. An existing directory is
 * left as it is (it may be shared with other things, e.g. a home directory); the files this module
 * creates in it are 0600 regardless.
 */
export function ensureDataDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  // mkdir's mode is filtered by the umask; set it exactly on the directory itself.
  if (created !== undefined) chmodSync(dir, DATA_DIR_MODE);
}

/**
 * Creates `path` empty with mode 0600 if it does not exist, and sets 0600 on it if it does (a file
 * written by an older version may be 0644). SQLite gives its `-wal` and `-shm` files the mode of the
 * database file, so calling this before opening a database covers those too.
 */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, "a", DATA_FILE_MODE));
  chmodSync(path, DATA_FILE_MODE);
}

/** A held data directory lock. */
export interface DataDirLock extends Disposable {
  readonly dataDir: string;
  readonly path: string;
  /** Removes the lock file (if it is still ours). Idempotent. */
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates `dataDir` (0700) if needed and takes its lock, or throws {@link DataDirLockedError} when a
 * live process (this one included) holds it. Release it with `release()` or `using`.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  ensureDataDir(dataDir);
  const path = join(dataDir, LOCK_FILE_NAME);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", DATA_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) {
        const holder = readPid(path);
        if (holder !== undefined) throw new DataDirLockedError(dataDir, holder, path);
        throw err;
      }
      const holder = readPid(path);
      // A lock being written right now has no pid yet: held by its creator unless it is old.
      if (holder === undefined && ageMs(path) < 2000) {
        throw new TributaryError(
          "DATA_DIR_LOCKED",
          `data directory ${dataDir} is being locked by another process; retry, or delete ${path} if none runs`,
          { status: 500, details: { dataDir, lockPath: path } },
        );
      }
      if (holder !== undefined && alive(holder)) throw new DataDirLockedError(dataDir, holder, path);
      // Stale: its holder is gone. Take it over.
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    break;
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off("exit", release);
    if (readPid(path) !== process.pid) return;
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once("exit", release);
  return { dataDir, path, release, [Symbol.dispose]: release };
}
