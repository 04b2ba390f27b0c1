import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, test } from "node:test";
import type { Address, Hash, Hex } from "viem";
import { until } from "../../../test/until.ts";
import { Balances } from "../balances.ts";
import { Rat } from "../rational.ts";
import { openStore, STORE_FILE_NAME, STORE_SCHEMA_VERSION } from "./store.ts";

const dir = mkdtempSync(join(tmpdir(), "tributary-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as Address;
const RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" as Address;
const h = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hash;

function ticket(nonce: number) {
  return {
    recipient: RECIPIENT,
    sender: SENDER,
    faceValue: 10n ** 18n + BigInt(nonce),
    winProb: (1n << 256n) - 1n,
    senderNonce: nonce,
    recipientRandHash: h(0xabc),
    creationRound: 7n,
    creationRoundBlockHash: h(0xdef),
    paramsExpirationBlock: 123456789012345678901234567890n,
    sig: `0x${"11".repeat(65)}` as Hex,
    recipientRand: (1n << 255n) + 5n,
  };
}

test("creates one WAL-mode file in the data dir at the current schema version", () => {
  const dataDir = join(dir, "wal");
  using store = openStore({ dataDir });
  assert.equal(store.path, join(dataDir, STORE_FILE_NAME));
  assert.equal(
    (store.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
    "wal",
  );
  assert.equal(
    (store.db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
    STORE_SCHEMA_VERSION,
  );
});

test("refuses a store written by a newer schema version", () => {
  const path = join(dir, "newer.sqlite");
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA user_version = ${STORE_SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => openStore({ path }), /newer than this Tributary supports/);
});

test("winning tickets round-trip exactly, insert is idempotent on the ticket hash", () => {
  let now = 1000;
  using store = openStore({ path: join(dir, "tickets.sqlite"), now: () => now });
  const a = store.addWinningTicket(h(1), ticket(1));
  assert.equal(a.inserted, true);
  assert.deepEqual(a.ticket.ticket, ticket(1));
  assert.equal(a.ticket.status, "pending");
  assert.equal(a.ticket.attempts, 0);
  const again = store.addWinningTicket(h(1), ticket(1));
  assert.equal(again.inserted, false);
  assert.equal(again.ticket.id, a.ticket.id);
  const b = store.addWinningTicket(h(2), ticket(2)).ticket;
  assert.deepEqual(
    store.listWinningTickets({ status: ["pending"] }).map((t) => t.ticket.senderNonce),
    [1, 2],
  );

  now = 2000;
  store.markSubmitted(a.ticket.id, h(0xf00));
  let t = store.getWinningTicket(a.ticket.id)!;
  assert.equal(t.status, "submitted");
  assert.equal(t.txHash, h(0xf00));
  assert.equal(t.attempts, 1);
  assert.equal(t.updatedAt, 2000);

  assert.equal(store.nextDueAt(), 0);
  store.markRetry(a.ticket.id, "RPC down", 5000);
  t = store.getWinningTicket(a.ticket.id)!;
  assert.equal(t.status, "pending");
  assert.equal(t.lastError, "RPC down");
  assert.equal(t.attempts, 2);
  assert.deepEqual(
    store.listWinningTickets({ status: ["pending"], dueAt: 4999 }).map((x) => x.id),
    [b.id],
  );

  store.markRedeemed(a.ticket.id, undefined);
  t = store.getWinningTicket(a.ticket.id)!;
  assert.equal(t.status, "redeemed");
  assert.equal(t.txHash, h(0xf00), "keeps the known tx hash");
  assert.equal(t.lastError, undefined);

  assert.equal(store.nextDueAt(), 0);
  store.markFailed(b.id, "ticket is used");
  assert.equal(store.nextDueAt(), undefined);
  assert.deepEqual(store.countWinningTickets(), { pending: 0, submitted: 0, redeemed: 1, failed: 1 });
  assert.equal(store.getWinningTicket(b.id)!.lastError, "ticket is used");
});

test("a committed winning ticket survives the writer being SIGKILLed", () => {
  const path = join(dir, "crash.sqlite");
  const script = `
    import { openStore } from ${JSON.stringify(new URL("./store.ts", import.meta.url).href)};
    const store = openStore({ path: ${JSON.stringify(path)} });
    store.addWinningTicket("0x${"0".repeat(63)}9", {
      recipient: "${RECIPIENT}", sender: "${SENDER}", faceValue: 5n, winProb: 1n, senderNonce: 9,
      recipientRandHash: "0x${"0".repeat(64)}", creationRound: 1n, creationRoundBlockHash: "0x${"0".repeat(64)}",
      paramsExpirationBlock: 1n, sig: "0x${"22".repeat(65)}", recipientRand: 3n });
    process.kill(process.pid, "SIGKILL");
  `;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(res.signal, "SIGKILL", res.stderr);
  using store = openStore({ path });
  const [t] = store.listWinningTickets();
  assert.equal(t?.ticket.senderNonce, 9);
  assert.equal(t?.status, "pending");
});

test("transaction(fn, { durable: false }): commits without an fsync of its own (NORMAL), survives SIGKILL, FULL again after, also when fn throws", () => {
  const path = join(dir, "relaxed.sqlite");
  const level = (s: ReturnType<typeof openStore>) =>
    (s.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous;
  {
    using store = openStore({ path });
    assert.equal(
      store.transaction(() => level(store), { durable: false }),
      1,
    );
    assert.equal(level(store), 2);
    assert.equal(
      store.transaction(() => level(store)),
      2,
      "durable by default",
    );
    assert.throws(() =>
      store.transaction(
        () => {
          throw new Error("boom");
        },
        { durable: false },
      ),
    );
    assert.equal(level(store), 2);
  }
  const script = `
    import { openStore } from ${JSON.stringify(new URL("./store.ts", import.meta.url).href)};
    const store = openStore({ path: ${JSON.stringify(path)} });
    store.transaction(() => store.recordNonce("${SENDER}", "0x${"0".repeat(63)}1", 7, 10n, 600), { durable: false });
    process.kill(process.pid, "SIGKILL");
  `;
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(res.signal, "SIGKILL", res.stderr);
  using store = openStore({ path });
  assert.equal(store.recordNonce(SENDER, `0x${"0".repeat(63)}1`, 7, 10n, 600), "seen");
});

test("nonces: duplicates are seen, the cap is enforced per (sender, recipientRandHash), expiry purges", () => {
  using store = openStore({ path: ":memory:" });
  assert.equal(store.recordNonce(SENDER, h(1), 1, 100n, 2), "added");
  assert.equal(store.recordNonce(SENDER, h(1), 1, 100n, 2), "seen");
  assert.equal(
    store.recordNonce(SENDER.toLowerCase() as Address, h(1), 1, 100n, 2),
    "seen",
    "address case does not matter",
  );
  assert.equal(store.recordNonce(SENDER, h(1), 5, 100n, 2), "added", "out-of-order nonces are allowed");
  assert.equal(store.recordNonce(SENDER, h(1), 6, 100n, 2), "full");
  assert.equal(
    store.recordNonce(SENDER, h(2), 6, 200n, 2),
    "added",
    "another recipientRandHash has its own cap",
  );
  assert.equal(store.recordNonce(RECIPIENT, h(1), 1, 100n, 2), "added", "another sender has its own set");
  assert.equal(store.purgeExpiredNonces(99n), 0);
  assert.equal(store.purgeExpiredNonces(100n), 3);
  assert.equal(store.recordNonce(SENDER, h(1), 1, 100n, 2), "added", "purged entries are forgotten");
  assert.equal(
    store.recordNonce(SENDER, h(3), 1, 1n << 100n, 2),
    "added",
    "a huge expiration block is clamped, not an error",
  );
  assert.equal(store.purgeExpiredNonces(1n << 70n), 3);
});

test("balances are exact rationals through the payment modules' Balances, and survive reopening", () => {
  const path = join(dir, "balances.sqlite");
  const big = Rat.of((1n << 200n) + 1n, (1n << 256n) - 1n);
  {
    using store = openStore({ path });
    const balances = store.balanceStore();
    assert.equal(balances.get(SENDER, "27_model"), undefined);
    const third = Rat.of(1n, 3n);
    const add = (a: Address, m: string, x: Rat, at: number) =>
      balances.update(a, m, (e) => ({ ...e, amount: e.amount.add(x), lastUpdate: at }));
    add(SENDER, "27_model", third, 10);
    add(SENDER, "27_model", third, 10);
    assert.equal(add(SENDER, "27_model", big, 10).amount.toString(), Rat.of(2n, 3n).add(big).toString());
    balances.update(SENDER, "27_model", (e) => ({ ...e, fixedPrice: Rat.of(3n, 4n) }));
    add(RECIPIENT, "other", Rat.of(-5n), 20);
    // The payment modules' Balances class runs over the same adapter.
    const b = new Balances(balances, () => 30);
    b.credit(SENDER, "byoc", Rat.of(7n, 2n));
  }
  using store = openStore({ path });
  const entry = store.getBalanceEntry(SENDER, "27_model")!;
  assert.equal(entry.amount.toString(), Rat.of(2n, 3n).add(big).toString());
  assert.equal(entry.fixedPrice?.toString(), "3/4");
  assert.equal(entry.lastUpdate, 10);
  assert.equal(store.getBalanceEntry(SENDER, "byoc")?.amount.toString(), "7/2");
  assert.equal(store.getBalanceEntry(RECIPIENT, "other")?.amount.toString(), "-5");
  assert.equal(store.balanceStore().purgeIdle(15), 1);
  assert.equal(store.getBalanceEntry(SENDER, "27_model"), undefined);
  assert.equal(store.getBalanceEntry(RECIPIENT, "other")?.amount.toString(), "-5");
});

test("the recipient's NonceStore adapter persists seen nonces across reopening", () => {
  const path = join(dir, "nonces.sqlite");
  {
    using store = openStore({ path });
    assert.equal(store.nonceStore().add(h(7), 1, 50n, 600), "added");
  }
  using store = openStore({ path });
  const nonces = store.nonceStore();
  assert.equal(nonces.add(h(7), 1, 50n, 600), "seen");
  assert.equal(nonces.add(h(7), 2, 50n, 2), "added");
  assert.equal(nonces.add(h(7), 3, 50n, 2), "full");
  assert.equal(nonces.purgeExpired(50n), 2);
});

test("the data directory is created 0700 and the store file and its -wal/-shm files 0600", () => {
  const dataDir = join(dir, "modes", "node");
  {
    using store = openStore({ dataDir });
    store.recordNonce(SENDER, h(1), 1, 100n, 10); // a write, so the WAL exists
    for (const suffix of ["", "-wal", "-shm"]) {
      const file = store.path + suffix;
      assert.ok(existsSync(file), `${file} exists while the store is open`);
      assert.equal(statSync(file).mode & 0o777, 0o600, `${file} mode`);
    }
  }
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  // A file left world-readable by an older version is tightened when opened.
  chmodSync(join(dataDir, STORE_FILE_NAME), 0o644);
  using store = openStore({ dataDir });
  assert.equal(statSync(store.path).mode & 0o777, 0o600);
});

test("a transaction commits the writes of nested store calls together, or none of them", () => {
  using store = openStore({ path: ":memory:" });
  const count = (table: string) =>
    (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  assert.throws(() =>
    store.transaction(() => {
      store.recordNonce(SENDER, h(1), 1, 100n, 10);
      store.updateBalanceEntry(SENDER, "m", (e) => ({ ...e, amount: Rat.of(5n), lastUpdate: 1 }));
      store.addWinningTicket(h(9), ticket(1));
      throw new Error("crash");
    }),
  );
  assert.deepEqual([count("seen_nonces"), count("balances"), count("winning_tickets")], [0, 0, 0]);
  store.transaction(() => {
    store.recordNonce(SENDER, h(1), 1, 100n, 10);
    store.updateBalanceEntry(SENDER, "m", (e) => ({ ...e, amount: Rat.of(5n), lastUpdate: 1 }));
    store.addWinningTicket(h(9), ticket(1));
  });
  assert.deepEqual([count("seen_nonces"), count("balances"), count("winning_tickets")], [1, 1, 1]);
  assert.equal(store.db.isTransaction, false);
});

test("the purge timer removes expired nonces and spent idle balances, keeps credit, and stops on close", async () => {
  let now = 10_000_000;
  const store = openStore({ path: ":memory:", now: () => now });
  let block = 150n;
  store.recordNonce("", h(1), 1, 100n, 10); // expired at block 100
  store.recordNonce("", h(2), 1, 200n, 10); // still valid
  const set = (m: string, amount: Rat, at: number) =>
    store.updateBalanceEntry(SENDER, m, (e) => ({ ...e, amount, lastUpdate: at }));
  set("zero-idle", Rat.ZERO, now - 7_200_000);
  set("debt-idle", Rat.of(-3n), now - 7_200_000);
  set("credit-idle", Rat.of(7n, 2n), now - 7_200_000);
  set("zero-recent", Rat.ZERO, now - 60_000);
  const passes: { nonces: number; balances: number }[] = [];
  store.startPurging({ latestBlock: () => block, intervalMs: 10, onPurge: (r) => passes.push(r) });
  await until("a purge pass", () => passes.length >= 1);
  const left = (
    store.db.prepare("SELECT manifest_id FROM balances ORDER BY manifest_id").all() as {
      manifest_id: string;
    }[]
  ).map((r) => r.manifest_id);
  assert.deepEqual(left, ["credit-idle", "zero-recent"]);
  assert.deepEqual(passes[0], { nonces: 1, balances: 2 });
  assert.equal(store.recordNonce("", h(2), 1, 200n, 10), "seen", "an unexpired nonce is kept");
  assert.equal(store.recordNonce("", h(1), 1, 100n, 10), "added", "the expired one was forgotten");
  now += 3_600_000;
  block = 300n;
  await until("the second purge", () => passes.some((p) => p.balances === 1 && p.nonces === 2));
  store.close();
  const n = passes.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(passes.length, n, "no pass after close");
});
