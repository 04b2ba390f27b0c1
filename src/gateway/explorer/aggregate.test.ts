import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type OrchestratorInfo, OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import { aggregate, type ChainFacts, isCapacityRefusal, type OrchestratorFacts } from "./aggregate.ts";

const ETH = 10n ** 18n;

function chain(address: string, stakeLpt: bigint, uri: string): ChainFacts {
  return {
    address,
    stake: stakeLpt * ETH,
    rewardCut: 250_000n,
    feeShare: 500_000n,
    activationRound: 3n,
    deactivationRound: 2n ** 256n - 1n,
    serviceUri: uri,
    active: true,
  };
}

interface Model {
  cap: number;
  model: string;
  warm: boolean;
  capacity: number;
  inUse?: number;
  price?: [bigint, bigint];
}

/** An OrchestratorInfo offering `models`, plus BYOC capabilities priced per second, plus a default price. */
function info(models: Model[], byoc: { name: string; price: bigint; capacity: number }[] = [], gpu?: string) {
  const per: Record<
    number,
    { models: Record<string, { warm: boolean; capacity: number; capacityInUse: number }> }
  > = {};
  for (const m of models) {
    per[m.cap] ??= { models: {} };
    (per[m.cap] as { models: Record<string, unknown> }).models[m.model] = {
      warm: m.warm,
      capacity: m.capacity,
      capacityInUse: m.inUse ?? 0,
    };
  }
  return create(OrchestratorInfoSchema, {
    transcoder: "https://x",
    priceInfo: { pricePerUnit: 7n, pixelsPerUnit: 1n },
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, ...models.map((m) => m.cap), CAPABILITY.BYOC]),
      capacities: byoc.length ? { [CAPABILITY.BYOC]: byoc.reduce((n, b) => n + b.capacity, 0) } : {},
      version: "1.2.3",
      constraints: { PerCapability: per },
    },
    capabilitiesPrices: [
      ...models
        .filter((m) => m.price)
        .map((m) => ({
          capability: m.cap,
          constraint: m.model,
          pricePerUnit: (m.price as [bigint, bigint])[0],
          pixelsPerUnit: (m.price as [bigint, bigint])[1],
        })),
      ...byoc.map((b) => ({
        capability: CAPABILITY.BYOC,
        constraint: b.name,
        pricePerUnit: b.price,
        pixelsPerUnit: 1n,
      })),
    ],
    hardware: gpu
      ? [
          {
            pipeline: "text-to-image",
            modelId: "sd",
            gpuInfo: { "0": { id: "0", name: gpu, memoryTotal: 24n * 2n ** 30n, memoryFree: 2n ** 30n } },
          },
        ]
      : [],
  });
}

const ok = (i: OrchestratorInfo, latencyMs = 20) => ({ ok: true as const, at: 1000, latencyMs, info: i });

/**
 * Four orchestrators with overlapping capabilities:
 * - A (largest stake): text-to-image/sd warm 2 slots (1 in use), priced 1 wei per 2 pixels; byoc/echo 3 gwei/s.
 * - B: text-to-image/sd cold 1 slot, priced 1 wei per pixel; live-video-to-video/comfy warm; byoc/echo 1 gwei/s.
 * - C: text-to-image/sd warm, every slot in use (busy); llm/llama with no model price (falls back to price_info).
 * - D: text-to-image/sd warm but unreachable now (its last answer is not counted).
 * - E: on chain with no service URI, never probed.
 */
