import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesToHex } from "viem";
import {
  encodeJobHeader,
  encodeJobSenderHeader,
  JOB_SIG_V1_PREFIX,
  jobSigningPayloadV0,
  jobSigningPayloadV1,
  newJobRequest,
  parseJobHeader,
  parseJobSenderHeader,
} from "./job-header.ts";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64");

const rejects = (v: string | undefined, re: RegExp, client = false) =>
  assert.throws(
    () => parseJobHeader(v, { client }),
    (e: Error & { status?: number; code?: string }) =>
      e.status === 400 &&
      e.code === "BAD_JOB_HEADER" &&
      /^Livepeer header: /.test(e.message) &&
      re.test(e.message),
    String(v),
  );

test("parses the Livepeer header: request details, parameters, filters and flags; unknown keys ignored", () => {
  const job = parseJobHeader(
    b64({
      id: "s1",
      request: '{"stream_id":"abc"}',
      parameters:
        '{"enable_video_ingress":true,"orchestrators":{"include":["https://a:1"],"exclude":["https://x",3]}}',
      capability: "cap",
      sender: "0xabc",
      sig: "0x12",
      timeout_seconds: 30,
      OrchSearchTimeout: 1000000000,
      capability_url: "http://ignored",
    }),
  );
  assert.equal(job.id, "s1");
  assert.equal(job.streamId, "abc");
  assert.equal(job.timeoutSeconds, 30);
  assert.equal(job.sender, "0xabc");
  assert.equal(job.sig, "0x12");
  assert.deepEqual(job.params, {
    include: ["https://a:1"],
    exclude: ["https://x"],
    enableVideoIngress: true,
    enableVideoEgress: false,
    enableDataOutput: false,
  });
});

test("rejects what go-livepeer rejects, as 400 BAD_JOB_HEADER", () => {
  rejects(undefined, /missing/);
  rejects("", /missing/);
  rejects("***", /base64/);
  rejects(Buffer.from("nope").toString("base64"), /JSON/);
  rejects(b64([1]), /JSON object/);
  rejects(b64({ request: "{}", capability: "c" }), /timeout_seconds is required/);
  rejects(b64({ request: "{}", capability: "c", timeout_seconds: 0 }), /timeout_seconds is required/);
  rejects(b64({ request: "{}", capability: "c", timeout_seconds: 1.5 }), /timeout_seconds is required/);
  rejects(b64({ request: "{}", capability: "c", timeout_seconds: -1 }), /between 1 and 86400/);
  rejects(b64({ request: "{}", capability: "c", timeout_seconds: 86_401 }), /between 1 and 86400/);
  rejects(b64({ request: "", capability: "c", timeout_seconds: 1 }), /'request'/);
  rejects(b64({ request: "[]", capability: "c", timeout_seconds: 1 }), /'request'/);
  rejects(b64({ request: "{}", parameters: "x", capability: "c", timeout_seconds: 1 }), /'parameters'/);
  rejects(b64({ request: "{}", parameters: "null", capability: "c", timeout_seconds: 1 }), /'parameters'/);
});

test("a client's header needs a capability, gets '{}' for empty parameters and loses sender/sig; the orchestrator keeps all", () => {
  rejects(b64({ request: "{}", timeout_seconds: 1 }), /capability is required/, true);
  const v = b64({ request: "{}", capability: "c", timeout_seconds: 1 });
  assert.equal(parseJobHeader(v, { client: true }).parameters, "{}");
  const claimed = b64({ request: "{}", capability: "c", timeout_seconds: 1, sender: "0x1", sig: "0x2" });
  assert.deepEqual(
    [parseJobHeader(claimed, { client: true }).sender, parseJobHeader(claimed).sender],
    ["", "0x1"],
  );
  assert.equal(parseJobHeader(claimed, { client: true }).sig, "");
  assert.equal(parseJobHeader(v).parameters, "");
  assert.equal(parseJobHeader(b64({ request: "{}", timeout_seconds: 1 })).capability, "");
});

