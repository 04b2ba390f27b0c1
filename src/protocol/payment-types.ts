/**
 * Typed values of the probabilistic micropayment system (docs/spec/payments.md#ticket-fields): what the
 * payment header codecs (payment-header.ts, ticket-params-json.ts) decode to and encode from, and what
 * the rest of the code sees. src/payments/types.ts re-exports them.
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

/** Round and block hash a ticket is created in (go-livepeer `pm.TicketExpirationParams`). */
export interface TicketExpirationParams {
  /** Round number (int64 on the wire). */
  creationRound: bigint;
  /** 32-byte block hash of that round. */
  creationRoundBlockHash: Hex;
}

/**
 * Ticket parameters quoted by an orchestrator (go-livepeer `pm.TicketParams`, wire `net.TicketParams`).
 * The price the params were quoted for travels separately (`PriceInfo`): it is bound into
 * recipientRand by the HMAC but not carried inside the wire message.
 */
export interface TicketParams {
  recipient: Address;
  faceValue: bigint;
  winProb: bigint;
  recipientRandHash: Hex;
  /** Random number the recipient re-derives recipientRand from; echoed by the sender. */
  seed: bigint;
  /** L1 block at which these params expire. */
  expirationBlock: bigint;
  /** Present when quoted by the recipient; a `Payment` carries them at top level instead. */
  expirationParams?: TicketExpirationParams;
}

/** One ticket's sender-side fields inside a batch (wire `net.TicketSenderParams`). */
export interface TicketSenderParams {
  /** uint32. */
  senderNonce: number;
  /** 65-byte signature as sent (not validated by decoding). */
  sig: Hex;
}

/** A price in wei per unit: `pricePerUnit / pixelsPerUnit` (wire `net.PriceInfo`). */
export interface PriceInfo {
  /** int64. */
  pricePerUnit: bigint;
  /** int64. */
  pixelsPerUnit: bigint;
  /** Capability id (only in `capabilities_prices`); 0 when unset. */
  capability: number;
  /** Model id or BYOC capability name; "" when unset. */
  constraint: string;
}

/** A decoded `Livepeer-Payment`: one batch of tickets sharing params (wire `net.Payment`). */
export interface Payment {
  /** Absent when the sender sends no tickets (credit already sufficient). */
  ticketParams?: TicketParams;
  /** Sender address (zero address when the wire field is empty). */
  sender: Address;
  /** Top-level expiration params (the ones that are hashed); absent = zero round and hash. */
  expirationParams?: TicketExpirationParams;
  /** Per ticket nonce and signature. */
  senderParams: TicketSenderParams[];
  /** The orchestrator's price the params were quoted for, echoed verbatim. */
  expectedPrice?: PriceInfo;
}

/** On-chain facts about a sender (TicketBroker `getSenderInfo`). */
export interface SenderInfo {
  deposit: bigint;
  /** 0 when no unlock is in progress. */
  withdrawRound: bigint;
  reserve: {
    fundsRemaining: bigint;
    claimedInCurrentRound: bigint;
  };
}
