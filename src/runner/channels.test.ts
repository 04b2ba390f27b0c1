import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeControl, encodeDataBatch, encodeEvent } from "./channels.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

test("events are wrapped in pytrickle's envelope, ai_stream_events by default", () => {
  assert.deepEqual(JSON.parse(dec(encodeEvent({ type: "stream_stopped", timestamp: 1 }))), {
    event: { type: "stream_stopped", timestamp: 1 },
    queue_event_type: "ai_stream_events",
  });
  assert.equal(
    JSON.parse(dec(encodeEvent({ type: "heartbeat" }, "stream_heartbeat"))).queue_event_type,
    "stream_heartbeat",
  );
});

test("a data batch is one JSON array line; the keepalive is []\\n", () => {
  assert.equal(dec(encodeDataBatch(["a", '{"x":1}'])), '["a","{\\"x\\":1}"]\n');
  assert.equal(dec(encodeDataBatch([])), "[]\n");
});

test("the control keepalive is recognised only when it is exactly {keep: alive}", () => {
  assert.deepEqual(decodeControl(enc('{"keep":"alive"}')), { kind: "keepalive" });
  assert.deepEqual(decodeControl(enc('{ "keep" : "alive" }')), { kind: "keepalive" });
  assert.deepEqual(decodeControl(enc('{"keep":"alive","prompt":"x"}')), {
    kind: "params",
    params: { keep: "alive", prompt: "x" },
  });
  assert.equal(decodeControl(enc("nope")).kind, "invalid");
  assert.equal(decodeControl(enc("[1]")).kind, "invalid");
});
