/**
 * Runs a test suite with node's built-in runner.
 *
 *   node scripts/run-tests.ts fast      unit (src/**), conformance and e2e suites: what `npm test` runs
 *   node scripts/run-tests.ts interop   suites against real upstream peers (needs `scripts/interop-setup.ts`)
 *   node scripts/run-tests.ts <glob…>   any test files
 *
 * Each file runs in its own process; a per-test timeout turns a hang (a handle left open) into a failure.
 */
import { spawnSync } from "node:child_process";
import { globSync } from "node:fs";

const SUITES: Record<string, string[]> = {
  fast: [
    "src/**/*.test.ts",
    "examples/**/*.test.ts",
    "test/conformance/**/*.test.ts",
    "test/e2e/**/*.test.ts",
    "test/faults/**/*.test.ts",
    "test/fuzz/**/*.test.ts",
    "bench/**/*.test.ts",
  ],
  interop: ["test/interop/**/*.test.ts"],
};

const args = process.argv.slice(2);
const patterns = args.flatMap((a) => SUITES[a] ?? [a]);
if (patterns.length === 0) {
  console.error(`usage: node scripts/run-tests.ts <${Object.keys(SUITES).join("|")}|glob…>`);
  process.exit(2);
}
const files = [...new Set(patterns.flatMap((p) => globSync(p, { exclude: ["**/node_modules/**"] })))].sort();
if (files.length === 0) {
  console.error(`no test files match ${patterns.join(" ")}`);
  process.exit(1);
}
const timeout = process.env.TRIBUTARY_TEST_TIMEOUT_MS ?? "120000";
// The interop suites run one file at a time: their Python peers start slowly (torch imports) and
// some of their clients give up after about a second of being ahead of a starved publisher.
const concurrency = process.env.TRIBUTARY_TEST_CONCURRENCY ?? (args.includes("interop") ? "1" : "2");
const result = spawnSync(
  process.execPath,
  ["--test", `--test-timeout=${timeout}`, `--test-concurrency=${concurrency}`, ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
