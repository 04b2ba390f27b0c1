/**
 * The long fuzz run: test/fuzz with many more cases than `npm test` runs.
 *
 *   npm run fuzz                         one pass, every property with 50× its default cases (≥ 5000)
 *   npm run fuzz -- --runs 20000         one pass with 20000 cases per property
 *   npm run fuzz -- --minutes 30         passes with fresh seeds until 30 minutes have gone by
 *   npm run fuzz -- --seed 1234          replay one seed (as printed by a failure)
 *   npm run fuzz -- test/fuzz/gateway.test.ts   only these files
 *
 * Each pass runs the files with node's test runner (one process per file), `TRIBUTARY_FUZZ_RUNS` set,
 * and a report file in which every property records its cases, seed and result. At the end it prints
 * the cases run per property, the failures with their seeds, and exits 1 if anything failed.
 */
import { spawnSync } from "node:child_process";
import { globSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

/** Cases per property in one long pass: 50× the HTTP suites' default in `npm test` (100). */
const DEFAULT_RUNS = 5000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: "string" },
    minutes: { type: "string" },
    seed: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: node scripts/fuzz.ts [--runs N] [--minutes M] [--seed S] [test files…]");
  process.exit(0);
}
const runs = values.runs === undefined ? DEFAULT_RUNS : Number(values.runs);
const minutes = values.minutes === undefined ? 0 : Number(values.minutes);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a positive integer, got ${values.runs}`);
if (!Number.isFinite(minutes) || minutes < 0)
  throw new Error(`--minutes must be a number ≥ 0, got ${values.minutes}`);
const files = positionals.length > 0 ? positionals : globSync("test/fuzz/**/*.test.ts").sort();
if (files.length === 0) throw new Error("no fuzz test files found");

interface Record {
  name: string;
  runs: number;
  failed: boolean;
  seed: number;
}

const dir = mkdtempSync(join(tmpdir(), "tributary-fuzz-"));
const report = join(dir, "report.jsonl");
const deadline = Date.now() + minutes * 60_000;
const started = Date.now();
const totals = new Map<string, { cases: number; passes: number }>();
const failures: Record[] = [];
let passes = 0;
let exitFailed = false;

try {
  do {
    passes++;
    rmSync(report, { force: true });
    console.log(`# fuzz pass ${passes}: ${files.length} files, ${runs} cases per property`);
    const result = spawnSync(
      process.execPath,
      ["--test", "--test-timeout=3600000", "--test-concurrency=1", "--test-reporter=dot", ...files],
      {
        stdio: "inherit",
        env: {
          ...process.env,
          TRIBUTARY_FUZZ_RUNS: String(runs),
          TRIBUTARY_FUZZ_REPORT: report,
          ...(values.seed !== undefined ? { TRIBUTARY_FUZZ_SEED: values.seed } : {}),
        },
      },
    );
    let lines: Record[] = [];
    try {
      lines = readFileSync(report, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record);
    } catch {
      // no property got to record (a file failed before its first property)
    }
    for (const r of lines) {
      const t = totals.get(r.name) ?? { cases: 0, passes: 0 };
      t.cases += r.runs;
      t.passes++;
      totals.set(r.name, t);
      if (r.failed) failures.push(r);
    }
    if (result.status !== 0) {
      exitFailed = true;
      break; // a failure: stop here so its seed is the last thing to look at
    }
  } while (Date.now() < deadline && values.seed === undefined);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const minutesRun = ((Date.now() - started) / 60_000).toFixed(1);
let total = 0;
console.log(`\n# fuzz summary: ${passes} pass(es) in ${minutesRun} min`);
for (const [name, t] of [...totals].sort(([a], [b]) => a.localeCompare(b))) {
  total += t.cases;
  console.log(`  ${name.padEnd(28)} ${String(t.cases).padStart(9)} cases`);
}
console.log(`  ${"total".padEnd(28)} ${String(total).padStart(9)} cases`);
if (failures.length > 0 || exitFailed) {
  console.log(`\n# ${failures.length} failing propert${failures.length === 1 ? "y" : "ies"}:`);
  for (const f of failures)
    console.log(`  ${f.name}: replay with TRIBUTARY_FUZZ_SEED=${f.seed} (or --seed ${f.seed})`);
  if (failures.length === 0) console.log("  (a test failed outside a property; see the output above)");
  process.exit(1);
}
console.log("\n# no failures");
