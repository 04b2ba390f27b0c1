/**
 * Where the dashboard gets its state: the small {@link DashboardSource} interface, and
 * {@link createPoolDashboardSource}, the adapter that samples an {@link OrchestratorPool} (snapshot +
 * per-orchestrator stats) and an optional suspension lookup, keeps bounded history rings, and tells
 * subscribers when anything shown changed.
 *
 * The pool has no change notification of its own, so the adapter samples it every `intervalMs` (an
 * in-memory read, no I/O) and, when wired as the pool's `onEvent` through {@link
 * PoolDashboardSource.observe}, right after each refresh and with the pool's rejection reasons.
 */
import type { OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import type { OrchestratorDescriptor, OrchestratorStats, PoolEvent } from "../discovery/pool.ts";
import type { DashboardRunner } from "../discovery/runners.ts";
import { isCapacityRefusal, orchestratorCapacity } from "../explorer/aggregate.ts";
import {
  answeredStatus,
  capabilityIndex,
  type DashboardFailure,
  type DashboardHealth,
  type DashboardOrchestrator,
  type DashboardState,
  errorInWords,
  HistoryRing,
  offersOf,
  stableDefaultPrice,
} from "./state.ts";

/** A provider of dashboard state with change notification. One interface for every backing store. */
export interface DashboardSource {
  /** The current state (cheap; no I/O). */
  snapshot(): DashboardState;
  /** Calls `listener` with the new state after every change; returns the unsubscribe function. */
  subscribe(listener: (state: DashboardState) => void): () => void;
}

/** What the adapter reads from the pool (an {@link OrchestratorPool} fits). */
export interface DashboardPoolView {
  snapshot(): OrchestratorDescriptor[];
  stats(): OrchestratorStats[];
  readonly snapshotAt: number | undefined;
}

/** Options of {@link createPoolDashboardSource}. */
export interface PoolDashboardSourceOptions {
  pool: DashboardPoolView;
  /** Live suspension penalties keyed by transcoder URI (a selection `Suspender` fits). */
  suspender?: { penalty(transcoder: string): number };
  /** Sampling period, ms; default 1000. */
  intervalMs?: number;
  /** Samples kept per orchestrator for the sparklines; default 60. */
  historySize?: number;
  /** Distinct consecutive failures remembered per orchestrator (repeats are counted); default 5. */
  recentFailures?: number;
  /** Stops sampling when aborted. */
  signal?: AbortSignal;
  now?: () => number;
  /** The orchestrators' live runners (a RunnerDirectory's `dashboard()`), sampled with the pool. */
  runners?: () => DashboardRunner[];
}

/** The pool adapter: a {@link DashboardSource} with a lifecycle. */
export interface PoolDashboardSource extends DashboardSource, Disposable {
  /** Samples the pool now and notifies subscribers if anything changed. */
  update(): void;
  /**
   * Pass the pool's events here, e.g. `onEvent: (e) => { log(e); dashboardSource?.observe(e); }` in
   * the pool's options (the pool exists before this source does). Without it, rejected answers show
   * as `absent` and updates wait for the next sampling tick.
   */
  observe(event: PoolEvent): void;
  /** Stops sampling and drops subscribers. Idempotent. */
  close(): void;
}

interface Tracked {
  info?: OrchestratorInfo;
  transcoder: string;
  address: string;
  fetchedAt?: number;
  calls: number;
  failures: number;
  recentFailures: DashboardFailure[];
  /** Distinct recent `price_info` quotes, most recently quoted first (bounded), for {@link stableDefaultPrice}. */
  priceQuotes: { pricePerUnit: bigint; pixelsPerUnit: bigint }[];
  history: HistoryRing<{ at: number; latencyMs: number | null; inUse: number; capacity: number }>;
}

const HEALTH_ORDER: readonly DashboardHealth[] = [
  "healthy",
  "busy",
  "suspended",
  "erroring",
  "rejected",
  "unreachable",
  "absent",
];

/**
 * Distinct `price_info` quotes remembered per orchestrator for its default price: the two most
 * recently quoted, so answers alternating between two quotes show one value (the lower) and a price
 * change shows once the old quote is no longer the most recent other one.
 */
const PRICE_QUOTES_KEPT = 2;

/** See the module documentation. Samples once immediately. */
export function createPoolDashboardSource(options: PoolDashboardSourceOptions): PoolDashboardSource {
  const now = options.now ?? Date.now;
  const historySize = options.historySize ?? 60;
  const keepFailures = options.recentFailures ?? 5;
  const tracked = new Map<string, Tracked>();
  const listeners = new Set<(state: DashboardState) => void>();
  let rejections = new Map<string, string>();
  let pendingRejections = new Map<string, string>();
  let state: DashboardState = { version: 0, generatedAt: now(), orchestrators: [], capabilities: [] };
  let fingerprint = "";
  let closed = false;

  const track = (url: string): Tracked => {
    let t = tracked.get(url);
    if (t === undefined) {
      t = {
        transcoder: "",
        address: "",
        calls: 0,
        failures: 0,
        recentFailures: [],
        priceQuotes: [],
        history: new HistoryRing(historySize),
      };
      tracked.set(url, t);
    }
    return t;
  };

  const update = () => {
    if (closed) return;
    const snapshot = options.pool.snapshot();
    const inSnapshot = new Map<string, OrchestratorDescriptor>(snapshot.map((d) => [d.url, d]));
    const stats = new Map(options.pool.stats().map((s) => [s.url, s]));
    for (const d of snapshot) {
      const t = track(d.url);
      if (t.fetchedAt === undefined || d.fetchedAt >= t.fetchedAt) {
        t.info = d.info;
        t.transcoder = d.transcoder;
        t.address = d.address;
        t.fetchedAt = d.fetchedAt;
        const q = d.info.priceInfo;
        if (q) {
          // Most recently quoted first; a quote seen again moves to the front, an old one drops out.
          t.priceQuotes = [
            { pricePerUnit: q.pricePerUnit, pixelsPerUnit: q.pixelsPerUnit },
            ...t.priceQuotes.filter(
              (x) => x.pricePerUnit !== q.pricePerUnit || x.pixelsPerUnit !== q.pixelsPerUnit,
            ),
          ].slice(0, PRICE_QUOTES_KEPT);
        }
      }
    }
    for (const url of stats.keys()) track(url);

    const orchestrators: DashboardOrchestrator[] = [];
    for (const [url, t] of [...tracked].sort(([a], [b]) => a.localeCompare(b))) {
      const s = stats.get(url);
      const d = inSnapshot.get(url);
      const offers = t.info ? offersOf(t.info) : [];
      const { capacity, inUse: capacityInUse, unknown } = orchestratorCapacity(offers);
      const failures = s?.failures ?? 0;
      const calls = (s?.successes ?? 0) + failures;
      if (failures > t.failures && s?.lastFailureAt !== undefined) {
        const error = errorInWords(s.lastError ?? "unknown error");
        const newest = t.recentFailures[0];
        // The same error again (an orchestrator that stays down) is counted, not listed again.
        if (newest?.error === error)
          t.recentFailures[0] = { at: s.lastFailureAt, error, count: newest.count + failures - t.failures };
        else {
          t.recentFailures.unshift({ at: s.lastFailureAt, error, count: failures - t.failures });
          t.recentFailures.length = Math.min(t.recentFailures.length, keepFailures);
        }
      }
      t.failures = failures;
      if (calls !== t.calls || t.history.length === 0) {
        t.calls = calls;
        // A failed newest call leaves a gap in the latency line, so outages are visible.
        const failedLast = (s?.consecutiveFailures ?? 0) > 0;
        t.history.push({
          at: now(),
          latencyMs: failedLast ? null : (s?.lastLatencyMs ?? null),
          inUse: capacityInUse,
          capacity,
        });
      }
      const suspension =
        t.transcoder !== "" && options.suspender
          ? options.suspender.penalty(t.transcoder)
          : (d?.suspension ?? 0);
      const { health, reason } = dashboardHealth({
        consecutiveFailures: s?.consecutiveFailures ?? 0,
        ...(s?.lastError !== undefined && { lastError: s.lastError }),
        inSnapshot: d !== undefined,
        suspension,
        ...(rejections.has(url) && { rejection: rejections.get(url) }),
      });
      const defaultPrice = stableDefaultPrice(t.priceQuotes);
      const samples = t.history.values();
      orchestrators.push({
        url,
        transcoder: t.transcoder,
        address: t.address,
        health,
        ...(reason !== undefined && { reason }),
        version: t.info?.capabilities?.version ?? "",
        ...(s?.lastLatencyMs !== undefined && { lastLatencyMs: s.lastLatencyMs }),
        ...(s?.avgLatencyMs !== undefined && { avgLatencyMs: s.avgLatencyMs }),
        successes: s?.successes ?? 0,
        failures,
        consecutiveFailures: s?.consecutiveFailures ?? 0,
        recentFailures: [...t.recentFailures],
        ...(s?.lastSuccessAt !== undefined && { lastSuccessAt: s.lastSuccessAt }),
        ...(s?.lastFailureAt !== undefined && { lastFailureAt: s.lastFailureAt }),
        ...(t.fetchedAt !== undefined && { infoFetchedAt: t.fetchedAt }),
        suspension,
        offers,
        ...(defaultPrice && { defaultPrice }),
        capacity,
        capacityInUse,
        ...(unknown && { capacityUnknown: true }),
        history: {
          at: samples.map((x) => x.at),
          latencyMs: samples.map((x) => x.latencyMs),
          inUse: samples.map((x) => x.inUse),
          capacity: samples.map((x) => x.capacity),
        },
      });
    }
    const next = {
      ...(options.pool.snapshotAt !== undefined && { snapshotAt: options.pool.snapshotAt }),
      orchestrators,
      capabilities: capabilityIndex(orchestrators),
      ...(options.runners && { runners: options.runners() }),
    };
    const print = JSON.stringify(next);
    if (print === fingerprint) return;
    fingerprint = print;
    state = { version: state.version + 1, generatedAt: now(), ...next };
    for (const l of [...listeners]) {
      try {
        l(state);
      } catch {
        // A failing subscriber must not stop the others or the sampler.
      }
    }
  };

  const timer = setInterval(update, options.intervalMs ?? 1000);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    listeners.clear();
    options.signal?.removeEventListener("abort", close);
  };
  if (options.signal?.aborted) close();
  else options.signal?.addEventListener("abort", close, { once: true });
  update();

  return {
    snapshot: () => state,
    subscribe(listener) {
      if (closed) return () => {};
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    update,
    observe(event) {
      if (event.type === "rejected") pendingRejections.set(event.url, event.reason);
      else if (event.type === "refreshed") {
        rejections = pendingRejections;
        pendingRejections = new Map();
        update();
      }
    },
    close,
    [Symbol.dispose]: close,
  };
}

/** What {@link dashboardHealth} classifies. */
export interface HealthFacts {
  /** Failed calls in a row (0 when the last call succeeded). */
  consecutiveFailures: number;
  /** The last failure's error message. */
  lastError?: string;
  /** In the pool's current snapshot. */
  inSnapshot: boolean;
  /** Suspension penalty; 0 = not suspended. */
  suspension: number;
  /** Why the pool did not accept its last answer, if it did not. */
  rejection?: string;
}

/**
 * An orchestrator's health and the reason shown, in words. A failed last call is `busy` when it was a
 * refusal for capacity (it is up, just full; checked before suspension, so a busy answer is never
 * shown as suspended), `erroring` when the orchestrator answered with an HTTP error (e.g. a container's
 * 502), else `unreachable`. Without a failure: `suspended`/`healthy` when in the snapshot, else
 * `rejected` or `absent`.
 */
export function dashboardHealth(f: HealthFacts): { health: DashboardHealth; reason?: string } {
  if (f.consecutiveFailures > 0) {
    const error = f.lastError ?? "unknown error";
    const reason = errorInWords(error);
    if (isCapacityRefusal(undefined, error)) return { health: "busy", reason };
    if (answeredStatus(error) !== undefined) return { health: "erroring", reason };
    return { health: "unreachable", reason };
  }
  if (f.inSnapshot)
    return f.suspension > 0
      ? { health: "suspended", reason: `suspended (penalty ${f.suspension})` }
      : { health: "healthy" };
  if (f.rejection !== undefined) return { health: "rejected", reason: errorInWords(f.rejection) };
  return { health: "absent", reason: "not in the current discovery snapshot" };
}

/** Sort key of a health state (healthy first); for views that order by health. */
export function healthRank(health: DashboardHealth): number {
  return HEALTH_ORDER.indexOf(health);
}
