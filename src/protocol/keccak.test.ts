import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { hashMessage, keccak256 as viemKeccak256 } from "viem";
import { keccak256, keccak256Hex, keccakBackend, personalMessageDigest, usePureJsKeccak } from "./keccak.ts";

test("the native keccak backend loads on linux-x64", {
  skip: process.platform === "linux" && process.arch === "x64" ? false : "prebuild checked on linux-x64 only",
}, () => {
  assert.equal(keccakBackend, "native");
});

test("keccak256 of the empty string is the Ethereum constant", () => {
  assert.equal(
    keccak256Hex(new Uint8Array(0)),
    "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
  );
});

test("keccak256 equals viem's pure-JavaScript keccak256 for any input, including block-size edges", () => {
  for (const n of [0, 1, 135, 136, 137, 232, 271, 272, 273]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
    assert.equal(keccak256Hex(data), viemKeccak256(data));
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (data) => keccak256Hex(data) === viemKeccak256(data)),
    { numRuns: 300 },
  );
});

test("personalMessageDigest is viem's EIP-191 hashMessage over raw bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (msg) => {
      assert.deepEqual(personalMessageDigest(msg), hashMessage({ raw: msg }, "bytes"));
    }),
    { numRuns: 100 },
  );
});

test("keccak256 hashes a subarray view, not its whole backing buffer", () => {
  const backing = new Uint8Array(64).fill(9);
  const view = backing.subarray(10, 42);
  assert.deepEqual(keccak256(view), viemKeccak256(view.slice(), "bytes"));
});

test("usePureJsKeccak switches to viem's hash and back, with the same bytes", () => {
  const data = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
  const before = keccakBackend;
  usePureJsKeccak();
  try {
    assert.equal(keccakBackend, "javascript");
    assert.equal(keccak256Hex(data), viemKeccak256(data));
  } finally {
    usePureJsKeccak(false);
  }
  assert.equal(keccakBackend, before);
  assert.equal(keccak256Hex(data), viemKeccak256(data));
});
