/**
 * go-livepeer's `ProbabilitySelectionAlgorithm` maths (server/selection_algorithm.go, docs/spec/orchestrator-gateway.md#probability-selection), as
 * pure functions: the probability of each orchestrator from stake, price and a uniform term, and the
 * cumulative draw.
 */
import type { Rat } from "../../payments/rational.ts";

/** Weights of the three terms; they must sum to 1 (± 1e-4), as go-livepeer checks at start-up. */
export interface ProbabilityWeights {
  /** `-selectStakeWeight`, default 0.7. */
  stakeWeight: number;
  /** `-selectPriceWeight`, default 0. */
  priceWeight: number;
  /** `-selectRandWeight`, default 0.3. */
  randWeight: number;
  /** `-selectPriceExpFactor`, default 100. */
  priceExpFactor: number;
}

/** go-livepeer's defaults. */
export const DEFAULT_PROBABILITY_WEIGHTS: Readonly<ProbabilityWeights> = Object.freeze({
  stakeWeight: 0.7,
  priceWeight: 0,
  randWeight: 0.3,
  priceExpFactor: 100,
});

/** Throws RangeError unless the weights are non-negative, sum to 1 ± 1e-4, and the factor is > 0. */
export function validateWeights(w: ProbabilityWeights): void {
  for (const [k, v] of Object.entries(w))
    if (!Number.isFinite(v) || v < 0)
      throw new RangeError(`selection weight ${k} must be a number >= 0, got ${v}`);
  const sum = w.stakeWeight + w.priceWeight + w.randWeight;
  if (Math.abs(sum - 1) > 1e-4)
    throw new RangeError(
      `selection weights must sum to 1 (stake ${w.stakeWeight} + price ${w.priceWeight} + random ${w.randWeight} = ${sum})`,
    );
  if (w.priceExpFactor <= 0) throw new RangeError("selection price exponent factor must be > 0");
}

/** One orchestrator as the maths sees it. */
export interface WeightedEntry {
  /** Stake (go-livepeer: LPT × 10^5 as int64 → float64; any proportional unit works). */
  stake: number | bigint;
  /** Price in wei per unit; undefined counts as 0. */
  price: Rat | undefined;
}

/** A Rat as a float, like Go's `big.Rat.Float64` (nearest float). */
export function ratToNumber(r: Rat): number {
  return Number(r.num) / Number(r.den);
}

/**
 * `calculateProbabilities`: `prob[i] = priceWeight × e^(−price_i/F) / Σ e^(−price/F) + stakeWeight ×
 * stake_i / Σ stake + randWeight / N`; a term whose sum is 0 contributes its full weight (upstream
 * sets that probability to 1.0).
 */
export function selectionProbabilities(entries: readonly WeightedEntry[], w: ProbabilityWeights): number[] {
  const n = entries.length;
  if (n === 0) return [];
  const priceNorm = entries.map((e) => Math.exp(-(e.price ? ratToNumber(e.price) : 0) / w.priceExpFactor));
  const priceSum = priceNorm.reduce((a, b) => a + b, 0);
  const stakes = entries.map((e) => Number(e.stake));
  const stakeSum = stakes.reduce((a, b) => a + b, 0);
  return entries.map((_, i) => {
    const priceProb = priceSum !== 0 ? (priceNorm[i] as number) / priceSum : 1;
    const stakeProb = stakeSum !== 0 ? (stakes[i] as number) / stakeSum : 1;
    return w.priceWeight * priceProb + w.stakeWeight * stakeProb + w.randWeight * (1 / n);
  });
}

/**
 * `selectBy`: walks the entries accumulating probabilities and returns the first index whose
 * cumulative probability reaches `r` (r ∈ [0, 1)); falls back to 0 for float round-off. -1 when empty.
 * Upstream iterates a Go map (random order); callers pass entries in a shuffled order to match.
 */
export function selectByProbability(probabilities: readonly number[], r: number): number {
  if (probabilities.length === 0) return -1;
  let cum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    cum += probabilities[i] as number;
    if (r <= cum) return i;
  }
  return 0;
}
