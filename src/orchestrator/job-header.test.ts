import assert from "node:assert/strict";
import { test } from "node:test";
import { concat, type Hex, keccak256, serializeSignature, stringToBytes, toHex } from "viem";
import { privateKeyToAccount, sign } from "viem/accounts";
import { signPayload } from "../payments/signature.ts";
import {
  encodeJobHeader,
  jobSigningPayloadV0,
  jobSigningPayloadV1,
  newJobRequest,
  parseJobHeader,
} from "../protocol/job-header.ts";
import { parseJobSender, verifyJobSignature } from "./job-header.ts";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64");
const KEY: Hex = `0x${"11".repeat(32)}`;
const account = privateKeyToAccount(KEY);

const job = newJobRequest({
  id: "job-1",
  capability: "reverse",
  request: '{"stream_id":"s"}',
  parameters: "{}",
  timeoutSeconds: 30,
});

/** What a gateway sends: the job with sender and sig, through the header codec. */
const received = (sig: Hex, over: Partial<typeof job> = {}) =>
  parseJobHeader(encodeJobHeader({ ...job, ...over, sender: account.address, sig }));

test("a V0 signature over request + parameters verifies as v0; a changed parameter does not", async () => {
  const sig = await signPayload(account, jobSigningPayloadV0(job));
  assert.deepEqual(await verifyJobSignature(received(sig)), { signer: account.address, version: "v0" });
  await assert.rejects(
    verifyJobSignature(received(sig, { parameters: '{"a":1}' })),
    /Could not verify job creds/,
  );
  // V0 does not cover id, capability or timeout (go-livepeer master), so these still verify
  assert.equal((await verifyJobSignature(received(sig, { id: "other", timeoutSeconds: 5 }))).version, "v0");
});

test("a V1 signature verifies as v1 and binds id, capability and timeout as well", async () => {
  const sig = await signPayload(account, jobSigningPayloadV1(job));
  assert.deepEqual(await verifyJobSignature(received(sig)), { signer: account.address, version: "v1" });
  for (const changed of [{ id: "job-2" }, { capability: "other" }, { timeoutSeconds: 31 }, { request: "{}" }])
    await assert.rejects(
      verifyJobSignature(received(sig, changed)),
      /Could not verify job creds/,
      JSON.stringify(changed),
    );
});

test("cross-check: a V1 signature derived by hand from the upstream rule verifies", async () => {
  // personal_sign(keccak256(payload)) spelled out: EIP-191 prefix over the 32-byte digest, then a
  // raw secp256k1 signature of that hash (not through signPayload).
  const digest = keccak256(jobSigningPayloadV1(job));
  const eip191 = keccak256(concat([toHex("\x19Ethereum Signed Message:\n32"), digest]));
  const handSig = serializeSignature(await sign({ hash: eip191, privateKey: KEY }));
  assert.equal(handSig, await signPayload(account, jobSigningPayloadV1(job)));
  // frozen: RFC 6979 makes the signature a fixed function of key and payload
  assert.equal(
    toHex(jobSigningPayloadV1(job)),
    "0x4c505f42594f435f4a4f425f563100000000001e000000056a6f622d3100000007726576657273650000001" +
      "17b2273747265616d5f6964223a2273227d000000027b7d",
  );
  assert.equal(
    handSig,
    "0x655cd3cf72ec09790225abcf98abbe79a61a9326cc550bbc5a3a383f1d92ab7e" +
      "57a5fe0c76c7a9a417ebf8644cc49bfc776ec906d6f4506cc9fa27d7843f7d681b",
  );
  assert.equal((await verifyJobSignature(received(handSig))).version, "v1");
});

test("malformed sender or signature is 400 'Could not verify job creds'; go's 130-hex form without 0x is read", async () => {
  const sig = await signPayload(account, jobSigningPayloadV1(job));
  await assert.rejects(verifyJobSignature(received("0x" as Hex)), /Could not verify job creds/);
  await assert.rejects(
    verifyJobSignature({ ...received(sig), sender: "nope" }),
    (e: Error & { status?: number }) => e.status === 400,
  );
  assert.equal((await verifyJobSignature(received(sig.slice(2) as Hex))).version, "v1");
  // a timeout V1 cannot encode is checked as V0 only (no RangeError)
  const v0 = await signPayload(account, jobSigningPayloadV0(job));
  assert.equal((await verifyJobSignature({ ...received(v0), timeoutSeconds: 2 ** 33 })).version, "v0");
  const other = privateKeyToAccount(`0x${"22".repeat(32)}`);
  const foreign = await signPayload(other, jobSigningPayloadV1(job));
  await assert.rejects(verifyJobSignature(received(foreign)), /Could not verify job creds/);
});

test("JobSender: addr signed by itself; a bad one is 'Invalid eth address header'", async () => {
  const sig = await account.signMessage({ message: { raw: keccak256(stringToBytes(account.address)) } });
  const s = await parseJobSender(b64({ addr: account.address, sig }), true);
  assert.equal(s.addr, account.address);
  await assert.rejects(
    parseJobSender(b64({ addr: account.address, sig: "0x" }), true),
    /Invalid eth address header/,
  );
  assert.equal((await parseJobSender(b64({ addr: "x", sig: "0x" }), false)).addr, "x");
});

test("verified signatures are remembered per sender and payload: a repeat verifies, another sender or payload still fails", async () => {
  const sig = await signPayload(account, jobSigningPayloadV0({ request: '{"k":"cache"}', parameters: "{}" }));
  const cached = { request: '{"k":"cache"}' };
  for (let i = 0; i < 3; i++)
    assert.deepEqual(await verifyJobSignature(received(sig, { ...cached, id: `job-${i}` })), {
      signer: account.address,
      version: "v0",
    });
  const other = privateKeyToAccount(`0x${"22".repeat(32)}`);
  await assert.rejects(
    verifyJobSignature(parseJobHeader(encodeJobHeader({ ...job, ...cached, sender: other.address, sig }))),
    /Could not verify job creds/,
  );
  await assert.rejects(verifyJobSignature(received(sig, { request: '{"k":"other"}' })), /Could not verify/);
});
