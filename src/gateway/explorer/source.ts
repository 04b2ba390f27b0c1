/**
 * The explorer's measuring loop: every `intervalMs` it lists the orchestrators (the chain's active
 * set, or a fixed list), asks each one for its `OrchestratorInfo` (as a gateway would, without paying
 * anyone), asks for its live runners, and recomputes the figures with {@link aggregate}. It is a
 * {@link DashboardSource}, so the dashboard page runs on it unchanged, and it also serves the
 * explorer's JSON views and go-livepeer's `/getNetworkCapabilities` shape.
 */
import type { OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import type { DashboardSource } from "../dashboard/source.ts";
import {
  capabilityIndex,
  type DashboardFailure,
  type DashboardOrchestrator,
  type DashboardState,
  HistoryRing,
  offersOf,
  priceView,
} from "../dashboard/state.ts";
import type { OrchestratorInfoFetcher } from "../discovery/grpc-client.ts";
import type { OrchestratorDescriptor } from "../discovery/pool.ts";
import { orchestratorRequest, type RequestCredentials } from "../discovery/request.ts";
import type { DashboardRunner } from "../discovery/runners.ts";
import { normalizeOrchestratorUrl } from "../discovery/uri.ts";
import type { ActiveSet } from "./active-set.ts";
import {
  aggregate,
  type ExplorerState,
  type ExplorerView,
  isCapacityRefusal,
  type OrchestratorFacts,
  orchestratorCapacity,
} from "./aggregate.ts";

/** Default period between two measurements, ms. */
export const EXPLORER_INTERVAL_MS = 15_000;
/** Default deadline of one probe, ms. */
export const EXPLORER_PROBE_TIMEOUT_MS = 5_000;
/** BYOC capabilities asked for their free slots per orchestrator and round, at most. */
export const MAX_BYOC_FREE_PROBES = 16;

/** Options of {@link createExplorerSource}. */
export interface ExplorerSourceOptions {
  /** Orchestrators to probe (host:port or URLs); used when `activeSet` is absent, or added to it. */
  orchestrators?: readonly string[];
  /** Reads the chain's active set (e.g. `() => readActiveSet(...)`). */
  activeSet?: (signal: AbortSignal) => Promise<ActiveSet>;
  fetchInfo: OrchestratorInfoFetcher;
  /** Sent with every probe: offchain zeros, or a throwaway key's signature. */
  credentials: RequestCredentials;
  /** Live runners by orchestrator (a RunnerDirectory fits): refreshed after each probe round. */
  runners?: { refresh(): Promise<void>; dashboard(): DashboardRunner[] };
  intervalMs?: number;
  probeTimeoutMs?: number;
  /** Probes in flight at once; default 16. */
  concurrency?: number;
  /** Samples kept per orchestrator for the page's sparklines; default 60. */
  historySize?: number;
  now?: () => number;
  /**
   * Free slots of one BYOC capability on an orchestrator, asked after each answered probe for each
   * BYOC capability it lists (at most {@link MAX_BYOC_FREE_PROBES}); e.g. its `/process/token`'s
   * `available_capacity`. A throw leaves that capability's free slots unknown.
   */
  byocFree?: (orchestrator: string, capability: string, signal: AbortSignal) => Promise<number>;
  /** The current USD per ETH for prices in dollars; undefined (or a throw) when unknown or stale. */
  usdPerEth?: () => number | undefined;
  /** Called when the chain read fails (the previous active set is kept). */
  onError?: (err: unknown) => void;
}

/** A running explorer source. */
export interface ExplorerSource extends DashboardSource, Disposable {
  /** The explorer's figures (no I/O). */
  view(): ExplorerView;
  /** The orchestrators that answered, as the discovery pool describes them (for `/getNetworkCapabilities`). */
  descriptors(): OrchestratorDescriptor[];
  /** The URLs being probed (for the live-runner directory). */
  urls(): string[];
  /** Measures once now (a measurement already running is shared). */
  refresh(): Promise<void>;
  close(): void;
}

interface Tracked {
  facts: OrchestratorFacts;
  /** Answered and failed probes (shared with `facts.calls`). */
  calls: { successes: number; failures: number };
  lastInfo?: OrchestratorInfo;
  successes: number;
  failures: number;
  consecutiveFailures: number;
  recentFailures: DashboardFailure[];
  lastSuccessAt?: number;
  lastFailureAt?: number;
  history: HistoryRing<{ at: number; latencyMs: number | null; inUse: number; capacity: number }>;
}

const HEALTH: Record<ExplorerState, DashboardOrchestrator["health"]> = {
  ok: "healthy",
  busy: "healthy",
  unreachable: "unreachable",
  unknown: "absent",
};

/** See the module documentation. Measures once immediately, then every `intervalMs`. */
export function createExplorerSource(options: ExplorerSourceOptions): ExplorerSource {
  const now = options.now ?? Date.now;
  const timeoutMs = options.probeTimeoutMs ?? EXPLORER_PROBE_TIMEOUT_MS;
  const historySize = options.historySize ?? 60;
  const tracked = new Map<string, Tracked>();
  const listeners = new Set<(s: DashboardState) => void>();
  const abort = new AbortController();
  let round: bigint | undefined;
  let view: ExplorerView = aggregate([], { now: now() });
  let state: DashboardState = { version: 0, generatedAt: now(), orchestrators: [], capabilities: [] };
  let running: Promise<void> | undefined;
  let closed = false;
  const fixed = (options.orchestrators ?? []).map((u) => normalizeOrchestratorUrl(u));

  const list = async (): Promise<OrchestratorFacts[]> => {
    const out = new Map<string, OrchestratorFacts>();
    if (options.activeSet) {
      try {
        const set = await options.activeSet(abort.signal);
        round = set.round;
        for (const m of set.members) {
          let url = "";
          try {
            url = m.serviceUri === "" ? "" : normalizeOrchestratorUrl(m.serviceUri);
          } catch {
            url = "";
          }
          // Without a usable URI the member is still listed (keyed by its address), never probed.
          out.set(url === "" || out.has(url) ? m.address : url, { url: url || m.address, chain: m });
        }
      } catch (err) {
        if (abort.signal.aborted) throw err;
        options.onError?.(err);
        for (const [url, t] of tracked) if (t.facts.chain) out.set(url, { url, chain: t.facts.chain });
      }
    }
    for (const url of fixed) if (!out.has(url)) out.set(url, { url });
    return [...out.values()];
  };

  const probe = async (f: OrchestratorFacts, t: Tracked): Promise<void> => {
    if (f.chain && f.url === f.chain.address) return;
    const started = performance.now();
    const at = now();
    try {
      const info = await options.fetchInfo(f.url, orchestratorRequest({ credentials: options.credentials }), {
        signal: abort.signal,
        timeoutMs,
      });
      const latencyMs = Math.round(performance.now() - started);
      t.lastInfo = info;
      t.successes++;
      t.calls.successes++;
      t.consecutiveFailures = 0;
      t.lastSuccessAt = at;
      f.probe = { ok: true, at, latencyMs, info };
      if (options.byocFree) f.byocFree = await byocFreeOf(f.url, info, options.byocFree);
    } catch (err) {
      if (abort.signal.aborted) return;
      const e = err as Error & { grpcCode?: string };
      const busy = isCapacityRefusal(e.grpcCode, e.message);
      f.probe = { ok: false, at, error: e.message, busy, ...(t.lastInfo && { lastInfo: t.lastInfo }) };
      if (busy) return;
      t.failures++;
      t.calls.failures++;
      t.consecutiveFailures++;
      t.lastFailureAt = at;
      const newest = t.recentFailures[0];
      if (newest?.error === e.message)
        t.recentFailures[0] = { at, error: e.message, count: newest.count + 1 };
      else {
        t.recentFailures.unshift({ at, error: e.message, count: 1 });
        t.recentFailures.length = Math.min(t.recentFailures.length, 5);
      }
    }
  };

  const byocFreeOf = async (
    url: string,
    info: OrchestratorInfo,
    ask: NonNullable<ExplorerSourceOptions["byocFree"]>,
  ): Promise<Record<string, number>> => {
    const names = [
      ...new Set(
        info.capabilitiesPrices
          .filter((p) => p.capability === 37 && p.constraint !== "")
          .map((p) => p.constraint),
      ),
    ].slice(0, MAX_BYOC_FREE_PROBES);
    const free: Record<string, number> = {};
    await Promise.all(
      names.map(async (name) => {
        try {
          const n = await ask(url, name, AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]));
          if (Number.isInteger(n) && n >= 0) free[name] = n;
        } catch {
          // Unknown: the page says so rather than guessing.
        }
      }),
    );
    return free;
  };

  const measure = async () => {
    const listed = await list();
    for (const url of [...tracked.keys()]) if (!listed.some((f) => f.url === url)) tracked.delete(url);
    const pairs = listed.map((f) => {
      let t = tracked.get(f.url);
      if (t === undefined) {
        t = {
          facts: f,
          calls: { successes: 0, failures: 0 },
          successes: 0,
          failures: 0,
          consecutiveFailures: 0,
          recentFailures: [],
          history: new HistoryRing(historySize),
        };
        tracked.set(f.url, t);
      }
      t.facts = f;
      f.calls = t.calls;
      return [f, t] as const;
    });
    let next = 0;
    const worker = async () => {
      while (next < pairs.length && !abort.signal.aborted) {
        const [f, t] = pairs[next++] as (typeof pairs)[number];
        await probe(f, t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, pairs.length) }, worker));
    if (abort.signal.aborted) return;
    if (options.runners) {
      await options.runners.refresh();
      const runners = options.runners.dashboard();
      for (const [f] of pairs) {
        const transcoder = f.probe?.ok ? f.probe.info.transcoder : "";
        f.runners = runners.filter(
          (r) => r.orchestrator === f.url || (transcoder !== "" && r.orchestrator === transcoder),
        );
      }
    }
    publish();
  };

  const publish = () => {
    const at = now();
    const usdPerEth = readUsdPerEth(options.usdPerEth);
    view = aggregate(
      [...tracked.values()].map((t) => t.facts),
      { now: at, ...(round !== undefined && { round }), ...(usdPerEth !== undefined && { usdPerEth }) },
    );
    const orchestrators: DashboardOrchestrator[] = view.orchestrators.map((o) => {
      const t = tracked.get(o.url) as Tracked;
      const info = t.lastInfo;
      const offers = info ? offersOf(info) : [];
      const { inUse } = orchestratorCapacity(offers);
      const probe = t.facts.probe;
      const latencyMs = probe?.ok ? probe.latencyMs : undefined;
      if (probe && probe.at !== t.history.values().at(-1)?.at)
        t.history.push({ at: probe.at, latencyMs: latencyMs ?? null, inUse, capacity: o.capacity });
      const samples = t.history.values();
      const defaultPrice = info?.priceInfo && priceView(info.priceInfo, undefined, "default");
      return {
        url: o.url,
        transcoder: info?.transcoder ?? "",
        address: o.address,
        health: HEALTH[o.state],
        ...(o.reason !== undefined && { reason: o.state === "busy" ? `busy: ${o.reason}` : o.reason }),
        version: o.version,
        ...(latencyMs !== undefined && { lastLatencyMs: latencyMs }),
        successes: t.successes,
        failures: t.failures,
        consecutiveFailures: t.consecutiveFailures,
        recentFailures: [...t.recentFailures],
        ...(t.lastSuccessAt !== undefined && { lastSuccessAt: t.lastSuccessAt }),
        ...(t.lastFailureAt !== undefined && { lastFailureAt: t.lastFailureAt }),
        ...(o.probedAt !== undefined && { infoFetchedAt: o.probedAt }),
        suspension: 0,
        offers,
        ...(defaultPrice && { defaultPrice }),
        capacity: o.capacity,
        capacityInUse: inUse,
        ...(o.capacityUnknown && { capacityUnknown: true }),
        history: {
          at: samples.map((x) => x.at),
          latencyMs: samples.map((x) => x.latencyMs),
          inUse: samples.map((x) => x.inUse),
          capacity: samples.map((x) => x.capacity),
        },
      };
    });
    const runners = view.orchestrators.flatMap((o) => o.runners);
    state = {
      version: state.version + 1,
      generatedAt: at,
      snapshotAt: at,
      orchestrators,
      capabilities: capabilityIndex(orchestrators),
      ...(options.runners && { runners }),
    };
    for (const l of [...listeners]) {
      try {
        l(state);
      } catch {
        // A failing subscriber must not stop the others or the loop.
      }
    }
  };

  const refresh = (): Promise<void> => {
    if (closed) return Promise.resolve();
    running ??= measure()
      .catch((err) => {
        if (!abort.signal.aborted) options.onError?.(err);
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = setInterval(() => void refresh(), options.intervalMs ?? EXPLORER_INTERVAL_MS);
  timer.unref();
  void refresh();

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    abort.abort(new Error("explorer closed"));
    listeners.clear();
  };

  return {
    snapshot: () => state,
    subscribe(listener) {
      if (closed) return () => {};
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    view: () => view,
    descriptors: () =>
      [...tracked.values()].flatMap((t) => {
        const p = t.facts.probe;
        if (!p?.ok) return [];
        const hex = Buffer.from(p.info.address).toString("hex");
        return [
          {
            url: t.facts.url,
            transcoder: p.info.transcoder,
            address: `0x${hex}`,
            info: p.info,
            latencyMs: p.latencyMs,
            fetchedAt: p.at,
            candidate: {
              url: t.facts.url,
              score: 1,
              source: t.facts.chain ? "chain" : "static",
              ...(t.facts.chain && { stake: t.facts.chain.stake }),
            },
            suspension: 0,
          } satisfies OrchestratorDescriptor,
        ];
      }),
    urls: () =>
      [...tracked.values()]
        .filter((t) => t.facts.probe?.ok)
        .map((t) => t.lastInfo?.transcoder || t.facts.url),
    refresh,
    close,
    [Symbol.dispose]: close,
  };
}

/** The USD per ETH from `read`, or undefined when absent, unknown, stale (it threw) or not positive. */
export function readUsdPerEth(read: (() => number | undefined) | undefined): number | undefined {
  try {
    const v = read?.();
    return v !== undefined && Number.isFinite(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}
