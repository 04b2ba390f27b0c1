/**
 * The shared selection case table (Hono-style): one array of cases — orchestrators, request,
 * configuration and the expected outcome — that `selector.test.ts` runs against every strategy that
 * should satisfy it, with several random seeds. Expectations are written so that they hold for any
 * strategy: exact sets, rejection codes, and ordered *tiers* (members in any order). Strategy-specific
 * orderings name their strategies.
 *
 * Test data only; not used at run time.
 */
import { create } from "@bufbuild/protobuf";
import { hexToBytes } from "viem";
import { Rat } from "../../payments/rational.ts";
import { OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import type { RejectionCode, SelectionRequest, SelectorOptions } from "./selector.ts";
import type { StrategyName } from "./strategies.ts";

/** A compact orchestrator description. The transcoder URI is `https://<key>:8935`. */
export interface OrchSpec {
  key: string;
  /** text-to-image models: warm, capacity, in use, runner version. Default `{ m: { warm: true } }`. */
  models?: Record<string, { warm?: boolean; capacity?: number; inUse?: number; runnerVersion?: string }>;
  /** Default `price_info` as [pricePerUnit, pixelsPerUnit]; null = none. Default [1, 1]. */
  price?: [bigint, bigint] | null;
  /** `capabilities_prices` for text-to-image by model id. */
  modelPrices?: Record<string, [bigint, bigint]>;
  /** BYOC capabilities advertised (priced 1 wei/unit). */
  byoc?: string[];
  latencyMs?: number;
  stake?: bigint;
  /** On-chain address (hex). */
  ethAddress?: `0x${string}`;
}

/** Everything a case can expect. */
export interface CaseExpectation {
  /** Exactly these keys are ranked (any order). */
  set?: string[];
  /** Ranked keys form these consecutive tiers, in this order (members of a tier in any order). */
  tiers?: string[][];
  /** Exact ranked order. */
  order?: string[];
  /** Rejection code by key; keys not listed must not be rejected. */
  rejected?: Record<string, RejectionCode>;
}

/** One row of the table. */
export interface SelectionCase {
  name: string;
  orchestrators: OrchSpec[];
  /** Defaults: pipeline `text-to-image`, model `m`. */
  request?: Partial<SelectionRequest>;
  /** Selector options other than strategy and randomness. */
  config?: Omit<SelectorOptions, "strategy" | "random" | "suspender">;
  /** Suspension penalties by key. */
  suspended?: Record<string, number>;
  expect: CaseExpectation;
  /** Strategies this case applies to; default all. */
  strategies?: readonly StrategyName[];
}

/** The transcoder URI of a spec key. */
export function urlOf(key: string): string {
  return `https://${key}:8935`;
}

/** Builds a discovery descriptor from a spec. */
export function descriptorOf(spec: OrchSpec): OrchestratorDescriptor {
  const models = spec.models ?? { m: { warm: true } };
  const info = create(OrchestratorInfoSchema, {
    transcoder: urlOf(spec.key),
    address: new Uint8Array(20).fill(spec.key.charCodeAt(0)),
    priceInfo:
      spec.price === null
        ? undefined
        : { pricePerUnit: spec.price?.[0] ?? 1n, pixelsPerUnit: spec.price?.[1] ?? 1n },
    ticketParams: spec.ethAddress ? { recipient: hexToBytes(spec.ethAddress) } : undefined,
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage, CAPABILITY.BYOC]),
      capacities: { [CAPABILITY.TextToImage]: 1 },
      constraints: {
        PerCapability: {
          [CAPABILITY.TextToImage]: {
            models: Object.fromEntries(
              Object.entries(models).map(([id, m]) => [
                id,
                {
                  warm: m.warm ?? false,
                  capacity: m.capacity ?? 1,
                  capacityInUse: m.inUse ?? 0,
                  runnerVersion: m.runnerVersion ?? "",
                },
              ]),
            ),
          },
        },
      },
    },
    capabilitiesPrices: [
      ...Object.entries(spec.modelPrices ?? {}).map(([id, [ppu, pxpu]]) => ({
        capability: CAPABILITY.TextToImage,
        constraint: id,
        pricePerUnit: ppu,
        pixelsPerUnit: pxpu,
      })),
      ...(spec.byoc ?? []).map((name) => ({
        capability: CAPABILITY.BYOC,
        constraint: name,
        pricePerUnit: 1n,
        pixelsPerUnit: 1n,
      })),
    ],
  });
  return {
    url: urlOf(spec.key),
    transcoder: urlOf(spec.key),
    address: `0x${spec.key.charCodeAt(0).toString(16).padStart(2, "0").repeat(20)}`,
    info,
    latencyMs: spec.latencyMs ?? 10,
    fetchedAt: 0,
    candidate: {
      url: urlOf(spec.key),
      score: 1,
      source: spec.ethAddress ? "chain" : "static",
      ethAddress: spec.ethAddress,
      stake: spec.stake,
    },
    suspension: 0,
  };
}

