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

/** One BondingManager pool member as the chain records it. */
export interface PoolRecord {
  address: Address;
  /** `transcoderTotalStake`, wei. */
  stake: bigint;
  rewardCut: bigint;
  feeShare: bigint;
  activationRound: bigint;
  deactivationRound: bigint;
  /** From the AI Service Registry, else the ServiceRegistry; "" when neither has one. */
  serviceUri: string;
}

/** What {@link readPool} needs. */
export type PoolReadOptions = Pick<
  ChainSourceOptions,
  | "publicClient"
  | "bondingManager"
  | "aiServiceRegistry"
  | "serviceRegistry"
  | "roundsManager"
  | "concurrency"
>;

/**
 * Walks the whole BondingManager pool (stake order, at most {@link MAX_POOL_WALK}) and reads each
 * member's stake, transcoder record and service URI, `concurrency` reads at a time; with a
 * RoundsManager also the current round. Used by {@link chainSource} (which keeps the members a
 * gateway can use) and the explorer (which keeps them all). RPC errors reject as they are.
 */
export async function readPool(
  options: PoolReadOptions,
  signal?: AbortSignal,
): Promise<{ round?: bigint; members: PoolRecord[] }> {
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
  const members: PoolRecord[] = new Array(addrs.length);
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
      };
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? 16);
  await Promise.all(Array.from({ length: Math.min(concurrency, addrs.length) }, worker));
  return { ...(round !== undefined && { round }), members };
}

/**
 * A source listing the BondingManager's active pool (stake order, largest first) with service URIs.
 * Members without a URI in either registry, with an unparseable URI, or outside their activation
 * window are skipped (reported to `onSkip`). RPC failures reject with `DISCOVERY_CHAIN_FAILED` (503).
 */
export function chainSource(options: ChainSourceOptions): DiscoverySource {
  if (options.aiServiceRegistry === undefined && options.serviceRegistry === undefined)
    throw new RangeError("chainSource needs aiServiceRegistry or serviceRegistry");
  return {
    name: "chain",
    async list(signal) {
      try {
        const { round, members } = await readPool(options, signal);
        const out: OrchestratorCandidate[] = [];
        for (const m of members) {
          if (round !== undefined && !(m.activationRound <= round && round < m.deactivationRound)) {
            options.onSkip?.(m.address, `not active in round ${round}`);
            continue;
          }
          if (m.serviceUri === "") {
            options.onSkip?.(m.address, "no service URI registered");
            continue;
          }
          let url: string;
          try {
            url = normalizeOrchestratorUrl(m.serviceUri);
          } catch {
            options.onSkip?.(m.address, `invalid service URI ${JSON.stringify(m.serviceUri)}`);
            continue;
          }
          if (out.some((c) => c.url === url)) {
            options.onSkip?.(m.address, `service URI ${url} already listed by another orchestrator`);
            continue;
          }
          out.push({ url, score: SCORE_TRUSTED, ethAddress: m.address, stake: m.stake, source: "chain" });
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
