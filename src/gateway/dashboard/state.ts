/**
 * The network capabilities dashboard's state model: what the page shows, as plain JSON (bigints and
 * exact prices as strings), built by pure functions from the discovery pool's view of each
 * orchestrator. No I/O.
 *
 * Prices are shown in wei per pipeline unit (docs/spec/orchestrator-gateway.md#pricing-units) and, where a larger
 * unit reads better, per that unit: a megapixel for image pipelines, a second of audio, a thousand
 * tokens, a character of speech, a second of 720p30 video for live-video-to-video, a second of compute
 * for BYOC.
 */

import { Rat } from "../../payments/rational.ts";
import type { OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import { listModelOffers, type ModelOffer, offerFor, quotedPrice } from "../capabilities.ts";
import type { DashboardRunner } from "../discovery/runners.ts";

/** Health of an orchestrator as the dashboard classifies it. */
export type DashboardHealth =
  /** In the pool's current snapshot and its last call succeeded. */
  | "healthy"
  /** Answers, but selection avoids it for a few refreshes (docs/spec/orchestrator-gateway.md#suspension-and-retries). */
  | "suspended"
  /** Its last call was refused for lack of capacity: it is up, just full (not a failure to avoid it for). */
  | "busy"
  /** It answered, but its last call failed with an error response (e.g. its container's HTTP 502). */
  | "erroring"
  /** Its last `GetOrchestrator` call (or a job the gateway reported) failed without an answer (connect, TLS, timeout). */
  | "unreachable"
  /** Answered, but the pool did not accept the answer (blocklisted, bad price, …). */
  | "rejected"
  /** Not in the current snapshot (no longer listed by the discovery source) and not failing. */
  | "absent";

/** A price in wei per unit with a human rendering. */
export interface DashboardPrice {
  /** Exact wei per pipeline unit as `"n"` or `"n/d"`. */
  weiPerUnit: string;
  /** What one unit is, e.g. `pixel`, `ms of audio`, `token`, `second`. */
  unit: string;
  /** e.g. `"0.5 wei/pixel"`. */
  display: string;
  /** The larger unit, e.g. `"500 kwei per megapixel"`; absent where the unit already reads well. */
  displayScaled?: string;
  /** `capability`: a per-model price; `default`: the orchestrator's `price_info`. */
  source: "capability" | "default";
  /** Wire fields (decimal strings). */
  pricePerUnit: string;
  pixelsPerUnit: string;
}

/** One (pipeline, model) an orchestrator offers. */
export interface DashboardOffer {
  /** `pipeline/model_id`, as capabilities are named (byoc: `byoc/<capability name>`). */
  key: string;
  pipeline: string;
  modelId: string;
  capability: number;
  warm: boolean;
  /**
   * Slots the orchestrator advertises for it: the model constraint's capacity, or for BYOC the
   * `capacities` entry of capability 37. 0 with `capacityUnknown` when it advertises none.
   */
  capacity: number;
  capacityInUse: number;
  /** It advertises no capacity for this (unknown, not 1 as selection assumes). */
  capacityUnknown?: true;
  /** Free slots it answered when asked (BYOC: its `/process/token`'s `available_capacity`). */
  freeMeasured?: number;
  runnerVersion: string;
  price?: DashboardPrice;
}

/** A failure remembered for display; consecutive failures with the same error are one entry. */
export interface DashboardFailure {
  /** When it last happened, ms since epoch. */
  at: number;
  error: string;
  /** How many failures in a row this entry stands for (at least 1). */
  count: number;
}

/** Bounded history of one orchestrator, oldest first. */
export interface DashboardHistory {
  /** Sample times, ms since epoch. */
  at: number[];
  /** Latency of the last successful call at each sample, ms; null when none yet or the newest call failed. */
  latencyMs: (number | null)[];
  /** Sum of `capacityInUse` over its offers. */
  inUse: number[];
  /** Sum of `capacity` over its offers. */
  capacity: number[];
}

/** Everything shown about one orchestrator. */
export interface DashboardOrchestrator {
  /** The URL discovery asked. */
  url: string;
  /** `info.transcoder` (empty when it never answered). */
  transcoder: string;
  /** Signing address, hex ("" when it never answered). */
  address: string;
  health: DashboardHealth;
  /** Why it is not healthy (last error, rejection reason). */
  reason?: string;
  /** Node version it advertises. */
  version: string;
  lastLatencyMs?: number;
  avgLatencyMs?: number;
  successes: number;
  failures: number;
  consecutiveFailures: number;
  /** Newest first, bounded. */
  recentFailures: DashboardFailure[];
  lastSuccessAt?: number;
  lastFailureAt?: number;
  /** When the info shown was fetched (it may be stale for an unreachable orchestrator). */
  infoFetchedAt?: number;
  /** Suspension penalty; 0 = not suspended. */
  suspension: number;
  offers: DashboardOffer[];
  /**
   * `price_info` (the default price). An orchestrator may quote a different `price_info` depending on
   * the capabilities it was asked about, so the lowest of its recent distinct quotes is shown
   * ({@link stableDefaultPrice}): one value, not whichever answer came last.
   */
  defaultPrice?: DashboardPrice;
  /** Sum of the known capacities of its offers (BYOC counted once; see `orchestratorCapacity`). */
  capacity: number;
  capacityInUse: number;
  /** Some offer advertises no capacity: `capacity` counts only the others. */
  capacityUnknown?: boolean;
  history: DashboardHistory;
}

/** One orchestrator offering a capability, in the per-capability view. */
export interface DashboardProvider {
  url: string;
  health: DashboardHealth;
  warm: boolean;
  capacity: number;
  capacityInUse: number;
  /** Advertises no capacity for this (unknown). */
  capacityUnknown?: true;
  price?: DashboardPrice;
}

/** "Where is X warm, at what price". */
export interface DashboardCapability {
  key: string;
  pipeline: string;
  modelId: string;
  capability: number;
  /** Healthy providers with a warm runner. */
  warm: number;
  /** Healthy providers without. */
  cold: number;
  /** Sum of healthy providers' known capacity. */
  capacity: number;
  capacityInUse: number;
  /** Healthy providers that advertise no capacity (not counted in `capacity`). */
  capacityUnknown: number;
  /** Lowest price among healthy warm providers (else healthy cold ones). */
  bestPrice?: DashboardPrice;
  /** Healthy first, warm first, cheapest first. */
  providers: DashboardProvider[];
}

/** The whole dashboard state, as served at `api/state` and in each `state` event. */
export interface DashboardState {
  /** Increases by one on every change. */
  version: number;
  generatedAt: number;
  /** When the pool's snapshot was taken, if ever. */
  snapshotAt?: number;
  orchestrators: DashboardOrchestrator[];
  capabilities: DashboardCapability[];
  /** Live runners and apps of the orchestrators (state, capacity, price), when the gateway asks for them. */
  runners?: DashboardRunner[];
}

/** What a pipeline's unit is and the larger unit worth showing (docs/spec/orchestrator-gateway.md#pricing-units, #effective-price, docs/spec/payments.md#live-video-debits). */
const UNITS: Readonly<Record<string, { unit: string; scaled?: { label: string; factor: bigint } }>> = {
  "text-to-image": { unit: "pixel", scaled: { label: "megapixel", factor: 1_000_000n } },
  "image-to-image": { unit: "pixel", scaled: { label: "megapixel", factor: 1_000_000n } },
  upscale: { unit: "pixel", scaled: { label: "megapixel", factor: 1_000_000n } },
  "segment-anything-2": { unit: "pixel", scaled: { label: "megapixel", factor: 1_000_000n } },
  "image-to-text": { unit: "pixel", scaled: { label: "megapixel", factor: 1_000_000n } },
  "image-to-video": { unit: "pixel·frame", scaled: { label: "megapixel·frame", factor: 1_000_000n } },
  "audio-to-text": { unit: "ms of audio", scaled: { label: "second of audio", factor: 1_000n } },
  llm: { unit: "token", scaled: { label: "1k tokens", factor: 1_000n } },
  "text-to-speech": { unit: "1/1000 character", scaled: { label: "character", factor: 1_000n } },
  "live-video-to-video": {
    unit: "pixel",
    scaled: { label: "second of 720p30", factor: 1280n * 720n * 30n },
  },
  byoc: { unit: "second" },
};
const DEFAULT_UNIT = { unit: "pixel", scaled: { label: "megapixel", factor: 1_000_000n } };

/**
 * The unit prices of `pipeline` are compared in: the larger unit where there is one (a megapixel, a
 * second of 720p30, 1k tokens, …), else the pipeline unit itself (`factor` 1, e.g. a second for BYOC).
 */
export function comparableUnit(pipeline: string): { unit: string; label: string; factor: bigint } {
  const u = (Object.hasOwn(UNITS, pipeline) ? UNITS[pipeline] : undefined) ?? DEFAULT_UNIT;
  return { unit: u.unit, label: u.scaled?.label ?? u.unit, factor: u.scaled?.factor ?? 1n };
}

/** A short decimal of a non-negative rational: up to 4 significant digits, trailing zeros trimmed. */
function shortDecimal(r: Rat): string {
  if (r.isZero()) return "0";
  if (r.cmp(1000n) >= 0) {
    const n = r.floor();
    return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  // Enough places for four significant digits of values down to 1e-12.
  const fixed = r.toFixed(16);
  const [int = "0", frac = ""] = fixed.split(".");
  if (int !== "0") return trimZeros(r.toFixed(Math.max(0, 4 - int.length)));
  const lead = frac.search(/[1-9]/);
  if (lead < 0) return "<0.0000000000000001";
  return trimZeros(r.toFixed(Math.min(16, lead + 4)));
}

function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** A US dollar amount, e.g. `$0.0004213`, `$12.5`, `$1,204`. */
export function formatUsd(usd: Rat): string {
  return `$${shortDecimal(usd)}`;
}

/** The USD value of `wei` at `usdPerEth` dollars per ETH (exact to a millionth of a dollar per ETH). */
export function weiToUsd(wei: Rat, usdPerEth: number): Rat {
  return wei.mul(BigInt(Math.round(usdPerEth * 1_000_000))).div(10n ** 24n);
}

/** Wei amount in the largest readable denomination: `wei`, `gwei` (≥ 1e9 wei) or `ETH` (≥ 1e15 wei). */
export function formatWei(wei: Rat): string {
  if (wei.cmp(10n ** 15n) >= 0) return `${shortDecimal(wei.div(10n ** 18n))} ETH`;
  if (wei.cmp(10n ** 9n) >= 0) return `${shortDecimal(wei.div(10n ** 9n))} gwei`;
  return `${shortDecimal(wei)} wei`;
}

/** A wire price as a {@link DashboardPrice} for `pipeline`, or undefined when unusable. */
export function priceView(
  wire: { pricePerUnit: bigint; pixelsPerUnit: bigint },
  pipeline: string | undefined,
  source: DashboardPrice["source"],
): DashboardPrice | undefined {
  if (wire.pixelsPerUnit <= 0n || wire.pricePerUnit < 0n) return undefined;
  const perUnit = Rat.of(wire.pricePerUnit, wire.pixelsPerUnit);
  const u =
    (pipeline !== undefined && Object.hasOwn(UNITS, pipeline) ? UNITS[pipeline] : undefined) ?? DEFAULT_UNIT;
  return {
    weiPerUnit: perUnit.toString(),
    unit: u.unit,
    display: `${formatWei(perUnit)}/${u.unit}`,
    ...(u.scaled && { displayScaled: `${formatWei(perUnit.mul(u.scaled.factor))} per ${u.scaled.label}` }),
    source,
    pricePerUnit: wire.pricePerUnit.toString(),
    pixelsPerUnit: wire.pixelsPerUnit.toString(),
  };
}

/**
 * The default price shown for an orchestrator: the lowest of the `price_info` quotes given (wei per
 * unit, exact), whatever their order, so answers that alternate between two quotes show one stable
 * value. Unusable quotes are ignored.
 */
export function stableDefaultPrice(
  quotes: readonly { pricePerUnit: bigint; pixelsPerUnit: bigint }[],
): DashboardPrice | undefined {
  let best: DashboardPrice | undefined;
  for (const q of quotes) {
    const p = priceView(q, undefined, "default");
    if (p !== undefined && (best === undefined || priceCmp(p, best) < 0)) best = p;
  }
  return best;
}

/**
 * An error message in words for display: a JSON body in it (`HTTP 502: {"error":{"message":…}}`) is
 * replaced by its message (and code), whitespace is collapsed, and the text is cut at 300 characters.
 */
export function errorInWords(error: string): string {
  const start = error.indexOf("{");
  let text = error;
  if (start >= 0) {
    const words = jsonMessage(error.slice(start));
    if (words !== undefined) text = `${error.slice(0, start)}${words}`;
  }
  text = text.replace(/\s+/g, " ").trim();
  return text.length > 300 ? `${text.slice(0, 299)}…` : text || "unknown error";
}

function jsonMessage(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const pick = (o: unknown): string | undefined => {
    if (typeof o === "string") return o;
    if (typeof o !== "object" || o === null) return undefined;
    const r = o as Record<string, unknown>;
    const message = pick(r.message) ?? pick(r.detail) ?? pick(r.error);
    if (message === undefined) return undefined;
    return typeof r.code === "string" && r.code !== "" && !message.startsWith(r.code)
      ? `${r.code}: ${message}`
      : message;
  };
  return pick(parsed);
}

/** The HTTP status of an error the orchestrator answered with (`HTTP 502: …`), else undefined. */
export function answeredStatus(error: string): number | undefined {
  const m = /\bHTTP (\d{3})\b/.exec(error);
  return m ? Number(m[1]) : undefined;
}

/**
 * Every (pipeline, model) an orchestrator offers with its price: models listed in its capability
 * constraints, plus BYOC capabilities from `capabilities_prices` (capability 37, name in `constraint`).
 */
export function offersOf(info: OrchestratorInfo): DashboardOffer[] {
  const offers: ModelOffer[] = listModelOffers(info.capabilities);
  for (const p of info.capabilitiesPrices) {
    if (p.capability !== 37 || p.constraint === "") continue;
    const o = offerFor(info, "byoc", p.constraint);
    if (o && !offers.some((x) => x.pipeline === "byoc" && x.modelId === p.constraint)) offers.push(o);
  }
  // Selection assumes one slot where BYOC capacity is not advertised; the page says it is unknown.
  const byocCapacity = info.capabilities?.capacities[37];
  return offers.map((o) => {
    const q = quotedPrice(info, o.pipeline, o.modelId);
    const price = q && priceView(q.wire, o.pipeline, q.source);
    return {
      key: `${o.pipeline}/${o.modelId}`,
      pipeline: o.pipeline,
      modelId: o.modelId,
      capability: o.capability,
      warm: o.warm,
      capacity: o.pipeline === "byoc" ? (byocCapacity ?? 0) : o.capacity,
      capacityInUse: o.capacityInUse,
      ...(o.pipeline === "byoc" && byocCapacity === undefined && { capacityUnknown: true as const }),
      runnerVersion: o.runnerVersion,
      ...(price && { price }),
    };
  });
}

function priceCmp(a: DashboardPrice | undefined, b: DashboardPrice | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return Rat.parse(a.weiPerUnit).cmp(Rat.parse(b.weiPerUnit));
}

/** True for the health states selection would use. */
export function isUsable(health: DashboardHealth): boolean {
  return health === "healthy";
}

/** The per-capability view ("where is X warm, at what price") of a list of orchestrators. */
export function capabilityIndex(orchestrators: readonly DashboardOrchestrator[]): DashboardCapability[] {
  const byKey = new Map<string, DashboardCapability>();
  for (const o of orchestrators) {
    for (const offer of o.offers) {
      let c = byKey.get(offer.key);
      if (c === undefined) {
        c = {
          key: offer.key,
          pipeline: offer.pipeline,
          modelId: offer.modelId,
          capability: offer.capability,
          warm: 0,
          cold: 0,
          capacity: 0,
          capacityInUse: 0,
          capacityUnknown: 0,
          providers: [],
        };
        byKey.set(offer.key, c);
      }
      c.providers.push({
        url: o.url,
        health: o.health,
        warm: offer.warm,
        capacity: offer.capacity,
        capacityInUse: offer.capacityInUse,
        ...(offer.capacityUnknown && { capacityUnknown: true as const }),
        ...(offer.price && { price: offer.price }),
      });
      if (isUsable(o.health)) {
        if (offer.warm) c.warm++;
        else c.cold++;
        if (offer.capacityUnknown) c.capacityUnknown++;
        else c.capacity += offer.capacity;
        c.capacityInUse += offer.capacityInUse;
      }
    }
  }
  const out = [...byKey.values()];
  for (const c of out) {
    c.providers.sort(
      (a, b) =>
        Number(isUsable(b.health)) - Number(isUsable(a.health)) ||
        Number(b.warm) - Number(a.warm) ||
        priceCmp(a.price, b.price) ||
        a.url.localeCompare(b.url),
    );
    const best = c.providers.find((p) => isUsable(p.health) && p.price !== undefined);
    if (best?.price) c.bestPrice = best.price;
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** A fixed-size ring of samples (oldest dropped first). */
export class HistoryRing<T> {
  readonly #items: T[] = [];
  readonly size: number;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("history size must be a positive integer");
    this.size = size;
  }

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.size) this.#items.shift();
  }

  /** The samples, oldest first. */
  values(): T[] {
    return [...this.#items];
  }

  get length(): number {
    return this.#items.length;
  }
}
