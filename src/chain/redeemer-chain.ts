/**
 * The viem implementation of the redeemer's chain operations ({@link RedeemerChain}), for the devnet
 * and any RPC URL (Arbitrum One included: there the params-expiration clock is the header's
 * `l1BlockNumber`).
 */
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  encodeFunctionData,
  type Hash,
  HttpRequestError,
  keccak256,
  TimeoutError,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
  toHex,
  WaitForTransactionReceiptTimeoutError,
} from "viem";
import { TributaryError } from "../node/errors.ts";
import {
  type RedeemerChain,
  RedeemNetworkError,
  RedeemRevertError,
  type SignedRedeemTx,
} from "../payments/redeemer.ts";
import { auxData } from "../payments/ticket.ts";
import type { SignedTicket, Ticket } from "../payments/types.ts";
import { bondingManagerAbi, roundsManagerAbi, ticketBrokerAbi } from "./abis.ts";
import { ARBITRUM_ONE_CHAIN_ID } from "./addresses.ts";
import type { SigningChainClients } from "./clients.ts";

/** The Solidity `Ticket` tuple of a ticket (auxData per docs/spec/payments.md#auxdata). */
export function toContractTicket(ticket: Ticket) {
  return {
    recipient: ticket.recipient,
    sender: ticket.sender,
    faceValue: ticket.faceValue,
    winProb: ticket.winProb,
    senderNonce: BigInt(ticket.senderNonce),
    recipientRandHash: ticket.recipientRandHash,
    auxData: toHex(auxData(ticket)),
  };
}

/** Options of {@link createRedeemerChain}. */
export interface RedeemerChainOptions {
  clients: SigningChainClients;
  ticketBroker: Address;
  roundsManager: Address;
  bondingManager: Address;
  /**
   * Read the block clock from the header's `l1BlockNumber` (Arbitrum). Default: true on chain 42161.
   */
  l1BlockNumber?: boolean;
  /** Gas limit = estimate × (100 + this) / 100; default 20. */
  gasHeadroomPercent?: number;
}

/** Classifies a viem error: revert → {@link RedeemRevertError}, transport → {@link RedeemNetworkError}. */
export function classifyChainError(err: unknown): Error {
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) {
      const reason = revert.reason ?? revert.data?.errorName ?? revert.shortMessage;
      return new RedeemRevertError(reason, { cause: err });
    }
    const net = err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError);
    if (net) return new RedeemNetworkError(err.shortMessage, { cause: err });
    const m = /reverted with reason string '([^']*)'|execution reverted: (.*)$/m.exec(err.message);
    if (m) return new RedeemRevertError((m[1] ?? m[2] ?? "").trim(), { cause: err });
    return err;
  }
  if (err instanceof Error && /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up/i.test(err.message)) {
    return new RedeemNetworkError(err.message, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyChainError(err);
  }
}

/** Builds the redeemer's chain operations over viem clients. */
export function createRedeemerChain(options: RedeemerChainOptions): RedeemerChain {
  const { publicClient, walletClient, account } = options.clients;
  const useL1 = options.l1BlockNumber ?? options.clients.chain.id === ARBITRUM_ONE_CHAIN_ID;
  const headroom = BigInt(100 + (options.gasHeadroomPercent ?? 20));
  const broker = options.ticketBroker;
  const redeemArgs = (t: SignedTicket & { recipientRand: bigint }) =>
    [toContractTicket(t), t.sig, t.recipientRand] as const;

  return {
    account: account.address,
    blockNumber: () =>
      call(async () => {
        if (!useL1) return publicClient.getBlockNumber({ cacheTime: 0 });
        const block = (await publicClient.getBlock()) as {
          l1BlockNumber?: string | bigint;
          number: bigint | null;
        };
        if (block.l1BlockNumber === undefined)
          throw new TributaryError("CHAIN_NO_L1_BLOCK", "the RPC's latest block has no l1BlockNumber field", {
            status: 502,
          });
        return BigInt(block.l1BlockNumber);
      }),
    isActiveTranscoder: (address) =>
      call(() =>
        publicClient.readContract({
          address: options.bondingManager,
          abi: bondingManagerAbi,
          functionName: "isActiveTranscoder",
          args: [address],
        }),
      ),
    currentRoundInitialized: () =>
      call(() =>
        publicClient.readContract({
          address: options.roundsManager,
          abi: roundsManagerAbi,
          functionName: "currentRoundInitialized",
        }),
      ),
    isUsedTicket: (hash) =>
      call(() =>
        publicClient.readContract({
          address: broker,
          abi: ticketBrokerAbi,
          functionName: "usedTickets",
          args: [hash],
        }),
      ),
    senderFunds: (sender, claimant) =>
      call(async () => {
        const [info, claimableReserve] = await Promise.all([
          publicClient.readContract({
            address: broker,
            abi: ticketBrokerAbi,
            functionName: "getSenderInfo",
            args: [sender],
          }),
          publicClient.readContract({
            address: broker,
            abi: ticketBrokerAbi,
            functionName: "claimableReserve",
            args: [sender, claimant],
          }),
        ]);
        return { deposit: info[0].deposit, claimableReserve };
      }),
    gasPrice: () => call(() => publicClient.getGasPrice()),
    estimateRedeemGas: (t) =>
      call(() =>
        publicClient.estimateContractGas({
          account,
          address: broker,
          abi: ticketBrokerAbi,
          functionName: "redeemWinningTicket",
          args: redeemArgs(t),
        }),
      ),
    signRedeem: (t, gas, gasPrice) =>
      call(async () => {
        const request = await walletClient.prepareTransactionRequest({
          account,
          to: broker,
          data: encodeFunctionData({
            abi: ticketBrokerAbi,
            functionName: "redeemWinningTicket",
            args: redeemArgs(t),
          }),
          gas: (gas * headroom) / 100n,
          maxFeePerGas: gasPrice * 2n,
          maxPriorityFeePerGas: gasPrice < 1_000_000_000n ? gasPrice : 1_000_000_000n,
        });
        const serialized = await account.signTransaction(request as never);
        return { hash: keccak256(serialized), serialized } satisfies SignedRedeemTx;
      }),
    broadcast: (tx) =>
      call(async () => {
        try {
          await publicClient.sendRawTransaction({ serializedTransaction: tx.serialized });
        } catch (err) {
          if (err instanceof BaseError && /already known|known transaction/i.test(err.message)) return;
          throw err;
        }
      }),
    receiptStatus: (hash: Hash) =>
      call(async () => {
        try {
          return (await publicClient.getTransactionReceipt({ hash })).status;
        } catch (err) {
          if (err instanceof TransactionReceiptNotFoundError) return undefined;
          throw err;
        }
      }),
    waitForReceipt: (hash, timeoutMs) =>
      call(async () => {
        try {
          return (await publicClient.waitForTransactionReceipt({ hash, timeout: timeoutMs })).status;
        } catch (err) {
          if (err instanceof WaitForTransactionReceiptTimeoutError) return undefined;
          throw err;
        }
      }),
    isKnownTransaction: (hash) =>
      call(async () => {
        try {
          await publicClient.getTransaction({ hash });
          return true;
        } catch (err) {
          if (err instanceof TransactionNotFoundError) return false;
          throw err;
        }
      }),
  };
}
