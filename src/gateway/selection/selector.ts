/**
 * The selector: one pipeline of filters shared by every strategy, then a strategy's ranking inside
 * each tier (docs/spec/orchestrator-gateway.md#selection): include/exclude lists → pipeline/model offered → warm required → runner
 * version → free capacity → performance score → max price (per capability, else global) → tiers
 * (warm, cold, suspended) → strategy.
 *
 * Input is what discovery produced (`OrchestratorDescriptor`s, e.g. `pool.current()`); output is a
 * ranked list to try in order (the caller retries down the list, docs/spec/orchestrator-gateway.md#suspension-and-retries) plus the reason each
 * other orchestrator was left out.
 */
import { bytesToHex } from "viem";
import type { Rat } from "../../payments/rational.ts";
import {
  isVersionCompatible,
  type ModelOffer,
  offerFor,
  type QuotedPrice,
  quotedPrice,
} from "../capabilities.ts";
import type { OrchestratorDescriptor, SuspensionLookup } from "../discovery/index.ts";
import type { Random } from "./random.ts";
import type { RankInput, SelectionStrategy } from "./strategies.ts";

/** Why an orchestrator was not selected. Stable codes. */
export type RejectionCode =
  | "EXCLUDED"
  | "NOT_INCLUDED"
  | "MODEL_NOT_OFFERED"
  | "NOT_WARM"
  | "RUNNER_VERSION_TOO_OLD"
  | "NO_CAPACITY"
  | "PERF_SCORE_TOO_LOW"
  | "PRICE_UNKNOWN"
  | "PRICE_ABOVE_MAX";

/** An orchestrator left out, and why. */
export interface Rejection {
  transcoder: string;
  code: RejectionCode;
  message: string;
}

/** One selectable orchestrator for the request. */
export interface Selected {
  descriptor: OrchestratorDescriptor;
  /** What it offers for the pipeline/model (warm, capacity, …). */
  offer: ModelOffer;
  /** Its price for the pipeline/model; undefined when it quotes none (only possible without a max price). */
  price: QuotedPrice | undefined;
  /** Suspension penalty (0 = not suspended). */
  suspension: number;
}

/** The outcome of {@link Selector.select}. */
export interface SelectionResult {
  /** Best first: warm, then cold, then suspended (lowest penalty first); each tier ranked by the strategy. */
  ranked: Selected[];
  rejected: Rejection[];
}

/** One job's requirements. */
export interface SelectionRequest {
  /** AI pipeline (`text-to-image`, …, `live-video-to-video`) or `byoc`. */
  pipeline: string;
  /** Model id, or the BYOC capability name. */
  modelId: string;
  /** Only warm runners (default false: warm is preferred, not required). */
  requireWarm?: boolean;
  /** Minimum runner version (`-aiMinRunnerVersion`); checked for models the orchestrator lists. */
  minRunnerVersion?: string;
  /** Extra exclusions for this request, e.g. orchestrators already tried (transcoder URL or address). */
  exclude?: readonly string[];
  /** Max price in wei per unit for this request; overrides the configured one. */
  maxPrice?: Rat;
}

/** Per-capability max prices: pipeline → model id (or `default`) → wei per unit (`-maxPricePerCapability`). */
export type MaxPricePerCapability = Readonly<Record<string, Readonly<Record<string, Rat>>>>;

