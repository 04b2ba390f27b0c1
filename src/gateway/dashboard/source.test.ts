import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { OrchestratorInfoSchema, PriceInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import { type OrchestratorDescriptor, OrchestratorPool, type OrchestratorStats } from "../discovery/pool.ts";
import { staticSource } from "../discovery/static-source.ts";
import { Suspender } from "../selection/suspender.ts";
import { createPoolDashboardSource, dashboardHealth } from "./source.ts";
import type { DashboardState } from "./state.ts";

const MODEL = "m/sd";

function descriptor(url: string, warm: boolean, inUse = 0, fetchedAt = 1): OrchestratorDescriptor {
  return {
    url,
    transcoder: url,
    address: "0x0101",
    info: create(OrchestratorInfoSchema, {
      transcoder: url,
      priceInfo: { pricePerUnit: 1n, pixelsPerUnit: 1n },
      capabilities: {
        bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
        version: "0.1.0",
        constraints: {
          PerCapability: {
            [CAPABILITY.TextToImage]: { models: { [MODEL]: { warm, capacity: 4, capacityInUse: inUse } } },
          },
        },
      },
    }),
    latencyMs: 5,
    fetchedAt,
    candidate: { url, score: 1, source: "static" },
    suspension: 0,
  };
}

/** A hand-driven stand-in for the pool. */
function fakePool() {
  const view = {
    list: [] as OrchestratorDescriptor[],
    stats: new Map<string, OrchestratorStats>(),
    snapshotAt: undefined as number | undefined,
    snapshot: () => [...view.list],
    statsList: () => [...view.stats.values()].map((s) => ({ ...s })),
  };
  const ok = (url: string, latencyMs: number) => {
    const s = view.stats.get(url) ?? { url, successes: 0, failures: 0, consecutiveFailures: 0 };
    s.successes++;
    s.consecutiveFailures = 0;
    s.lastLatencyMs = latencyMs;
    s.lastSuccessAt = 10;
    view.stats.set(url, s);
  };
  const fail = (url: string, error: string, at: number) => {
    const s = view.stats.get(url) ?? { url, successes: 0, failures: 0, consecutiveFailures: 0 };
    s.failures++;
    s.consecutiveFailures++;
    s.lastError = error;
    s.lastFailureAt = at;
    view.stats.set(url, s);
  };
  const pool = {
    snapshot: view.snapshot,
    stats: view.statsList,
    get snapshotAt() {
      return view.snapshotAt;
    },
  };
  return { view, pool, ok, fail };
}

describe("pool dashboard source", () => {
  test("builds orchestrators and capabilities from the pool and notifies only on change", () => {
    const { view, pool, ok } = fakePool();
    view.list = [descriptor("https://a:1", true, 1)];
    ok("https://a:1", 12);
    view.snapshotAt = 100;
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, now: () => 500 });
    const first = source.snapshot();
    assert.equal(first.version, 1);
    assert.equal(first.snapshotAt, 100);
    const [a] = first.orchestrators;
    assert.equal(a?.health, "healthy");
    assert.equal(a?.lastLatencyMs, 12);
    assert.equal(a?.version, "0.1.0");
    assert.equal(a?.capacity, 4);
    assert.equal(a?.capacityInUse, 1);
    assert.equal(a?.defaultPrice?.weiPerUnit, "1");
    assert.deepEqual(a?.history.latencyMs, [12]);
    assert.equal(first.capabilities[0]?.key, `text-to-image/${MODEL}`);
    assert.equal(first.capabilities[0]?.warm, 1);

    const seen: DashboardState[] = [];
    source.subscribe((s) => seen.push(s));
    source.update();
    assert.equal(seen.length, 0, "nothing changed, nothing sent");

    view.list = [descriptor("https://a:1", false, 3, 2)];
    ok("https://a:1", 20);
    source.update();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.version, 2);
    assert.equal(seen[0]?.capabilities[0]?.warm, 0);
    assert.equal(seen[0]?.capabilities[0]?.cold, 1);
    assert.deepEqual(seen[0]?.orchestrators[0]?.history.latencyMs, [12, 20]);
    assert.deepEqual(seen[0]?.orchestrators[0]?.history.inUse, [1, 3]);
  });

  test("an orchestrator that fails is unreachable with its error, keeps its last info, and recovers", () => {
    const { view, pool, ok, fail } = fakePool();
    view.list = [descriptor("https://a:1", true)];
    ok("https://a:1", 5);
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, recentFailures: 2 });

    view.list = [];
    fail("https://a:1", "connect ECONNREFUSED", 20);
    source.update();
    let a = source.snapshot().orchestrators[0];
    assert.equal(a?.health, "unreachable");
    assert.equal(a?.reason, "connect ECONNREFUSED");
    assert.equal(a?.offers.length, 1, "the last known offers stay visible");
    assert.equal(source.snapshot().capabilities[0]?.warm, 0, "but do not count as warm");
    fail("https://a:1", "deadline exceeded", 30);
    source.update();
    fail("https://a:1", "deadline exceeded", 35);
    fail("https://a:1", "deadline exceeded", 36);
    source.update();
    fail("https://a:1", "third", 40);
    source.update();
    a = source.snapshot().orchestrators[0];
    assert.deepEqual(
      a?.recentFailures.map((f) => [f.error, f.count, f.at]),
      [
        ["third", 1, 40],
        ["deadline exceeded", 3, 36],
      ],
      "newest first, repeats counted, bounded",
    );
    assert.deepEqual(a?.history.latencyMs, [5, null, null, null, null], "failures are gaps");

    view.list = [descriptor("https://a:1", true, 0, 50)];
    ok("https://a:1", 7);
    source.update();
    a = source.snapshot().orchestrators[0];
    assert.equal(a?.health, "healthy");
    assert.equal(source.snapshot().capabilities[0]?.warm, 1);
  });

  test("never-answering candidates are unreachable; suspended and rejected ones are labelled", () => {
    const { view, pool, ok, fail } = fakePool();
    const suspender = new Suspender();
    view.list = [descriptor("https://a:1", true)];
    ok("https://a:1", 5);
    ok("https://r:1", 5);
    fail("https://dead:1", "no route", 1);
    using source = createPoolDashboardSource({ pool, suspender, intervalMs: 60_000 });
    source.observe({ type: "rejected", url: "https://r:1", reason: "blocklisted" });
    source.observe({ type: "refreshed", orchestrators: 1, candidates: 3, durationMs: 1 });
    suspender.suspend("https://a:1", 3);
    source.update();
    const byUrl = new Map(source.snapshot().orchestrators.map((o) => [o.url, o]));
    assert.equal(byUrl.get("https://dead:1")?.health, "unreachable");
    assert.equal(byUrl.get("https://dead:1")?.transcoder, "");
    assert.equal(byUrl.get("https://r:1")?.health, "rejected");
    assert.equal(byUrl.get("https://r:1")?.reason, "blocklisted");
    assert.equal(byUrl.get("https://a:1")?.health, "suspended");
    assert.equal(byUrl.get("https://a:1")?.suspension, 3);
  });

  test("history is bounded and close stops notifications", () => {
    const { view, pool, ok } = fakePool();
    view.list = [descriptor("https://a:1", true)];
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, historySize: 3 });
    for (let i = 1; i <= 5; i++) {
      ok("https://a:1", i);
      source.update();
    }
    assert.deepEqual(source.snapshot().orchestrators[0]?.history.latencyMs, [3, 4, 5]);
    let calls = 0;
    source.subscribe(() => calls++);
    source.close();
    ok("https://a:1", 99);
    source.update();
    assert.equal(calls, 0);
  });

  test("a throwing subscriber does not stop the others", () => {
    const { view, pool, ok } = fakePool();
    view.list = [descriptor("https://a:1", true)];
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000 });
    let calls = 0;
    source.subscribe(() => {
      throw new Error("boom");
    });
    source.subscribe(() => calls++);
    ok("https://a:1", 1);
    source.update();
    assert.equal(calls, 1);
  });
});

