/**
 * On-chain discovery (go-livepeer `eth/client.go::TranscoderPool` + `discovery/db_discovery.go`,
 * docs/spec/orchestrator-gateway.md#on-chain-discovery): walk the BondingManager active pool, read each orchestrator's stake and activation window,
 * and its service URI from the AI Service Registry, falling back to the ServiceRegistry.
 *
 * Differences from go-livepeer, on purpose: no SQLite cache (wrap the source in {@link cachedSource}),
 * and stake is `transcoderTotalStake` in wei (go-livepeer stores the current round's earnings-pool
 * stake as LPT × 10^5; both are proportional for stake weighting).
 */
import { type Address, type Chain, getAddress, type PublicClient, type Transport, zeroAddress } from "viem";
import { bondingManagerAbi, roundsManagerAbi, serviceRegistryAbi } from "../../chain/abis.ts";
import { DiscoveryError, type DiscoverySource, type OrchestratorCandidate, SCORE_TRUSTED } from "./types.ts";
import { normalizeOrchestratorUrl } from "./uri.ts";

/** Upper bound on the pool walk, so a corrupt list cannot loop forever (mainnet caps the pool at 100). */
export const MAX_POOL_WALK = 1_000;

/** Options of {@link chainSource}. */
export interface ChainSourceOptions {
  publicClient: PublicClient<Transport, Chain | undefined>;
  bondingManager: Address;
  /** AI Service Registry: asked first for the service URI. */
  aiServiceRegistry?: Address;
  /** ServiceRegistry: asked when the AI registry is absent or has no URI for the orchestrator. */
  serviceRegistry?: Address;
  /**
   * RoundsManager: when given, only orchestrators with `activationRound <= currentRound <
   * deactivationRound` are listed (go-livepeer's URL filter).
   */
  roundsManager?: Address;
  /** Reads in flight at once; default 16. */
  concurrency?: number;
  /** Called for each pool member that is skipped (no URI, bad URI, inactive). */
  onSkip?: (address: Address, reason: string) => void;
}

interface PoolMember {
  ethAddress: Address;
  stake: bigint;
  activationRound: bigint;
  deactivationRound: bigint;
  uri: string;
}

/**
 * A source listing the BondingManager's active pool (stake order, largest first) with service URIs.
 * Members without a URI in either registry, with an unparseable URI, or outside their activation
 * window are skipped (reported to `onSkip`). RPC failures reject with `DISCOVERY_CHAIN_FAILED` (503).
 */
export function chainSource(options: ChainSourceOptions): DiscoverySource {
  if (options.aiServiceRegistry === undefined && options.serviceRegistry === undefined)
    throw new RangeError("chainSource needs aiServiceRegistry or serviceRegistry");
  const client = options.publicClient;
  const concurrency = Math.max(1, options.concurrency ?? 16);

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

  const member = async (addr: Address): Promise<PoolMember> => {
    const [stake, t, uri] = await Promise.all([
      client.readContract({
        address: options.bondingManager,
        abi: bondingManagerAbi,
        functionName: "transcoderTotalStake",
        args: [addr],
      }),
      client.readContract({
        address: options.bondingManager,
        abi: bondingManagerAbi,
        functionName: "getTranscoder",
        args: [addr],
      }),
      uriOf(addr),
    ]);
    return { ethAddress: addr, stake, activationRound: t[4], deactivationRound: t[5], uri };
  };

  return {
    name: "chain",
    async list(signal) {
      try {
        const addrs: Address[] = [];
        let cur = await client.readContract({
          address: options.bondingManager,
          abi: bondingManagerAbi,
          functionName: "getFirstTranscoderInPool",
        });
        while (cur !== zeroAddress && addrs.length < MAX_POOL_WALK) {
          signal?.throwIfAborted();
          const a = getAddress(cur);
          if (addrs.includes(a)) break;
          addrs.push(a);
          cur = await client.readContract({
            address: options.bondingManager,
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
        const members: PoolMember[] = new Array(addrs.length);
        let next = 0;
        const worker = async () => {
          while (next < addrs.length) {
            signal?.throwIfAborted();
            const i = next++;
            members[i] = await member(addrs[i] as Address);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, addrs.length) }, worker));

        const out: OrchestratorCandidate[] = [];
        for (const m of members) {
          if (round !== undefined && !(m.activationRound <= round && round < m.deactivationRound)) {
            options.onSkip?.(m.ethAddress, `not active in round ${round}`);
            continue;
          }
          if (m.uri === "") {
            options.onSkip?.(m.ethAddress, "no service URI registered");
            continue;
          }
          let url: string;
          try {
            url = normalizeOrchestratorUrl(m.uri);
          } catch {
            options.onSkip?.(m.ethAddress, `invalid service URI ${JSON.stringify(m.uri)}`);
            continue;
          }
          if (out.some((c) => c.url === url)) {
            options.onSkip?.(m.ethAddress, `service URI ${url} already listed by another orchestrator`);
            continue;
          }
          out.push({ url, score: SCORE_TRUSTED, ethAddress: m.ethAddress, stake: m.stake, source: "chain" });
        }
        return out;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        throw new DiscoveryError(
          `on-chain discovery failed reading the BondingManager pool at ${options.bondingManager}: ${(
            err as Error
          ).message
            .split("\n")[0]
            ?.replace(/\.$/, "")}; check --eth-url and the contract addresses`,
          { code: "DISCOVERY_CHAIN_FAILED", cause: err },
        );
      }
    },
  };
}
