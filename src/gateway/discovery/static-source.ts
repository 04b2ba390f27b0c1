/** The static discovery source (`--orch-addr a,b,c`; go-livepeer `-orchAddr`, docs/spec/orchestrator-gateway.md#discovery-sources). */
import { type DiscoverySource, type OrchestratorCandidate, SCORE_TRUSTED } from "./types.ts";
import { parseOrchestratorList } from "./uri.ts";

/**
 * A source that always lists the same orchestrators, trusted (score 1.0). Addresses are validated
 * here, so a bad `--orch-addr` fails at start-up with a 400 `INVALID_ORCHESTRATOR_ADDRESS`.
 */
export function staticSource(addresses: string | readonly string[]): DiscoverySource {
  const candidates: OrchestratorCandidate[] = parseOrchestratorList(addresses).map((url) => ({
    url,
    score: SCORE_TRUSTED,
    source: "static",
  }));
  return {
    name: "static",
    async list(signal) {
      signal?.throwIfAborted();
      return candidates.map((c) => ({ ...c }));
    },
  };
}
