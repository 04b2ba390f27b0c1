import assert from "node:assert/strict";
import { test } from "node:test";
import type { VideoFrame } from "../runner/pipeline.ts";
import { OverlayController } from "./overlay.ts";

const frame = (v: number, pts = 0): VideoFrame => ({
  data: new Uint8Array(8 * 8 * 3).fill(v),
  width: 8,
  height: 8,
  pts,
  timeBase: { num: 1, den: 90000 },
});

test("the overlay shows a dimmed last frame once nothing was output for the timeout, with the input's PTS", () => {
  let now = 0;
  const o = new OverlayController({ timeoutMs: 1500 }, () => now);
  o.processed(frame(200));
  now = 1000;
  assert.equal(o.withheld(frame(50, 7)), undefined, "before the timeout nothing is shown");
  now = 1600;
  const shown = o.withheld(frame(50, 9));
  assert.ok(shown);
  assert.equal(shown.pts, 9);
  assert.equal(
    shown.data[0],
    Math.floor((200 * Math.round(0.35 * 256)) / 256),
    "dimmed last processed frame",
  );
  o.processed(frame(200));
  assert.equal(o.withheld(frame(50)), undefined, "a processed frame turns it off");
});

test("a disabled overlay never shows; without a processed frame it draws a dark frame", () => {
  let now = 0;
  assert.equal(new OverlayController({ enabled: false }, () => now).withheld(frame(1)), undefined);
  const o = new OverlayController({ timeoutMs: 0 }, () => now);
  now = 1;
  const shown = o.withheld(frame(255));
  assert.ok(shown);
  assert.ok((shown.data[0] as number) < 40);
});
