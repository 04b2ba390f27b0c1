import assert from "node:assert/strict";
import { test } from "node:test";
import { RunnerHealth } from "./health.ts";

test("health starts LOADING and becomes IDLE once startup completes", () => {
  const h = new RunnerHealth();
  assert.equal(h.status, "LOADING");
  assert.equal(h.ready, false);
  h.setStartupComplete();
  assert.equal(h.status, "IDLE");
  assert.equal(h.ready, true);
});

test("an active stream or batch request makes health OK, and it returns to IDLE after", () => {
  const h = new RunnerHealth();
  h.setStartupComplete();
  h.setActiveStreams(1);
  assert.equal(h.status, "OK");
  h.setActiveStreams(0);
  const done = h.enterRequest();
  assert.equal(h.status, "OK");
  done();
  done();
  assert.equal(h.activeRequests, 0);
  assert.equal(h.status, "IDLE");
});

test("ERROR has priority over activity and is sticky until cleared, which returns to LOADING", () => {
  const h = new RunnerHealth();
  h.setStartupComplete();
  h.setActiveStreams(1);
  h.setError("Model loading failed: boom");
  assert.equal(h.status, "ERROR");
  assert.equal(h.pipelineState().error_message, "Model loading failed: boom");
  h.setActiveStreams(0);
  assert.equal(h.status, "ERROR");
  h.clearError();
  assert.equal(h.status, "LOADING");
});

test("pipelineState carries pytrickle's keys", () => {
  const h = new RunnerHealth();
  h.setStartupComplete();
  assert.deepEqual(Object.keys(h.pipelineState()).sort(), [
    "active_streams",
    "additional_info",
    "error_message",
    "pipeline_ready",
    "pipeline_state",
    "startup_complete",
    "state",
    "status",
  ]);
  assert.equal(h.pipelineState().pipeline_ready, true);
});