function facts(): OrchestratorFacts[] {
  return [
    {
      url: "https://b:8935",
      calls: { successes: 10, failures: 0 },
      chain: chain("0xB", 200n, "https://b:8935"),
      probe: ok(
        info(
          [
            { cap: CAPABILITY.TextToImage, model: "sd", warm: false, capacity: 1, price: [1n, 1n] },
            { cap: CAPABILITY.LiveVideoToVideo, model: "comfy", warm: true, capacity: 1, price: [1n, 1n] },
          ],
          [{ name: "echo", price: 1_000_000_000n, capacity: 1 }],
        ),
        35,
      ),
      runners: [
        {
          orchestrator: "https://b:8935",
          state: "ok",
          app: "sd-live",
          route: "/x",
          mode: "persistent",
          url: "http://r",
          capacity: 2,
          capacityUsed: 1,
          capacityAvailable: 1,
        },
      ],
    },
    {
      url: "https://a:8935",
      calls: { successes: 9, failures: 1 },
      chain: chain("0xA", 600n, "https://a:8935"),
      probe: ok(
        info(
          [{ cap: CAPABILITY.TextToImage, model: "sd", warm: true, capacity: 2, inUse: 1, price: [1n, 2n] }],
          [{ name: "echo", price: 3_000_000_000n, capacity: 4 }],
          "NVIDIA RTX 4090",
        ),
      ),
    },
    {
      url: "https://c:8935",
      calls: { successes: 5, failures: 5 },
      chain: chain("0xC", 100n, "https://c:8935"),
      probe: ok(
        info([
          { cap: CAPABILITY.TextToImage, model: "sd", warm: true, capacity: 1, inUse: 1, price: [4n, 1n] },
          { cap: CAPABILITY.LLM, model: "llama", warm: true, capacity: 1, inUse: 1 },
        ]),
      ),
    },
    {
      url: "https://d:8935",
      calls: { successes: 0, failures: 4 },
      chain: chain("0xD", 100n, "https://d:8935"),
      probe: {
        ok: false,
        at: 1000,
        error: "GetOrchestrator https://d:8935 failed (unavailable): connect ECONNREFUSED",
        busy: false,
        lastInfo: info([
          { cap: CAPABILITY.TextToImage, model: "sd", warm: true, capacity: 8, price: [1n, 100n] },
        ]),
      },
    },
    { url: "0xE", chain: chain("0xE", 0n, "") },
  ];
}

