// The stream table and its one debit mechanism, with mocked timers, a fake trickle server and a fake
// payment gate: what each kind is charged per period and what happens when its credit runs out.
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import type { Address } from "viem";
import { silentLogger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";
import type { TrickleServer } from "../trickle/server.ts";
import type { PaymentGate } from "./payments.ts";
import type { Lease } from "./registry.ts";
import { byocStreamPolicy, type LiveStream, liveVideoPolicy, StreamTable } from "./streams.ts";

const SENDER = "0x00000000000000000000000000000000000000a1" as Address;

/** A gate that keeps one balance per manifest and records every debit (units). */
function fakeGate(initial: bigint) {
  const balances = new Map<string, Rat>();
  const debits: bigint[] = [];
  const gate = {
    balance: (_s: Address, mid: string) => balances.get(mid) ?? Rat.of(initial),
    debit(_s: Address, mid: string, price: Rat, units: bigint) {
      debits.push(units);
      const b = gate.balance(_s, mid).sub(price.mul(units));
      balances.set(mid, b);
      return b;
    },
  };
  return {
    gate: gate as unknown as PaymentGate,
    debits,
    balance: (mid: string) => gate.balance(SENDER, mid),
  };
}

/** Trickle channels by name (open until deleted). */
function fakeTrickle() {
  const open = new Set<string>();
  return {
    open,
    trickle: {
      getChannel: (name: string) => (open.has(name) ? { closed: false } : undefined),
      deleteChannel: (name: string) => open.delete(name),
    } as unknown as TrickleServer,
  };
}

function stream(id: string, kind: LiveStream["kind"], open: Set<string>) {
  let released = 0;
  const lease = {
    capability: { key: "cap" },
    container: { url: "http://c" },
    release: () => void released++,
  } as unknown as Lease;
  for (const ch of [`${id}-control`, `${id}-out`]) open.add(ch);
  const s: LiveStream = { id, kind, lease, channels: [`${id}-control`, `${id}-out`], watch: `${id}-control` };
  return { s, released: () => released };
}

test("policies: LV2V units by price_unit per whole period seconds; BYOC streams by seconds", () => {
  assert.equal(liveVideoPolicy(5000, "pixel").units, 1280n * 720n * 30n * 5n);
  assert.equal(liveVideoPolicy(5000, "frame").units, 150n);
  assert.equal(liveVideoPolicy(5000, "second").units, 5n);
  assert.equal(liveVideoPolicy(200, "second").units, 1n, "at least one second");
  assert.deepEqual(liveVideoPolicy(5000, "second").whenShort, "end-unpaid");
  assert.deepEqual(byocStreamPolicy(23_000), { periodMs: 23_000, units: 23n, whenShort: "grace-once" });
});

test("LV2V (end-unpaid): a period is charged only when covered; the first it cannot pay ends the stream", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "setImmediate"] });
  const { gate, debits, balance } = fakeGate(25n);
  const { trickle, open } = fakeTrickle();
  const table = new StreamTable({ trickle, gate, log: silentLogger(), checkIntervalMs: 60_000 });
  const { s, released } = stream("m1", "lv2v", open);
  table.add(s);
  table.charge(s, { sender: SENDER, manifestId: "m1", price: Rat.of(2n) }, liveVideoPolicy(5000, "second"));
  t.mock.timers.tick(5000); // 25 → 15
  t.mock.timers.tick(5000); // 15 → 5
  assert.deepEqual(debits, [5n, 5n]);
  assert.equal(table.size, 1);
  t.mock.timers.tick(5000); // 5 < 10: not charged, ended
  assert.deepEqual(debits, [5n, 5n], "the unpaid period is not charged");
  assert.equal(balance("m1").cmp(5n), 0);
  assert.equal(table.size, 0);
  assert.equal(open.size, 0, "its channels are deleted");
  assert.equal(released(), 1);
  t.mock.timers.tick(5000);
  assert.deepEqual(debits, [5n, 5n], "no charge after the end");
  table.close("test");
});