describe("pool dashboard source over the real pool (issue 17: health shown is health measured)", () => {
  test("a job failure then successes reported by transcoder show one orchestrator, healthy again", async () => {
    const asked = "https://orch.example:8935";
    const transcoder = "https://10.0.0.7:8935";
    const d = descriptor(transcoder, true);
    await using pool = new OrchestratorPool({
      source: staticSource([asked]),
      fetchInfo: async () => d.info,
    });
    await pool.refresh();
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, now: () => 500 });
    // The container restarts: one job fails on the orchestrator (reported by its transcoder URL)…
    pool.recordFailure(transcoder, new Error("HTTP 502: CONTAINER_UNAVAILABLE: container restarting"));
    source.update();
    let s = source.snapshot();
    assert.deepEqual(
      s.orchestrators.map((o) => [o.url, o.health]),
      [[asked, "erroring"]],
      "the orchestrator answered (its container failed): not unreachable",
    );
    assert.equal(s.orchestrators[0]?.reason, "HTTP 502: CONTAINER_UNAVAILABLE: container restarting");
    // …then jobs succeed again: the dashboard says so, with no stale second entry.
    pool.recordSuccess(transcoder, 7);
    source.update();
    s = source.snapshot();
    assert.deepEqual(
      s.orchestrators.map((o) => [o.url, o.health]),
      [[asked, "healthy"]],
    );
  });

  test("BYOC capabilities share one capacity: counted once per orchestrator, not once per capability", () => {
    const { view, pool, ok } = fakePool();
    const url = "https://byoc:1";
    view.list = [
      {
        ...descriptor(url, true),
        info: create(OrchestratorInfoSchema, {
          transcoder: url,
          priceInfo: { pricePerUnit: 1n, pixelsPerUnit: 1n },
          capabilities: {
            bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.BYOC]),
            capacities: { [CAPABILITY.BYOC]: 4 },
          },
          capabilitiesPrices: ["echo", "upper", "resize"].map((constraint) => ({
            capability: CAPABILITY.BYOC,
            constraint,
            pricePerUnit: 2n,
            pixelsPerUnit: 1n,
          })),
        }),
      },
    ];
    ok(url, 3);
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, now: () => 500 });
    const [o] = source.snapshot().orchestrators;
    assert.equal(o?.offers.length, 3);
    assert.equal(o?.capacity, 4, "the orchestrator says 4, the page says 4 (not 3 × 4)");
    assert.deepEqual(o?.history.capacity, [4]);
  });

  test("the default price is one stable value when answers alternate between two price_info quotes", () => {
    const { view, pool, ok } = fakePool();
    const url = "https://a:1";
    const quoting = (wei: bigint, at: number) => {
      const d = descriptor(url, true, 0, at);
      d.info.priceInfo = create(PriceInfoSchema, { pricePerUnit: wei, pixelsPerUnit: 1n });
      return d;
    };
    ok(url, 3);
    view.list = [quoting(7n, 1)];
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, now: () => 500 });
    assert.equal(source.snapshot().orchestrators[0]?.defaultPrice?.weiPerUnit, "7");
    const shown: (string | undefined)[] = [];
    for (let i = 2; i < 8; i++) {
      view.list = [quoting(i % 2 === 0 ? 5n : 7n, i)];
      source.update();
      shown.push(source.snapshot().orchestrators[0]?.defaultPrice?.weiPerUnit);
    }
    assert.deepEqual(shown, ["5", "5", "5", "5", "5", "5"], "the lower of the two, every time");
    // A new price replaces the old ones once they are no longer quoted.
    view.list = [quoting(9n, 8)];
    source.update();
    view.list = [quoting(11n, 9)];
    source.update();
    assert.equal(source.snapshot().orchestrators[0]?.defaultPrice?.weiPerUnit, "9");
  });

  test("health: busy is not suspended, an answered error is not unreachable, reasons are words", () => {
    assert.deepEqual(
      dashboardHealth({
        consecutiveFailures: 1,
        lastError:
          'HTTP 503: {"error":{"code":"INSUFFICIENT_CAPACITY","message":"no capacity: all 4 slots busy"}}',
        inSnapshot: true,
        suspension: 3,
      }),
      { health: "busy", reason: "HTTP 503: INSUFFICIENT_CAPACITY: no capacity: all 4 slots busy" },
    );
    assert.deepEqual(
      dashboardHealth({
        consecutiveFailures: 2,
        lastError: 'HTTP 502: {"error":"container answered 500: model failed to load"}',
        inSnapshot: true,
        suspension: 0,
      }),
      { health: "erroring", reason: "HTTP 502: container answered 500: model failed to load" },
    );
    assert.deepEqual(
      dashboardHealth({
        consecutiveFailures: 1,
        lastError: "orchestrator https://a:1: connect ECONNREFUSED 127.0.0.1:1",
        inSnapshot: false,
        suspension: 0,
      }),
      { health: "unreachable", reason: "orchestrator https://a:1: connect ECONNREFUSED 127.0.0.1:1" },
    );
    assert.deepEqual(dashboardHealth({ consecutiveFailures: 0, inSnapshot: true, suspension: 2 }), {
      health: "suspended",
      reason: "suspended (penalty 2)",
    });
    assert.deepEqual(dashboardHealth({ consecutiveFailures: 0, inSnapshot: true, suspension: 0 }), {
      health: "healthy",
    });
  });

  test("recent failures are listed in words, not raw JSON", () => {
    const { view, pool, fail } = fakePool();
    view.list = [descriptor("https://a:1", true)];
    fail(
      "https://a:1",
      'HTTP 500: {\n  "error": { "code": "X_FAILED", "message": "the container crashed" }\n}',
      40,
    );
    using source = createPoolDashboardSource({ pool, intervalMs: 60_000, now: () => 500 });
    const [o] = source.snapshot().orchestrators;
    assert.equal(o?.recentFailures[0]?.error, "HTTP 500: X_FAILED: the container crashed");
    assert.equal(o?.reason, "HTTP 500: X_FAILED: the container crashed");
  });
});
