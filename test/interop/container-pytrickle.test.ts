/**
 * The container-contract conformance suite (test/conformance/container-suite.ts) against a real
 * pytrickle 0.1.6 `StreamServer` from PyPI, run from the interop virtualenv that
 * `scripts/interop-setup.ts` installs. pytrickle's documented deviations are declared by the target
 * (PYTRICKLE_0_1_6_QUIRKS), so each case checks what pytrickle really does.
 *
 * Without the virtualenv the suite is skipped with the reason, except in CI (env `CI` set), where a
 * missing virtualenv fails: CI must run the setup script.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pytrickleTarget } from "../conformance/container-pytrickle-target.ts";
import { containerSuite } from "../conformance/container-suite.ts";
import { interopCache } from "./peers.ts";

const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;

if (existsSync(python)) {
  containerSuite(pytrickleTarget({ python, name: "pytrickle 0.1.6 (PyPI)" }));
} else if (process.env.CI) {
  test("container contract: pytrickle needs the interop virtualenv in CI", () => {
    assert.fail(missing);
  });
} else {
  test("container contract: pytrickle", { skip: missing }, () => {});
}
