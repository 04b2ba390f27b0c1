/**
 * Fuzzing of the credential checks docs/security.md relies on: the orchestrator's auth token (HMAC
 * with an expiry, compared in constant time) and payload signatures (personal_sign over keccak256,
 * low-s only). Only the exact token or signature passes; any change, a wrong key, a high-s twin or an
 * expired token fails, and no input makes a check throw.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { authTokenMac, authTokenProblem } from "../../src/orchestrator/info.ts";
import { SECP256K1_N } from "../../src/payments/constants.ts";
import { checkPayloadSig, signPayload } from "../../src/payments/signature.ts";
import { check, checkAsync } from "./fuzz-util.ts";

const RUNS = 200;
const NOW = 1_800_000_000;

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const flip = (b: Uint8Array, at: number, bit: number): Uint8Array => {
  const out = Uint8Array.from(b);
  if (out.length > 0) out[at % out.length]! ^= 1 << (bit % 8);
  return out;
};

describe("fuzz: credentials", () => {
  test("auth token: only the exact HMAC before its expiry passes", () => {
    check(
      "auth token",
      RUNS,
      [
        key,
        key,
        fc.string({ maxLength: 40 }),
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.nat(),
        fc.nat(),
      ],
      (secret, other, sessionId, expiration, at, bit) => {
        const token = authTokenMac(secret, sessionId, expiration);
        const problem = authTokenProblem(secret, { token, sessionId, expiration }, NOW);
        assert.equal(problem, expiration < BigInt(NOW) ? "expired auth token" : undefined);
        const bad = [
          { token: flip(token, at, bit), sessionId, expiration },
          { token: token.subarray(0, at % token.length), sessionId, expiration },
          { token, sessionId: `${sessionId}x`, expiration },
          { token, sessionId, expiration: expiration + 1n },
          { token: authTokenMac(other, sessionId, expiration), sessionId, expiration },
        ];
        for (const t of bad) {
          if (t.token === token && t.sessionId === sessionId && t.expiration === expiration) continue;
          if (Buffer.from(other).equals(Buffer.from(secret)) && t.token.length === token.length) continue;
          assert.ok(authTokenProblem(secret, t, NOW) !== undefined, "a changed token passed");
        }
      },
    );
  });

  test("payload signatures: the signer's exact signature passes; changed, high-s or other signers fail; never throws", async () => {
    const accounts = [1, 2].map((i) => privateKeyToAccount(`0x${String(i).padStart(64, "0")}`));
    await checkAsync(
      "payload signature",
      Math.ceil(RUNS / 4),
      [fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.nat(), fc.stringMatching(/^[0-9a-f]{0,140}$/)],
      async (msg, at, bit, junk) => {
        const [a, b] = accounts as [(typeof accounts)[0], (typeof accounts)[0]];
        const sig = await signPayload(a, msg);
        assert.equal((await checkPayloadSig(a.address, msg, sig)).valid, true);
        assert.equal((await checkPayloadSig(b.address, msg, sig)).valid, false, "another address");
        const bytes = Buffer.from(sig.slice(2), "hex");
        const changed = `0x${Buffer.from(flip(bytes, at % 64, bit)).toString("hex")}` as Hex;
        assert.equal((await checkPayloadSig(a.address, msg, changed)).valid, false, "a changed signature");
        assert.equal(
          (await checkPayloadSig(a.address, flip(msg, at, bit), sig)).valid,
          msg.length === 0,
          "a changed message",
        );
        // the malleable twin (n − s, v flipped) recovers the same key, and must still be refused
        const s = BigInt(`0x${sig.slice(66, 130)}`);
        const v = Number.parseInt(sig.slice(130, 132), 16);
        const twin =
          `${sig.slice(0, 66)}${(SECP256K1_N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
        assert.equal((await checkPayloadSig(a.address, msg, twin)).valid, false, "the high-s twin");
        assert.equal((await checkPayloadSig(a.address, msg, `0x${junk}` as Hex)).valid, false, "junk");
      },
    );
  });
});
