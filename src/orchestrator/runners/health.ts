/**
 * Health of static live runners (go-livepeer: every 5 s, 3 s timeout): a runner is healthy when a GET
 * of its `health_url` answers exactly `healthy_status_code`. Unlike containers (../health.ts, which
 * reads a JSON `status` and tolerates one failure), one bad answer hides a static runner and releases
 * its sessions, as upstream does; the next good one brings it back.
 */
import { probeGet } from "../probe.ts";
import type { RunnerRegistry } from "./registry.ts";

/** Time between health checks of static runners (go-livepeer: 5 s). */
export const DEFAULT_RUNNER_HEALTH_INTERVAL_MS = 5000;
/** Timeout of one check (go-livepeer: 3 s). */
export const DEFAULT_RUNNER_HEALTH_TIMEOUT_MS = 3000;

/** The status a GET of `url` answers, or undefined (unreachable, timed out). Never throws. */
export function probeStatus(
  url: string,
  timeoutMs = DEFAULT_RUNNER_HEALTH_TIMEOUT_MS,
): Promise<number | undefined> {
  return probeGet(url, { timeoutMs }).then((got) => got?.status);
}

/** Checks every static runner once (checks of one round run in parallel). */
export async function checkStaticRunners(
  registry: RunnerRegistry,
  probe: (url: string) => Promise<number | undefined> = probeStatus,
): Promise<void> {
  const runners = registry.all().filter((r) => r.isStatic && !r.removed && r.health !== undefined);
  await Promise.all(
    runners.map(async (r) => {
      const health = r.health;
      if (health === undefined) return;
      const status = await probe(health.url);
      registry.setHealthy(r, status === health.status);
    }),
  );
}