test("BYOC stream (grace-once): one negative balance is tolerated, a second in a row tells the container and ends it", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "setImmediate"] });
  const { gate, debits, balance } = fakeGate(30n);
  const { trickle, open } = fakeTrickle();
  const table = new StreamTable({ trickle, gate, log: silentLogger(), checkIntervalMs: 60_000 });
  const { s, released } = stream("b1", "byoc", open);
  const exhausted: string[] = [];
  table.add(s);
  table.charge(
    s,
    { sender: SENDER, manifestId: "echo", price: Rat.of(1n) },
    byocStreamPolicy(23_000),
    (x) => void exhausted.push(x.id),
  );
  t.mock.timers.tick(23_000); // 30 → 7
  t.mock.timers.tick(23_000); // 7 → -16: tolerated
  assert.equal(table.size, 1);
  assert.deepEqual(exhausted, []);
  t.mock.timers.tick(23_000); // -16 → -39: ended
  assert.deepEqual(debits, [23n, 23n, 23n], "every period is charged, also the short ones");
  assert.equal(balance("echo").cmp(-39n), 0);
  assert.deepEqual(exhausted, ["b1"]);
  assert.equal(table.size, 0);
  assert.equal(released(), 1);
  table.close("test");
});

test("a BYOC stream topped up between two negative periods runs on (the count restarts)", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "setImmediate"] });
  const { gate } = fakeGate(0n);
  const { trickle, open } = fakeTrickle();
  const table = new StreamTable({ trickle, gate, log: silentLogger(), checkIntervalMs: 60_000 });
  const { s } = stream("b2", "byoc", open);
  table.add(s);
  table.charge(s, { sender: SENDER, manifestId: "echo", price: Rat.of(1n) }, byocStreamPolicy(1000));
  t.mock.timers.tick(1000); // -1: tolerated
  gate.debit(SENDER, "echo", Rat.of(1n), -10n); // a payment lands: +10 → 9
  t.mock.timers.tick(1000); // 8
  t.mock.timers.tick(1000); // 7
  for (let i = 0; i < 8; i++) t.mock.timers.tick(1000); // 6 … 0, then -1: a first negative again
  assert.equal(table.size, 1, "the earlier negative period no longer counts");
  table.close("test");
  assert.equal(table.size, 0);
});

test("a stream ends when its control channel closes (the check) or is deleted (right after the delete)", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "setImmediate"] });
  const { trickle, open } = fakeTrickle();
  const table = new StreamTable({ trickle, gate: undefined, log: silentLogger(), checkIntervalMs: 100 });
  const a = stream("a", "lv2v", open);
  const b = stream("b", "byoc", open);
  table.add(a.s);
  table.add(b.s);
  open.delete("a-control");
  t.mock.timers.tick(100);
  assert.equal(table.get("a"), undefined);
  assert.equal(a.released(), 1);
  table.controlDeleted("b-control");
  assert.ok(table.has("b"), "not before the delete is done");
  t.mock.timers.runAll();
  assert.equal(table.size, 0);
  assert.equal(b.released(), 1);
  table.end(b.s, "again");
  assert.equal(b.released(), 1, "ended once");
  table.close("test");
  mock.timers.reset();
});

test("a stream whose input got no write for the idle timeout ends and frees its slot; a fed one stays", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "Date"], now: 1_000_000 });
  const writeTimes = new Map<string, number>();
  const open = new Set<string>();
  const trickle = {
    getChannel: (name: string) =>
      open.has(name) ? { closed: false, writeTime: writeTimes.get(name) ?? 1_000_000 } : undefined,
    deleteChannel: (name: string) => open.delete(name),
  } as unknown as TrickleServer;
  const table = new StreamTable({
    trickle,
    gate: undefined,
    log: silentLogger(),
    checkIntervalMs: 100,
    idleTimeoutMs: 1000,
  });
  const idle = stream("idle", "lv2v", open);
  const fed = stream("fed", "byoc", open);
  const noInput = stream("noinput", "byoc", open);
  for (const x of [idle, fed]) {
    x.s.input = x.s.id;
    x.s.channels.push(x.s.id);
    open.add(x.s.id);
    table.add(x.s);
  }
  table.add(noInput.s);
  for (let i = 0; i < 9; i++) {
    t.mock.timers.tick(100);
    writeTimes.set("fed", Date.now()); // a segment every 100 ms
  }
  assert.equal(table.size, 3, "nothing ends before the timeout");
  t.mock.timers.tick(300);
  writeTimes.set("fed", Date.now());
  assert.equal(table.has("idle"), false, "never fed: ended");
  assert.equal(idle.released(), 1, "its slot is free");
  assert.equal(open.has("idle"), false, "its channels are deleted");
  assert.equal(table.has("fed"), true, "a fed stream stays");
  assert.equal(table.has("noinput"), true, "a stream without input is not judged by it");
  table.close("test over");
});
