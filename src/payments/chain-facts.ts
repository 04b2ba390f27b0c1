/**
 * The chain facts the payment logic needs, as small interfaces the chain layer implements (with viem
 * and a block watcher), and the error the chain layer answers with once its facts are too old to pay
 * against. Nothing here performs I/O.
 */
import type { Address, Hex } from "viem";
import { TributaryError } from "../node/errors.ts";
import { PARAMS_EXPIRATION_BLOCKS } from "./constants.ts";
import type { SenderInfo } from "./types.ts";

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Round and block facts, read from a cache the chain layer keeps fresh (go-livepeer `TimeManager`).
 * Block numbers are L1 numbers (on Arbitrum, the `l1BlockNumber` header field).
 */
export interface TimeSource {
  /** Latest L1 block number seen. */
  lastSeenL1Block(): bigint;
  /** RoundsManager.lastInitializedRound(). */
  lastInitializedRound(): bigint;
  /** blockHashForRound(lastInitializedRound). */
  lastInitializedL1BlockHash(): Hex;
  /** blockHashForRound(lastInitializedRound − 1): the fallback when the last hash is zero (Arbitrum). */
  preLastInitializedL1BlockHash(): Hex;
}

/** Current gas price in wei (go-livepeer `GasPriceMonitor`); undefined = unknown (treated as 0). */
export interface GasPriceSource {
  gasPrice(): bigint | undefined;
}

/** Sender facts from the TicketBroker (go-livepeer `SenderManager` / `SenderMonitor`). */
export interface SenderInfoSource {
  senderInfo(sender: Address): MaybePromise<SenderInfo>;
}

/** What a recipient needs about a sender: its info and its max float towards this recipient. */
export interface SenderMonitor extends SenderInfoSource {
  /** See {@link computeMaxFloat}. */
  maxFloat(sender: Address): MaybePromise<bigint>;
}

/** Inputs of {@link computeMaxFloat}. */
export interface MaxFloatInputs {
  info: SenderInfo;
  /** BondingManager.getTranscoderPoolSize(). */
  poolSize: bigint;
  /** TicketBroker.claimedReserve(sender, recipient). */
  claimedByRecipient: bigint;
  /** Face value of this recipient's winning tickets from the sender whose redemption is pending. */
  pendingAmount: bigint;
}

/** Minimum deposit / pending ratio to ignore pending redemptions. // go-livepeer pm/sendermonitor.go */
export const MIN_DEPOSIT_PENDING_RATIO = 3;

/**
 * The sender's max float towards a recipient (go-livepeer `LocalSenderMonitor.maxFloat`):
 * `reserveAlloc = (fundsRemaining + claimedInCurrentRound) / poolSize − claimedByRecipient` (0 for an
 * empty pool); that, minus `pendingAmount` unless `deposit / pendingAmount ≥ 3`.
 */
export function computeMaxFloat(x: MaxFloatInputs): bigint {
  const reserveAlloc =
    x.poolSize === 0n
      ? 0n
      : (x.info.reserve.fundsRemaining + x.info.reserve.claimedInCurrentRound) / x.poolSize -
        x.claimedByRecipient;
  if (x.pendingAmount > 0n && x.info.deposit >= BigInt(MIN_DEPOSIT_PENDING_RATIO) * x.pendingAmount)
    return reserveAlloc;
  return reserveAlloc - x.pendingAmount;
}

/** Seconds per L1 (Ethereum) block since the merge; ticket params count L1 blocks. */
export const L1_BLOCK_SECONDS = 12;

/**
 * How long cached chain facts are trusted without a successful chain read, by default: one ticket
 * params lifetime, {@link PARAMS_EXPIRATION_BLOCKS} L1 blocks × {@link L1_BLOCK_SECONDS} = 8 min. Past
 * it, every ticket params quoted from the last good read has expired on chain while the frozen
 * `lastSeenL1Block` still calls it valid, and params quoted now would expire in the past; the
 * sender's deposit and reserve, and this orchestrator's place in the active set, are that old too.
 * An RPC restart or a provider blip of a few minutes stays within it.
 */
export const DEFAULT_MAX_CHAIN_STALENESS_MS = Number(PARAMS_EXPIRATION_BLOCKS) * L1_BLOCK_SECONDS * 1000;

/** Whole seconds, or tenths below 10 s. */
const seconds = (ms: number): string =>
  ms < 10_000 ? (ms / 1000).toFixed(1) : String(Math.round(ms / 1000));

/**
 * The chain has not been read successfully for longer than the configured bound: new ticket params
 * and new tickets are refused (503) until a read succeeds again.
 */
export class ChainFactsStaleError extends TributaryError {
  declare readonly code: "CHAIN_FACTS_STALE";

  /**
   * @param staleForMs time since the last successful chain read.
   * @param maxStalenessMs the bound it passed.
   * @param rpcHost the RPC's host[:port], without credentials or path.
   */
  constructor(staleForMs: number, maxStalenessMs: number, rpcHost: string) {
    super(
      "CHAIN_FACTS_STALE",
      `chain facts are stale: no successful read from the chain RPC at ${rpcHost} for ` +
        `${seconds(staleForMs)} s (limit ${seconds(maxStalenessMs)} s); paid work is ` +
        "refused until the RPC answers again: check the orchestrator's --eth-url",
      {
        status: 503,
        details: {
          stale_for_ms: Math.round(staleForMs),
          max_staleness_ms: maxStalenessMs,
          rpc_host: rpcHost,
        },
      },
    );
  }
}
