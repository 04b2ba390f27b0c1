/**
 * The gateway's orchestrator selection flags: their parsers (`--max-price-per-capability`,
 * `--orch-blocklist`, the `--select-…` weights) and the selection options of `startGateway` they make.
 */
import { existsSync, readFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";
import {
  DEFAULT_PROBABILITY_WEIGHTS,
  type MaxPricePerCapability,
  type ProbabilityWeights,
  validateWeights,
} from "../gateway/selection/index.ts";
import type { Rat } from "../payments/rational.ts";
import { parsePrice } from "./options.ts";

/** `--select-…-weight` and `--select-price-exp-factor`: a finite number >= 0. */
export function parseWeight(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError("expected a number >= 0");
  return n;
}

/** `--pixels-per-unit`: a positive integer. */
export function parsePixelsPerUnit(value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) === 0n)
    throw new InvalidArgumentError("expected a positive integer");
  return BigInt(value);
}

/** `--ignore-max-price-if-needed` alone, or with go-livepeer's `=true|false`. */
export function parseBool(value: string): boolean {
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw new InvalidArgumentError("expected true or false");
}

/** `--orch-blocklist`: comma-separated orchestrator addresses (or URLs), empty entries dropped. */
export function parseBlocklist(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * `--max-price-per-capability`: go-livepeer's JSON, inline or in a file —
 * `{"capabilities_prices": [{"pipeline": "text-to-image", "model_id": "stabilityai/sd-turbo",
 * "price_per_unit": 1000, "pixels_per_unit": 1, "currency": "WEI"}]}` (a bare list also works).
 * `model_id` `default` (or none) prices every model of the pipeline; prices are wei per unit, divided
 * by `pixels_per_unit` (default 1).
 */
export function parseMaxPricePerCapability(value: string): MaxPricePerCapability {
  let text = value;
  if (!value.trim().startsWith("{") && !value.trim().startsWith("[")) {
    if (!existsSync(value)) throw new InvalidArgumentError("expected JSON or a JSON file");
    text = readFileSync(value, "utf8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError("not valid JSON");
  }
  const list = Array.isArray(parsed)
    ? parsed
    : (parsed as { capabilities_prices?: unknown })?.capabilities_prices;
  if (!Array.isArray(list))
    throw new InvalidArgumentError(
      'expected {"capabilities_prices": [{"pipeline", "model_id", "price_per_unit"}, …]}',
    );
  const out: Record<string, Record<string, Rat>> = {};
  for (const [i, entry] of list.entries()) {
    const e = entry as Record<string, unknown>;
    const where = `capabilities_prices[${i}]`;
    if (typeof e?.pipeline !== "string" || e.pipeline === "")
      throw new InvalidArgumentError(`${where}: pipeline must be a non-empty string`);
    const model = e.model_id === undefined || e.model_id === "" ? "default" : e.model_id;
    if (typeof model !== "string") throw new InvalidArgumentError(`${where}: model_id must be a string`);
    if (e.currency !== undefined && !/^wei$/i.test(String(e.currency)))
      throw new InvalidArgumentError(
        `${where}: only wei prices are supported (currency ${String(e.currency)})`,
      );
    if (typeof e.price_per_unit !== "number" && typeof e.price_per_unit !== "string")
      throw new InvalidArgumentError(`${where}: price_per_unit must be a number of wei`);
    let price: Rat;
    try {
      price = parsePrice(String(e.price_per_unit));
    } catch (err) {
      throw new InvalidArgumentError(`${where}: price_per_unit ${(err as Error).message}`);
    }
    const pixels = e.pixels_per_unit === undefined ? 1 : Number(e.pixels_per_unit);
    if (!Number.isSafeInteger(pixels) || pixels <= 0)
      throw new InvalidArgumentError(`${where}: pixels_per_unit must be a positive integer`);
    const prices = out[e.pipeline] ?? {};
    prices[model] = price.div(BigInt(pixels));
    out[e.pipeline] = prices;
  }
  return out;
}

/** The flags {@link selectionOptionsOf} reads. */
export interface SelectionCliOptions {
  selectionStrategy: string;
  maxPricePerUnit?: Rat;
  pixelsPerUnit: bigint;
  maxPricePerCapability?: MaxPricePerCapability;
  ignoreMaxPriceIfNeeded?: boolean;
  minPerfScore?: number;
  orchBlocklist?: string[];
  selectStakeWeight?: number;
  selectPriceWeight?: number;
  selectRandWeight?: number;
  selectPriceExpFactor?: number;
}

/** The selection part of `startGateway`'s options from the flags. */
export function selectionOptionsOf(
  opts: SelectionCliOptions,
  strategyGiven: boolean,
): {
  strategy: string;
  strategyWeights: Partial<ProbabilityWeights>;
  maxPricePerUnit: Rat | undefined;
  selection: {
    maxPricePerCapability?: MaxPricePerCapability;
    ignoreMaxPriceIfNeeded?: boolean;
    minPerfScore?: number;
    exclude?: string[];
  };
} {
  const weights: Partial<ProbabilityWeights> = {
    ...(opts.selectStakeWeight === undefined ? {} : { stakeWeight: opts.selectStakeWeight }),
    ...(opts.selectPriceWeight === undefined ? {} : { priceWeight: opts.selectPriceWeight }),
    ...(opts.selectRandWeight === undefined ? {} : { randWeight: opts.selectRandWeight }),
    ...(opts.selectPriceExpFactor === undefined ? {} : { priceExpFactor: opts.selectPriceExpFactor }),
  };
  const weighted = Object.keys(weights).some((k) => k !== "priceExpFactor");
  // go-livepeer's weights configure its probability selection: giving one selects it here too.
  const strategy = weighted && !strategyGiven ? "probability" : opts.selectionStrategy;
  if (strategy === "probability") {
    try {
      validateWeights({ ...DEFAULT_PROBABILITY_WEIGHTS, ...weights });
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  }
  return {
    strategy,
    strategyWeights: weights,
    maxPricePerUnit: opts.maxPricePerUnit?.div(opts.pixelsPerUnit),
    selection: {
      ...(opts.maxPricePerCapability === undefined
        ? {}
        : { maxPricePerCapability: opts.maxPricePerCapability }),
      ...(opts.ignoreMaxPriceIfNeeded === undefined
        ? {}
        : { ignoreMaxPriceIfNeeded: opts.ignoreMaxPriceIfNeeded }),
      ...(opts.minPerfScore === undefined ? {} : { minPerfScore: opts.minPerfScore }),
      ...(opts.orchBlocklist === undefined || opts.orchBlocklist.length === 0
        ? {}
        : { exclude: opts.orchBlocklist }),
    },
  };
}
