import assert from "node:assert/strict";
import { scryptSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import {
  decryptKeystore,
  encryptKeystore,
  isKeystoreJson,
  KeystorePasswordError,
  loadKeyFile,
  readPassword,
} from "./keystore.ts";
import { scryptFallback } from "./keystore-scrypt.ts";

// Web3 Secret Storage definition test vectors: password "testpassword".
const SPEC_KEY = "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const SPEC_PBKDF2 = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
    ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    kdf: "pbkdf2",
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
    },
    mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};
const SPEC_SCRYPT = {
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "83dbcc02d8ccb40e466191a123791e0e" },
    ciphertext: "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    kdf: "scrypt",
    kdfparams: {
      dklen: 32,
      n: 262144,
      p: 8,
      r: 1,
      salt: "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
    },
    mac: "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};

const FAST = { n: 1024, r: 8, p: 1 };
const makeKeystore = (key: Hex, password: string) => encryptKeystore(key, password, FAST);

test("the spec's pbkdf2 vector opens with 'testpassword'", async () => {
  assert.equal(await decryptKeystore(SPEC_PBKDF2, "testpassword"), SPEC_KEY);
});

test("the spec's scrypt vector (N = 262144, above node's default maxmem) opens with 'testpassword'", async () => {
  assert.equal(await decryptKeystore(SPEC_SCRYPT, "testpassword"), SPEC_KEY);
});

test("encryptKeystore writes what geth writes and decryptKeystore reads it back", async () => {
  const key: Hex = `0x${"c3".repeat(32)}`;
  const ks = await encryptKeystore(key, "pässword", FAST);
  assert.equal(ks.version, 3);
  assert.equal(ks.address, privateKeyToAddress(key).slice(2).toLowerCase());
  assert.equal(await decryptKeystore(ks, "pässword"), key);
  await assert.rejects(decryptKeystore(ks, "password"), KeystorePasswordError);
});

test("a wrong password fails the MAC check and names the source", async () => {
  await assert.rejects(
    decryptKeystore(SPEC_PBKDF2, "nope", "key file /x.json"),
    (e: Error) =>
      e instanceof KeystorePasswordError && /wrong password for key file \/x\.json/.test(e.message),
  );
});

test("malformed or unsupported keystores are KeystoreError with the reason", async () => {
  const c = SPEC_PBKDF2.crypto;
  const cases: [unknown, RegExp][] = [
    [[], /not a JSON object/],
    [{ ...SPEC_PBKDF2, version: 1 }, /version 1/],
    [{ version: 3 }, /no crypto/],
    [{ ...SPEC_PBKDF2, crypto: { ...c, cipher: "aes-128-cbc" } }, /cipher/],
    [{ ...SPEC_PBKDF2, crypto: { ...c, kdf: "argon2" } }, /kdf "argon2"/],
    [{ ...SPEC_PBKDF2, crypto: { ...c, kdfparams: { ...c.kdfparams, prf: "hmac-sha512" } } }, /prf/],
    [{ ...SPEC_PBKDF2, crypto: { ...c, mac: "zz" } }, /mac must be/],
    [
      {
        ...SPEC_SCRYPT,
        crypto: { ...SPEC_SCRYPT.crypto, kdfparams: { ...SPEC_SCRYPT.crypto.kdfparams, n: 1000 } },
      },
      /power of two/,
    ],
    [
      {
        ...SPEC_SCRYPT,
        crypto: { ...SPEC_SCRYPT.crypto, kdfparams: { ...SPEC_SCRYPT.crypto.kdfparams, n: 2 ** 24 } },
      },
      /kdfparams\.n/,
    ],
    [{ ...SPEC_PBKDF2, address: "0x0000000000000000000000000000000000000001" }, /declares address/],
  ];
  for (const [ks, re] of cases)
    await assert.rejects(
      decryptKeystore(ks, "testpassword"),
      (e: Error & { status?: number }) => e.status === 400 && re.test(e.message),
      String(re),
    );
});

describe("loadKeyFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "keystore-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const keyA: Hex = `0x${"a1".repeat(32)}`;
  const keyB: Hex = `0x${"b2".repeat(32)}`;

  test("reads a hex key file, a keystore with a password or a password file, and says what is missing", async () => {
    const hex = join(dir, "hex.key");
    writeFileSync(hex, `${keyA}\n`);
    assert.equal(await loadKeyFile(hex), keyA);
    const ks = join(dir, "ks.json");
    writeFileSync(ks, JSON.stringify(await makeKeystore(keyA, "pw")));
    assert.ok(isKeystoreJson(JSON.stringify(await makeKeystore(keyA, "pw"))));
    assert.equal(await loadKeyFile(ks, { password: "pw" }), keyA);
    const pwFile = join(dir, "pw.txt");
    writeFileSync(pwFile, "pw\n");
    assert.equal(await readPassword(pwFile), "pw");
    assert.equal(await loadKeyFile(ks, { password: pwFile }), keyA);
    await assert.rejects(
      loadKeyFile(ks),
      new RegExp(`key file ${ks} is an encrypted JSON keystore.*--password`),
    );
    await assert.rejects(
      loadKeyFile(ks, { password: "bad" }),
      new RegExp(`wrong password for key file ${ks}`),
    );
    await assert.rejects(loadKeyFile(join(dir, "missing")), /cannot read key file .*missing: ENOENT/);
    const junk = join(dir, "junk.key");
    writeFileSync(junk, "hello");
    await assert.rejects(
      loadKeyFile(junk),
      /junk\.key holds neither a hex private key .* nor a V3 JSON keystore/,
    );
    await assert.rejects(
      loadKeyFile(ks, { password: "pw", account: privateKeyToAddress(keyB) }),
      /holds 0x.*not --eth-acct-addr/,
    );
  });

  test("a keystore directory: the only keystore, or the one --eth-acct-addr names", async () => {
    const one = join(dir, "one");
    mkdirSync(one);
    writeFileSync(join(one, "UTC--a"), JSON.stringify(await makeKeystore(keyA, "pw")));
    writeFileSync(join(one, "notes.txt"), "not a keystore");
    assert.equal(await loadKeyFile(one, { password: "pw" }), keyA);
    writeFileSync(join(one, "UTC--b"), JSON.stringify(await makeKeystore(keyB, "pw")));
    await assert.rejects(loadKeyFile(one, { password: "pw" }), /holds 2 keystores.*--eth-acct-addr/);
    assert.equal(await loadKeyFile(one, { password: "pw", account: privateKeyToAddress(keyB) }), keyB);
    await assert.rejects(
      loadKeyFile(one, { password: "pw", account: "0x0000000000000000000000000000000000000009" }),
      /no keystore for 0x0+9/,
    );
    await assert.rejects(loadKeyFile(one, { account: "nope" }), /not an address/);
  });
});

test("the TypeScript scrypt agrees with node:crypto where OpenSSL accepts the parameters", () => {
  for (const [n, r, p] of [
    [16, 1, 1],
    [1024, 8, 2],
    [256, 2, 3],
  ] as const) {
    const pw = Buffer.from("password");
    const salt = Buffer.from("NaCl");
    assert.deepEqual(
      scryptFallback(pw, salt, n, r, p, 64),
      scryptSync(pw, salt, 64, { N: n, r, p }),
      `${n},${r},${p}`,
    );
  }
});
