/**
 * Which discovery source a gateway uses, from its configuration, with go-livepeer's precedence
 * (cmd/livepeer/starter: `-orchWebhookUrl` > `-orchAddr` > on-chain pool; the remote signer's
 * `/discover-orchestrators` only when nothing else applies; docs/spec/orchestrator-gateway.md#discovery-sources, #remote-signer).
 */
import { BadRequestError } from "../../node/errors.ts";
import { cachedSource } from "./cached-source.ts";
import { type ChainSourceOptions, chainSource } from "./chain-source.ts";
import { staticSource } from "./static-source.ts";
import type { DiscoverySource } from "./types.ts";
import { webhookSource } from "./webhook-source.ts";

/** Default cache of the on-chain pool walk (the pool changes at most once per round). */
export const CHAIN_SOURCE_CACHE_MS = 10 * 60_000;

/** Discovery settings of a gateway. */
export interface DiscoveryConfig {
  /** `--orch-addr`: static orchestrators. */
  orchAddr?: string | readonly string[];
  /** `--orch-webhook-url`. */
  orchWebhookUrl?: string;
  webhookHeaders?: Record<string, string>;
  /** Remote signer base URL; its `GET /discover-orchestrators` is the last resort. */
  remoteSignerUrl?: string;
  /** Headers for the remote signer (never sent to the orchestrator webhook). */
  remoteSignerHeaders?: Record<string, string>;
  /** On-chain mode: where the pool and registries are. */
  chain?: ChainSourceOptions & { cacheMs?: number };
  onWarning?: (message: string, error?: unknown) => void;
}

/** Which source was chosen. */
export type DiscoveryKind = "webhook" | "static" | "chain" | "remote-signer";

/**
 * Picks and builds the discovery source. Throws a 400 `NO_DISCOVERY_SOURCE` when nothing is
 * configured, and the sources' own 400s for bad addresses.
 */
export function discoverySourceFromConfig(config: DiscoveryConfig): {
  kind: DiscoveryKind;
  source: DiscoverySource;
} {
  if (config.orchWebhookUrl)
    return {
      kind: "webhook",
      source: webhookSource({
        url: config.orchWebhookUrl,
        headers: config.webhookHeaders,
        onWarning: config.onWarning,
      }),
    };
  const addrs = typeof config.orchAddr === "string" ? [config.orchAddr] : (config.orchAddr ?? []);
  if (addrs.some((a) => a.trim() !== "")) return { kind: "static", source: staticSource(addrs) };
  if (config.chain) {
    const { cacheMs, ...options } = config.chain;
    return {
      kind: "chain",
      source: cachedSource(chainSource(options), {
        ttlMs: cacheMs ?? CHAIN_SOURCE_CACHE_MS,
        onStale: (err) => config.onWarning?.("on-chain discovery failed, using the cached pool", err),
      }),
    };
  }
  if (config.remoteSignerUrl)
    return {
      kind: "remote-signer",
      source: webhookSource({
        url: new URL("/discover-orchestrators", config.remoteSignerUrl).toString(),
        headers: config.remoteSignerHeaders,
        onWarning: config.onWarning,
      }),
    };
  throw new BadRequestError(
    "no orchestrator discovery configured: pass --orch-addr host:port,…, --orch-webhook-url, an Ethereum RPC (on-chain mode) or a remote signer",
    { code: "NO_DISCOVERY_SOURCE" },
  );
}
