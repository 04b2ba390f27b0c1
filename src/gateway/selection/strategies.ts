/**
 * Selection strategies behind one interface. A strategy only *orders* candidates that already passed
 * every filter (see selector.ts); filters, warm-first and suspension are shared by all strategies.
 */
import type { Rat } from "../../payments/rational.ts";
import {
  DEFAULT_PROBABILITY_WEIGHTS,
  type ProbabilityWeights,
  selectByProbability,
  selectionProbabilities,
  validateWeights,
} from "./probability.ts";
import type { Random } from "./random.ts";

/** What a strategy sees of a candidate. */
export interface RankInput {
  /** Unique key (the transcoder URI). */
  key: string;
  /** Address whose stake this is (on-chain address or ticket recipient); "" when unknown. */
  address: string;
  stake: bigint;
  price: Rat | undefined;
  /** `GetOrchestrator` round-trip, ms; undefined when unknown. */
  latencyMs: number | undefined;
}

/** Orders candidates, best first. Must return a permutation of its input. */
export interface SelectionStrategy {
  readonly name: string;
  rank(candidates: readonly RankInput[], random: Random): RankInput[];
}

function shuffled<T>(items: readonly T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * go-livepeer's `ProbabilitySelectionAlgorithm` (docs/spec/orchestrator-gateway.md#probability-selection), extended from "pick one" to a ranking by
 * drawing without replacement: each position is drawn with `selectBy` over the remaining candidates'
 * probabilities. The first pick has exactly upstream's distribution. Candidates sharing an address
 * split that address's stake, so an orchestrator with several nodes is not over-weighted (upstream
 * collapses them to one address).
 */
export function probabilityStrategy(
  weights: Partial<ProbabilityWeights> = {},
  name = "probability",
): SelectionStrategy {
  const w: ProbabilityWeights = { ...DEFAULT_PROBABILITY_WEIGHTS, ...weights };
  validateWeights(w);
  return {
    name,
    rank(candidates, random) {
      const shares = new Map<string, number>();
      for (const c of candidates)
        if (c.address !== "") shares.set(c.address, (shares.get(c.address) ?? 0) + 1);
      let remaining = shuffled(candidates, random);
      const out: RankInput[] = [];
      while (remaining.length > 0) {
        const probs = selectionProbabilities(
          remaining.map((c) => ({
            stake: c.address !== "" ? Number(c.stake) / (shares.get(c.address) ?? 1) : Number(c.stake),
            price: c.price,
          })),
          w,
        );
        const i = selectByProbability(probs, random());
        out.push(remaining[i] as RankInput);
        remaining = remaining.filter((_, j) => j !== i);
      }
      return out;
    },
  };
}

/** Stake-weighted only (`stakeWeight` 1). */
export function stakeStrategy(): SelectionStrategy {
  return probabilityStrategy({ stakeWeight: 1, priceWeight: 0, randWeight: 0 }, "stake");
}

/** Uniformly random (`randWeight` 1). */
export function randomStrategy(): SelectionStrategy {
  return probabilityStrategy({ stakeWeight: 0, priceWeight: 0, randWeight: 1 }, "random");
}

/** Cheaper is likelier (`priceWeight` 1, weight e^(−price/F)). */
export function priceStrategy(
  priceExpFactor = DEFAULT_PROBABILITY_WEIGHTS.priceExpFactor,
): SelectionStrategy {
  return probabilityStrategy({ stakeWeight: 0, priceWeight: 1, randWeight: 0, priceExpFactor }, "price");
}

/**
 * Lowest `GetOrchestrator` latency first (go-livepeer `LiveSelectionAlgorithm` for live video, and the
 * latency order of discovery, docs/spec/orchestrator-gateway.md#orchestrator-fan-out, #live-selection). Unknown latencies go last; ties keep a random order.
 */
export function latencyStrategy(): SelectionStrategy {
  return {
    name: "latency",
    rank(candidates, random) {
      return shuffled(candidates, random).sort(
        (a, b) => (a.latencyMs ?? Number.POSITIVE_INFINITY) - (b.latencyMs ?? Number.POSITIVE_INFINITY),
      );
    },
  };
}

/** Strategy names a CLI flag may name. */
export const STRATEGY_NAMES = ["probability", "stake", "random", "price", "latency"] as const;
/** One of {@link STRATEGY_NAMES}. */
export type StrategyName = (typeof STRATEGY_NAMES)[number];
/** The strategy a gateway uses when none is named. */
export const DEFAULT_STRATEGY: StrategyName = "latency";

/** The strategy for a name; `probability` takes `weights`. Throws RangeError on an unknown name. */
export function strategyByName(name: string, weights?: Partial<ProbabilityWeights>): SelectionStrategy {
  switch (name) {
    case "probability":
      return probabilityStrategy(weights);
    case "stake":
      return stakeStrategy();
    case "random":
      return randomStrategy();
    case "price":
      return priceStrategy(weights?.priceExpFactor);
    case "latency":
      return latencyStrategy();
    default:
      throw new RangeError(
        `unknown selection strategy ${JSON.stringify(name)}; use one of ${STRATEGY_NAMES.join(", ")}`,
      );
  }
}
