/**
 * The active set as the chain records it, for the explorer: every orchestrator in the
 * BondingManager's pool with its stake, reward cut, fee share, activation window and service URI
 * (AI Service Registry first, then ServiceRegistry). Unlike the gateway's {@link chainSource}, which
 * lists only orchestrators a gateway can use, this keeps every member (inactive ones, ones without a
 * URI) so the explorer can show why an orchestrator is not reachable.
 */
import { type PoolReadOptions, readPool } from "../discovery/chain-source.ts";
import { DiscoveryError } from "../discovery/types.ts";
import type { ChainFacts } from "./aggregate.ts";

/** The pool and the round it was read in. */
export interface ActiveSet {
  round?: bigint;
  members: ChainFacts[];
}

/** Reads the whole pool (stake order, as the BondingManager keeps it). Rejects with `DISCOVERY_CHAIN_FAILED`. */
export async function readActiveSet(options: PoolReadOptions, signal?: AbortSignal): Promise<ActiveSet> {
  try {
    const { round, members } = await readPool(options, signal);
    return {
      ...(round !== undefined && { round }),
      members: members.map(
        (m): ChainFacts => ({
          ...m,
          ...(round !== undefined && { active: m.activationRound <= round && round < m.deactivationRound }),
        }),
      ),
    };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new DiscoveryError(
      `reading the BondingManager pool at ${options.bondingManager} failed: ${(err as Error).message.split("\n")[0]?.replace(/\.$/, "")}; check --eth-url and the network`,
      { code: "DISCOVERY_CHAIN_FAILED", cause: err },
    );
  }
}
