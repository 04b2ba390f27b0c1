/**
 * Ticket hashing, auxData, EV, recipientRandHash and the winning rule
 * (docs/spec/payments.md#auxdata, #ticket-hash, #winning-rule; go-livepeer pm/ticket.go, pm/validator.go).
 * Pure functions; byte-compatible with go-livepeer and TicketBroker.getTicketHash.
 */
import { type Address, type Hex, hexToBytes } from "viem";
import { bytesToBigInt, hexInto, uintInto, uintToFixedBytes } from "../protocol/bigint-bytes.ts";
import { keccak256, keccak256Hex } from "../protocol/keccak.ts";
import { MAX_WIN_PROB } from "./constants.ts";
import { Rat } from "./rational.ts";
import type {
  Payment,
  PriceInfo,
  Ticket,
  TicketExpirationParams,
  TicketParams,
  TicketSenderParams,
} from "./types.ts";

const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** True for `0x` followed by 64 zero hex digits (any case). */
export function isZeroHash(h: Hex): boolean {
  return /^0x0{64}$/i.test(h);
}

/**
 * Ticket auxData: `uint256(creationRound) ‖ creationRoundBlockHash` (64 bytes), or empty bytes when
 * the round is 0 and the hash is all-zero (a Go-only corner case; such a ticket cannot be redeemed
 * on-chain). A negative round is encoded by its magnitude, as Go's `big.Int.Bytes()` does.
 */
export function auxData(params: TicketExpirationParams): Uint8Array {
  const hash = params.creationRoundBlockHash;
  if (params.creationRound === 0n && isZeroHash(hash)) return new Uint8Array(0);
  const out = new Uint8Array(64);
  const round = params.creationRound < 0n ? -params.creationRound : params.creationRound;
  uintInto(round, 32, out, 0); // mod 2^256
  putHex(hash, 32, out, 32);
  return out;
}

/**
 * Writes the `size`-byte hex value at `out[offset…]`; anything but exactly `size` bytes of hex goes
 * through viem's `hexToBytes(hex, { size })` (which right-pads a shorter value and throws otherwise).
 */
function putHex(hex: Hex, size: number, out: Uint8Array, offset: number): void {
  if (!hexInto(hex, size, out, offset)) out.set(hexToBytes(hex, { size }), offset);
}

/** A uint256 into `out[offset…]`, throwing RangeError when out of range (as {@link uintToFixedBytes}). */
function putUint(value: bigint, out: Uint8Array, offset: number): void {
  if (value < 0n || value >> 256n !== 0n) uintToFixedBytes(value); // throws the RangeError
  uintInto(value, 32, out, offset);
}

/**
 * The bytes a ticket hash is taken over: recipient(20) ‖ sender(20) ‖ faceValue(32) ‖ winProb(32) ‖
 * senderNonce(32) ‖ recipientRandHash(32) ‖ auxData(0|64) — `abi.encodePacked` of the Solidity tuple.
 */
export function ticketHashPreimage(ticket: Ticket): Uint8Array {
  const withAux = !(ticket.creationRound === 0n && isZeroHash(ticket.creationRoundBlockHash));
  const buf = new Uint8Array(withAux ? 232 : 168);
  putHex(ticket.recipient, 20, buf, 0);
  putHex(ticket.sender, 20, buf, 20);
  putUint(ticket.faceValue, buf, 40);
  putUint(ticket.winProb, buf, 72);
  putUint(BigInt(ticket.senderNonce), buf, 104);
  putHex(ticket.recipientRandHash, 32, buf, 136);
  if (withAux) buf.set(auxData(ticket), 168);
  return buf;
}

/** keccak256 of {@link ticketHashPreimage} as 32 bytes. */
export function ticketHashBytes(ticket: Ticket): Uint8Array {
  return keccak256(ticketHashPreimage(ticket));
}

/** keccak256 of {@link ticketHashPreimage}: the hash the sender signs and the broker marks used. */
export function ticketHash(ticket: Ticket): Hex {
  return keccak256Hex(ticketHashPreimage(ticket));
}

/** winProb / (2^256 − 1) as an exact rational. */
export function winProbRat(winProb: bigint): Rat {
  return Rat.of(winProb, MAX_WIN_PROB);
}

/** Expected value of a ticket, faceValue × winProb / (2^256 − 1), exact (go-livepeer `ticketEV`). */
export function ticketEV(faceValue: bigint, winProb: bigint): Rat {
  return Rat.of(faceValue * winProb, MAX_WIN_PROB);
}

/** keccak256(leftpad32(recipientRand)). */
export function recipientRandHash(recipientRand: bigint): Hex {
  return keccak256Hex(uintToFixedBytes(recipientRand));
}

/**
 * The winning rule: `uint256(keccak256(sig ‖ leftpad32(recipientRand))) < winProb` (strict), over
 * the raw signature bytes as sent.
 */
export function isWinningTicket(sig: Hex, recipientRand: bigint, winProb: bigint): boolean {
  const buf = new Uint8Array(97);
  if (!hexInto(sig, 65, buf)) {
    // not 65 bytes: hashed as sent all the same
    const raw = hexToBytes(sig);
    const other = new Uint8Array(raw.length + 32);
    other.set(raw);
    putUint(recipientRand, other, raw.length);
    return bytesToBigInt(keccak256(other)) < winProb;
  }
  putUint(recipientRand, buf, 65);
  return bytesToBigInt(keccak256(buf)) < winProb;
}

/** Builds one ticket from a batch's params (go-livepeer `pm.NewTicket`). */
export function newTicket(
  params: TicketParams,
  expirationParams: TicketExpirationParams | undefined,
  sender: Address,
  senderNonce: number,
): Ticket {
  return {
    recipient: params.recipient,
    sender,
    faceValue: params.faceValue,
    winProb: params.winProb,
    senderNonce,
    recipientRandHash: params.recipientRandHash,
    creationRound: expirationParams?.creationRound ?? 0n,
    creationRoundBlockHash: expirationParams?.creationRoundBlockHash ?? ZERO_HASH,
    paramsExpirationBlock: params.expirationBlock,
  };
}

/**
 * Expands a payment into its signed tickets, using the payment's top-level expiration params (the
 * ones go-livepeer's recipient hashes). Empty when the payment carries no ticket params.
 */
export function ticketsOfPayment(payment: Payment): Array<Ticket & { sig: Hex }> {
  const params = payment.ticketParams;
  if (!params) return [];
  return payment.senderParams.map((sp: TicketSenderParams) => ({
    ...newTicket(params, payment.expirationParams, payment.sender, sp.senderNonce),
    sig: sp.sig,
  }));
}

/**
 * `pricePerUnit / pixelsPerUnit` as a normalised rational (go-livepeer `common.RatPriceInfo`);
 * undefined when `pixelsPerUnit` is 0 ("pixels per unit is 0").
 */
export function priceRat(price: Pick<PriceInfo, "pricePerUnit" | "pixelsPerUnit">): Rat | undefined {
  if (price.pixelsPerUnit === 0n) return undefined;
  return Rat.of(price.pricePerUnit, price.pixelsPerUnit);
}

export { ZERO_HASH };
