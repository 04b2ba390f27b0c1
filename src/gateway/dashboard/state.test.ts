import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Rat } from "../../payments/rational.ts";
import { OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import {
  answeredStatus,
  capabilityIndex,
  type DashboardOrchestrator,
  errorInWords,
  formatWei,
  HistoryRing,
  offersOf,
  priceView,
  stableDefaultPrice,
} from "./state.ts";

function orch(url: string, health: DashboardOrchestrator["health"], offers: DashboardOrchestrator["offers"]) {
  return {
    url,
    transcoder: url,
    address: "0x01",
    health,
    version: "",
    successes: 1,
    failures: 0,
    consecutiveFailures: 0,
    recentFailures: [],
    suspension: 0,
    offers,
    capacity: 0,
    capacityInUse: 0,
    history: { at: [], latencyMs: [], inUse: [], capacity: [] },
  } satisfies DashboardOrchestrator;
}

function offer(key: string, warm: boolean, wei: bigint, capacity = 2, inUse = 0) {
  const [pipeline = "", modelId = ""] = key.split("/");
  return {
    key,
    pipeline,
    modelId,
    capability: 27,
    warm,
    capacity,
    capacityInUse: inUse,
    runnerVersion: "",
    price: priceView({ pricePerUnit: wei, pixelsPerUnit: 1n }, pipeline, "capability"),
  };
}

describe("dashboard prices", () => {
  test("wei amounts read in wei, gwei or ETH with at most four significant digits", () => {
    assert.equal(formatWei(Rat.of(0n)), "0 wei");
    assert.equal(formatWei(Rat.of(1n, 3n)), "0.3333 wei");
    assert.equal(formatWei(Rat.of(1n, 1_000_000n)), "0.000001 wei");
    assert.equal(formatWei(Rat.of(12_345n)), "12,345 wei");
    assert.equal(formatWei(Rat.of(2_500_000_000n)), "2.5 gwei");
    assert.equal(formatWei(Rat.of(3n * 10n ** 18n)), "3 ETH");
  });

  test("a per-pixel price also shows per megapixel; an audio price per second; BYOC per second only", () => {
    const img = priceView({ pricePerUnit: 1n, pixelsPerUnit: 2n }, "text-to-image", "capability");
    assert.equal(img?.weiPerUnit, "1/2");
    assert.equal(img?.display, "0.5 wei/pixel");
    assert.equal(img?.displayScaled, "500,000 wei per megapixel");
    const audio = priceView({ pricePerUnit: 7n, pixelsPerUnit: 1n }, "audio-to-text", "capability");
    assert.equal(audio?.display, "7 wei/ms of audio");
    assert.equal(audio?.displayScaled, "7,000 wei per second of audio");
    const byoc = priceView({ pricePerUnit: 3_000_000_000n, pixelsPerUnit: 1n }, "byoc", "capability");
    assert.equal(byoc?.display, "3 gwei/second");
    assert.equal(byoc?.displayScaled, undefined);
    const live = priceView({ pricePerUnit: 1n, pixelsPerUnit: 1n }, "live-video-to-video", "capability");
    assert.equal(live?.displayScaled, "27,648,000 wei per second of 720p30");
  });

  test("an unusable wire price yields no price", () => {
    assert.equal(priceView({ pricePerUnit: 1n, pixelsPerUnit: 0n }, "llm", "default"), undefined);
    assert.equal(priceView({ pricePerUnit: -1n, pixelsPerUnit: 1n }, "llm", "default"), undefined);
  });
});

describe("dashboard offers", () => {
  test("lists constrained models with their per-model price and BYOC capabilities from capabilities_prices", () => {
    const info = create(OrchestratorInfoSchema, {
      transcoder: "https://o:1",
      priceInfo: { pricePerUnit: 9n, pixelsPerUnit: 1n },
      capabilities: {
        bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage, CAPABILITY.LLM]),
        capacities: { [CAPABILITY.BYOC]: 4 },
        constraints: {
          PerCapability: {
            [CAPABILITY.TextToImage]: { models: { "m/sd": { warm: true, capacity: 2, capacityInUse: 1 } } },
            [CAPABILITY.LLM]: { models: { "<b>x</b>": { warm: false, capacity: 1 } } },
          },
        },
      },
      capabilitiesPrices: [
        { capability: CAPABILITY.TextToImage, constraint: "m/sd", pricePerUnit: 4n, pixelsPerUnit: 1n },
        { capability: CAPABILITY.BYOC, constraint: "echo", pricePerUnit: 10n, pixelsPerUnit: 1n },
      ],
    });
    const offers = offersOf(info);
    assert.deepEqual(
      offers.map((o) => [o.key, o.warm, o.capacity, o.capacityInUse, o.price?.weiPerUnit, o.price?.source]),
      [
        ["text-to-image/m/sd", true, 2, 1, "4", "capability"],
        ["llm/<b>x</b>", false, 1, 0, "9", "default"],
        ["byoc/echo", true, 4, 0, "10", "capability"],
      ],
    );
  });
});

