import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAdvert, parseRunnersConfig } from "./config.ts";
import { heartbeat, unregister } from "./heartbeat.ts";
import { RunnerRegistry } from "./registry.ts";

const advert = (extra: Record<string, unknown> = {}) =>
  parseAdvert({ runner_url: "http://127.0.0.1:9000", app: "a/b", ...extra }, false);

function fixture() {
  let clock = 0;
  const events: string[] = [];
  const closed: string[] = [];
  const removed: string[] = [];
  const registry = new RunnerRegistry({
    now: () => clock,
    hooks: {
      sessionEvent: (r, e, s) => events.push(`${r.id}:${e}:${s}`),
      closeChannels: (s) => closed.push(s.id),
      runnerRemoved: (r) => removed.push(r.id),
    },
  });
  const deps = {
    registry,
    secret: "boot",
    paid: false,
    runnerFacingUrl: () => "https://o",
    openO2r: () => ({
      name: "o2r",
      channel_name: "c",
      url: "u",
      internal_url: "u",
      mime_type: "application/json",
    }),
  };
  return { registry, deps, events, closed, removed, tick: (ms: number) => (clock += ms) };
}

test("a silent dynamic runner is hidden past its TTL and the sweep releases its sessions", () => {
  const f = fixture();
  const hb = heartbeat(f.deps, { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r1" }, "boot");
  const { session } = f.registry.reserve("r1");
  f.tick(20_000);
  assert.equal(f.registry.discovery().length, 1, "still within its TTL at exactly 20 s");
  assert.deepEqual(f.registry.sweep(), []);
  f.tick(1);
  assert.equal(f.registry.discovery().length, 0, "hidden at once");
  assert.throws(() => f.registry.ready("r1"), { code: "RUNNER_NOT_FOUND" });
  assert.deepEqual(f.registry.sweep(), ["r1"]);
  assert.deepEqual(f.events, [`r1:reserved:${session.id}`, `r1:released:${session.id}`]);
  assert.deepEqual(f.closed, [session.id]);
  assert.deepEqual(f.removed, ["r1"]);
  assert.equal(session.ended.signal.aborted, true, "its proxied connections are cut");
  // its heartbeat secret no longer works: 401, so the SDK bootstraps again
  assert.throws(
    () =>
      heartbeat(
        f.deps,
        { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r1" },
        String(hb.heartbeat_secret),
      ),
    { code: "RUNNER_UNAUTHORIZED", status: 401 },
  );
});

test("a heartbeat within the TTL keeps the runner; an expired one not yet swept is replaced on its next beat", () => {
  const f = fixture();
  const hb = heartbeat(f.deps, { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r2" }, "boot");
  for (let i = 0; i < 5; i++) {
    f.tick(15_000);
    heartbeat(
      f.deps,
      { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r2" },
      String(hb.heartbeat_secret),
    );
  }
  assert.deepEqual(f.registry.sweep(), []);
  f.registry.reserve("r2");
  f.tick(25_000);
  const again = heartbeat(
    f.deps,
    { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r2" },
    "boot",
  );
  assert.deepEqual(again.session_ids, [], "the expired runner's sessions were released");
  assert.notEqual(again.heartbeat_secret, hb.heartbeat_secret);
});

test("heartbeat errors: registration off 404, wrong secrets 401, a static id 400, bad body 400", () => {
  const f = fixture();
  const body = { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r3" };
  assert.throws(() => heartbeat({ ...f.deps, secret: undefined }, body, "boot"), { status: 404 });
  assert.throws(() => heartbeat(f.deps, body, "nope"), { status: 401 });
  assert.throws(() => heartbeat(f.deps, { ...body, mode: "sometimes" }, "boot"), { status: 400 });
  assert.throws(() => heartbeat(f.deps, { ...body, runner_id: "a/b" }, "boot"), { status: 400 });
  const [entry] = parseRunnersConfig(
    { runners: [{ label: "s", runner_url: "http://h:1", health_url: "/health", app: "x" }] },
    false,
  );
  assert.ok(entry);
  const [reg] = f.registry.upsertStatic([entry], [true], "api");
  assert.throws(() => heartbeat(f.deps, { ...body, runner_id: reg?.runner_id }, "boot"), { status: 400 });
  assert.throws(() => unregister(f.registry, String(reg?.runner_id), "boot"), { status: 400 });
});

test("unregister: 401 wrong secret, 204 then 404", () => {
  const f = fixture();
  const hb = heartbeat(f.deps, { runner_url: "http://127.0.0.1:9000", app: "a/b", runner_id: "r4" }, "boot");
  assert.throws(() => unregister(f.registry, "r4", "boot"), { status: 401 });
  unregister(f.registry, "r4", String(hb.heartbeat_secret));
  assert.throws(() => unregister(f.registry, "r4", String(hb.heartbeat_secret)), { status: 404 });
});

test("capacity counts sessions: 503 when full, a stop frees a slot, a given id in use is 409", () => {
  const f = fixture();
  f.registry.addDynamic("r5", advert({ capacity: 2 }));
  const a = f.registry.reserve("r5");
  f.registry.reserve("r5");
  assert.throws(() => f.registry.reserve("r5"), { code: "NO_CAPACITY", status: 503 });
  f.registry.release(a.runner, a.session.id);
  const c = f.registry.reserve("r5", "mine");
  assert.equal(c.session.id, "mine");
  f.registry.release(c.runner, "mine");
  f.registry.reserve("r5", "mine");
  assert.throws(() => f.registry.reserve("r5", "mine"), { status: 503 }, "full first");
  f.registry.addDynamic("r6", advert({ capacity: 2 }));
  f.registry.reserve("r6", "taken");
  assert.throws(() => f.registry.reserve("r6", "taken"), { code: "RUNNER_SESSION_EXISTS", status: 409 });
  assert.equal(f.registry.discovery()[0]?.capacity_available, 0);
});

test("a runner that is not ready is neither listed nor routed to", () => {
  const f = fixture();
  f.registry.addDynamic("r6", advert({ status: "loading" }));
  assert.equal(f.registry.discovery().length, 0);
  assert.throws(() => f.registry.reserve("r6"), { status: 404 });
});

test("static upsert by label keeps the id and sessions; unhealthy releases; a file reload drops missing labels", () => {
  const f = fixture();
  const cfg = (capacity: number, labels = ["s1"]) =>
    parseRunnersConfig(
      {
        runners: labels.map((label) => ({
          label,
          routing: "label",
          runner_url: "http://h:1",
          health_url: "/health",
          app: "x",
          capacity,
        })),
      },
      false,
    );
  const [first] = f.registry.upsertStatic(cfg(1), [true], "file");
  const { session } = f.registry.reserve("s1");
  const [second] = f.registry.upsertStatic(cfg(3), [true], "file");
  assert.equal(second?.runner_id, first?.runner_id);
  assert.equal(f.registry.ready("s1").sessions.size, 1);
  assert.equal(f.registry.ready("s1").advert.capacity, 3);
  f.registry.setHealthy(f.registry.ready("s1"), false);
  assert.equal(session.ended.signal.aborted, true);
  assert.throws(() => f.registry.ready("s1"), { status: 404 });
  f.tick(3_600_000);
  assert.deepEqual(f.registry.sweep(), [], "static runners do not expire");
  f.registry.upsertStatic(cfg(1, ["s2"]), [true], "file");
  assert.equal(f.registry.get("s1"), undefined, "gone from the file");
  f.registry.upsertStatic(cfg(1, ["s3"]), [true], "api");
  assert.ok(f.registry.get("s2"), "the API never removes");
});

test("a static batch whose label route is another runner's id registers nothing", () => {
  const f = fixture();
  f.registry.addDynamic("taken", advert());
  const entries = parseRunnersConfig(
    {
      runners: ["ok", "taken"].map((label) => ({
        label,
        routing: "label",
        runner_url: "http://h:1",
        health_url: "/health",
        app: "x",
      })),
    },
    false,
  );
  assert.throws(() => f.registry.upsertStatic(entries, [true, true], "api"), {
    status: 400,
    message: /"taken"/,
  });
  assert.equal(f.registry.get("ok"), undefined);
  assert.equal(f.registry.get("taken")?.isStatic, false);
});
