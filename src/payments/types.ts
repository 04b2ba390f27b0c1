/**
 * Typed values of the probabilistic micropayment system (shared/spec/payments.md §2). The wire forms
 * (protobuf, headers) live in src/protocol; everything else in the code sees these types.
 */
import type { Address, Hex } from "viem";

/** A ticket as hashed and redeemed (go-livepeer `pm.Ticket`, Solidity `MTicketBrokerCore.Ticket`). */
export interface Ticket {
  /** The orchestrator's ticket recipient address. */
  recipient: Address;
  /** The gateway's address. */
  sender: Address;
  /** Wei paid if the ticket wins. */
  faceValue: bigint;
  /** Win probability numerator over 2^256 − 1. */
  winProb: bigint;
  /** Per-recipientRandHash counter, a uint32 (batches start at 1). */
  senderNonce: number;
  /** keccak256(leftpad32(recipientRand)). */
  recipientRandHash: Hex;
  /** Round the ticket is created in (0 with a zero block hash means "no auxData", a Go-only corner case). */
  creationRound: bigint;
  /** `RoundsManager.blockHashForRound(creationRound)`. */
  creationRoundBlockHash: Hex;
  /** Block at which the ticket params expire; not hashed. */
  paramsExpirationBlock: bigint;
}

/** A ticket with the sender's signature and, on the recipient side, the recipientRand that wins it. */
export interface SignedTicket extends Ticket {
  /** 65-byte EIP-191 signature over the ticket hash. */
  sig: Hex;
  /** The recipient's secret random number (known to the recipient only). */
  recipientRand?: bigint;
}