describe("explorer aggregation", () => {
  const view = aggregate(facts(), { now: 5000, round: 9n });

  test("orchestrators in stake order with stake share, cuts in percent, state and reason", () => {
    assert.deepEqual(
      view.orchestrators.map((o) => [
        o.address,
        o.state,
        o.stakeShare,
        o.rewardCutPercent,
        o.feeSharePercent,
      ]),
      [
        ["0xA", "ok", 0.6, 25, 50],
        ["0xB", "ok", 0.2, 25, 50],
        ["0xC", "busy", 0.1, 25, 50],
        ["0xD", "unreachable", 0.1, 25, 50],
        ["0xE", "unknown", 0, 25, 50],
      ],
    );
    assert.equal(view.orchestrators[2]?.reason, "every advertised slot is in use");
    assert.match(view.orchestrators[3]?.reason ?? "", /ECONNREFUSED/);
    assert.equal(view.orchestrators[4]?.reason, "no service URI registered");
    assert.equal(view.orchestrators[0]?.activationRound, "3");
    assert.equal(view.orchestrators[0]?.version, "1.2.3");
    assert.equal(view.orchestrators[1]?.latencyMs, 35);
    assert.equal(view.round, "9");
  });

  test("totals count states, stake and capacity of reachable orchestrators only", () => {
    assert.deepEqual(view.totals, {
      orchestrators: 5,
      ok: 2,
      busy: 1,
      unreachable: 1,
      unknown: 1,
      stake: (1000n * ETH).toString(),
      capabilities: 5,
      // A: 2 + 4, B: 1 + 1 + 1 (BYOC capacity 1), C: 1 + 1; D's 8 slots are not counted.
      capacity: 11,
      // A: 1 + 4, B: 3, C busy: 0 (live-runner slots are counted per app, not here).
      free: 8,
      capacityUnknown: 0,
    });
  });

  test("a capability counts warm and cold among reachable providers, sums capacity and free slots", () => {
    const t2i = view.capabilities.find((c) => c.key === "text-to-image/sd");
    assert.ok(t2i);
    assert.equal(t2i.kind, "ai");
    assert.equal(t2i.warm, 2, "A and C (busy still counts as warm); D is unreachable");
    assert.equal(t2i.cold, 1, "B");
    assert.equal(t2i.providerCount, 4);
    assert.equal(t2i.capacity, 4);
    assert.equal(t2i.free, 2, "A has 1 free, B 1, C none");
    assert.deepEqual(
      t2i.providers.map((p) => [p.address, p.state, p.warm, p.free]),
      [
        ["0xA", "ok", true, 1],
        ["0xC", "busy", true, 0],
        ["0xB", "ok", false, 1],
        ["0xD", "unreachable", true, 8],
      ],
    );
    assert.deepEqual(t2i.providers[0]?.gpus, ["NVIDIA RTX 4090"]);
  });

  test("prices in different wire units compare in one unit; the range ignores unreachable providers", () => {
    const t2i = view.capabilities.find((c) => c.key === "text-to-image/sd");
    // A: 1 wei / 2 pixels = 500,000 wei per megapixel; C: 4 wei/pixel; D (1/100) is unreachable.
    assert.equal(t2i?.priceMin?.wei, "500000");
    assert.equal(t2i?.priceMin?.unit, "megapixel");
    assert.equal(t2i?.priceMin?.display, "500,000 wei per megapixel");
    assert.equal(t2i?.priceMax?.wei, "4000000");
    const byoc = view.capabilities.find((c) => c.key === "byoc/echo");
    assert.equal(byoc?.kind, "byoc");
    assert.equal(byoc?.priceMin?.display, "1 gwei per second");
    assert.equal(byoc?.priceMax?.display, "3 gwei per second");
    assert.equal(byoc?.warm, 2);
    assert.equal(byoc?.capacity, 5);
    const live = view.capabilities.find((c) => c.key === "live-video-to-video/comfy");
    assert.equal(live?.priceMin?.unit, "second of 720p30");
    assert.equal(live?.priceMin?.wei, String(1280 * 720 * 30));
  });

  test("latency is the median of reachable providers; success rate counts every provider's probes", () => {
    const t2i = view.capabilities.find((c) => c.key === "text-to-image/sd");
    // Reachable A (20 ms), B (35 ms), C (20 ms); D's failures count in the rate, not in the latency.
    assert.equal(t2i?.latencyMs, 20);
    assert.equal(t2i?.successRate, Math.round((24 / 34) * 1000) / 1000);
    assert.deepEqual(
      view.orchestrators.map((o) => o.successRate),
      [0.9, 1, 0.5, 0, undefined],
    );
    const live = view.capabilities.find((c) => c.key === "live-video-to-video/comfy");
    assert.equal(live?.latencyMs, 35);
    assert.equal(live?.successRate, 1);
  });

  test("a model without its own price uses the orchestrator's default price, marked as such", () => {
    const llm = view.capabilities.find((c) => c.key === "llm/llama");
    assert.equal(llm?.priceMin?.source, "default");
    assert.equal(llm?.priceMin?.wei, "7000", "7 wei per token = 7,000 wei per 1k tokens");
    assert.equal(llm?.free, 0);
  });

  test("live-runner apps are capabilities of their own", () => {
    const app = view.capabilities.find((c) => c.key === "live/sd-live");
    assert.equal(app?.kind, "live-app");
    assert.equal(app?.warm, 1);
    assert.equal(app?.capacity, 2);
    assert.equal(app?.free, 1);
  });

  test("a capacity refusal is busy, not unreachable, and keeps the last offers with no free slot", () => {
    const f = facts()[1] as OrchestratorFacts;
    const last = (f.probe as { info: OrchestratorInfo }).info;
    const v = aggregate(
      [{ ...f, probe: { ok: false, at: 1, error: "insufficient capacity", busy: true, lastInfo: last } }],
      { now: 1 },
    );
    const o = v.orchestrators[0];
    assert.equal(o?.state, "busy");
    assert.equal(o?.free, 0);
    assert.equal(v.totals.unreachable, 0);
    assert.equal(v.capabilities.find((c) => c.key === "text-to-image/sd")?.warm, 1);
    assert.equal(isCapacityRefusal("resource_exhausted", "x"), true);
    assert.equal(isCapacityRefusal("unknown", "Insufficient capacity"), true);
    assert.equal(isCapacityRefusal("unavailable", "connect ECONNREFUSED"), false);
  });

  test("BYOC capabilities share one capacity: an orchestrator's total counts it once", () => {
    const i = info(
      [],
      [
        { name: "echo", price: 1n, capacity: 2 },
        { name: "upper", price: 1n, capacity: 2 },
      ],
    );
    const v = aggregate([{ url: "https://o:1", probe: ok(i) }], { now: 1 });
    assert.deepEqual(
      v.capabilities.map((c) => [c.key, c.capacity]),
      [
        ["byoc/echo", 4],
        ["byoc/upper", 4],
      ],
    );
    assert.equal(v.orchestrators[0]?.capacity, 4, "not 8");
    assert.equal(v.totals.capacity, 4);
  });

  test("an orchestrator that advertises no BYOC capacity shows it unknown, not 1, and is not busy", () => {
    const i = info([{ cap: CAPABILITY.TextToImage, model: "sd", warm: true, capacity: 2 }]);
    // BYOC capabilities listed with prices, but no `capacities` entry for capability 37.
    i.capabilitiesPrices.push({
      $typeName: "net.PriceInfo",
      capability: CAPABILITY.BYOC,
      constraint: "echo",
      pricePerUnit: 1n,
      pixelsPerUnit: 1n,
    });
    const v = aggregate([{ url: "https://o:1", probe: ok(i) }], { now: 1 });
    const o = v.orchestrators[0];
    assert.equal(o?.state, "ok");
    assert.equal(o?.capacity, 2, "only the model's advertised slots");
    assert.equal(o?.capacityUnknown, true);
    const echo = o?.offers.find((x) => x.key === "byoc/echo");
    assert.deepEqual([echo?.capacity, echo?.capacityUnknown], [0, true]);
    const cap = v.capabilities.find((c) => c.key === "byoc/echo");
    assert.deepEqual([cap?.capacity, cap?.free, cap?.capacityUnknown, cap?.warm], [0, 0, 1, 1]);
    assert.equal(cap?.providers[0]?.capacityUnknown, true);
    assert.equal(v.totals.capacityUnknown, 1);
    assert.equal(v.capabilities.find((c) => c.key === "text-to-image/sd")?.capacityUnknown, 0);
  });

  test("BYOC free slots measured by asking (its /process/token) count where capacity is unknown", () => {
    const i = info([]);
    for (const name of ["echo", "upper"])
      i.capabilitiesPrices.push({
        $typeName: "net.PriceInfo",
        capability: CAPABILITY.BYOC,
        constraint: name,
        pricePerUnit: 1n,
        pixelsPerUnit: 1n,
      });
    // The orchestrator said 4 free slots of echo; upper was not answered (unknown, not 0).
    const v = aggregate([{ url: "https://o:1", probe: ok(i), byocFree: { echo: 4 } }], { now: 1 });
    const o = v.orchestrators[0];
    assert.deepEqual([o?.capacity, o?.free, o?.capacityUnknown, o?.freeMeasured], [0, 4, true, true]);
    const echo = v.capabilities.find((c) => c.key === "byoc/echo");
    assert.deepEqual([echo?.capacity, echo?.free, echo?.capacityUnknown, echo?.freeMeasured], [0, 4, 1, 1]);
    assert.deepEqual([echo?.providers[0]?.free, echo?.providers[0]?.freeMeasured], [4, true]);
    const upper = v.capabilities.find((c) => c.key === "byoc/upper");
    assert.deepEqual(
      [upper?.free, upper?.freeMeasured, upper?.providers[0]?.freeMeasured],
      [0, 0, undefined],
    );
    assert.equal(v.totals.free, 4);
  });

  test("with a USD/ETH price every comparable price is also in dollars; without, none is", () => {
    const v = aggregate(facts(), { now: 1, usdPerEth: 2000 });
    assert.equal(v.usdPerEth, 2000);
    const byoc = v.capabilities.find((c) => c.key === "byoc/echo");
    // 1 gwei per second at $2000/ETH = $0.000002 per second; 3 gwei = $0.000006.
    assert.equal(byoc?.priceMin?.usd, 0.000002);
    assert.equal(byoc?.priceMin?.usdDisplay, "$0.000002 per second");
    assert.equal(byoc?.priceMax?.usdDisplay, "$0.000006 per second");
    const t2i = v.capabilities.find((c) => c.key === "text-to-image/sd");
    // 500,000 wei per megapixel = $1e-9 per megapixel.
    assert.equal(t2i?.priceMin?.usd, 1e-9);
    assert.equal(view.usdPerEth, undefined);
    assert.equal(view.capabilities.find((c) => c.key === "byoc/echo")?.priceMin?.usd, undefined);
    for (const bad of [0, -1, Number.NaN])
      assert.equal(aggregate(facts(), { now: 1, usdPerEth: bad }).capabilities[0]?.priceMin?.usd, undefined);
  });

  test("offchain facts (no chain) have no stake figures and take the address from the answer", () => {
    const i = info([{ cap: CAPABILITY.TextToImage, model: "sd", warm: true, capacity: 1 }]);
    i.address = new Uint8Array([0xab, 0xcd]);
    const v = aggregate([{ url: "https://o:1", probe: ok(i) }], { now: 1 });
    assert.equal(v.totals.stake, undefined);
    assert.equal(v.orchestrators[0]?.stake, undefined);
    assert.equal(v.orchestrators[0]?.address, "0xabcd");
    assert.equal(v.round, undefined);
    i.address = new Uint8Array(20);
    const zero = aggregate([{ url: "https://o:1", probe: ok(i) }], { now: 1 });
    assert.equal(zero.orchestrators[0]?.address, "", "an offchain node's zero address is no address");
    assert.equal(zero.capabilities[0]?.providers[0]?.address, "");
  });
});
