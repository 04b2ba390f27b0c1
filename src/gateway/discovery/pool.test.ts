import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type OrchestratorInfo,
  OrchestratorInfoSchema,
  type OrchestratorRequest,
} from "../../protocol/gen/lp_rpc_pb.ts";
import {
  aiRequestCapabilities,
  CAPABILITY,
  capabilityBitstring,
  DEFAULT_CAPABILITIES,
} from "../capabilities.ts";
import type { OrchestratorInfoFetcher } from "./grpc-client.ts";
import { OrchestratorPool, onchainInfoPredicate, type PoolEvent } from "./pool.ts";
import { staticSource } from "./static-source.ts";
import type { DiscoverySource } from "./types.ts";

/** A controllable fake: each URL answers after `delayMs` (never if undefined) or fails. */
interface FakeBehaviour {
  delayMs?: number;
  fail?: string;
  info?: MessageInitShape<typeof OrchestratorInfoSchema>;
}

function fakeFetcher(behaviour: Record<string, FakeBehaviour>) {
  const calls: { url: string; request: OrchestratorRequest; aborted: () => boolean }[] = [];
  const fetchInfo: OrchestratorInfoFetcher = (url, request, options) => {
    const signal = options?.signal;
    calls.push({ url, request, aborted: () => signal?.aborted ?? false });
    const b = behaviour[url] ?? {};
    return new Promise<OrchestratorInfo>((resolve, reject) => {
      const onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (b.delayMs === undefined) return;
      setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        if (b.fail) reject(new Error(b.fail));
        else
          resolve(
            create(OrchestratorInfoSchema, {
              transcoder: url,
              address: new Uint8Array(20).fill(1),
              ...(b.info as object),
            } as MessageInitShape<typeof OrchestratorInfoSchema>),
          );
      }, b.delayMs);
    });
  };
  return { fetchInfo, calls };
}

const A = "https://a:1";
const B = "https://b:2";
const C = "https://c:3";

