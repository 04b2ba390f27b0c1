import assert from "node:assert/strict";
import { test } from "node:test";
import { ecrecoverBackend, usePureJsSecp256k1 } from "../payments/ecrecover.ts";
import { keccakBackend, usePureJsKeccak } from "../protocol/keccak.ts";
import { applyEnvironment } from "./main.ts";

test("the CLI applies TRIBUTARY_PURE_JS_KECCAK and TRIBUTARY_PURE_JS_SECP256K1 (the library reads no environment)", async (t) => {
  t.after(() => {
    usePureJsKeccak(false);
    usePureJsSecp256k1(false);
  });
  const before = { keccakBackend, ecrecoverBackend };
  await applyEnvironment({ TRIBUTARY_PURE_JS_KECCAK: "0" });
  assert.deepEqual({ keccakBackend, ecrecoverBackend }, before);
  await applyEnvironment({ TRIBUTARY_PURE_JS_KECCAK: "1", TRIBUTARY_PURE_JS_SECP256K1: "1" });
  assert.equal(keccakBackend, "javascript");
  assert.equal(ecrecoverBackend, "javascript");
});
