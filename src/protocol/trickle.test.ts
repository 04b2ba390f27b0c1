import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSeq } from "./trickle.ts";

test("parseSeq accepts integers including the special negatives", () => {
  assert.equal(parseSeq("0"), 0);
  assert.equal(parseSeq("42"), 42);
  assert.equal(parseSeq("-1"), -1);
  assert.equal(parseSeq("-2"), -2);
});

test("parseSeq rejects non-integers, blanks and oversized numbers", () => {
  for (const bad of ["", "a", "1.5", "1e3", " 1", "+1", "--1", "0x10", "1234567890123456"]) {
    assert.equal(parseSeq(bad), undefined, bad);
  }
});