describe("OrchestratorPool.getOrchestrators (fan-out)", () => {
  test("returns accepted orchestrators sorted by measured latency", async () => {
    const { fetchInfo } = fakeFetcher({ [A]: { delayMs: 40 }, [B]: { delayMs: 1 }, [C]: { delayMs: 20 } });
    await using pool = new OrchestratorPool({
      source: staticSource([A, B, C]),
      fetchInfo,
      discoveryTimeoutMs: 1000,
    });
    const list = await pool.getOrchestrators();
    assert.deepEqual(
      list.map((d) => d.url),
      [B, C, A],
    );
    assert.ok(
      list.every((d, i) => i === 0 || (list[i - 1] as { latencyMs: number }).latencyMs <= d.latencyMs),
    );
    assert.equal(list[0]?.transcoder, B);
    assert.equal(list[0]?.address, `0x${"01".repeat(20)}`);
  });

  test("stops as soon as numOrchestrators were accepted, without waiting for the rest", async () => {
    const { fetchInfo } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: {}, [C]: {} });
    await using pool = new OrchestratorPool({ source: staticSource([A, B, C]), fetchInfo });
    const list = await pool.getOrchestrators({ numOrchestrators: 1 });
    assert.deepEqual(
      list.map((d) => d.url),
      [A],
    );
  });

  test("after the discovery timeout, returns what it has if at least one answered", async () => {
    const { fetchInfo } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: {} });
    await using pool = new OrchestratorPool({
      source: staticSource([A, B]),
      fetchInfo,
      discoveryTimeoutMs: 20,
    });
    assert.deepEqual(
      (await pool.getOrchestrators()).map((d) => d.url),
      [A],
    );
  });

  test("with nothing by the discovery timeout it keeps waiting (doubling) until one answers", async () => {
    const { fetchInfo } = fakeFetcher({ [A]: { delayMs: 80 }, [B]: {} });
    await using pool = new OrchestratorPool({
      source: staticSource([A, B]),
      fetchInfo,
      discoveryTimeoutMs: 10,
    });
    assert.deepEqual(
      (await pool.getOrchestrators()).map((d) => d.url),
      [A],
    );
  });

  test("gives up at the cutoff with an empty list when nobody answers", async () => {
    const { fetchInfo } = fakeFetcher({ [A]: {}, [B]: {} });
    await using pool = new OrchestratorPool({
      source: staticSource([A, B]),
      fetchInfo,
      discoveryTimeoutMs: 10,
      cutoffMs: 60,
    });
    assert.deepEqual(await pool.getOrchestrators(), []);
  });

  test("errors, empty transcoders, blocklisted addresses and failed predicates are dropped and reported", async () => {
    const D = "https://d:4";
    const { fetchInfo } = fakeFetcher({
      [A]: { delayMs: 1, fail: "connection refused" },
      [B]: { delayMs: 1, info: { transcoder: "" } },
      [C]: { delayMs: 1, info: { address: new Uint8Array(20).fill(0xab) } },
      [D]: { delayMs: 1, info: { priceInfo: undefined } },
      "https://e:5": { delayMs: 1, info: { priceInfo: { pricePerUnit: 1n, pixelsPerUnit: 1n } } },
    });
    const events: PoolEvent[] = [];
    await using pool = new OrchestratorPool({
      source: staticSource([A, B, C, D, "https://e:5"]),
      fetchInfo,
      blocklist: [`0x${"AB".repeat(20)}`],
      predicates: [onchainInfoPredicate],
      onEvent: (e) => events.push(e),
    });
    const list = await pool.getOrchestrators();
    assert.deepEqual(
      list.map((d) => d.url),
      ["https://e:5"],
    );
    const reasons = Object.fromEntries(
      events.flatMap((e) => (e.type === "rejected" ? [[e.url, e.reason] as const] : [])),
    );
    assert.deepEqual(reasons, {
      [B]: "empty transcoder URI",
      [C]: "blocklisted",
      [D]: "missing or invalid price_info",
    });
    assert.equal(pool.stats(A)?.failures, 1);
    assert.equal(pool.stats(A)?.lastError, "connection refused");
  });

  test("with job capabilities, requests carry them and incompatible answers are dropped", async () => {
    const caps = aiRequestCapabilities({ pipeline: "llm", modelId: "m" });
    const good = {
      capabilities: {
        bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.LLM]),
        constraints: { PerCapability: { [CAPABILITY.LLM]: { models: { m: { warm: true } } } } },
      },
    };
    const { fetchInfo, calls } = fakeFetcher({
      [A]: { delayMs: 1, info: good },
      [B]: { delayMs: 1, info: { capabilities: { bitstring: capabilityBitstring([0]) } } },
      [C]: { delayMs: 1 },
    });
    await using pool = new OrchestratorPool({ source: staticSource([A, B, C]), fetchInfo });
    const list = await pool.getOrchestrators({ capabilities: caps });
    assert.deepEqual(
      list.map((d) => d.url),
      [A],
    );
    assert.equal(calls[0]?.request.capabilities?.capacities[CAPABILITY.LLM], 1);
    assert.deepEqual(calls[0]?.request.address, new Uint8Array(20), "offchain: zero address");
  });

  test("suspended orchestrators only top up the list, lowest penalty first", async () => {
    const { fetchInfo } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: { delayMs: 2 }, [C]: { delayMs: 3 } });
    const penalties: Record<string, number> = { [A]: 5, [B]: 3 };
    await using pool = new OrchestratorPool({
      source: staticSource([A, B, C]),
      fetchInfo,
      suspender: { penalty: (t) => penalties[t] ?? 0 },
    });
    assert.deepEqual(
      (await pool.getOrchestrators({ numOrchestrators: 2, waitForAll: true })).map((d) => [
        d.url,
        d.suspension,
      ]),
      [
        [C, 0],
        [B, 3],
      ],
    );
    assert.deepEqual(
      (await pool.getOrchestrators({ numOrchestrators: 1, waitForAll: true })).map((d) => d.url),
      [C],
    );
  });

  test("asks up to extraNodes advertised nodes of each orchestrator, once each", async () => {
    const { fetchInfo, calls } = fakeFetcher({
      [A]: { delayMs: 1, info: { nodes: ["b:2", "https://x:9", "https://y:9"] } },
      [B]: { delayMs: 5 },
      "https://x:9": { delayMs: 1 },
      "https://y:9": { delayMs: 1 },
    });
    await using pool = new OrchestratorPool({ source: staticSource([A, B]), fetchInfo, extraNodes: 2 });
    const list = await pool.getOrchestrators({ waitForAll: true });
    assert.deepEqual(list.map((d) => d.url).sort(), [A, B, "https://x:9"]);
    assert.equal(calls.filter((c) => c.url === B).length, 1);
  });

  test("candidates below minScore are not asked", async () => {
    const { fetchInfo, calls } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: { delayMs: 1 } });
    const source: DiscoverySource = {
      name: "scored",
      list: async () => [
        { url: A, score: 0.2, source: "webhook" },
        { url: B, score: 0.9, source: "webhook" },
      ],
    };
    await using pool = new OrchestratorPool({ source, fetchInfo, minScore: 0.5 });
    assert.deepEqual(
      (await pool.getOrchestrators()).map((d) => d.url),
      [B],
    );
    assert.deepEqual(
      calls.map((c) => c.url),
      [B],
    );
  });

  test("the caller's abort rejects and aborts the calls in flight", async () => {
    const { fetchInfo, calls } = fakeFetcher({ [A]: {} });
    await using pool = new OrchestratorPool({ source: staticSource([A]), fetchInfo });
    const ac = new AbortController();
    const p = pool.getOrchestrators({ signal: ac.signal });
    await new Promise((r) => setTimeout(r, 5));
    ac.abort(new Error("client went away"));
    await assert.rejects(p, /client went away/);
    assert.ok(calls[0]?.aborted());
  });
});

