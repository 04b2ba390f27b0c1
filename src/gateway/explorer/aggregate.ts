/**
 * The explorer's figures: every number the network explorer shows about the active set and the
 * capabilities across it, computed here and nowhere else, by pure functions from measured facts
 * (what the chain says about each orchestrator, what it answered when probed, its live runners).
 * No I/O, no clock: the caller passes the facts and the time.
 *
 * Rules that keep the figures trustworthy:
 * - capacity comes from the orchestrator's own answer (the model constraint, else its `capacities`
 *   entry, see {@link offersOf}); free = capacity − in use, never below 0; an orchestrator's BYOC
 *   capabilities share one capacity, counted once in its total;
 * - a probe refused for capacity (`busy`) is not a failure: the orchestrator counts as reachable, with
 *   the offers it last advertised and no free capacity;
 * - each offer has one price ({@link offersOf}: the per-model price, else `price_info`), and prices
 *   are compared in one unit per pipeline ({@link comparableUnit}): per megapixel, per second of
 *   720p30, per 1k tokens, per second of BYOC compute, …;
 * - warm/cold counts, capacity and price ranges count reachable orchestrators only; unreachable ones
 *   are still listed as providers, with their state.
 */
import { Rat } from "../../payments/rational.ts";
import type { OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import {
  comparableUnit,
  type DashboardOffer,
  formatUsd,
  formatWei,
  offersOf,
  weiToUsd,
} from "../dashboard/state.ts";
import type { DashboardRunner } from "../discovery/runners.ts";

/** What the chain says about one orchestrator (BondingManager + ServiceRegistry). */
export interface ChainFacts {
  /** Orchestrator (transcoder) address, EIP-55. */
  address: string;
  /** `transcoderTotalStake`, wei of LPT. */
  stake: bigint;
  /** Share of rewards the orchestrator keeps, parts per million (`rewardCut`). */
  rewardCut: bigint;
  /** Share of fees passed to delegators, parts per million (`feeShare`). */
  feeShare: bigint;
  activationRound: bigint;
  deactivationRound: bigint;
  /** Service URI as registered ("" when none). */
  serviceUri: string;
  /** Active in the current round (`activationRound <= round < deactivationRound`); undefined when the round is unknown. */
  active?: boolean;
}

/** The outcome of the last `GetOrchestrator` probe. */
export type ProbeFacts =
  | { ok: true; at: number; latencyMs: number; info: OrchestratorInfo }
  | {
      ok: false;
      at: number;
      error: string;
      /** The orchestrator refused for lack of capacity (it is up, just full). */
      busy: boolean;
      /** The last answer it gave, if any (shown for a busy orchestrator). */
      lastInfo?: OrchestratorInfo;
    };

/** Everything measured about one orchestrator. */
export interface OrchestratorFacts {
  /** The URL probed (normalised service URI). */
  url: string;
  chain?: ChainFacts;
  /** Undefined until the first probe finishes (or when it has no usable service URI). */
  probe?: ProbeFacts;
  /** Its live runners from `/discovery`. */
  runners?: DashboardRunner[];
  /** Probes answered and failed so far (a capacity refusal is neither). */
  calls?: { successes: number; failures: number };
  /** Free slots per BYOC capability name, as its `/process/token` answered (`available_capacity`). */
  byocFree?: Readonly<Record<string, number>>;
}

/** State of an orchestrator in the explorer. */
export type ExplorerState =
  /** Answered its last probe and has free capacity (or advertises none). */
  | "ok"
  /** Up, but every advertised slot is in use or it refused for capacity. */
  | "busy"
  /** Its last probe failed (connection, timeout, error other than capacity). */
  | "unreachable"
  /** Not probed yet, or nothing to probe (no service URI). */
  | "unknown";

/** GPUs an orchestrator advertises for one pipeline and model. */
export interface ExplorerHardware {
  pipeline: string;
  modelId: string;
  gpus: { name: string; memoryTotal: string; memoryFree: string }[];
}

/** An offer's price in its pipeline's comparable unit. */
export interface ComparablePrice {
  /** Exact wei per comparable unit, `"n"` or `"n/d"`. */
  wei: string;
  /** The comparable unit, e.g. `megapixel`, `second of 720p30`, `second`. */
  unit: string;
  /** e.g. `"1.5 gwei per second"`. */
  display: string;
  /** `capability`: a per-model price; `default`: the orchestrator's `price_info`. */
  source: "capability" | "default";
  /** US dollars per comparable unit, when a USD/ETH price is known (`usdPerEth`). */
  usd?: number;
  /** e.g. `"$0.000005 per second"`. */
  usdDisplay?: string;
}

/** One orchestrator as the explorer shows it. */
export interface ExplorerOrchestrator {
  url: string;
  /** On-chain address ("" offchain). */
  address: string;
  state: ExplorerState;
  /** Why it is not `ok`. */
  reason?: string;
  /** Stake in wei of LPT, decimal; absent offchain. */
  stake?: string;
  /** Share of the listed orchestrators' total stake, 0..1; absent offchain. */
  stakeShare?: number;
  /** Percent of rewards kept (`rewardCut` / 10^4). */
  rewardCutPercent?: number;
  /** Percent of fees passed to delegators (`feeShare` / 10^4). */
  feeSharePercent?: number;
  activationRound?: string;
  deactivationRound?: string;
  active?: boolean;
  serviceUri?: string;
  /** Node version it advertises ("" when it never answered). */
  version: string;
  latencyMs?: number;
  /** Share of probes answered, 0..1; absent before the first. */
  successRate?: number;
  /** When the facts shown were measured, ms since epoch. */
  probedAt?: number;
  offers: (DashboardOffer & { comparablePrice?: ComparablePrice })[];
  /** Sum of its offers' known capacities ({@link orchestratorCapacity}). */
  capacity: number;
  free: number;
  /** Some offer advertises no capacity: `capacity` counts only the others. */
  capacityUnknown?: boolean;
  /** `free` includes slots measured by asking (BYOC `/process/token`) for offers of unknown capacity. */
  freeMeasured?: boolean;
  hardware: ExplorerHardware[];
  runners: DashboardRunner[];
}

/** One orchestrator offering a capability. */
export interface ExplorerProvider {
  url: string;
  address: string;
  state: ExplorerState;
  warm: boolean;
  capacity: number;
  free: number;
  /** It advertises no capacity for this: `capacity` is 0 and means unknown. */
  capacityUnknown?: true;
  /** `free` was measured by asking it (BYOC `/process/token`); else, with unknown capacity, 0 means unknown. */
  freeMeasured?: true;
  price?: ComparablePrice;
  gpus: string[];
  latencyMs?: number;
}

/** Kind of capability: a BYOC container, a go-livepeer AI pipeline, or a live-runner app. */
export type CapabilityKind = "byoc" | "ai" | "live-app";

/** One (pipeline, model) across the active set. */
export interface ExplorerCapability {
  /** `pipeline/model` (`byoc/<name>`, `live/<app>`). */
  key: string;
  kind: CapabilityKind;
  pipeline: string;
  modelId: string;
  /** Reachable providers with the model loaded. */
  warm: number;
  /** Reachable providers without. */
  cold: number;
  /** Providers listed, reachable or not. */
  providerCount: number;
  /** Sum of reachable providers' known capacity. */
  capacity: number;
  /** Sum of reachable providers' free capacity (known capacities only). */
  free: number;
  /** Reachable providers that advertise no capacity for it (not counted in `capacity`). */
  capacityUnknown: number;
  /** Of those, the ones whose free slots were measured (counted in `free`). */
  freeMeasured: number;
  /** Lowest and highest price among reachable providers, in the comparable unit. */
  priceMin?: ComparablePrice;
  priceMax?: ComparablePrice;
  /** Median probe latency of reachable providers that answered, ms. */
  latencyMs?: number;
  /** Share of probes answered, over every provider's probes. */
  successRate?: number;
  /** Reachable first, warm first, cheapest first. */
  providers: ExplorerProvider[];
}

/** Totals over the whole set. */
export interface ExplorerTotals {
  orchestrators: number;
  ok: number;
  busy: number;
  unreachable: number;
  unknown: number;
  /** Total stake of the listed orchestrators, wei; absent offchain. */
  stake?: string;
  capabilities: number;
  capacity: number;
  free: number;
  /** Reachable orchestrators with an offer of unknown capacity. */
  capacityUnknown: number;
}

/** The explorer's whole view, served as JSON. */
export interface ExplorerView {
  generatedAt: number;
  /** The USD per ETH the `usd` prices were computed with (absent: no price feed configured). */
  usdPerEth?: number;
  /** Current round when read from the chain. */
  round?: string;
  totals: ExplorerTotals;
  orchestrators: ExplorerOrchestrator[];
  capabilities: ExplorerCapability[];
}

const REACHABLE: ReadonlySet<ExplorerState> = new Set(["ok", "busy"]);

/** True for a state whose offers count in the capability totals. */
export function isReachable(state: ExplorerState): boolean {
  return REACHABLE.has(state);
}

/**
 * An offer's wire price in its pipeline's comparable unit, and in US dollars when `usdPerEth` (a
 * positive finite number) is given.
 */
export function comparablePrice(offer: DashboardOffer, usdPerEth?: number): ComparablePrice | undefined {
  if (offer.price === undefined) return undefined;
  const u = comparableUnit(offer.pipeline);
  const wei = Rat.parse(offer.price.weiPerUnit).mul(u.factor);
  const usd =
    usdPerEth !== undefined && usdPerEth > 0 && Number.isFinite(usdPerEth)
      ? weiToUsd(wei, usdPerEth)
      : undefined;
  return {
    wei: wei.toString(),
    unit: u.label,
    display: `${formatWei(wei)} per ${u.label}`,
    source: offer.price.source,
    ...(usd && { usd: Number(usd.toFixed(18)), usdDisplay: `${formatUsd(usd)} per ${u.label}` }),
  };
}

/** Fixed rounding of a ppm value as a percent with up to 4 decimals. */
function ppmPercent(ppm: bigint): number {
  return Number(ppm) / 10_000;
}

function hardwareOf(info: OrchestratorInfo | undefined): ExplorerHardware[] {
  if (info === undefined) return [];
  return info.hardware.map((h) => ({
    pipeline: h.pipeline,
    modelId: h.modelId,
    gpus: Object.keys(h.gpuInfo)
      .sort()
      .map((k) => {
        const g = h.gpuInfo[k];
        return {
          name: g?.name ?? "",
          memoryTotal: String(g?.memoryTotal ?? 0n),
          memoryFree: String(g?.memoryFree ?? 0n),
        };
      }),
  }));
}

/**
 * An orchestrator's total capacity and slots in use from its offers. Model offers add up (each
 * model constraint has its own capacity); BYOC capabilities share one capacity (the `capacities`
 * entry of capability 37), counted once; in use never exceeds capacity. An offer that advertises no
 * capacity (`capacityUnknown`) adds nothing and sets `unknown`.
 */
export function orchestratorCapacity(offers: readonly DashboardOffer[]): {
  capacity: number;
  inUse: number;
  unknown: boolean;
} {
  const known = offers.filter((o) => !o.capacityUnknown);
  const models = known.filter((o) => o.pipeline !== "byoc");
  const byoc = known.filter((o) => o.pipeline === "byoc");
  const byocCapacity = byoc.reduce((n, o) => Math.max(n, o.capacity), 0);
  const byocInUse = Math.min(
    byocCapacity,
    byoc.reduce((n, o) => n + o.capacityInUse, 0),
  );
  return {
    capacity: models.reduce((n, o) => n + o.capacity, 0) + byocCapacity,
    inUse: models.reduce((n, o) => n + Math.min(o.capacityInUse, o.capacity), 0) + byocInUse,
    unknown: known.length < offers.length,
  };
}

/**
 * One orchestrator's figures. `totalStake` is the sum over the set (for `stakeShare`); `usdPerEth`
 * adds USD prices.
 */
export function orchestratorView(
  f: OrchestratorFacts,
  totalStake: bigint,
  usdPerEth?: number,
): ExplorerOrchestrator {
  const p = f.probe;
  const info = p === undefined ? undefined : p.ok ? p.info : p.lastInfo;
  const offers = info
    ? offersOf(info).map((o) => {
        const cp = comparablePrice(o, usdPerEth);
        const measured = o.pipeline === "byoc" && f.byocFree ? f.byocFree[o.modelId] : undefined;
        return {
          ...o,
          ...(cp && { comparablePrice: cp }),
          ...(measured !== undefined && { freeMeasured: Math.max(0, measured) }),
        };
      })
    : [];
  const { capacity, inUse, unknown } = orchestratorCapacity(offers);
  let state: ExplorerState;
  let reason: string | undefined;
  if (p === undefined) {
    state = "unknown";
    reason = f.chain && f.chain.serviceUri === "" ? "no service URI registered" : "not probed yet";
  } else if (!p.ok) {
    state = p.busy ? "busy" : "unreachable";
    reason = p.error;
  } else if (capacity > 0 && inUse >= capacity) {
    state = "busy";
    reason = "every advertised slot is in use";
  } else state = "ok";
  // Offers of unknown capacity add the free slots measured by asking, if any.
  const measured = offers.filter((o) => o.capacityUnknown && o.freeMeasured !== undefined);
  const free =
    state === "busy" ? 0 : capacity - inUse + measured.reduce((n, o) => n + (o.freeMeasured ?? 0), 0);
  const c = f.chain;
  return {
    url: f.url,
    address: c?.address ?? (info ? hexAddress(info.address) : ""),
    state,
    ...(reason !== undefined && { reason }),
    ...(c && {
      stake: c.stake.toString(),
      stakeShare: totalStake > 0n ? Number((c.stake * 1_000_000n) / totalStake) / 1_000_000 : 0,
      rewardCutPercent: ppmPercent(c.rewardCut),
      feeSharePercent: ppmPercent(c.feeShare),
      activationRound: c.activationRound.toString(),
      deactivationRound: c.deactivationRound.toString(),
      serviceUri: c.serviceUri,
      ...(c.active !== undefined && { active: c.active }),
    }),
    version: info?.capabilities?.version ?? "",
    ...(p?.ok && { latencyMs: p.latencyMs }),
    ...(rate(f.calls) !== undefined && { successRate: rate(f.calls) }),
    ...(p && { probedAt: p.at }),
    offers,
    capacity,
    free,
    ...(unknown && { capacityUnknown: true }),
    ...(measured.length > 0 && { freeMeasured: true }),
    hardware: hardwareOf(info),
    runners: f.runners ?? [],
  };
}

function rate(calls: OrchestratorFacts["calls"]): number | undefined {
  if (calls === undefined) return undefined;
  const n = calls.successes + calls.failures;
  return n === 0 ? undefined : Math.round((calls.successes / n) * 1000) / 1000;
}

/** Median of a sorted non-empty list (the mean of the two middle values for an even count). */
function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The address an orchestrator answered with, hex; "" when none or all zeros (offchain). */
function hexAddress(bytes: Uint8Array): string {
  if (bytes.every((b) => b === 0)) return "";
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

function priceCmp(a: ComparablePrice | undefined, b: ComparablePrice | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return Rat.parse(a.wei).cmp(Rat.parse(b.wei));
}

/** The per-capability view of a list of orchestrator views. */
export function capabilityView(
  orchestrators: readonly ExplorerOrchestrator[],
  callsOf: (url: string) => OrchestratorFacts["calls"] = () => undefined,
): ExplorerCapability[] {
  const byKey = new Map<string, ExplorerCapability>();
  const callsByKey = new Map<string, { successes: number; failures: number }>();
  const tally = (c: ExplorerCapability, o: ExplorerOrchestrator) => {
    const n = callsOf(o.url);
    if (n === undefined) return;
    const t = callsByKey.get(c.key) ?? { successes: 0, failures: 0 };
    t.successes += n.successes;
    t.failures += n.failures;
    callsByKey.set(c.key, t);
  };
  const entry = (key: string, kind: CapabilityKind, pipeline: string, modelId: string) => {
    let c = byKey.get(key);
    if (c === undefined) {
      c = {
        key,
        kind,
        pipeline,
        modelId,
        warm: 0,
        cold: 0,
        providerCount: 0,
        capacity: 0,
        free: 0,
        capacityUnknown: 0,
        freeMeasured: 0,
        providers: [],
      };
      byKey.set(key, c);
    }
    return c;
  };
  for (const o of orchestrators) {
    const reachable = isReachable(o.state);
    for (const offer of o.offers) {
      const c = entry(offer.key, offer.pipeline === "byoc" ? "byoc" : "ai", offer.pipeline, offer.modelId);
      const measured = offer.capacityUnknown ? offer.freeMeasured : undefined;
      const free = o.state === "busy" ? 0 : (measured ?? Math.max(0, offer.capacity - offer.capacityInUse));
      const gpus = o.hardware
        .filter((h) => h.pipeline === offer.pipeline && h.modelId === offer.modelId)
        .flatMap((h) => h.gpus.map((g) => g.name));
      c.providers.push({
        url: o.url,
        address: o.address,
        state: o.state,
        warm: offer.warm,
        capacity: offer.capacity,
        free,
        ...(offer.capacityUnknown && { capacityUnknown: true as const }),
        ...(measured !== undefined && { freeMeasured: true as const }),
        ...(offer.comparablePrice && { price: offer.comparablePrice }),
        gpus,
        ...(o.latencyMs !== undefined && { latencyMs: o.latencyMs }),
      });
      tally(c, o);
      if (reachable) {
        if (offer.warm) c.warm++;
        else c.cold++;
        if (offer.capacityUnknown) {
          c.capacityUnknown++;
          if (measured !== undefined) c.freeMeasured++;
        } else c.capacity += offer.capacity;
        c.free += free;
      }
    }
    for (const r of o.runners) {
      const c = entry(`live/${r.app}`, "live-app", "live", r.app);
      const up = reachable && r.state === "ok";
      const capacity = r.capacity ?? 0;
      const free = Math.max(0, r.capacityAvailable ?? capacity - (r.capacityUsed ?? 0));
      c.providers.push({
        url: o.url,
        address: o.address,
        state: o.state,
        warm: up,
        capacity,
        free,
        gpus: [],
        ...(o.latencyMs !== undefined && { latencyMs: o.latencyMs }),
      });
      tally(c, o);
      if (reachable) {
        if (up) c.warm++;
        else c.cold++;
        c.capacity += capacity;
        c.free += free;
      }
    }
  }
  const out = [...byKey.values()];
  for (const c of out) {
    c.providerCount = c.providers.length;
    c.providers.sort(
      (a, b) =>
        Number(isReachable(b.state)) - Number(isReachable(a.state)) ||
        Number(b.warm) - Number(a.warm) ||
        priceCmp(a.price, b.price) ||
        a.url.localeCompare(b.url),
    );
    const priced = c.providers
      .filter((p) => isReachable(p.state) && p.price !== undefined)
      .map((p) => p.price as ComparablePrice)
      .sort(priceCmp);
    const latencies = c.providers
      .filter((p) => isReachable(p.state) && p.latencyMs !== undefined)
      .map((p) => p.latencyMs as number)
      .sort((a, b) => a - b);
    if (latencies.length > 0) c.latencyMs = median(latencies);
    const r = rate(callsByKey.get(c.key));
    if (r !== undefined) c.successRate = r;
    const min = priced[0];
    const max = priced[priced.length - 1];
    if (min) c.priceMin = min;
    if (max) c.priceMax = max;
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** The whole view from the facts, orchestrators ordered by stake (largest first), then URL. */
export function aggregate(
  facts: readonly OrchestratorFacts[],
  options: { now: number; round?: bigint; usdPerEth?: number },
): ExplorerView {
  const u = options.usdPerEth;
  const usdPerEth = u !== undefined && Number.isFinite(u) && u > 0 ? u : undefined;
  const totalStake = facts.reduce((n, f) => n + (f.chain?.stake ?? 0n), 0n);
  const onchain = facts.some((f) => f.chain !== undefined);
  const orchestrators = [...facts]
    .sort((a, b) => {
      const sa = a.chain?.stake ?? 0n;
      const sb = b.chain?.stake ?? 0n;
      return sa === sb ? a.url.localeCompare(b.url) : sa > sb ? -1 : 1;
    })
    .map((f) => orchestratorView(f, totalStake, usdPerEth));
  const callsByUrl = new Map(facts.map((f) => [f.url, f.calls]));
  const capabilities = capabilityView(orchestrators, (url) => callsByUrl.get(url));
  const count = (s: ExplorerState) => orchestrators.filter((o) => o.state === s).length;
  const reachable = orchestrators.filter((o) => isReachable(o.state));
  return {
    generatedAt: options.now,
    ...(usdPerEth !== undefined && { usdPerEth }),
    ...(options.round !== undefined && { round: options.round.toString() }),
    totals: {
      orchestrators: orchestrators.length,
      ok: count("ok"),
      busy: count("busy"),
      unreachable: count("unreachable"),
      unknown: count("unknown"),
      ...(onchain && { stake: totalStake.toString() }),
      capabilities: capabilities.length,
      capacity: reachable.reduce((n, o) => n + o.capacity, 0),
      free: reachable.reduce((n, o) => n + o.free, 0),
      capacityUnknown: reachable.filter((o) => o.capacityUnknown).length,
    },
    orchestrators,
    capabilities,
  };
}

/** A probe error that means "up but full": gRPC `resource_exhausted`, or a capacity/busy refusal. */
export function isCapacityRefusal(grpcCode: string | undefined, message: string): boolean {
  return grpcCode === "resource_exhausted" || /\b(insufficient capacity|no capacity|busy)\b/i.test(message);
}
