import assert from "node:assert/strict";
import { test } from "node:test";
import { keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parseJobRequest, parseJobSender, verifyJobSignature } from "./job-header.ts";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64");
const account = privateKeyToAccount(`0x${"11".repeat(32)}`);

test("parses the Livepeer header: request details, parameters and flags", () => {
  const job = parseJobRequest(
    b64({
      id: "s1",
      request: '{"stream_id":"abc"}',
      parameters: '{"enable_video_ingress":true,"orchestrators":{"exclude":["https://x"]}}',
      capability: "cap",
      timeout_seconds: 30,
      OrchSearchTimeout: 1000000000,
    }),
  );
  assert.equal(job.streamId, "abc");
  assert.equal(job.timeoutSeconds, 30);
  assert.equal(job.params.enableVideoIngress, true);
  assert.equal(job.params.enableVideoEgress, false);
  assert.deepEqual(job.params.orchestrators, { exclude: ["https://x"] });
});

test("rejects what go-livepeer rejects, as 400", () => {
  const bad = (v: string | undefined, re: RegExp) =>
    assert.throws(
      () => parseJobRequest(v),
      (e: Error & { status?: number }) => e.status === 400 && re.test(e.message),
    );
  bad(undefined, /missing/);
  bad("***", /base64/);
  bad(Buffer.from("nope").toString("base64"), /JSON/);
  bad(b64({ request: "{}", capability: "c" }), /timeout_seconds is required/);
  bad(b64({ request: "", capability: "c", timeout_seconds: 1 }), /'request'/);
  bad(b64({ request: "[]", capability: "c", timeout_seconds: 1 }), /'request'/);
  bad(b64({ request: "{}", parameters: "x", capability: "c", timeout_seconds: 1 }), /'parameters'/);
});

test("V0 signature over request + parameters verifies; a changed parameter does not", async () => {
  const request = '{"stream_id":"s"}';
  const parameters = "{}";
  const sig = await account.signMessage({ message: { raw: keccak256(stringToBytes(request + parameters)) } });
  const job = parseJobRequest(
    b64({ request, parameters, capability: "c", timeout_seconds: 5, sender: account.address, sig }),
  );
  assert.equal(await verifyJobSignature(job), account.address);
  const tampered = { ...job, parameters: '{"a":1}' };
  await assert.rejects(verifyJobSignature(tampered), /Could not verify job creds/);
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
