/**
 * The explorer's JSON views for a dashboard (`api/explorer`, `api/orchestrators`,
 * `api/capabilities`), and {@link poolFacts}, which turns a gateway's discovery pool into the facts
 * {@link aggregate} reads, so the gateway's `/dashboard` serves the same views as `tributary explorer`.
 */
import type { OrchestratorDescriptor, OrchestratorStats } from "../discovery/pool.ts";
import type { DashboardRunner } from "../discovery/runners.ts";
import { aggregate, type ExplorerView, type OrchestratorFacts } from "./aggregate.ts";
import { readUsdPerEth } from "./source.ts";

/** The three views over a function giving the current figures (computed per request). */
export function explorerViews(view: () => ExplorerView): Record<string, () => unknown> {
  return {
    explorer: view,
    orchestrators: () => {
      const v = view();
      return { generatedAt: v.generatedAt, orchestrators: v.orchestrators };
    },
    capabilities: () => {
      const v = view();
      return { generatedAt: v.generatedAt, capabilities: v.capabilities };
    },
  };
}

/**
 * A pool's view as facts: each snapshot entry is a successful probe (with its stake when the chain
 * listed it, as the only chain figure the pool keeps); an orchestrator whose last calls failed and
 * that is not in the snapshot is an unreachable one.
 */
export function poolFacts(
  snapshot: readonly OrchestratorDescriptor[],
  stats: readonly OrchestratorStats[],
  runners: readonly DashboardRunner[] = [],
): OrchestratorFacts[] {
  const out: OrchestratorFacts[] = snapshot.map((d) => ({
    url: d.url,
    probe: { ok: true, at: d.fetchedAt, latencyMs: d.latencyMs, info: d.info },
    runners: runners.filter((r) => r.orchestrator === d.url || r.orchestrator === d.transcoder),
  }));
  for (const s of stats)
    if (s.consecutiveFailures > 0 && !snapshot.some((d) => d.url === s.url))
      out.push({
        url: s.url,
        probe: { ok: false, at: s.lastFailureAt ?? 0, error: s.lastError ?? "unknown error", busy: false },
      });
  return out;
}

/** The views of a gateway's pool, for `createDashboard({ views })`. */
export function poolExplorerViews(
  pool: { snapshot(): OrchestratorDescriptor[]; stats(): OrchestratorStats[] },
  runners?: { dashboard(): DashboardRunner[] },
  now: () => number = Date.now,
  usdPerEthOf?: () => number | undefined,
): Record<string, () => unknown> {
  return explorerViews(() => {
    const usdPerEth = readUsdPerEth(usdPerEthOf);
    return aggregate(poolFacts(pool.snapshot(), pool.stats(), runners?.dashboard()), {
      now: now(),
      ...(usdPerEth !== undefined && { usdPerEth }),
    });
  });
}