/** Options of {@link createSelector}. */
export interface SelectorOptions {
  strategy: SelectionStrategy;
  /** Global max price, wei per unit (`-maxPricePerUnit / -pixelsPerUnit`); undefined = any price. */
  maxPricePerUnit?: Rat;
  maxPricePerCapability?: MaxPricePerCapability;
  /** When nobody is at or under the max price, ignore the limit (`-ignoreMaxPriceIfNeeded`); default false. */
  ignoreMaxPriceIfNeeded?: boolean;
  /** `-minPerfScore`; 0 disables. If nobody passes, the filter is ignored (as upstream). */
  minPerfScore?: number;
  /** Performance score of an orchestrator (e.g. from `-orchPerfStatsUrl`), by descriptor. */
  perfScore?: (d: OrchestratorDescriptor) => number | undefined;
  /** Only these orchestrators (transcoder URL, asked URL or address); empty/undefined = all. */
  include?: readonly string[];
  /** Never these (`-orchBlocklist` style, by transcoder URL, asked URL or address). */
  exclude?: readonly string[];
  /** Warm runners before cold ones (go-livepeer's warm pool first); default true. */
  preferWarm?: boolean;
  /** Leave out orchestrators whose advertised capacity is fully in use; default true. */
  skipFull?: boolean;
  suspender?: SuspensionLookup;
  /** Randomness; seed it for tests. Default `Math.random`. */
  random?: Random;
}

/** Ranks discovered orchestrators for a request. */
export interface Selector {
  readonly strategy: SelectionStrategy;
  select(orchestrators: readonly OrchestratorDescriptor[], request: SelectionRequest): SelectionResult;
  /** The max price that applies to a pipeline/model (per model, else the pipeline's `default`, else global). */
  maxPriceFor(pipeline: string, modelId: string): Rat | undefined;
}

function keysOf(d: OrchestratorDescriptor): string[] {
  const keys = [d.transcoder, d.url, d.address];
  if (d.candidate.ethAddress) keys.push(d.candidate.ethAddress);
  const recipient = d.info.ticketParams?.recipient;
  if (recipient && recipient.length > 0) keys.push(bytesToHex(recipient));
  return keys.filter((k) => k !== "" && k !== "0x").map((k) => k.toLowerCase().replace(/\/+$/, ""));
}

function matcher(list: readonly string[] | undefined): ((d: OrchestratorDescriptor) => boolean) | undefined {
  if (!list || list.length === 0) return undefined;
  const set = new Set(list.map((s) => s.trim().toLowerCase().replace(/\/+$/, "")));
  return (d) => keysOf(d).some((k) => set.has(k));
}

/** The address whose stake counts: the on-chain address, else the ticket recipient, else the signer. */
function stakeAddress(d: OrchestratorDescriptor): string {
  if (d.candidate.ethAddress) return d.candidate.ethAddress.toLowerCase();
  const r = d.info.ticketParams?.recipient;
  if (r && r.length > 0) return bytesToHex(r);
  return d.address === "0x" ? "" : d.address;
}

