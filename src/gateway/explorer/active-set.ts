/**
 * The active set as the chain records it, for the explorer: every orchestrator in the
 * BondingManager's pool with its stake, reward cut, fee share, activation window and service URI
 * (AI Service Registry first, then ServiceRegistry). Unlike the gateway's {@link chainSource}, which
 * lists only orchestrators a gateway can use, this keeps every member (inactive ones, ones without a
 * URI) so the explorer can show why an orchestrator is not reachable.
 */
import { type Address, type Chain, getAddress, type PublicClient, type Transport, zeroAddress } from "viem";
import { bondingManagerAbi, roundsManagerAbi, serviceRegistryAbi } from "../../chain/abis.ts";
import { type ChainSourceOptions, MAX_POOL_WALK } from "../discovery/chain-source.ts";
import { DiscoveryError } from "../discovery/types.ts";
import type { ChainFacts } from "./aggregate.ts";

/** The pool and the round it was read in. */
export interface ActiveSet {
  round?: bigint;
  members: ChainFacts[];
}

/** Reads the whole pool (stake order, as the BondingManager keeps it). Rejects with `DISCOVERY_CHAIN_FAILED`. */
export async function readActiveSet(
  options: Pick<
    ChainSourceOptions,
    "bondingManager" | "aiServiceRegistry" | "serviceRegistry" | "roundsManager" | "concurrency"
  > & { publicClient: PublicClient<Transport, Chain | undefined> },
  signal?: AbortSignal,
): Promise<ActiveSet> {
  const client = options.publicClient;
  const bm = options.bondingManager;
  const uriOf = async (addr: Address): Promise<string> => {
    for (const registry of [options.aiServiceRegistry, options.serviceRegistry]) {
      if (registry === undefined) continue;
      const uri = await client.readContract({
        address: registry,
        abi: serviceRegistryAbi,
        functionName: "getServiceURI",
        args: [addr],
      });
      if (uri.trim() !== "") return uri.trim();
    }
    return "";
  };
  try {
    const addrs: Address[] = [];
    let cur = await client.readContract({
      address: bm,
      abi: bondingManagerAbi,
      functionName: "getFirstTranscoderInPool",
    });
    while (cur !== zeroAddress && addrs.length < MAX_POOL_WALK) {
      signal?.throwIfAborted();
      const a = getAddress(cur);
      if (addrs.includes(a)) break;
      addrs.push(a);
      cur = await client.readContract({
        address: bm,
        abi: bondingManagerAbi,
        functionName: "getNextTranscoderInPool",
        args: [a],
      });
    }
    const round =
      options.roundsManager === undefined
        ? undefined
        : await client.readContract({
            address: options.roundsManager,
            abi: roundsManagerAbi,
            functionName: "currentRound",
          });
    const members: ChainFacts[] = new Array(addrs.length);
    let next = 0;
    const worker = async () => {
      while (next < addrs.length) {
        signal?.throwIfAborted();
        const i = next++;
        const address = addrs[i] as Address;
        const [stake, t, serviceUri] = await Promise.all([
          client.readContract({
            address: bm,
            abi: bondingManagerAbi,
            functionName: "transcoderTotalStake",
            args: [address],
          }),
          client.readContract({
            address: bm,
            abi: bondingManagerAbi,
            functionName: "getTranscoder",
            args: [address],
          }),
          uriOf(address),
        ]);
        members[i] = {
          address,
          stake,
          rewardCut: t[1],
          feeShare: t[2],
          activationRound: t[4],
          deactivationRound: t[5],
          serviceUri,
          ...(round !== undefined && { active: t[4] <= round && round < t[5] }),
        };
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(Math.max(1, options.concurrency ?? 16), addrs.length) }, worker),
    );
    return { ...(round !== undefined && { round }), members };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new DiscoveryError(
      `reading the BondingManager pool at ${bm} failed: ${(err as Error).message.split("\n")[0]?.replace(/\.$/, "")}; check --eth-url and the network`,
      { code: "DISCOVERY_CHAIN_FAILED", cause: err },
    );
  }
}
