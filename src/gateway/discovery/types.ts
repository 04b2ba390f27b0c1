/**
 * Discovery types: where orchestrator candidates come from (static list, webhook, chain) and the error
 * a source raises (docs/spec/orchestrator-gateway.md#discovery).
 */
import type { Address } from "viem";
import { TributaryError } from "../../node/errors.ts";

/** Score of a trusted orchestrator (`common.Score_Trusted`, go-livepeer). */
export const SCORE_TRUSTED = 1.0;
/** Score of an untrusted orchestrator (`common.Score_Untrusted`, go-livepeer). */
export const SCORE_UNTRUSTED = 0.0;

/** Which kind of source produced a candidate. */
export type DiscoverySourceKind = "static" | "webhook" | "chain";

/** An orchestrator a source knows about, before anyone has asked it for its `OrchestratorInfo`. */
export interface OrchestratorCandidate {
  /** Normalised service URI: `https://host:port` (a bare `host:port` gets `https://`), no trailing slash. */
  url: string;
  /** Trust score: static 1.0, webhook as returned, chain 1.0. */
  score: number;
  /** The on-chain orchestrator address (chain source only). */
  ethAddress?: Address;
  /** Active stake in wei (chain source only). */
  stake?: bigint;
  source: DiscoverySourceKind;
}

/** A strategy that lists orchestrator candidates. One interface for every discovery source. */
export interface DiscoverySource {
  /** Short name for logs, e.g. `static`, `webhook https://…`, `chain`. */
  readonly name: string;
  /**
   * The current candidates, deduplicated by `url`. Rejects with a {@link DiscoveryError} when the
   * source is unreachable; aborting `signal` rejects with the abort reason.
   */
  list(signal?: AbortSignal): Promise<OrchestratorCandidate[]>;
}

/** A discovery source failed (webhook down, bad JSON, RPC error). Answers 503. */
export class DiscoveryError extends TributaryError {
  constructor(
    message: string,
    options: { code?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(options.code ?? "DISCOVERY_FAILED", message, { ...options, status: 503 });
  }
}
