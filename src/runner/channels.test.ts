import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeControl, encodeDataBatch, encodeEvent, splitDataBatches } from "./channels.ts";

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

test("data batches are split so every line fits the gateway's 64 KiB limit, in order", () => {
  const item = "x".repeat(30_000);
  const batches = splitDataBatches([item, item, item, "small"]);
  assert.deepEqual(
    batches.map((b) => b.length),
    [2, 2],
  );
  for (const b of batches) assert.ok(encodeDataBatch(b).length <= 64 * 1024);
  assert.deepEqual(batches.flat(), [item, item, item, "small"]);
  assert.deepEqual(splitDataBatches([]), [[]], "the keepalive is one empty batch");
  const huge = "y".repeat(70_000);
  assert.deepEqual(splitDataBatches(["a", huge, "b"]), [["a"], [huge], ["b"]]);
  const exact = splitDataBatches(["ab", "cd"], 12); // ["ab","cd"]\n is 12 bytes
  assert.deepEqual(exact, [["ab", "cd"]]);
  assert.deepEqual(splitDataBatches(["ab", "cd"], 11), [["ab"], ["cd"]]);
});

test("splitting data batches keeps every item once, in order, within the line limit (property)", async () => {
  const fc = await import("fast-check");
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 40, unit: "binary" })),
      fc.integer({ min: 8, max: 200 }),
      (items, max) => {
        const batches = splitDataBatches(items, max);
        assert.deepEqual(batches.flat(), items);
        for (const b of batches) {
          assert.ok(b.length === 1 || encodeDataBatch(b).length <= max, "over the limit only when alone");
        }
      },
    ),
  );
});
