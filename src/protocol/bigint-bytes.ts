/**
 * Big-endian minimal-length integer bytes ↔ bigint, the encoding of every integer inside
 * `net.TicketParams` (Go `big.Int.Bytes()` / `SetBytes`; docs/spec/payments.md#conventions).
 */
import { BadRequestError } from "../node/errors.ts";

/**
 * Encodes a non-negative integer as minimal big-endian bytes: no leading zero bytes, and zero is the
 * empty array (Go `big.Int.Bytes()`). Negative values are encoded by magnitude, as Go does.
 */
export function bigIntToBytes(value: bigint): Uint8Array {
  const v = value < 0n ? -value : value;
  if (v === 0n) return new Uint8Array(0);
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Decodes big-endian bytes leniently (leading zeros allowed, empty = 0), like Go `SetBytes`. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return BigInt(`0x${hex}`);
}

/**
 * Decodes an unsigned integer field that must fit in `maxBytes` bytes once leading zeros are
 * ignored (uint256 = 32). Throws {@link BadRequestError} naming the field otherwise.
 */
export function bytesToUint(bytes: Uint8Array, field: string, maxBytes = 32): bigint {
  const value = bytesToBigInt(bytes);
  if (value >> BigInt(8 * maxBytes) !== 0n) {
    throw new BadRequestError(`${field} does not fit in ${maxBytes} bytes; send a uint${8 * maxBytes}`, {
      code: "BAD_PAYMENT",
      details: { field, length: bytes.length },
    });
  }
  return value;
}

/** Left-pads minimal bytes of a non-negative integer to `size` bytes (Go `LeftPadBytes`). */
export function uintToFixedBytes(value: bigint, size = 32): Uint8Array {
  if (value < 0n || value >> BigInt(8 * size) !== 0n) {
    throw new RangeError(`value does not fit in ${size} unsigned bytes`);
  }
  const raw = bigIntToBytes(value);
  const out = new Uint8Array(size);
  out.set(raw, size - raw.length);
  return out;
}