describe("OrchestratorPool snapshot, refresh and lifecycle", () => {
  test("refresh stores a snapshot, signals the suspender and current() reuses it within the interval", async () => {
    const { fetchInfo, calls } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: { delayMs: 1 } });
    let now = 1_000;
    let refreshSignals = 0;
    await using pool = new OrchestratorPool({
      source: staticSource([A, B]),
      fetchInfo,
      refreshIntervalMs: 10_000,
      now: () => now,
      suspender: { penalty: () => 0, signalRefresh: () => refreshSignals++ },
    });
    assert.deepEqual(pool.snapshot(), []);
    assert.equal((await pool.current()).length, 2);
    assert.equal(pool.snapshotAt, 1_000);
    assert.equal(calls.length, 2);
    now += 5_000;
    assert.equal((await pool.current()).length, 2);
    assert.equal(calls.length, 2, "answered from the snapshot");
    now += 6_000;
    await pool.current();
    assert.equal(calls.length, 4, "refreshed after the interval");
    assert.equal(refreshSignals, 2);
    assert.equal(pool.stats(A)?.successes, 2);
    assert.ok((pool.stats(A)?.avgLatencyMs ?? -1) >= 0);
  });

  test("a failing source keeps the previous snapshot for current()", async () => {
    let fail = false;
    const { fetchInfo } = fakeFetcher({ [A]: { delayMs: 1 } });
    const source: DiscoverySource = {
      name: "flaky",
      list: async () => {
        if (fail) throw new Error("webhook down");
        return [{ url: A, score: 1, source: "webhook" }];
      },
    };
    let now = 0;
    const events: PoolEvent[] = [];
    await using pool = new OrchestratorPool({
      source,
      fetchInfo,
      refreshIntervalMs: 10,
      now: () => now,
      onEvent: (e) => events.push(e),
    });
    await pool.refresh();
    fail = true;
    now = 100;
    assert.deepEqual(
      (await pool.current()).map((d) => d.url),
      [A],
    );
    assert.ok(events.some((e) => e.type === "refresh-failed"));
  });

  test("start() refreshes in the background; close() stops it and aborts calls in flight", async () => {
    const { fetchInfo, calls } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: {} });
    const ac = new AbortController();
    const events: PoolEvent[] = [];
    const pool = new OrchestratorPool({
      source: staticSource([A, B]),
      fetchInfo,
      refreshIntervalMs: 20,
      cutoffMs: 30,
      signal: ac.signal,
      onEvent: (e) => events.push(e),
    });
    pool.start();
    pool.start();
    while (events.filter((e) => e.type === "refreshed").length < 2)
      await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      pool.snapshot().map((d) => d.url),
      [A],
    );
    ac.abort();
    assert.ok(pool.closed);
    const inFlight = calls.filter((c) => c.url === B);
    assert.ok(inFlight.length >= 2);
    assert.ok(inFlight.every((c) => c.aborted()));
    const before = calls.length;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls.length, before, "no refresh after close");
    await assert.rejects(pool.getOrchestrators(), /closed/);
  });
});

