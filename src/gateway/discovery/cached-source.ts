/**
 * Caching for any {@link DiscoverySource}: one mechanism for the webhook's 1-minute cache and the
 * chain source's slower refresh (go-livepeer `WebhookDiscoveryRefreshInterval`, docs/spec/orchestrator-gateway.md#discovery-sources).
 */
import type { DiscoverySource, OrchestratorCandidate } from "./types.ts";

/** Options of {@link cachedSource}. */
export interface CachedSourceOptions {
  /** How long a successful answer is reused, in ms. */
  ttlMs: number;
  /** Clock in ms (tests); default `Date.now`. */
  now?: () => number;
  /** Called when a refresh failed and the previous answer is served instead. */
  onStale?: (error: unknown) => void;
}

/**
 * Wraps `source` so that `list` answers from a cache younger than `ttlMs`, concurrent refreshes share
 * one underlying call, and a failed refresh serves the last good answer (as go-livepeer's webhook pool
 * does) — it only rejects when there has never been a good answer. A caller's `signal` abandons its
 * own wait, not the shared refresh.
 */
export function cachedSource(source: DiscoverySource, options: CachedSourceOptions): DiscoverySource {
  const now = options.now ?? Date.now;
  let cached: { at: number; value: OrchestratorCandidate[] } | undefined;
  let inflight: Promise<OrchestratorCandidate[]> | undefined;

  const refresh = (): Promise<OrchestratorCandidate[]> => {
    inflight ??= source
      .list()
      .then(
        (value) => {
          cached = { at: now(), value };
          return value;
        },
        (error: unknown) => {
          if (cached === undefined) throw error;
          options.onStale?.(error);
          return cached.value;
        },
      )
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  return {
    name: source.name,
    async list(signal) {
      signal?.throwIfAborted();
      if (cached !== undefined && now() - cached.at < options.ttlMs) return copy(cached.value);
      const p = refresh();
      if (signal === undefined) return copy(await p);
      return copy(await raceAbort(p, signal));
    },
  };
}

function copy(list: OrchestratorCandidate[]): OrchestratorCandidate[] {
  return list.map((c) => ({ ...c }));
}

/** Resolves like `p`, or rejects with the signal's reason when it aborts first. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
