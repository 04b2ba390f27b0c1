import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTraceparent, parseTraceparent, startTrace } from "./tracing.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

test("a valid traceparent is continued with a new span id and the same flags", () => {
  const t = startTrace(`00-${TRACE}-00f067aa0ba902b7-00`);
  assert.equal(t.traceId, TRACE);
  assert.notEqual(t.spanId, "00f067aa0ba902b7");
  assert.equal(formatTraceparent(t), `00-${TRACE}-${t.spanId}-00`);
});

test("invalid traceparents are ignored and a new sampled trace starts", () => {
  for (const bad of [
    undefined,
    "",
    "garbage",
    `ff-${TRACE}-00f067aa0ba902b7-01`,
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `00-${TRACE}-00f067aa0ba902b7-01-extra`,
  ]) {
    assert.equal(parseTraceparent(bad), undefined, String(bad));
    const t = startTrace(bad);
    assert.match(formatTraceparent(t), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.notEqual(t.traceId, TRACE);
  }
});

test("a future version with extra fields is accepted (W3C forward compatibility)", () => {
  assert.equal(parseTraceparent(`01-${TRACE}-00f067aa0ba902b7-01-more`)?.traceId, TRACE);
});