describe("dashboard capability index", () => {
  test("counts only healthy providers and orders healthy, warm, cheapest first", () => {
    const caps = capabilityIndex([
      orch("https://a", "healthy", [offer("text-to-image/m", false, 1n, 2, 1)]),
      orch("https://b", "healthy", [offer("text-to-image/m", true, 5n, 3, 2)]),
      orch("https://c", "healthy", [offer("text-to-image/m", true, 3n)]),
      orch("https://d", "unreachable", [offer("text-to-image/m", true, 1n), offer("llm/x", true, 1n)]),
    ]);
    assert.deepEqual(
      caps.map((c) => c.key),
      ["llm/x", "text-to-image/m"],
    );
    const t2i = caps[1]!;
    assert.equal(t2i.warm, 2);
    assert.equal(t2i.cold, 1);
    assert.equal(t2i.capacity, 7);
    assert.equal(t2i.capacityInUse, 3);
    assert.equal(t2i.bestPrice?.weiPerUnit, "3", "cheapest healthy warm provider");
    assert.deepEqual(
      t2i.providers.map((p) => p.url),
      ["https://c", "https://b", "https://a", "https://d"],
    );
    const llm = caps[0]!;
    assert.equal(llm.warm, 0, "an unreachable orchestrator does not count as warm");
    assert.equal(llm.bestPrice, undefined);
  });
});

describe("HistoryRing", () => {
  test("keeps the newest samples up to its size, oldest first", () => {
    const ring = new HistoryRing<number>(3);
    for (let i = 1; i <= 5; i++) ring.push(i);
    assert.deepEqual(ring.values(), [3, 4, 5]);
    assert.equal(ring.length, 3);
    assert.throws(() => new HistoryRing(0), RangeError);
  });
});

describe("dashboard words and default price", () => {
  test("an error with a JSON body reads as its message; plain text is kept", () => {
    assert.equal(
      errorInWords('HTTP 502: {"error":{"code":"CONTAINER_FAILED","message":"the container answered 500"}}'),
      "HTTP 502: CONTAINER_FAILED: the container answered 500",
    );
    assert.equal(errorInWords('{"message":"model not loaded","detail":"x"}'), "model not loaded");
    assert.equal(errorInWords("HTTP 500: {not json"), "HTTP 500: {not json");
    assert.equal(errorInWords("connect\n  ECONNREFUSED"), "connect ECONNREFUSED");
    assert.equal(errorInWords("x".repeat(400)).length, 300);
    assert.equal(answeredStatus("HTTP 502: bad gateway"), 502);
    assert.equal(answeredStatus("connect ECONNREFUSED 127.0.0.1:8935"), undefined);
  });

  test("the default price is the lowest quote, whatever the order", () => {
    const a = { pricePerUnit: 3n, pixelsPerUnit: 2n };
    const b = { pricePerUnit: 2n, pixelsPerUnit: 1n };
    assert.equal(stableDefaultPrice([a, b])?.weiPerUnit, "3/2");
    assert.equal(stableDefaultPrice([b, a])?.weiPerUnit, "3/2");
    assert.equal(stableDefaultPrice([{ pricePerUnit: 1n, pixelsPerUnit: 0n }, b])?.weiPerUnit, "2");
    assert.equal(stableDefaultPrice([]), undefined);
  });
});
