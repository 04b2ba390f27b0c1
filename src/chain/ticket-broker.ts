/**
 * Sender-side TicketBroker operations: funding a deposit and reserve, and reading a sender's state.
 */
import type { Address, Hash } from "viem";
import { TributaryError } from "../node/errors.ts";
import type { SenderInfo } from "../payments/types.ts";
import { ticketBrokerAbi } from "./abis.ts";
import type { ChainClients, SigningChainClients } from "./clients.ts";

/** Reads `getSenderInfo(sender)`. */
export async function readSenderInfo(
  clients: ChainClients,
  ticketBroker: Address,
  sender: Address,
): Promise<SenderInfo> {
  const [s, r] = await clients.publicClient.readContract({
    address: ticketBroker,
    abi: ticketBrokerAbi,
    functionName: "getSenderInfo",
    args: [sender],
  });
  return {
    deposit: s.deposit,
    withdrawRound: s.withdrawRound,
    reserve: { fundsRemaining: r.fundsRemaining, claimedInCurrentRound: r.claimedInCurrentRound },
  };
}

/** A funding transaction failed. */
export class FundingError extends TributaryError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super("FUNDING_FAILED", message, options);
  }
}

/** Result of {@link fundSender}. */
export interface FundResult {
  txHash: Hash;
  sender: Address;
  deposit: bigint;
  reserve: bigint;
  /** Sender state after the transaction. */
  info: SenderInfo;
}

/**
 * Funds the wallet's own deposit and reserve in one `fundDepositAndReserve` transaction and waits for
 * it. Checks the wallet balance first so the error says how much is missing.
 */
export async function fundSender(
  clients: SigningChainClients,
  ticketBroker: Address,
  amounts: { deposit: bigint; reserve: bigint },
): Promise<FundResult> {
  const { deposit, reserve } = amounts;
  if (deposit < 0n || reserve < 0n) throw new FundingError("amounts must not be negative");
  if (deposit === 0n && reserve === 0n)
    throw new FundingError("nothing to fund: give a deposit and/or a reserve");
  const sender = clients.account.address;
  const code = await clients.publicClient.getCode({ address: ticketBroker });
  if (!code || code === "0x") {
    throw new FundingError(
      `no contract at TicketBroker address ${ticketBroker} on this chain; check --ticket-broker`,
    );
  }
  const balance = await clients.publicClient.getBalance({ address: sender });
  if (balance < deposit + reserve) {
    throw new FundingError(
      `account ${sender} holds ${balance} wei but deposit + reserve is ${deposit + reserve} wei (plus gas); add ${deposit + reserve - balance} wei or more`,
      { details: { balance: balance.toString(), needed: (deposit + reserve).toString() } },
    );
  }
  let txHash: Hash;
  try {
    const { request } = await clients.publicClient.simulateContract({
      account: clients.account,
      address: ticketBroker,
      abi: ticketBrokerAbi,
      functionName: "fundDepositAndReserve",
      args: [deposit, reserve],
      value: deposit + reserve,
    });
    txHash = await clients.walletClient.writeContract(request);
  } catch (err) {
    const short = (err as { shortMessage?: string }).shortMessage ?? (err as Error).message;
    throw new FundingError(`fundDepositAndReserve failed: ${short}`, { cause: err });
  }
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash: txHash });
  if (receipt.status !== "success")
    throw new FundingError(`fundDepositAndReserve transaction ${txHash} reverted`);
  return { txHash, sender, deposit, reserve, info: await readSenderInfo(clients, ticketBroker, sender) };
}
