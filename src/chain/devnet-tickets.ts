/**
 * Builds signed tickets against a devnet, for tests and local tooling: the recipientRand is random,
 * the creation round and block hash are read from the RoundsManager, and the sender signs with its
 * key exactly as a gateway does (EIP-191 over the ticket hash).
 */
import { randomBytes } from "node:crypto";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { MAX_WIN_PROB } from "../payments/constants.ts";
import { signPersonal } from "../payments/signature.ts";
import { recipientRandHash, ticketHash } from "../payments/ticket.ts";
import type { SignedTicket } from "../payments/types.ts";
import { roundsManagerAbi } from "./abis.ts";
import type { ChainClients } from "./clients.ts";

/** Options of {@link createSignedTicket}. */
export interface DevnetTicketOptions {
  clients: ChainClients;
  roundsManager: Address;
  senderKey: Hex;
  recipient: Address;
  faceValue: bigint;
  senderNonce: number;
  /** Default 2^256 − 1 (always wins). */
  winProb?: bigint;
  /** Default: the last initialized round. */
  creationRound?: bigint;
  /** Default: the latest block (already expired, so redeemable at once). */
  paramsExpirationBlock?: bigint;
  /** Default: 32 random bytes. */
  recipientRand?: bigint;
}

/** A signed ticket with its recipientRand and hash. */
export async function createSignedTicket(
  o: DevnetTicketOptions,
): Promise<SignedTicket & { recipientRand: bigint; hash: Hex }> {
  const sender = privateKeyToAccount(o.senderKey);
  const creationRound =
    o.creationRound ??
    (await o.clients.publicClient.readContract({
      address: o.roundsManager,
      abi: roundsManagerAbi,
      functionName: "lastInitializedRound",
    }));
  const creationRoundBlockHash = await o.clients.publicClient.readContract({
    address: o.roundsManager,
    abi: roundsManagerAbi,
    functionName: "blockHashForRound",
    args: [creationRound],
  });
  const recipientRand = o.recipientRand ?? BigInt(`0x${randomBytes(32).toString("hex")}`);
  const ticket = {
    recipient: o.recipient,
    sender: sender.address,
    faceValue: o.faceValue,
    winProb: o.winProb ?? MAX_WIN_PROB,
    senderNonce: o.senderNonce,
    recipientRandHash: recipientRandHash(recipientRand),
    creationRound,
    creationRoundBlockHash,
    paramsExpirationBlock:
      o.paramsExpirationBlock ?? (await o.clients.publicClient.getBlockNumber({ cacheTime: 0 })),
  };
  const hash = ticketHash(ticket);
  const sig = await signPersonal(sender, hash);
  return { ...ticket, sig, recipientRand, hash };
}
