import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeJobHeader, modelIdOf, parseClientJobHeader } from "./gateway.ts";

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64");

test("the client's Livepeer header is checked as go-livepeer's setupGatewayJob does", () => {
  const job = parseClientJobHeader(
    b64({
      request: '{"stream_id":"x"}',
      parameters: '{"orchestrators":{"include":["https://a:1"],"exclude":["https://b:2"]}}',
      capability: "cap",
      timeout_seconds: 5,
    }),
  );
  assert.equal(job.capability, "cap");
  assert.deepEqual(job.include, ["https://a:1"]);
  assert.deepEqual(job.exclude, ["https://b:2"]);
  assert.equal(
    parseClientJobHeader(b64({ request: "{}", capability: "c", timeout_seconds: 1 })).parameters,
    "{}",
  );
  for (const bad of [
    undefined,
    "%%%",
    b64([1]),
    b64({ request: "{}", capability: "c" }),
    b64({ request: "{}", capability: "c", timeout_seconds: 0 }),
    b64({ request: "", capability: "c", timeout_seconds: 1 }),
    b64({ request: "[]", capability: "c", timeout_seconds: 1 }),
    b64({ request: "{}", parameters: "nope", capability: "c", timeout_seconds: 1 }),
    b64({ request: "{}", timeout_seconds: 1 }),
  ])
    assert.throws(() => parseClientJobHeader(bad), /Livepeer header/, String(bad));
});

test("the forwarded header carries the job fields with go-livepeer's keys", () => {
  const h = JSON.parse(
    Buffer.from(
      encodeJobHeader({ id: "i", request: "{}", parameters: "{}", capability: "c", timeoutSeconds: 7 }),
      "base64",
    ).toString(),
  );
  assert.deepEqual(h, { id: "i", request: "{}", parameters: "{}", capability: "c", timeout_seconds: 7 });
});

test("model_id comes from X-Model-Id, the JSON body or a multipart field; bad JSON is a 400", () => {
  assert.equal(modelIdOf({ "x-model-id": "h" }, Buffer.from('{"model_id":"b"}')), "h");
  assert.equal(modelIdOf({}, Buffer.from('{"model_id":"b"}')), "b");
  assert.equal(modelIdOf({}, Buffer.from("{}")), undefined);
  const multipart = Buffer.from(
    '--X\r\nContent-Disposition: form-data; name="model_id"\r\n\r\nm/1\r\n--X\r\nContent-Disposition: form-data; name="prompt"\r\n\r\np\r\n--X--\r\n',
  );
  assert.equal(modelIdOf({ "content-type": "multipart/form-data; boundary=X" }, multipart), "m/1");
  assert.throws(() => modelIdOf({}, Buffer.from("{")), /not valid JSON/);
});
