import assert from "node:assert/strict";
import { test } from "node:test";
import { decodePathSegment } from "./uri.ts";

test("decodePathSegment: escapes decoded; malformed ones are undefined instead of a URIError", () => {
  assert.equal(decodePathSegment("a%20b%2Fc"), "a b/c");
  assert.equal(decodePathSegment("plain"), "plain");
  for (const bad of ["%zz", "%4", "%", "%E0%A4%A", "%C0%80x", "%ED%A0%80"])
    assert.equal(decodePathSegment(bad), undefined, bad);
});