/** Creates a selector. Throws RangeError on a negative `minPerfScore`. */
export function createSelector(options: SelectorOptions): Selector {
  if ((options.minPerfScore ?? 0) < 0) throw new RangeError("minPerfScore must be >= 0");
  const random = options.random ?? Math.random;
  const included = matcher(options.include);
  const excluded = matcher(options.exclude);

  const maxPriceFor = (pipeline: string, modelId: string): Rat | undefined => {
    const perCap = options.maxPricePerCapability?.[pipeline];
    return perCap?.[modelId] ?? perCap?.default ?? options.maxPricePerUnit;
  };

  const select = (
    orchestrators: readonly OrchestratorDescriptor[],
    request: SelectionRequest,
  ): SelectionResult => {
    const rejected: Rejection[] = [];
    const reject = (d: OrchestratorDescriptor, code: RejectionCode, message: string) =>
      rejected.push({ transcoder: d.transcoder, code, message });
    const requestExcluded = matcher(request.exclude);

    let pool: Selected[] = [];
    const seen = new Set<string>();
    for (const d of orchestrators) {
      if (seen.has(d.transcoder)) continue;
      seen.add(d.transcoder);
      if (excluded?.(d) || requestExcluded?.(d)) {
        reject(d, "EXCLUDED", "on the exclude list");
        continue;
      }
      if (included && !included(d)) {
        reject(d, "NOT_INCLUDED", "not on the include list");
        continue;
      }
      const offer = offerFor(d.info, request.pipeline, request.modelId);
      if (offer === undefined) {
        reject(d, "MODEL_NOT_OFFERED", `does not offer ${request.pipeline}/${request.modelId}`);
        continue;
      }
      if (request.requireWarm && !offer.warm) {
        reject(d, "NOT_WARM", `${request.modelId} is not warm`);
        continue;
      }
      if (
        request.minRunnerVersion &&
        offer.listed &&
        !isVersionCompatible(request.minRunnerVersion, offer.runnerVersion)
      ) {
        reject(
          d,
          "RUNNER_VERSION_TOO_OLD",
          `runner ${offer.runnerVersion || "(none)"} is older than ${request.minRunnerVersion}`,
        );
        continue;
      }
      if ((options.skipFull ?? true) && offer.capacity > 0 && offer.capacityInUse >= offer.capacity) {
        reject(d, "NO_CAPACITY", `capacity ${offer.capacity} fully in use`);
        continue;
      }
      pool.push({
        descriptor: d,
        offer,
        price: quotedPrice(d.info, request.pipeline, request.modelId),
        suspension: options.suspender?.penalty(d.transcoder) ?? 0,
      });
    }

    // Performance score: keep those at or above the minimum; if nobody passes, ignore the filter.
    const minPerf = options.minPerfScore ?? 0;
    if (minPerf > 0 && options.perfScore) {
      const scores = new Map(pool.map((s) => [s, options.perfScore?.(s.descriptor)]));
      if ([...scores.values()].some((v) => v !== undefined)) {
        const pass = pool.filter((s) => (scores.get(s) ?? 0) >= minPerf);
        if (pass.length > 0) {
          for (const s of pool)
            if (!pass.includes(s))
              reject(
                s.descriptor,
                "PERF_SCORE_TOO_LOW",
                `performance score ${scores.get(s) ?? 0} < ${minPerf}`,
              );
          pool = pass;
        }
      }
    }

    // Max price: a missing price fails a set limit; with nobody passing, optionally ignore the limit.
    const maxPrice = request.maxPrice ?? maxPriceFor(request.pipeline, request.modelId);
    if (maxPrice !== undefined) {
      const pass = pool.filter((s) => s.price !== undefined && s.price.perUnit.cmp(maxPrice) <= 0);
      if (pass.length > 0 || !options.ignoreMaxPriceIfNeeded) {
        for (const s of pool) {
          if (pass.includes(s)) continue;
          if (s.price === undefined) reject(s.descriptor, "PRICE_UNKNOWN", "quotes no price");
          else
            reject(
              s.descriptor,
              "PRICE_ABOVE_MAX",
              `price ${s.price.perUnit.toString()} wei/unit is above the max ${maxPrice.toString()}`,
            );
        }
        pool = pass;
      }
    }

    const rankInput = (s: Selected): RankInput => ({
      key: s.descriptor.transcoder,
      address: stakeAddress(s.descriptor),
      stake: s.descriptor.candidate.stake ?? 0n,
      price: s.price?.perUnit,
      latencyMs: s.descriptor.latencyMs,
    });
    const rankTier = (tier: Selected[]): Selected[] => {
      const byKey = new Map(tier.map((s) => [s.descriptor.transcoder, s]));
      return options.strategy.rank(tier.map(rankInput), random).map((r) => byKey.get(r.key) as Selected);
    };
    const active = pool.filter((s) => s.suspension === 0);
    const suspended = pool.filter((s) => s.suspension > 0).sort((a, b) => a.suspension - b.suspension);
    const tiers =
      (options.preferWarm ?? true)
        ? [active.filter((s) => s.offer.warm), active.filter((s) => !s.offer.warm)]
        : [active];
    return { ranked: [...tiers.flatMap(rankTier), ...suspended], rejected };
  };

  return { strategy: options.strategy, select, maxPriceFor };
}
