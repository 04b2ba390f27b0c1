/**
 * Chain facts for the orchestrator's Recipient, read with viem and kept fresh by polling
 * (payments.md §8, go-livepeer `TimeManager`, `GasPriceMonitor`, `LocalSenderMonitor`):
 * last seen L1 block, last initialized round and its block hashes, gas price, whether the
 * recipient is in the active set, sender info and max float.
 *
 * It implements the payments module's `TimeSource`, `GasPriceSource` and `SenderMonitor`. It belongs
 * with the chain layer (src/chain); it lives here until that layer takes it. Simplification: sender
 * info is read on every call (no cache or event watch).
 */
import type { Address, Hex } from "viem";
import { type Logger, silentLogger } from "../node/logger.ts";
import {
  computeMaxFloat,
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
  close(): Promise<void>;
}

const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** Reads the facts once (rejects if the chain is unreachable), then refreshes them periodically. */
export async function startChainFacts(options: ChainFactsOptions): Promise<ChainFacts> {
  const { clients, contracts } = options;
  const pub = clients.publicClient;
  const log = options.logger ?? silentLogger();
  const useL1 = options.l1BlockNumber ?? pub.chain?.id === 42161;
  let block = 0n;
  let round = 0n;
  let hash: Hex = ZERO_HASH;
  let preHash: Hex = ZERO_HASH;
  let gas: bigint | undefined;
  let active = false;

  const refresh = async (): Promise<void> => {
    const b = await pub.getBlock({ blockTag: "latest" });
    const l1 = (b as unknown as { l1BlockNumber?: Hex }).l1BlockNumber;
    block = useL1 && l1 ? BigInt(l1) : (b.number ?? block);
    round = await pub.readContract({
      address: contracts.roundsManager,
      abi: roundsManagerAbi,
      functionName: "lastInitializedRound",
    });
    hash = await pub.readContract({
      address: contracts.roundsManager,
      abi: roundsManagerAbi,
      functionName: "blockHashForRound",
      args: [round],
    });
    preHash =
      round > 0n
        ? await pub.readContract({
            address: contracts.roundsManager,
            abi: roundsManagerAbi,
            functionName: "blockHashForRound",
            args: [round - 1n],
          })
        : ZERO_HASH;
    gas = await pub.getGasPrice();
    active = await pub.readContract({
      address: contracts.bondingManager,
      abi: bondingManagerAbi,
      functionName: "isActiveTranscoder",
      args: [options.recipient],
    });
  };
  await refresh();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    refresh()
      .catch((err: unknown) => log.warn({ err }, "chain facts refresh failed; keeping the last values"))
      .finally(() => {
        running = false;
      });
  }, options.pollIntervalMs ?? 2000);
  timer.unref();

  const senderInfo = (sender: Address): Promise<SenderInfo> =>
    readSenderInfo(clients, contracts.ticketBroker, sender);
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
      const [info, poolSize, claimedByRecipient] = await Promise.all([
        senderInfo(sender),
        pub.readContract({
          address: contracts.bondingManager,
          abi: bondingManagerAbi,
          functionName: "getTranscoderPoolSize",
        }),
        pub.readContract({
          address: contracts.ticketBroker,
          abi: ticketBrokerAbi,
          functionName: "claimedReserve",
          args: [sender, options.recipient],
        }),
      ]);
      const pendingAmount = options.pendingAmount?.(sender) ?? 0n;
      return computeMaxFloat({ info, poolSize, claimedByRecipient, pendingAmount });
    },
    refresh,
    close,
    [Symbol.asyncDispose]: close,
  };
}
