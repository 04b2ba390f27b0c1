/**
 * The orchestrator pool: asks every candidate from a {@link DiscoverySource} for its
 * `OrchestratorInfo` in parallel (go-livepeer `orchestratorPool.GetOrchestrators`, docs/spec/orchestrator-gateway.md#orchestrator-fan-out), keeps
 * the answers as a cached snapshot refreshed periodically (go-livepeer `cacheOrchInfos`, docs/spec/orchestrator-gateway.md#on-chain-discovery),
 * and records latency and failures per orchestrator.
 *
 * Lifecycle: `start()` begins periodic refreshes; `close()` (or aborting `options.signal`, or
 * `await using`) stops them and aborts every call in flight.
 */
import { bytesToHex } from "viem";
import type { Capabilities, OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import { capabilitiesCompatible, priceToRat } from "../capabilities.ts";
import { raceAbort } from "./cached-source.ts";
import { GRPC_CALL_TIMEOUT_MS, type OrchestratorInfoFetcher } from "./grpc-client.ts";
import { OFFCHAIN_CREDENTIALS, orchestratorRequest, type RequestCredentials } from "./request.ts";
import type { DiscoverySource, OrchestratorCandidate } from "./types.ts";
import { normalizeOrchestratorUrl } from "./uri.ts";

/** First wait for answers (go-livepeer `-discoveryTimeout`, default 500 ms); doubles on each expiry. */
export const DISCOVERY_TIMEOUT_MS = 500;
/** Upper bound of a whole fan-out (go-livepeer `maxGetOrchestratorCutoffTimeout`, 6 s). */
export const MAX_DISCOVERY_CUTOFF_MS = 6_000;
/** Default period of the background refresh. */
export const DEFAULT_REFRESH_INTERVAL_MS = 5 * 60_000;
/** Weight of the newest sample in the latency moving average. */
const LATENCY_EWMA_ALPHA = 0.3;

/** One orchestrator that answered, as discovery saw it. */
export interface OrchestratorDescriptor {
  /** The URL we asked (a candidate, or an extra node it advertised). */
  url: string;
  /** `info.transcoder`: the base URL for later HTTP calls and the suspension key (as upstream). */
  transcoder: string;
  /** Hex of `info.address` (the orchestrator's signing address), lower case; "0x" when empty. */
  address: string;
  info: OrchestratorInfo;
  /** Round-trip time of this `GetOrchestrator` call, in ms. */
  latencyMs: number;
  /** When the answer arrived (ms since epoch). */
  fetchedAt: number;
  /** What the discovery source said (score, on-chain address, stake). */
  candidate: OrchestratorCandidate;
  /** Suspension penalty when it was listed: 0 = not suspended; lower is better. */
  suspension: number;
}

/** Per-orchestrator record of `GetOrchestrator` calls and of outcomes the gateway reports. */
export interface OrchestratorStats {
  url: string;
  successes: number;
  failures: number;
  consecutiveFailures: number;
  /** Latency of the last successful call, ms. */
  lastLatencyMs?: number;
  /** Exponential moving average of successful-call latency, ms. */
  avgLatencyMs?: number;
  lastError?: string;
  lastSuccessAt?: number;
  lastFailureAt?: number;
}

/** How the pool asks whether an orchestrator is suspended (a selection `Suspender` fits). */
export interface SuspensionLookup {
  /** 0 when not suspended, else a penalty (lower is better). Keyed by `info.transcoder`. */
  penalty(transcoder: string): number;
  /** Called at every pool refresh: suspensions decay per refresh, as upstream. */
  signalRefresh?(): void;
}

/** Why an answer was not accepted; undefined means acceptable. */
export type InfoPredicate = (info: OrchestratorInfo) => string | undefined;

/**
 * The on-chain acceptance rules of go-livepeer's DB pool (docs/spec/orchestrator-gateway.md#on-chain-discovery step 4), without ticket-params
 * validation (pass the sender's check as another predicate): a non-empty address and a usable,
 * non-negative `price_info`.
 */
export const onchainInfoPredicate: InfoPredicate = (info) => {
  if (info.address.length === 0) return "empty orchestrator address";
  // 20 zero bytes: an offchain orchestrator (go-livepeer's and ours send that), never paid on chain.
  if (info.address.every((b) => b === 0)) return "zero orchestrator address (an offchain orchestrator)";
  if (priceToRat(info.priceInfo) === undefined) return "missing or invalid price_info";
  return undefined;
};

/** Options of {@link OrchestratorPool}. */
export interface OrchestratorPoolOptions {
  source: DiscoverySource;
  /** `GetOrchestrator` implementation (a {@link createGrpcOrchestratorClient} client, or a fake). */
  fetchInfo: OrchestratorInfoFetcher;
  /** Request credentials; default offchain (zero address, no signature). */
  credentials?: RequestCredentials;
  /** First wait for answers, ms; default {@link DISCOVERY_TIMEOUT_MS}. */
  discoveryTimeoutMs?: number;
  /** Whole fan-out cutoff, ms; default {@link MAX_DISCOVERY_CUTOFF_MS}. */
  cutoffMs?: number;
  /** Deadline of each call, ms; default {@link GRPC_CALL_TIMEOUT_MS}. Late answers still update stats. */
  callTimeoutMs?: number;
  /** Background refresh period, ms; default {@link DEFAULT_REFRESH_INTERVAL_MS}. */
  refreshIntervalMs?: number;
  /** Orchestrator signing addresses to drop (`-orchBlocklist`), hex with or without 0x. */
  blocklist?: readonly string[];
  /** Extra acceptance rules (e.g. {@link onchainInfoPredicate}, ticket-params validation). */
  predicates?: readonly InfoPredicate[];
  /** Candidates with a lower score are not asked (go-livepeer `scorePred`); default 0 (all). */
  minScore?: number;
  /** How many `info.nodes` of each orchestrator to ask too (`-extraNodes`); default 0. */
  extraNodes?: number;
  ignoreCapacityCheck?: boolean;
  suspender?: SuspensionLookup;
  /** Stops the pool when aborted. */
  signal?: AbortSignal;
  /** Randomness for the candidate shuffle; default `Math.random`. */
  random?: () => number;
  now?: () => number;
  /** Called on refresh failures (the source failed) and rejected answers, for logging. */
  onEvent?: (event: PoolEvent) => void;
}

/** Something the pool wants logged. */
export type PoolEvent =
  | { type: "refreshed"; orchestrators: number; candidates: number; durationMs: number }
  | { type: "refresh-failed"; error: unknown }
  | { type: "rejected"; url: string; reason: string };

/** Options of {@link OrchestratorPool.getOrchestrators}. */
export interface GetOrchestratorsOptions {
  /** How many to return at most; default all candidates. */
  numOrchestrators?: number;
  /**
   * The job's capabilities: sent in the request (so `price_info` is the job's price) and checked with
   * `CompatibleWith`; an answer without capabilities is then rejected. Omit to ask for everything
   * (`capabilities_prices` filled).
   */
  capabilities?: Capabilities;
  /** Wait for every answer (up to the cutoff) instead of stopping early; default false. */
  waitForAll?: boolean;
  signal?: AbortSignal;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** See the module documentation. */
export class OrchestratorPool implements AsyncDisposable {
  readonly #o: OrchestratorPoolOptions;
  readonly #closer = new AbortController();
  readonly #stats = new Map<string, OrchestratorStats>();
  readonly #blocklist: Set<string>;
  #snapshot: OrchestratorDescriptor[] = [];
  #snapshotAt: number | undefined;
  #refreshing: Promise<OrchestratorDescriptor[]> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #now: () => number;

  constructor(options: OrchestratorPoolOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#blocklist = new Set((options.blocklist ?? []).map((a) => a.toLowerCase().replace(/^0x/, "")));
    if (options.signal) {
      if (options.signal.aborted) this.close();
      else options.signal.addEventListener("abort", () => this.close(), { once: true });
    }
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  /**
   * Fans `GetOrchestrator` out to the source's candidates (shuffled, score-filtered, plus up to
   * `extraNodes` advertised nodes each) and returns the accepted ones sorted by latency, topped up with
   * suspended ones (lowest penalty first) when too few are unsuspended. Stops when enough answered, all
   * answered, or a wait of `discoveryTimeoutMs` (doubling) ends with at least one accepted; never later
   * than `cutoffMs`. Rejects only if the source fails or `signal` aborts; unreachable orchestrators are
   * simply absent (and recorded in {@link stats}).
   */
  async getOrchestrators(options: GetOrchestratorsOptions = {}): Promise<OrchestratorDescriptor[]> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closer.signal])
      : this.#closer.signal;
    signal.throwIfAborted();
    const all = await raceAbort(this.#o.source.list(signal), signal);
    const candidates = shuffle(
      all.filter((c) => c.score >= (this.#o.minScore ?? 0)),
      this.#o.random ?? Math.random,
    );
    const extraNodes = Math.max(0, this.#o.extraNodes ?? 0);
    const maxNodes = candidates.length * (extraNodes + 1);
    const wanted = Math.min(maxNodes, options.numOrchestrators ?? maxNodes);
    if (wanted <= 0) return [];

    const request = orchestratorRequest({
      credentials: this.#o.credentials ?? OFFCHAIN_CREDENTIALS,
      capabilities: options.capabilities,
      ignoreCapacityCheck: this.#o.ignoreCapacityCheck,
    });
    const seen = new Set(candidates.map((c) => c.url));
    const accepted: OrchestratorDescriptor[] = [];
    const suspended: OrchestratorDescriptor[] = [];
    let expected = candidates.length;
    let answered = 0;
    let wake: (() => void) | undefined;
    const notify = () => wake?.();

    const ask = (candidate: OrchestratorCandidate, level: number) => {
      const started = performance.now();
      const callSignal = AbortSignal.any([
        signal,
        AbortSignal.timeout(this.#o.callTimeoutMs ?? GRPC_CALL_TIMEOUT_MS),
      ]);
      // A fetcher that throws synchronously counts as a failed call, not a broken fan-out.
      Promise.resolve()
        .then(() =>
          this.#o.fetchInfo(candidate.url, request, { signal: callSignal, timeoutMs: this.#o.callTimeoutMs }),
        )
        .then(
          (info) => {
            const latencyMs = performance.now() - started;
            this.recordSuccess(candidate.url, latencyMs);
            if (level === 0) {
              for (const node of info.nodes.slice(0, extraNodes)) {
                let url: string;
                try {
                  url = normalizeOrchestratorUrl(node);
                } catch {
                  continue;
                }
                if (seen.has(url)) continue;
                seen.add(url);
                expected++;
                ask({ ...candidate, url, ethAddress: undefined, stake: undefined }, level + 1);
              }
            }
            const reason = this.#rejection(info, options.capabilities);
            if (reason !== undefined) {
              this.#o.onEvent?.({ type: "rejected", url: candidate.url, reason });
              return;
            }
            const d: OrchestratorDescriptor = {
              url: candidate.url,
              transcoder: info.transcoder,
              address: bytesToHex(info.address),
              info,
              latencyMs,
              fetchedAt: this.#now(),
              candidate,
              suspension: this.#o.suspender?.penalty(info.transcoder) ?? 0,
            };
            (d.suspension === 0 ? accepted : suspended).push(d);
          },
          (err: unknown) => {
            if (!this.closed) this.recordFailure(candidate.url, err);
          },
        )
        .finally(() => {
          answered++;
          notify();
        });
    };
    for (const c of candidates) ask(c, 0);

    const started = performance.now();
    const cutoff = this.#o.cutoffMs ?? MAX_DISCOVERY_CUTOFF_MS;
    let window = this.#o.discoveryTimeoutMs ?? DISCOVERY_TIMEOUT_MS;
    let checkpoint = window;
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (err?: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        wake = undefined;
        if (err === undefined) resolve();
        else reject(err);
      };
      const onAbort = () => finish(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      const check = () => {
        const elapsed = performance.now() - started;
        if (answered >= expected || (!options.waitForAll && accepted.length >= wanted)) return finish();
        if (elapsed >= cutoff) return finish();
        if (elapsed >= checkpoint) {
          if (!options.waitForAll && accepted.length > 0) return finish();
          // go-livepeer: wait the same window again, then double it (capped at the cutoff).
          checkpoint += window;
          window = Math.min(window * 2, cutoff);
        }
        clearTimeout(timer);
        timer = setTimeout(check, Math.max(0, Math.min(checkpoint, cutoff) - elapsed));
      };
      wake = check;
      check();
    });

    const out = accepted.sort((a, b) => a.latencyMs - b.latencyMs).slice(0, wanted);
    if (out.length < wanted) {
      suspended.sort((a, b) => a.suspension - b.suspension);
      out.push(...suspended.slice(0, wanted - out.length));
    }
    return out;
  }

  #rejection(info: OrchestratorInfo, capabilities: Capabilities | undefined): string | undefined {
    if (info.transcoder === "") return "empty transcoder URI";
    if (this.#blocklist.size > 0 && this.#blocklist.has(bytesToHex(info.address).slice(2).toLowerCase()))
      return "blocklisted";
    for (const p of this.#o.predicates ?? []) {
      const reason = p(info);
      if (reason !== undefined) return reason;
    }
    if (capabilities !== undefined) {
      if (info.capabilities === undefined) return "no capabilities advertised";
      if (!capabilitiesCompatible(capabilities, info.capabilities)) return "capabilities not compatible";
    }
    return undefined;
  }

  /**
   * Asks every candidate (no capabilities, so each answer carries `capabilities_prices`), waits for all
   * answers up to the cutoff, and stores the result as the snapshot. Concurrent calls share one
   * refresh. Signals the suspender (suspensions decay per refresh). On a source failure the previous
   * snapshot is kept and the error is rethrown.
   */
  refresh(signal?: AbortSignal): Promise<OrchestratorDescriptor[]> {
    this.#refreshing ??= (async () => {
      const started = performance.now();
      try {
        this.#o.suspender?.signalRefresh?.();
        const list = await this.getOrchestrators({ waitForAll: true });
        this.#snapshot = list;
        this.#snapshotAt = this.#now();
        this.#o.onEvent?.({
          type: "refreshed",
          orchestrators: list.length,
          candidates: this.#stats.size,
          durationMs: performance.now() - started,
        });
        return list;
      } catch (error) {
        if (!this.closed) this.#o.onEvent?.({ type: "refresh-failed", error });
        throw error;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return signal ? raceAbort(this.#refreshing, signal) : this.#refreshing;
  }

  /** The last snapshot (possibly empty), without I/O. */
  snapshot(): OrchestratorDescriptor[] {
    return [...this.#snapshot];
  }

  /** When the snapshot was taken (ms since epoch), or undefined before the first refresh. */
  get snapshotAt(): number | undefined {
    return this.#snapshotAt;
  }

  /**
   * The snapshot if younger than the refresh interval, else a fresh one. A failed refresh with an
   * earlier snapshot serves the old one; with none it rejects.
   */
  async current(signal?: AbortSignal): Promise<OrchestratorDescriptor[]> {
    const interval = this.#o.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    if (this.#snapshotAt !== undefined && this.#now() - this.#snapshotAt < interval) return this.snapshot();
    try {
      return [...(await this.refresh(signal))];
    } catch (err) {
      if (signal?.aborted || this.closed || this.#snapshotAt === undefined) throw err;
      return this.snapshot();
    }
  }

  /**
   * Starts periodic refreshes: one now, then every `refreshIntervalMs` after the previous one ended.
   * Failures are reported through `onEvent` and retried at the next tick. Idempotent.
   */
  start(): void {
    if (this.closed || this.#timer !== undefined) return;
    const tick = () => {
      this.refresh()
        .catch(() => {})
        .finally(() => {
          if (!this.closed)
            this.#timer = setTimeout(tick, this.#o.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /**
   * Asks one orchestrator again, e.g. with the job's capabilities for its exact price and fresh ticket
   * params before paying (go-livepeer refreshes a session this way, docs/spec/orchestrator-gateway.md#orchestratorinfo; refresh timeout
   * 2.5 s upstream). Records latency or failure. Rejects with the fetcher's error.
   */
  async fetchOne(
    url: string,
    options: { capabilities?: Capabilities; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<OrchestratorInfo> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closer.signal])
      : this.#closer.signal;
    signal.throwIfAborted();
    const request = orchestratorRequest({
      credentials: this.#o.credentials ?? OFFCHAIN_CREDENTIALS,
      capabilities: options.capabilities,
      ignoreCapacityCheck: this.#o.ignoreCapacityCheck,
    });
    const started = performance.now();
    try {
      const info = await this.#o.fetchInfo(url, request, {
        signal,
        timeoutMs: options.timeoutMs ?? this.#o.callTimeoutMs,
      });
      this.recordSuccess(url, performance.now() - started);
      return info;
    } catch (err) {
      if (!signal.aborted) this.recordFailure(url, err);
      throw err;
    }
  }

  /**
   * Records a successful call (also for calls the gateway makes itself, e.g. a job that succeeded).
   * Jobs name an orchestrator by its `transcoder`; their outcomes count for the URL discovery asked,
   * so the health shown for it is the health measured.
   */
  recordSuccess(url: string, latencyMs?: number): void {
    const s = this.#statsFor(this.#statsKey(url));
    s.successes++;
    s.consecutiveFailures = 0;
    s.lastSuccessAt = this.#now();
    if (latencyMs !== undefined) {
      s.lastLatencyMs = latencyMs;
      s.avgLatencyMs =
        s.avgLatencyMs === undefined
          ? latencyMs
          : s.avgLatencyMs + LATENCY_EWMA_ALPHA * (latencyMs - s.avgLatencyMs);
    }
  }

  /** Records a failed call (also for failures of the gateway's own calls to the orchestrator). */
  recordFailure(url: string, error: unknown): void {
    const s = this.#statsFor(this.#statsKey(url));
    s.failures++;
    s.consecutiveFailures++;
    s.lastFailureAt = this.#now();
    s.lastError = error instanceof Error ? error.message : String(error);
  }

  /** Stats of every orchestrator seen so far, or of one URL. */
  stats(): OrchestratorStats[];
  stats(url: string): OrchestratorStats | undefined;
  stats(url?: string): OrchestratorStats[] | OrchestratorStats | undefined {
    if (url !== undefined) {
      const s = this.#stats.get(url);
      return s && { ...s };
    }
    return [...this.#stats.values()].map((s) => ({ ...s }));
  }

  /** The asked URL of the snapshot's orchestrator whose `transcoder` is `key`, else `key` itself. */
  #statsKey(key: string): string {
    const bare = key.replace(/\/+$/, "");
    const d = this.#snapshot.find((x) => x.url === key || x.transcoder.replace(/\/+$/, "") === bare);
    return d?.url ?? key;
  }

  #statsFor(url: string): OrchestratorStats {
    let s = this.#stats.get(url);
    if (s === undefined) {
      s = { url, successes: 0, failures: 0, consecutiveFailures: 0 };
      this.#stats.set(url, s);
    }
    return s;
  }

  /** Stops refreshing and aborts every call in flight. Idempotent. */
  close(): void {
    clearTimeout(this.#timer);
    this.#closer.abort(new Error("orchestrator pool closed"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}
