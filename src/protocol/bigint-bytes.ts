/**
 * Big-endian minimal-length integer bytes ↔ bigint, the encoding of every integer inside
 * `net.TicketParams` (Go `big.Int.Bytes()` / `SetBytes`; docs/spec/payments.md#conventions), and the
 * fixed-width hex ↔ bytes conversions of the payment hot path (ticket hashing, signatures).
 *
 * These run several times per ticket, so they avoid per-byte string slicing and parsing: bytes are
 * written through a 256-entry hex table and 64-bit words.
 */
import { BadRequestError } from "../node/errors.ts";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Value of a hex digit by char code; -1 for anything else. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[65 + i] = 10 + i;
  NIBBLE[97 + i] = 10 + i;
}

/** Lower-case hex of `bytes`, without a `0x` prefix. */
export function bytesToHexDigits(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

/**
 * Decodes `hex` (with or without `0x`) of exactly `size` bytes into `out` at `offset`. Returns false,
 * having written nothing usable, when the length or a digit is wrong.
 */
export function hexInto(hex: string, size: number, out: Uint8Array, offset = 0): boolean {
  const start = hex.length > 1 && hex.charCodeAt(0) === 48 && (hex.charCodeAt(1) | 32) === 120 ? 2 : 0;
  if (hex.length - start !== 2 * size) return false;
  for (let i = 0; i < size; i++) {
    const hi = hex.charCodeAt(start + 2 * i);
    const lo = hex.charCodeAt(start + 2 * i + 1);
    const h = hi < 128 ? NIBBLE[hi]! : -1;
    const l = lo < 128 ? NIBBLE[lo]! : -1;
    if ((h | l) < 0) return false;
    out[offset + i] = (h << 4) | l;
  }
  return true;
}

/**
 * Writes `value` (0 ≤ value < 2^(8·size)) big-endian into `out[offset, offset + size)`, left-padded
 * with zeros; higher bits of `value` are dropped (the caller checks the range).
 */
export function uintInto(value: bigint, size: number, out: Uint8Array, offset = 0): void {
  let v = value;
  let end = offset + size;
  while (end - offset >= 8) {
    const w = BigInt.asUintN(64, v);
    v >>= 64n;
    let lo = Number(w & 0xffff_ffffn);
    let hi = Number(w >> 32n);
    for (let k = 0; k < 4; k++) {
      out[--end] = lo & 0xff;
      lo >>>= 8;
    }
    for (let k = 0; k < 4; k++) {
      out[--end] = hi & 0xff;
      hi >>>= 8;
    }
  }
  while (end > offset) {
    out[--end] = Number(v & 0xffn);
    v >>= 8n;
  }
}

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
  hexInto(hex, out.length, out);
  return out;
}

/** Decodes big-endian bytes leniently (leading zeros allowed, empty = 0), like Go `SetBytes`. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(`0x${bytesToHexDigits(bytes)}`);
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
  const out = new Uint8Array(size);
  uintInto(value, size, out);
  return out;
}
