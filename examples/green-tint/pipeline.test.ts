import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequestError } from "../../src/runner/index.ts";
import { parseGreen, tintGreen } from "./pipeline.ts";

test("tintGreen adds to the green channel only and saturates at 255", () => {
  const frame = {
    data: new Uint8Array([10, 20, 30, 10, 250, 30]),
    width: 2,
    height: 1,
    pts: 0,
    timeBase: { num: 1, den: 90000 },
  };
  tintGreen(frame, 60);
  assert.deepEqual([...frame.data], [10, 80, 30, 10, 255, 30]);
});

test("the green param accepts integers 0..255 (numbers or numeric strings) and rejects the rest with 400", () => {
  assert.equal(parseGreen(0), 0);
  assert.equal(parseGreen("255"), 255);
  for (const bad of [-1, 256, 1.5, "x", "", null, true])
    assert.throws(() => parseGreen(bad), BadRequestError);
});
