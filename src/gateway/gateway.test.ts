import assert from "node:assert/strict";
import { test } from "node:test";
import { modelIdOf } from "./gateway.ts";

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
