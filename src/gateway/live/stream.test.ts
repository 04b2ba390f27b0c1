import assert from "node:assert/strict";
import { test } from "node:test";
import { nextState, type StreamEvent, type StreamState, TRANSITIONS, transition } from "./stream.ts";

const STATES: StreamState[] = ["starting", "running", "moving", "failed", "stopped", "ended"];
const EVENTS: StreamEvent[] = ["started", "drained", "lost", "gaveUp", "stop"];
const _ = undefined; // refused

// Every state × event: the state after it, or `_` when the machine refuses it.
//                                  started     drained  lost      gaveUp    stop
const TABLE: Record<StreamState, (StreamState | undefined)[]> = {
  starting: /*                   */ ["running", _, _, _, "stopped"],
  running: /*                    */ [_, "ended", "moving", "failed", "stopped"],
  moving: /*                     */ ["running", _, _, "failed", "stopped"],
  failed: /*                     */ [_, _, _, _, "stopped"],
  stopped: /*                    */ [_, _, _, _, _],
  ended: /*                      */ [_, _, _, _, "ended"],
};

for (const from of STATES)
  for (const [i, event] of EVENTS.entries()) {
    const to = TABLE[from][i];
    test(`${from} + ${event} → ${to ?? "refused"}`, () => {
      assert.equal(nextState(from, event), to);
      const s = { state: from };
      assert.equal(transition(s, event), to !== undefined);
      assert.equal(s.state, to ?? from, "a refused event leaves the state as it was");
    });
  }

test("the machine lists no state or event beyond the table", () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), [...STATES].sort());
  for (const from of STATES)
    for (const event of Object.keys(TRANSITIONS[from]))
      assert.ok(EVENTS.includes(event as StreamEvent), event);
});

test("a stream's life: start, a move, a second orchestrator, the end of its input, a stop", () => {
  const s = { state: "starting" as StreamState };
  for (const [event, state] of [
    ["started", "running"],
    ["lost", "moving"],
    ["started", "running"],
    ["drained", "ended"],
    ["stop", "ended"],
  ] as const) {
    assert.ok(transition(s, event), event);
    assert.equal(s.state, state);
  }
  // A stopped stream stays stopped: a late start answer or failure changes nothing.
  const t = { state: "moving" as StreamState };
  assert.ok(transition(t, "stop"));
  assert.ok(!transition(t, "started"));
  assert.ok(!transition(t, "gaveUp"));
  assert.equal(t.state, "stopped");
});
