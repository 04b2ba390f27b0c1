import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { DataDirLockedError, ensurePrivateFile, LOCK_FILE_NAME, lockDataDir } from "./data-dir.ts";

const dir = mkdtempSync(join(tmpdir(), "tributary-data-dir-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A child process holding the lock of `dataDir` until killed; resolves once it holds it. */
async function holder(dataDir: string) {
  const script = `
    import { lockDataDir } from ${JSON.stringify(new URL("./data-dir.ts", import.meta.url).href)};
    lockDataDir(${JSON.stringify(dataDir)});
    console.log("locked");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = await once(lines, "line");
  assert.equal(line, "locked");
  return child;
}

test("a second process is refused with the holder's pid; a SIGKILLed holder's lock is taken over", async () => {
  const dataDir = join(dir, "shared");
  const child = await holder(dataDir);
  try {
    assert.throws(
      () => lockDataDir(dataDir),
      (err: unknown) =>
        err instanceof DataDirLockedError &&
        err.code === "DATA_DIR_LOCKED" &&
        err.message.includes(`pid ${child.pid}`) &&
        err.message.includes(dataDir),
    );
  } finally {
    child.kill("SIGKILL");
    await once(child, "exit");
  }
  // The holder died without releasing: its lock is stale and this process takes it.
  const lock = lockDataDir(dataDir);
  assert.equal(readFileSync(lock.path, "utf8").trim(), String(process.pid));
  // Held by this process now: a second lock here is refused too.
  assert.throws(() => lockDataDir(dataDir), DataDirLockedError);
  lock.release();
  assert.equal(existsSync(join(dataDir, LOCK_FILE_NAME)), false);
  lock.release(); // idempotent
  using again = lockDataDir(dataDir);
  assert.ok(existsSync(again.path));
});

test("the data directory is created 0700, the lock and private files 0600", () => {
  const dataDir = join(dir, "a", "b");
  using lock = lockDataDir(dataDir);
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  assert.equal(statSync(lock.path).mode & 0o777, 0o600);
  const file = join(dataDir, "f");
  writeFileSync(file, "x", { mode: 0o644 });
  ensurePrivateFile(file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, "utf8"), "x", "contents kept");
});

test("a lock file with garbage (an interrupted write long ago) is taken over", () => {
  const dataDir = join(dir, "garbage");
  lockDataDir(dataDir).release();
  const path = join(dataDir, LOCK_FILE_NAME);
  writeFileSync(path, "");
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  using lock = lockDataDir(dataDir);
  assert.equal(readFileSync(lock.path, "utf8").trim(), String(process.pid));
});
