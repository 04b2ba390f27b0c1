import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidStreamRequestError, validateStreamParams, validateStreamStart } from "./params.ts";

test("width and height must come together and are coerced to positive integers", () => {
  assert.deepEqual(validateStreamParams({ width: "640", height: 480.9, prompt: "x" }), {
    width: 640,
    height: 480,
    prompt: "x",
  });
  assert.throws(() => validateStreamParams({ width: 640 }), /provided together/);
  assert.throws(() => validateStreamParams({ width: 0, height: 10 }), /positive/);
  assert.throws(() => validateStreamParams({ width: "abc", height: 10 }), /valid integers/);
});

test("max_framerate must be an integer in 1..60", () => {
  assert.equal(validateStreamParams({ max_framerate: "30" }).max_framerate, 30);
  assert.throws(() => validateStreamParams({ max_framerate: 61 }), /cannot exceed 60 FPS/);
  assert.throws(() => validateStreamParams({ max_framerate: 0 }), /positive/);
  assert.throws(() => validateStreamParams({ max_framerate: [] }), /valid integer/);
});

test("detect_out_resolution accepts booleans, boolean words and integers only", () => {
  assert.equal(validateStreamParams({ detect_out_resolution: "no" }).detect_out_resolution, false);
  assert.equal(validateStreamParams({ detect_out_resolution: "YES" }).detect_out_resolution, true);
  assert.equal(validateStreamParams({ detect_out_resolution: 2 }).detect_out_resolution, true);
  assert.throws(() => validateStreamParams({ detect_out_resolution: "maybe" }), /boolean/);
  assert.throws(() => validateStreamParams({ detect_out_resolution: 1.5 }), /boolean/);
});

test("params must be an object", () => {
  for (const bad of [null, [], "x", 3])
    assert.throws(() => validateStreamParams(bad), InvalidStreamRequestError);
});

test("a start needs a string gateway_request_id; URLs are optional strings", () => {
  assert.deepEqual(
    validateStreamStart({ gateway_request_id: "abc", control_url: "http://c", data_url: null }),
    {
      gateway_request_id: "abc",
      control_url: "http://c",
      params: {},
    },
  );
  assert.throws(() => validateStreamStart({}), /gateway_request_id: Field required/);
  assert.throws(() => validateStreamStart({ gateway_request_id: 5 }), /valid string/);
  assert.throws(() => validateStreamStart({ gateway_request_id: "a", events_url: 1 }), /events_url/);
  assert.throws(() => validateStreamStart({ gateway_request_id: "a", params: { width: 1 } }), /together/);
  assert.throws(() => validateStreamStart([]), /JSON object/);
});
