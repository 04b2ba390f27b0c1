/**
 * Chain facts for the orchestrator's Recipient, read with viem and kept fresh by polling
 * (docs/spec/payments.md#ticket-parameters, #redemption, go-livepeer `TimeManager`, `GasPriceMonitor`, `LocalSenderMonitor`):
 * last seen L1 block, last initialized round and its block hashes, gas price, whether the
 * recipient is in the active set, sender info and max float.
 *
 * It implements the payments module's `TimeSource`, `GasPriceSource` and `SenderMonitor` interfaces
 * (src/payments/chain-facts.ts).
 *
 * Per-sender reads (sender info, pool size, claimed reserve) are served from memory for
 * `senderTtlMs` (default: one poll interval, 2 s) after a successful read, and concurrent misses of
 * one key share one read (single flight), as go-livepeer's `SenderMonitor` serves sender info from
 * memory. Staleness this allows: for up to `senderTtlMs` after a change on chain, a sender's deposit,
 * reserve, withdraw round, the pool size and this recipient's claimed reserve may be the old values.
 * On the orchestrator that means a sender who just withdrew or was drained by other recipients can
 * still get ticket params and credited tickets for that long (the same window go-livepeer has between
 * an event and its handling; bounded by the max float, which uses the cached reserve), and a winner
 * this recipient just redeemed from the reserve leaves the pending queue before the cached claimed
 * reserve shows it, so the max float can be over by that ticket's face value for up to one TTL.
 * On the gateway, its own deposit and reserve (what its Sender checks before paying) lag a deposit
 * or a redemption by the same bound. No event watch: changes are seen when the TTL runs out.
 *
 * The RPC may go away: a periodic refresh that fails keeps the last values (all of them: a refresh is
 * applied whole or not at all, so a round is never paired with another round's block hash), and the
 * per-sender reads (sender info, pool size, claimed reserve) fall back to their last known values, so
 * tickets keep validating on cached facts (for at most `maxStalenessMs`, below). A read that takes longer than `staleAfterMs` (an RPC that
 * hangs rather than refuses) is answered from the cache too. After a failed or slow read, the cache
 * answers without asking the RPC for one poll interval (no retry storm per ticket while it is down). A sender never seen
 * while the RPC was up cannot be validated until it returns.
 *
 * Cached facts are not trusted forever: once no refresh has succeeded for `maxStalenessMs` (default
 * {@link DEFAULT_MAX_CHAIN_STALENESS_MS}, one ticket params lifetime, 8 min), sender info and max
 * float reject with {@link ChainFactsStaleError} (503 `CHAIN_FACTS_STALE`, naming how long and the RPC
 * host), so the Recipient quotes no priced ticket params and accepts no tickets; the first refresh
 * that succeeds (the poll keeps running) ends it. Both transitions are logged (warn, then info).
 * With `refuseWhenStale: false` (the gateway's Sender, whose tickets each orchestrator checks against
 * its own chain view) the facts are only logged as stale and keep answering.
 */
import type { Address, Hex } from "viem";
import { type Logger, silentLogger } from "../node/logger.ts";
import {
  ChainFactsStaleError,
  computeMaxFloat,
  DEFAULT_MAX_CHAIN_STALENESS_MS,
  type GasPriceSource,
  type SenderMonitor,
  type TimeSource,
} from "../payments/chain-facts.ts";
import type { SenderInfo } from "../payments/types.ts";
import { bondingManagerAbi, roundsManagerAbi, ticketBrokerAbi } from "./abis.ts";
import type { ChainClients } from "./clients.ts";
import { readSenderInfo } from "./ticket-broker.ts";

/** Options of {@link startChainFacts}. */
export interface ChainFactsOptions {
  clients: ChainClients;
  contracts: { roundsManager: Address; bondingManager: Address; ticketBroker: Address };
  /** The ticket recipient (for `claimedReserve`). */
  recipient: Address;
  /**
   * Face value of this recipient's winning tickets from `sender` not yet redeemed (the redemption
   * queue); subtracted from the max float as go-livepeer's sender monitor does. Default 0.
   */
  pendingAmount?: (sender: Address) => bigint;
  /** Refresh period; default 2000 ms. */
  pollIntervalMs?: number;
  /**
   * How long a per-sender read may take before the last known value answers instead (the read goes
   * on and refreshes the cache); default 1000 ms.
   */
  staleAfterMs?: number;
  /**
   * How long a successful per-sender read (sender info, pool size, claimed reserve) is served from
   * memory before the next call reads again; default `pollIntervalMs`. 0 reads on every call.
   */
  senderTtlMs?: number;
  /**
   * How long after the last successful refresh the facts are trusted; default
   * {@link DEFAULT_MAX_CHAIN_STALENESS_MS} (8 min). 0: forever.
   */
  maxStalenessMs?: number;
  /**
   * Reject per-sender reads with {@link ChainFactsStaleError} past `maxStalenessMs` (default true);
   * false only logs the transitions.
   */
  refuseWhenStale?: boolean;
  /** The RPC URL, for messages (only its host is shown); default the chain's default RPC URL. */
  rpcUrl?: string;
  /**
   * Clock in ms for the per-sender cache and the staleness bound (tests); default `performance.now`
   * (monotonic: a wall-clock step neither fakes nor hides an outage).
   */
  now?: () => number;
  /**
   * Most per-sender reads kept as last known values; default {@link DEFAULT_MAX_CACHED_KEYS}. The
   * least recently read goes first; a sender it drops is simply read again.
   */
  maxCachedKeys?: number;
  /** Read the L1 block from the header's `l1BlockNumber` (Arbitrum); default: on chain 42161. */
  l1BlockNumber?: boolean;
  logger?: Logger;
}

