import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BadRequestError } from "../node/errors.ts";
import {
  bigIntToBytes,
  bytesToBigInt,
  bytesToHexDigits,
  bytesToUint,
  hexInto,
  uintInto,
  uintToFixedBytes,
} from "./bigint-bytes.ts";

test("zero encodes as empty bytes and values have no leading zero byte (Go big.Int.Bytes)", () => {
  assert.deepEqual(bigIntToBytes(0n), new Uint8Array(0));
  assert.deepEqual(bigIntToBytes(255n), Uint8Array.of(255));
  assert.deepEqual(bigIntToBytes(256n), Uint8Array.of(1, 0));
});

test("bigint → bytes → bigint round-trips and is minimal", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 300n) - 1n }), (n) => {
      const b = bigIntToBytes(n);
      assert.equal(bytesToBigInt(b), n);
      if (b.length > 0) assert.notEqual(b[0], 0);
    }),
  );
});

test("decoding is lenient about leading zeros, like Go SetBytes", () => {
  assert.equal(bytesToBigInt(Uint8Array.of(0, 0, 1, 2)), 258n);
  assert.equal(bytesToBigInt(new Uint8Array(0)), 0n);
});

test("a uint256 field longer than 32 significant bytes is a BadRequestError", () => {
  assert.equal(
    bytesToUint(new Uint8Array(40).fill(0, 0, 8).fill(1, 8), "f"),
    bytesToBigInt(new Uint8Array(32).fill(1)),
  );
  assert.throws(() => bytesToUint(new Uint8Array(33).fill(1), "face_value"), BadRequestError);
});

test("uintToFixedBytes left-pads to 32 bytes and refuses overflow", () => {
  assert.deepEqual(uintToFixedBytes(1n).at(31), 1);
  assert.equal(uintToFixedBytes(1n).length, 32);
  assert.throws(() => uintToFixedBytes(1n << 256n), RangeError);
});

test("uintInto and hexInto agree with the bigint and hex encodings at every width", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.integer({ min: 0, max: 5 }), (n, at) => {
      const out = new Uint8Array(32 + at).fill(0xee);
      uintInto(n, 32, out, at);
      assert.equal(out[at - 1] ?? 0xee, 0xee);
      assert.equal(bytesToBigInt(out.subarray(at)), n);
      const hex = `0x${bytesToHexDigits(out.subarray(at))}`;
      assert.equal(BigInt(hex), n);
      const back = new Uint8Array(32);
      assert.ok(hexInto(hex.toUpperCase().replace("0X", "0x"), 32, back));
      assert.deepEqual(back, out.subarray(at));
    }),
  );
  const small = new Uint8Array(5);
  uintInto(0x1_0203_0405n, 5, small);
  assert.deepEqual(small, Uint8Array.of(1, 2, 3, 4, 5));
});

test("hexInto refuses a wrong length or a non-hex digit", () => {
  const out = new Uint8Array(2);
  assert.equal(hexInto("0x0102", 2, out), true);
  assert.equal(hexInto("0102", 2, out), true);
  assert.equal(hexInto("0x01", 2, out), false);
  assert.equal(hexInto("0x01g2", 2, out), false);
  assert.equal(hexInto("0x01\u01002", 2, out), false);
});
