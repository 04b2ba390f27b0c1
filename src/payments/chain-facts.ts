/**
 * The chain facts the payment logic needs, as small interfaces the chain layer implements (with viem
 * and a block watcher). Nothing here performs I/O.
 */
import type { Address, Hex } from "viem";
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