const warm = { warm: true };
const cold = { warm: false };

/** The table. */
export const SELECTION_CASES: readonly SelectionCase[] = [
  {
    name: "every orchestrator offering the model is ranked",
    orchestrators: [{ key: "a" }, { key: "b" }, { key: "c" }],
    expect: { set: ["a", "b", "c"], rejected: {} },
  },
  {
    name: "nothing to select from gives an empty ranking",
    orchestrators: [],
    expect: { set: [], rejected: {} },
  },
  {
    name: "orchestrators that do not list the model are rejected",
    orchestrators: [{ key: "a" }, { key: "b", models: { other: warm } }],
    expect: { set: ["a"], rejected: { b: "MODEL_NOT_OFFERED" } },
  },
  {
    name: "an unknown pipeline matches nobody",
    orchestrators: [{ key: "a" }],
    request: { pipeline: "no-such-pipeline" },
    expect: { set: [], rejected: { a: "MODEL_NOT_OFFERED" } },
  },
  {
    name: "warm runners come before cold ones",
    orchestrators: [
      { key: "a", models: { m: cold } },
      { key: "b", models: { m: warm } },
      { key: "c", models: { m: cold } },
      { key: "d", models: { m: warm } },
    ],
    expect: {
      tiers: [
        ["b", "d"],
        ["a", "c"],
      ],
    },
  },
  {
    name: "requireWarm rejects cold runners",
    orchestrators: [
      { key: "a", models: { m: cold } },
      { key: "b", models: { m: warm } },
    ],
    request: { requireWarm: true },
    expect: { set: ["b"], rejected: { a: "NOT_WARM" } },
  },
  {
    name: "preferWarm false mixes warm and cold in one tier",
    orchestrators: [
      { key: "a", models: { m: cold } },
      { key: "b", models: { m: warm } },
    ],
    config: { preferWarm: false },
    expect: { tiers: [["a", "b"]] },
  },
  {
    name: "runners older than the minimum version are rejected",
    orchestrators: [
      { key: "a", models: { m: { warm: true, runnerVersion: "0.14.0" } } },
      { key: "b", models: { m: { warm: true, runnerVersion: "0.13.9-dev" } } },
      { key: "c", models: { m: { warm: true } } },
    ],
    request: { minRunnerVersion: "0.14.0" },
    expect: { set: ["a"], rejected: { b: "RUNNER_VERSION_TOO_OLD", c: "RUNNER_VERSION_TOO_OLD" } },
  },
  {
    name: "fully used capacity is skipped; free capacity is kept",
    orchestrators: [
      { key: "a", models: { m: { warm: true, capacity: 2, inUse: 2 } } },
      { key: "b", models: { m: { warm: true, capacity: 2, inUse: 1 } } },
      { key: "c", models: { m: { warm: true, capacity: 0 } } },
    ],
    expect: { set: ["b", "c"], rejected: { a: "NO_CAPACITY" } },
  },
  {
    name: "skipFull false keeps full orchestrators",
    orchestrators: [{ key: "a", models: { m: { warm: true, capacity: 1, inUse: 1 } } }],
    config: { skipFull: false },
    expect: { set: ["a"], rejected: {} },
  },
  {
    name: "the global max price rejects dearer orchestrators",
    orchestrators: [
      { key: "a", price: [10n, 1n] },
      { key: "b", price: [3n, 1n] },
      { key: "c", price: [5n, 1n] },
    ],
    config: { maxPricePerUnit: Rat.of(5n) },
    expect: { set: ["b", "c"], rejected: { a: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "prices compare exactly as rationals (pricePerUnit / pixelsPerUnit)",
    orchestrators: [
      { key: "a", price: [1n, 3n] },
      { key: "b", price: [334n, 1000n] },
    ],
    config: { maxPricePerUnit: Rat.of(1n, 3n) },
    expect: { set: ["a"], rejected: { b: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "a per-model capabilities_prices entry is the price that counts",
    orchestrators: [
      { key: "a", price: [1n, 1n], modelPrices: { m: [50n, 1n] } },
      { key: "b", price: [100n, 1n], modelPrices: { m: [2n, 1n] } },
    ],
    config: { maxPricePerUnit: Rat.of(10n) },
    expect: { set: ["b"], rejected: { a: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "a per-capability max price overrides the global one",
    orchestrators: [
      { key: "a", price: [8n, 1n] },
      { key: "b", price: [3n, 1n] },
    ],
    config: { maxPricePerUnit: Rat.of(100n), maxPricePerCapability: { "text-to-image": { m: Rat.of(5n) } } },
    expect: { set: ["b"], rejected: { a: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "a pipeline's default max price applies to models without their own",
    orchestrators: [
      { key: "a", price: [8n, 1n] },
      { key: "b", price: [3n, 1n] },
    ],
    config: { maxPricePerCapability: { "text-to-image": { default: Rat.of(4n), other: Rat.of(100n) } } },
    expect: { set: ["b"], rejected: { a: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "a request's max price overrides the configuration",
    orchestrators: [
      { key: "a", price: [8n, 1n] },
      { key: "b", price: [3n, 1n] },
    ],
    config: { maxPricePerUnit: Rat.of(100n) },
    request: { maxPrice: Rat.of(3n) },
    expect: { set: ["b"], rejected: { a: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "with a max price, an orchestrator quoting no price is rejected",
    orchestrators: [{ key: "a", price: null }, { key: "b" }],
    config: { maxPricePerUnit: Rat.of(5n) },
    expect: { set: ["b"], rejected: { a: "PRICE_UNKNOWN" } },
  },
  {
    name: "without a max price, any price (or none) is accepted",
    orchestrators: [
      { key: "a", price: null },
      { key: "b", price: [1_000_000n, 1n] },
    ],
    expect: { set: ["a", "b"], rejected: {} },
  },
  {
    name: "when nobody is under the max price, selection is empty",
    orchestrators: [
      { key: "a", price: [10n, 1n] },
      { key: "b", price: [20n, 1n] },
    ],
    config: { maxPricePerUnit: Rat.of(5n) },
    expect: { set: [], rejected: { a: "PRICE_ABOVE_MAX", b: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "ignoreMaxPriceIfNeeded keeps everyone when nobody is under the max price",
    orchestrators: [
      { key: "a", price: [10n, 1n] },
      { key: "b", price: [20n, 1n] },
    ],
    config: { maxPricePerUnit: Rat.of(5n), ignoreMaxPriceIfNeeded: true },
    expect: { set: ["a", "b"], rejected: {} },
  },
  {
    name: "ignoreMaxPriceIfNeeded still filters when someone is under the max price",
    orchestrators: [
      { key: "a", price: [10n, 1n] },
      { key: "b", price: [2n, 1n] },
    ],
    config: { maxPricePerUnit: Rat.of(5n), ignoreMaxPriceIfNeeded: true },
    expect: { set: ["b"], rejected: { a: "PRICE_ABOVE_MAX" } },
  },
  {
    name: "the exclude list matches transcoder URLs and addresses",
    orchestrators: [
      { key: "a" },
      { key: "b", ethAddress: "0x00000000000000000000000000000000000000bb" },
      { key: "c" },
    ],
    config: { exclude: [`${urlOf("a")}/`, "0x00000000000000000000000000000000000000BB"] },
    expect: { set: ["c"], rejected: { a: "EXCLUDED", b: "EXCLUDED" } },
  },
  {
    name: "a request's exclusions (orchestrators already tried) add to the configured ones",
    orchestrators: [{ key: "a" }, { key: "b" }, { key: "c" }],
    config: { exclude: [urlOf("a")] },
    request: { exclude: [urlOf("b")] },
    expect: { set: ["c"], rejected: { a: "EXCLUDED", b: "EXCLUDED" } },
  },
  {
    name: "the include list keeps only the named orchestrators",
    orchestrators: [{ key: "a" }, { key: "b" }, { key: "c" }],
    config: { include: [urlOf("a"), urlOf("c")] },
    expect: { set: ["a", "c"], rejected: { b: "NOT_INCLUDED" } },
  },
  {
    name: "suspended orchestrators come last, lowest penalty first",
    orchestrators: [{ key: "a" }, { key: "b" }, { key: "c" }, { key: "d" }],
    suspended: { a: 7, c: 4 },
    expect: { tiers: [["b", "d"], ["c"], ["a"]] },
  },
  {
    name: "a suspended warm runner ranks after an unsuspended cold one",
    orchestrators: [
      { key: "a", models: { m: warm } },
      { key: "b", models: { m: cold } },
    ],
    suspended: { a: 3 },
    expect: { tiers: [["b"], ["a"]] },
  },
  {
    name: "performance scores below the minimum are rejected",
    orchestrators: [{ key: "a" }, { key: "b" }, { key: "c" }],
    config: {
      minPerfScore: 0.5,
      perfScore: (d) => ({ [urlOf("a")]: 0.9, [urlOf("b")]: 0.1, [urlOf("c")]: 0.5 })[d.transcoder],
    },
    expect: { set: ["a", "c"], rejected: { b: "PERF_SCORE_TOO_LOW" } },
  },
  {
    name: "if nobody reaches the minimum performance score the filter is ignored",
    orchestrators: [{ key: "a" }, { key: "b" }],
    config: { minPerfScore: 0.5, perfScore: () => 0.1 },
    expect: { set: ["a", "b"], rejected: {} },
  },
  {
    name: "BYOC capabilities are matched by name from capabilities_prices",
    orchestrators: [{ key: "a", byoc: ["text-reverse"] }, { key: "b", byoc: ["other"] }, { key: "c" }],
    request: { pipeline: "byoc", modelId: "text-reverse" },
    expect: { set: ["a"], rejected: { b: "MODEL_NOT_OFFERED", c: "MODEL_NOT_OFFERED" } },
  },
  {
    name: "duplicate descriptors of one transcoder are ranked once",
    orchestrators: [{ key: "a" }, { key: "a" }, { key: "b" }],
    expect: { set: ["a", "b"], rejected: {} },
  },
  {
    name: "latency: the fastest GetOrchestrator answer ranks first",
    orchestrators: [
      { key: "a", latencyMs: 30 },
      { key: "b", latencyMs: 5 },
      { key: "c", latencyMs: 12 },
    ],
    expect: { order: ["b", "c", "a"] },
    strategies: ["latency"],
  },
  {
    name: "latency: ranking happens inside the warm and cold tiers",
    orchestrators: [
      { key: "a", latencyMs: 1, models: { m: cold } },
      { key: "b", latencyMs: 50, models: { m: warm } },
      { key: "c", latencyMs: 20, models: { m: warm } },
    ],
    expect: { order: ["c", "b", "a"] },
    strategies: ["latency"],
  },
  {
    name: "stake: an orchestrator without stake is never ranked above one with stake",
    orchestrators: [
      { key: "a", stake: 0n, ethAddress: "0x00000000000000000000000000000000000000aa" },
      { key: "b", stake: 10n, ethAddress: "0x00000000000000000000000000000000000000bb" },
    ],
    expect: { order: ["b", "a"] },
    strategies: ["stake"],
  },
  {
    name: "price: a far cheaper orchestrator ranks first",
    orchestrators: [
      { key: "a", price: [100_000n, 1n] },
      { key: "b", price: [1n, 1n] },
    ],
    expect: { order: ["b", "a"] },
    strategies: ["price"],
  },
];