/** Polled chain facts. Dispose to stop polling. */
export interface ChainFacts extends TimeSource, GasPriceSource, SenderMonitor, AsyncDisposable {
  /** BondingManager.isActiveTranscoder(recipient) at the last refresh. */
  isActive(): boolean;
  /** Reads everything now. */
  refresh(): Promise<void>;
  /** The error paid work gets now when the facts are past `maxStalenessMs`, else undefined. */
  stale(): ChainFactsStaleError | undefined;
  close(): Promise<void>;
}

/** Per-sender reads kept in memory by default (3 keys a sender: about 3 300 senders). */
export const DEFAULT_MAX_CACHED_KEYS = 10_000;

const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** host[:port] of an RPC URL: no credentials, no path (API keys often live there). */
function rpcHostOf(url: string | undefined): string {
  if (url === undefined) return "(unknown RPC)";
  try {
    return new URL(url).host || "(unknown RPC)";
  } catch {
    return "(unparseable RPC URL)";
  }
}

/** Reads the facts once (rejects if the chain is unreachable), then refreshes them periodically. */
export async function startChainFacts(options: ChainFactsOptions): Promise<ChainFacts> {
  const { clients, contracts } = options;
  const pub = clients.publicClient;
  const log = options.logger ?? silentLogger();
  const useL1 = options.l1BlockNumber ?? pub.chain?.id === 42161;
  const now = options.now ?? (() => performance.now());
  const maxStalenessMs = options.maxStalenessMs ?? DEFAULT_MAX_CHAIN_STALENESS_MS;
  if (!(maxStalenessMs >= 0)) throw new RangeError("maxStalenessMs must be ≥ 0");
  const refuseWhenStale = options.refuseWhenStale ?? true;
  const rpcHost = rpcHostOf(options.rpcUrl ?? clients.chain?.rpcUrls?.default?.http?.[0]);
  /** When the last refresh succeeded, by `now`. */
  let freshAt = now();
  /** Whether the facts were reported stale (logged once per outage). */
  let reportedStale = false;
  let block = 0n;
  let round = 0n;
  let hash: Hex = ZERO_HASH;
  let preHash: Hex = ZERO_HASH;
  let gas: bigint | undefined;
  let active = false;

  const refresh = async (): Promise<void> => {
    const b = await pub.getBlock({ blockTag: "latest" });
    const l1 = (b as unknown as { l1BlockNumber?: Hex }).l1BlockNumber;
    const nextBlock = useL1 && l1 ? BigInt(l1) : (b.number ?? block);
    const nextRound = await pub.readContract({
      address: contracts.roundsManager,
      abi: roundsManagerAbi,
      functionName: "lastInitializedRound",
    });
    const nextHash = await pub.readContract({
      address: contracts.roundsManager,
      abi: roundsManagerAbi,
      functionName: "blockHashForRound",
      args: [nextRound],
    });
    const nextPreHash =
      nextRound > 0n
        ? await pub.readContract({
            address: contracts.roundsManager,
            abi: roundsManagerAbi,
            functionName: "blockHashForRound",
            args: [nextRound - 1n],
          })
        : ZERO_HASH;
    const nextGas = await pub.getGasPrice();
    const nextActive = await pub.readContract({
      address: contracts.bondingManager,
      abi: bondingManagerAbi,
      functionName: "isActiveTranscoder",
      args: [options.recipient],
    });
    // All or nothing: a refresh that fails half way leaves the previous facts untouched.
    block = nextBlock;
    round = nextRound;
    hash = nextHash;
    preHash = nextPreHash;
    gas = nextGas;
    active = nextActive;
    const t = now();
    if (reportedStale) {
      reportedStale = false;
      log.info(
        { rpc_host: rpcHost, stale_for_ms: t - freshAt },
        "chain facts fresh again: the chain RPC answers; paid work is accepted again",
      );
    }
    freshAt = t;
  };
  /** The stale error when the last good refresh is older than the bound; logs the transition once. */
  const stale = (): ChainFactsStaleError | undefined => {
    const age = now() - freshAt;
    if (maxStalenessMs === 0 || age <= maxStalenessMs) return undefined;
    const err = new ChainFactsStaleError(age, maxStalenessMs, rpcHost);
    if (!reportedStale) {
      reportedStale = true;
      log.warn(
        { code: err.code, rpc_host: rpcHost, stale_for_ms: age, max_staleness_ms: maxStalenessMs },
        refuseWhenStale
          ? err.message
          : `chain facts are stale: no successful read from the chain RPC at ${rpcHost} for ${Math.round(age / 1000)} s; payments continue on the cached facts`,
      );
    }
    return err;
  };
  /** Rejects per-sender reads past the bound (unless only reporting). */
  const assertFresh = (): void => {
    const err = stale();
    if (err && refuseWhenStale) throw err;
  };
  await refresh();
  let running = false;
  const pollMs = options.pollIntervalMs ?? 2000;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    refresh()
      .catch((err: unknown) => {
        log.warn({ err }, "chain facts refresh failed; keeping the last values");
        stale(); // report the transition even when no paid work arrives
      })
      .finally(() => {
        running = false;
      });
  }, pollMs);
  timer.unref();

  /**
   * Last known values of per-sender reads, by key, with when they were read; at most `maxCachedKeys`,
   * least recently read first out (any address can ask for ticket params, so keys are unbounded).
   */
  const lastKnown = new Map<string, { value: unknown; at: number }>();
  const maxCachedKeys = options.maxCachedKeys ?? DEFAULT_MAX_CACHED_KEYS;
  const remember = (key: string, value: unknown): void => {
    lastKnown.delete(key); // re-inserted at the end: the Map's order is the order of reads
    lastKnown.set(key, { value, at: now() });
    while (lastKnown.size > maxCachedKeys) lastKnown.delete(lastKnown.keys().next().value as string);
  };
  /** Reads under way, by key: concurrent misses share one (single flight). */
  const inflight = new Map<string, Promise<unknown>>();
  let quietUntil = 0;
  const staleAfterMs = options.staleAfterMs ?? 1000;
  const ttlMs = options.senderTtlMs ?? pollMs;
  /** One read of `key`, falling back to the last known value when it fails or is slow. */
  const readOrFallBack = async <T>(key: string, read: () => Promise<T>): Promise<T> => {
    const fallBack = (err: unknown): T => {
      if (now() >= quietUntil) log.warn({ err, key }, "chain read failed; using the last known value");
      quietUntil = now() + pollMs;
      return lastKnown.get(key)?.value as T;
    };
    const reading = read().then((value) => {
      remember(key, value);
      return value;
    });
    if (!lastKnown.has(key)) return reading;
    // An RPC that hangs costs a caller at most staleAfterMs; the read still updates the cache.
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<"slow">((resolve) => {
      timer = setTimeout(() => resolve("slow"), staleAfterMs);
    });
    try {
      const first = await Promise.race([reading, slow]);
      return first === "slow" ? fallBack(new Error(`no answer within ${staleAfterMs} ms`)) : first;
    } catch (err) {
      return fallBack(err);
    } finally {
      clearTimeout(timer);
      reading.catch(() => {}); // a late failure of an abandoned read is already handled
    }
  };
  const cached = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    const known = lastKnown.get(key);
    const t = now();
    if (known && (t - known.at < ttlMs || t < quietUntil)) return Promise.resolve(known.value as T);
    let pending = inflight.get(key) as Promise<T> | undefined;
    if (pending === undefined) {
      pending = readOrFallBack(key, read).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  };
  const senderInfo = async (sender: Address): Promise<SenderInfo> => {
    assertFresh();
    return cached(`senderInfo:${sender.toLowerCase()}`, () =>
      readSenderInfo(clients, contracts.ticketBroker, sender),
    );
  };
  const close = async (): Promise<void> => clearInterval(timer);
  return {
    lastSeenL1Block: () => block,
    lastInitializedRound: () => round,
    lastInitializedL1BlockHash: () => hash,
    preLastInitializedL1BlockHash: () => preHash,
    gasPrice: () => gas,
    isActive: () => active,
    senderInfo,
    async maxFloat(sender: Address): Promise<bigint> {
      assertFresh();
      const [info, poolSize, claimedByRecipient] = await Promise.all([
        senderInfo(sender),
        cached("poolSize", () =>
          pub.readContract({
            address: contracts.bondingManager,
            abi: bondingManagerAbi,
            functionName: "getTranscoderPoolSize",
          }),
        ),
        cached(`claimedReserve:${sender.toLowerCase()}`, () =>
          pub.readContract({
            address: contracts.ticketBroker,
            abi: ticketBrokerAbi,
            functionName: "claimedReserve",
            args: [sender, options.recipient],
          }),
        ),
      ]);
      const pendingAmount = options.pendingAmount?.(sender) ?? 0n;
      return computeMaxFloat({ info, poolSize, claimedByRecipient, pendingAmount });
    },
    refresh,
    stale,
    close,
    [Symbol.asyncDispose]: close,
  };
}
