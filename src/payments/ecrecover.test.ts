import assert from "node:assert/strict";
import { test } from "node:test";
import { hashMessage, hexToBytes, recoverAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ecrecoverBackend, recoverSigner, usePureJsSecp256k1 } from "./ecrecover.ts";

const account = privateKeyToAccount(`0x${"42".repeat(32)}`);

test("the native libsecp256k1 backend loads on linux-x64 (the fast path the recipient relies on)", {
  skip: process.platform === "linux" && process.arch === "x64" ? false : "prebuild checked on linux-x64 only",
}, () => {
  assert.equal(ecrecoverBackend, "libsecp256k1");
});

test("recoverSigner returns the signer of a personal-sign signature, as viem's recovery does", async () => {
  for (let i = 0; i < 8; i++) {
    const msg = new Uint8Array(32).fill(i);
    const sig = await account.signMessage({ message: { raw: msg } });
    const digest = hashMessage({ raw: msg }, "bytes");
    const viaViem = await recoverAddress({ hash: digest, signature: sig });
    assert.equal(await recoverSigner(digest, hexToBytes(sig)), account.address.toLowerCase());
    assert.equal(viaViem, account.address);
  }
});

test("recoverSigner answers undefined, never throws, for signatures no key recovers", async () => {
  const digest = new Uint8Array(32).fill(7);
  const zeroRS = new Uint8Array(65);
  zeroRS[64] = 27;
  assert.equal(await recoverSigner(digest, zeroRS), undefined);
  assert.equal(await recoverSigner(digest, new Uint8Array(64)), undefined);
  assert.equal(await recoverSigner(new Uint8Array(31), zeroRS), undefined);
});

test("usePureJsSecp256k1 switches to viem's recovery and back, recovering the same signer", async () => {
  const msg = new Uint8Array(32).fill(9);
  const sig = hexToBytes(await account.signMessage({ message: { raw: msg } }));
  const digest = hashMessage({ raw: msg }, "bytes");
  const before = ecrecoverBackend;
  usePureJsSecp256k1();
  try {
    assert.equal(ecrecoverBackend, "javascript");
    assert.equal((await recoverSigner(digest, sig))?.toLowerCase(), account.address.toLowerCase());
  } finally {
    usePureJsSecp256k1(false);
  }
  assert.equal(ecrecoverBackend, before);
  assert.equal((await recoverSigner(digest, sig))?.toLowerCase(), account.address.toLowerCase());
});