describe("OrchestratorPool robustness", () => {
  test("a fetcher that throws synchronously is recorded as a failure of that orchestrator only", async () => {
    const { fetchInfo: inner } = fakeFetcher({ [B]: { delayMs: 1 } });
    const fetchInfo: OrchestratorInfoFetcher = (url, req, opts) => {
      if (url === A) throw new Error("bad url");
      return inner(url, req, opts);
    };
    await using pool = new OrchestratorPool({ source: staticSource([A, B]), fetchInfo });
    assert.deepEqual(
      (await pool.getOrchestrators()).map((d) => d.url),
      [B],
    );
    assert.equal(pool.stats(A)?.lastError, "bad url");
  });
});

describe("OrchestratorPool.fetchOne", () => {
  test("asks one orchestrator with the job's capabilities and records the outcome", async () => {
    const { fetchInfo, calls } = fakeFetcher({ [A]: { delayMs: 1 }, [B]: { delayMs: 1, fail: "refused" } });
    await using pool = new OrchestratorPool({ source: staticSource([A, B]), fetchInfo });
    const caps = aiRequestCapabilities({ pipeline: "llm", modelId: "m" });
    const info = await pool.fetchOne(A, { capabilities: caps });
    assert.equal(info.transcoder, A);
    assert.equal(calls[0]?.request.capabilities?.capacities[CAPABILITY.LLM], 1);
    assert.equal(pool.stats(A)?.successes, 1);
    await assert.rejects(pool.fetchOne(B), /refused/);
    assert.equal(pool.stats(B)?.consecutiveFailures, 1);
  });
});

describe("OrchestratorPool stats (issue 17: health shown is health measured)", () => {
  test("a job's outcome reported by transcoder counts for the URL discovery asked", async () => {
    const asked = "https://orch.example:8935";
    const transcoder = "https://10.0.0.7:8935/";
    const { fetchInfo } = fakeFetcher({ [asked]: { delayMs: 1, info: { transcoder } } });
    await using pool = new OrchestratorPool({ source: staticSource([asked]), fetchInfo });
    await pool.refresh();
    pool.recordFailure(transcoder, new Error("HTTP 502: container restarting"));
    assert.equal(pool.stats(asked)?.consecutiveFailures, 1, "the failure is the asked URL's");
    pool.recordSuccess("https://10.0.0.7:8935", 5);
    assert.equal(pool.stats(asked)?.consecutiveFailures, 0, "a later success clears it");
    assert.deepEqual(
      pool.stats().map((s) => s.url),
      [asked],
      "no second, forever-unreachable entry under the transcoder URL",
    );
  });
});
