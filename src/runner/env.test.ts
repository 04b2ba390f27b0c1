import assert from "node:assert/strict";
import { test } from "node:test";
import { runnerOptionsFromEnv } from "./env.ts";

test("runnerOptionsFromEnv maps PIPELINE and CAPABILITY_NAME (before MODEL_ID), leaving unset ones out", () => {
  assert.deepEqual(runnerOptionsFromEnv({}), {});
  assert.deepEqual(runnerOptionsFromEnv({ PIPELINE: "p", MODEL_ID: "m" }), {
    pipelineName: "p",
    modelId: "m",
  });
  assert.deepEqual(runnerOptionsFromEnv({ CAPABILITY_NAME: "c", MODEL_ID: "m" }), { modelId: "c" });
  assert.deepEqual(runnerOptionsFromEnv({ PIPELINE: "" }), { pipelineName: "" });
});
