/**
 * `tributary init --template runner`: the generated live runner project's own test suite passes
 * against this checkout, and its package.json starts the runner itself.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { initProject, TEMPLATES, TRIBUTARY_ROOT } from "./init.ts";

const run = promisify(execFile);

test("the runner template generates a live runner project whose node:test suite passes", async (t) => {
  assert.ok((TEMPLATES as readonly string[]).includes("runner"));
  const root = mkdtempSync(join(tmpdir(), "tributary-init-runner-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, "my-runner");
  const result = initProject({ dir, template: "runner", name: "demo-runner", tributarySpec: "^0.1.0" });
  assert.deepEqual(result.files, [
    ".dockerignore",
    ".gitignore",
    "Dockerfile",
    "README.md",
    "package.json",
    "pipeline.test.ts",
    "pipeline.ts",
    "tsconfig.json",
  ]);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    scripts: { start: string; test: string };
  };
  assert.equal(pkg.scripts.start, "node pipeline.ts");
  const source = readFileSync(join(dir, "pipeline.ts"), "utf8");
  assert.match(source, /app: "demo-runner"/);
  assert.match(readFileSync(join(dir, "Dockerfile"), "utf8"), /CMD \["node", "pipeline.ts"\]/);
  // The checkout as the project's tributary (its sources, through the tributary-source condition).
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(TRIBUTARY_ROOT, join(dir, "node_modules", "tributary"), "dir");
  const [cmd, ...args] = pkg.scripts.test.split(" ");
  assert.equal(cmd, "node");
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  let out: string;
  try {
    out = (
      await run(process.execPath, ["--conditions=tributary-source", ...args], {
        cwd: dir,
        env,
        timeout: 60_000,
      })
    ).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`runner project tests failed:\n${e.stdout}\n${e.stderr}`);
  }
  assert.match(out, /(ℹ|#) fail 0\n/);
  assert.match(out, /(ℹ|#) pass [1-9]/);
});
