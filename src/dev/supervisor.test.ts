import assert from "node:assert/strict";
import { test } from "node:test";
import { ComponentError, Supervisor, type SupervisorEvent } from "./supervisor.ts";

function recorder() {
  const events: SupervisorEvent[] = [];
  const log: string[] = [];
  const component = (name: string) => async () => ({
    value: name,
    stop: async () => {
      log.push(`stop ${name}`);
    },
  });
  return { events, log, component };
}

test("components stop in reverse start order, once, and the signal aborts when stopping begins", async () => {
  const r = recorder();
  const sup = new Supervisor({ total: 3, onEvent: (e) => r.events.push(e) });
  assert.equal(await sup.start("a", r.component("a")), "a");
  await sup.start("b", r.component("b"));
  await sup.start("c", r.component("c"));
  assert.equal(sup.signal.aborted, false);
  await Promise.all([sup.stop(), sup.stop()]);
  await sup.stop();
  assert.equal(sup.signal.aborted, true);
  assert.deepEqual(r.log, ["stop c", "stop b", "stop a"]);
  const ready = r.events.filter((e) => e.type === "ready");
  assert.deepEqual(
    ready.map((e) => e.type === "ready" && `${e.index}/${e.total} ${e.name}`),
    ["1/3 a", "2/3 b", "3/3 c"],
  );
});

test("a failed start is a ComponentError naming the component; what started before is stopped by stop()", async () => {
  const r = recorder();
  const sup = new Supervisor({ onEvent: (e) => r.events.push(e) });
  await sup.start("a", r.component("a"));
  await assert.rejects(
    sup.start("b", async () => {
      throw new Error("port in use");
    }),
    (err: unknown) =>
      err instanceof ComponentError && err.component === "b" && /b: port in use/.test(err.message),
  );
  await sup.stop();
  assert.deepEqual(r.log, ["stop a"]);
  assert.ok(r.events.some((e) => e.type === "failed" && e.name === "b"));
});

test("a component that finishes starting after stop began is stopped too", async () => {
  const r = recorder();
  const sup = new Supervisor();
  let release: () => void = () => {};
  const gate = new Promise<void>((res) => {
    release = res;
  });
  const slow = sup.start("slow", async () => {
    await gate;
    return { value: 1, stop: async () => void r.log.push("stop slow") };
  });
  const stopped = sup.stop();
  release();
  await assert.rejects(slow, /stopping/);
  await stopped;
  assert.deepEqual(r.log, ["stop slow"]);
  await assert.rejects(sup.start("late", r.component("late")), /stopping/);
});

test("a stop that throws or hangs is reported and the others still stop", async () => {
  const r = recorder();
  const sup = new Supervisor({ stopTimeoutMs: 50, onEvent: (e) => r.events.push(e) });
  await sup.start("a", r.component("a"));
  await sup.start("hangs", async () => ({ value: 0, stop: () => new Promise<void>(() => {}) }));
  await sup.start("throws", async () => ({
    value: 0,
    stop: async () => {
      throw new Error("boom");
    },
  }));
  await sup.stop();
  assert.deepEqual(r.log, ["stop a"]);
  const failed = r.events
    .filter((e) => e.type === "stop-failed")
    .map((e) => e.type === "stop-failed" && e.name);
  assert.deepEqual(failed, ["throws", "hangs"]);
});

test("fail() resolves `failed` with the first runtime failure only", async () => {
  const sup = new Supervisor();
  sup.fail("chain", new Error("anvil exited"));
  sup.fail("other", new Error("later"));
  const f = await sup.failed;
  assert.equal(f.component, "chain");
  assert.match(f.message, /chain: anvil exited/);
  assert.equal(sup.failure, f);
  await sup.stop();
});
