import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { compileContracts, DEPLOYED_CONTRACTS } from "./build-contracts.ts";

test("the committed artifacts are exactly what the sources compile to (the build is deterministic)", () => {
  const files = compileContracts();
  assert.equal(files.size, DEPLOYED_CONTRACTS.length + 1);
  for (const [path, content] of files) {
    assert.equal(readFileSync(path, "utf8"), content, `${path} is stale: run npm run contracts`);
  }
});