test("encode → parse round-trips the wire fields; sender and sig are written only when set", () => {
  const job = newJobRequest({ id: "i", capability: "c", timeoutSeconds: 7, request: '{"stream_id":"s"}' });
  assert.equal(job.streamId, "s");
  const unsigned = JSON.parse(Buffer.from(encodeJobHeader(job), "base64").toString());
  assert.deepEqual(unsigned, {
    id: "i",
    request: '{"stream_id":"s"}',
    parameters: "{}",
    capability: "c",
    timeout_seconds: 7,
  });
  const signed = { ...job, sender: "0x01", sig: "0x02" };
  assert.deepEqual(parseJobHeader(encodeJobHeader(signed)), signed);
});

test("V0 payload is request + parameters and nothing else", () => {
  const a = newJobRequest({
    id: "a",
    capability: "c",
    timeoutSeconds: 1,
    request: "{}",
    parameters: '{"x":1}',
  });
  const b = { ...a, id: "b", capability: "d", timeoutSeconds: 9 };
  assert.equal(Buffer.from(jobSigningPayloadV0(a)).toString(), '{}{"x":1}');
  assert.deepEqual(jobSigningPayloadV0(a), jobSigningPayloadV0(b));
});

test("V1 payload matches the upstream layout byte for byte (hand-derived fixture)", () => {
  // "LP_BYOC_JOB_V1" + 2 NUL | u32be 30 | u32be 1 "a" | u32be 1 "c" | u32be 2 "{}" | u32be 2 "{}"
  const expected =
    "0x4c505f42594f435f4a4f425f56310000" +
    "0000001e" +
    "00000001" +
    "61" +
    "00000001" +
    "63" +
    "00000002" +
    "7b7d" +
    "00000002" +
    "7b7d";
  const payload = jobSigningPayloadV1({
    id: "a",
    capability: "c",
    request: "{}",
    parameters: "{}",
    timeoutSeconds: 30,
  });
  assert.equal(JOB_SIG_V1_PREFIX.length, 16);
  assert.equal(bytesToHex(payload), expected);
});

test("V1 payload counts UTF-8 bytes, binds every field and refuses a timeout outside uint32", () => {
  const base = { id: "", capability: "é", request: "", parameters: "", timeoutSeconds: 0x01020304 };
  const p = jobSigningPayloadV1(base);
  assert.equal(bytesToHex(p.subarray(16, 20)), "0x01020304");
  assert.equal(bytesToHex(p.subarray(24, 30)), "0x00000002c3a9");
  assert.equal(p.length, 16 + 4 + 4 + 4 + 2 + 4 + 4);
  for (const changed of [
    { id: "x" },
    { capability: "x" },
    { request: "x" },
    { parameters: "x" },
    { timeoutSeconds: 5 },
  ])
    assert.notDeepEqual(jobSigningPayloadV1({ ...base, ...changed }), p, JSON.stringify(changed));
  // moving a byte from one field to the next changes the payload (length prefixes)
  assert.notDeepEqual(
    jobSigningPayloadV1({ ...base, request: "ab", parameters: "" }),
    jobSigningPayloadV1({ ...base, request: "a", parameters: "b" }),
  );
  for (const t of [0, -1, 1.5, 2 ** 32])
    assert.throws(() => jobSigningPayloadV1({ ...base, timeoutSeconds: t }), RangeError);
});

test("Livepeer-Eth-Address round-trips; garbage is 'Invalid eth address header'", () => {
  const s = { addr: "0x0000000000000000000000000000000000000001", sig: "0xab" };
  assert.deepEqual(parseJobSenderHeader(encodeJobSenderHeader(s)), s);
  assert.throws(() => parseJobSenderHeader(undefined), /missing Livepeer-Eth-Address/);
  for (const v of ["***", b64("x"), Buffer.from("{").toString("base64")])
    assert.throws(() => parseJobSenderHeader(v), /Invalid eth address header/);
});
