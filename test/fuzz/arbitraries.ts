/**
 * Arbitraries shared by the fuzz suites: wire values (addresses, hashes, integers), well-formed
 * payments and segment credentials, mutated encodings and junk header values.
 */
import fc from "fast-check";
import { type Address, bytesToHex, getAddress, type Hex } from "viem";
import type { Payment, TicketParams } from "../../src/payments/types.ts";
import type { SegCreds } from "../../src/protocol/segment-header.ts";
import { base64Bytes, base64Json, headerText } from "./fuzz-util.ts";

export const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
export const address = bytes(20).map((b): Address => getAddress(bytesToHex(b)));
export const hash32 = bytes(32).map((b): Hex => bytesToHex(b));
export const hexBytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b): Hex => bytesToHex(b));
export const uint256 = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });
export const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
export const text = fc.string({ unit: "grapheme", maxLength: 40 });

/** Flips, drops or inserts bytes of a valid encoding, then re-encodes as base64. */
export const mutated = (valid: fc.Arbitrary<string>) =>
  fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom("flip", "drop", "insert"))),
    )
    .map(([b64, edits]) => {
      const b = [...Buffer.from(b64, "base64")];
      for (const [pos, value, kind] of edits) {
        const i = b.length === 0 ? 0 : pos % b.length;
        if (kind === "flip" && b.length > 0) b[i] = value;
        else if (kind === "drop") b.splice(i, 1);
        else b.splice(i, 0, value);
      }
      return Buffer.from(b).toString("base64");
    });

/** Arbitrary header values: text, base64 of bytes or of JSON, padding games. */
export const junkHeader = fc.oneof(
  headerText(),
  base64Bytes(),
  base64Json(),
  fc.string({ maxLength: 50 }).map((s) => `${s}==`),
  fc.constantFrom("", " ", "=", "====", "\r\n", "AAAA\nAAAA", "e30=", "bnVsbA==", "W10="),
);

export const ticketParams: fc.Arbitrary<TicketParams> = fc.record({
  recipient: address,
  faceValue: uint256,
  winProb: uint256,
  recipientRandHash: hash32,
  seed: uint256,
  expirationBlock: uint256,
});

export const payment: fc.Arbitrary<Payment> = fc.record(
  {
    ticketParams,
    sender: address,
    expirationParams: fc.record({ creationRound: int64, creationRoundBlockHash: hash32 }),
    senderParams: fc.array(fc.record({ senderNonce: fc.nat({ max: 2 ** 32 - 1 }), sig: hexBytes(70) }), {
      maxLength: 5,
    }),
    expectedPrice: fc.record({
      pricePerUnit: int64,
      pixelsPerUnit: int64,
      capability: fc.nat({ max: 2 ** 32 - 1 }),
      constraint: text,
    }),
  },
  { requiredKeys: ["sender", "senderParams"] },
);

export const segCreds: fc.Arbitrary<SegCreds> = fc.record(
  {
    manifestId: text,
    seq: int64,
    hash: hash32,
    sig: hexBytes(70),
    durationMs: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    authToken: fc.record({ token: hexBytes(40), sessionId: text, expiration: int64 }),
  },
  { requiredKeys: ["manifestId", "seq", "hash", "sig", "durationMs"] },
);

/** {@link junkHeader} values an HTTP client can send (no CR, LF or other control characters). */
export const junkHeaderValue = junkHeader.filter((v) => /^[\t\x20-\x7e]*$/.test(v));
