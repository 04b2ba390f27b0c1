import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { keccak256 } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { checkSig, signPersonal } from "../payments/signature.ts";
import {
  decodeSegmentHeader,
  EMPTY_SEGMENT_HASH,
  encodeSegmentHeader,
  SegmentHeaderError,
  segCredsSigningBytes,
  segCredsSigningHash,
} from "./segment-header.ts";

test("EMPTY_SEGMENT_HASH is keccak256 of empty input", () => {
  assert.equal(keccak256(new Uint8Array(0)), EMPTY_SEGMENT_HASH);
});

test("AI segment credentials flatten to manifestId ‖ 32-byte seq ‖ hash and sign/verify", async () => {
  const mid = "27_ByteDance/SDXL-Lightning";
  const bytes = segCredsSigningBytes(mid, 0n, EMPTY_SEGMENT_HASH);
  assert.equal(bytes.length, mid.length + 64);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, mid.length)), mid);
  assert.ok(bytes.subarray(mid.length, mid.length + 32).every((b) => b === 0));
  const account = privateKeyToAccount(`0x${"11".repeat(32)}`);
  const sig = await signPersonal(account, segCredsSigningHash(mid, 0n, EMPTY_SEGMENT_HASH));
  const header = encodeSegmentHeader({
    manifestId: mid,
    seq: 0n,
    hash: EMPTY_SEGMENT_HASH,
    sig,
    durationMs: 0,
    authToken: { token: "0x0102", sessionId: "abc", expiration: 1700000000n },
  });
  const back = decodeSegmentHeader(header);
  assert.equal(back.manifestId, mid);
  assert.equal(back.authToken?.sessionId, "abc");
  assert.equal(back.authToken?.expiration, 1700000000n);
  const check = await checkSig(
    account.address,
    segCredsSigningHash(back.manifestId, back.seq, back.hash),
    back.sig,
  );
  assert.equal(check.valid, true);
});

test("garbage segment headers are SegmentHeaderError (403), never a crash", () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        decodeSegmentHeader(s);
      } catch (err) {
        assert.ok(err instanceof SegmentHeaderError);
        assert.equal(err.status, 403);
      }
    }),
    { numRuns: 300 },
  );
});
