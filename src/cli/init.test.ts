import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { InitError, initCommand, initProject, type TemplateName, TRIBUTARY_ROOT } from "./init.ts";

const run = promisify(execFile);

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "tributary-init-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What `npm install` does with the generated `file:` dependency: a symlink to the checkout. */
function linkTributary(project: string): void {
  const spec = (
    JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as {
      dependencies: { tributary: string };
    }
  ).dependencies.tributary;
  assert.ok(spec.startsWith("file:"), spec);
  mkdirSync(join(project, "node_modules"));
  symlinkSync(spec.slice("file:".length), join(project, "node_modules", "tributary"), "dir");
}

test("both templates generate projects whose own node:test suites pass against this checkout", async (t) => {
  const root = tempDir(t);
  const projects = (["live", "batch"] as TemplateName[]).map((template) => {
    const dir = join(root, `my-${template}`);
    const result = initProject({ dir, template, name: `demo-${template}` });
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
    linkTributary(dir);
    return { template, dir };
  });
  const outcomes = await Promise.all(
    projects.map(async ({ template, dir }) => {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        scripts: { test: string };
      };
      const [cmd, ...args] = pkg.scripts.test.split(" ");
      assert.equal(cmd, "node");
      try {
        // Without NODE_TEST_CONTEXT the child reports as a top-level run (not to this test runner).
        const env = { ...process.env };
        delete env.NODE_TEST_CONTEXT;
        const { stdout } = await run(process.execPath, args, { cwd: dir, env, timeout: 60_000 });
        return { template, ok: true, out: stdout };
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return { template, ok: false, out: `${e.stdout}\n${e.stderr}` };
      }
    }),
  );
  for (const o of outcomes) {
    assert.ok(o.ok, `${o.template} project tests failed:\n${o.out}`);
    assert.match(o.out, /(ℹ|#) fail 0\n/);
    assert.match(o.out, /(ℹ|#) pass [1-9]/);
  }
});

test("the generated project carries the chosen name and a file: link to this checkout", (t) => {
  const dir = join(tempDir(t), "shouter");
  initProject({ dir, template: "batch" });
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name: string;
    type: string;
    dependencies: Record<string, string>;
  };
  assert.equal(pkg.name, "shouter");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.dependencies.tributary, `file:${TRIBUTARY_ROOT}`);
  const pipeline = readFileSync(join(dir, "pipeline.ts"), "utf8");
  assert.match(pipeline, /name: "shouter"/);
  assert.match(pipeline, /from "tributary\/runner"/);
  assert.match(readFileSync(join(dir, "pipeline.test.ts"), "utf8"), /\/shouter`/);
  const docker = readFileSync(join(dir, "Dockerfile"), "utf8");
  assert.match(docker, /^FROM node:24-slim$/m);
  assert.match(docker, new RegExp(`--build-context tributary=${TRIBUTARY_ROOT}`));
  assert.doesNotMatch(docker + readFileSync(join(dir, "README.md"), "utf8"), /my-pipeline|__TRIBUTARY/);
});

test("--tributary sets the dependency spec", (t) => {
  const dir = join(tempDir(t), "x");
  initProject({ dir, template: "live", tributarySpec: "file:vendor/tributary" });
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  assert.equal(pkg.dependencies.tributary, "file:vendor/tributary");
  assert.match(readFileSync(join(dir, "Dockerfile"), "utf8"), /tributary=vendor\/tributary/);
});

test("a non-empty folder is refused unless force, which overwrites template files and keeps others", (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "pipeline.ts"), "mine");
  writeFileSync(join(dir, "notes.txt"), "keep");
  assert.throws(() => initProject({ dir, template: "batch", name: "p" }), InitError);
  assert.equal(readFileSync(join(dir, "pipeline.ts"), "utf8"), "mine");
  initProject({ dir, template: "batch", name: "p", force: true });
  assert.match(readFileSync(join(dir, "pipeline.ts"), "utf8"), /defineBatchPipeline/);
  assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "keep");
});

test("invalid or reserved names and unknown templates are refused before anything is written", (t) => {
  const root = tempDir(t);
  for (const name of ["Bad Name", "_x", "Upper", "health", "stream"]) {
    const dir = join(root, "n");
    assert.throws(() => initProject({ dir, template: "live", name }), InitError, name);
    assert.equal(existsSync(dir), false);
  }
  assert.throws(() => initProject({ dir: join(root, "My Project"), template: "live" }), /--name/);
  assert.throws(
    () => initProject({ dir: join(root, "t"), template: "stream" as TemplateName, name: "t" }),
    /unknown template/,
  );
});

test("the CLI writes the project, requires --template, documents its options, and exits 1 on refusal", async (t) => {
  const root = tempDir(t);
  const log = t.mock.method(console, "log", () => {});
  const err = t.mock.method(console, "error", () => {});
  await initCommand().parseAsync([join(root, "cli"), "--template", "live", "--name", "cli-demo"], {
    from: "user",
  });
  assert.match(readFileSync(join(root, "cli", "pipeline.ts"), "utf8"), /name: "cli-demo"/);
  assert.ok(log.mock.calls.some((c) => /npm test/.test(String(c.arguments[0]))));

  const prev = process.exitCode;
  await initCommand().parseAsync([join(root, "cli"), "--template", "batch"], { from: "user" });
  assert.equal(process.exitCode, 1);
  process.exitCode = prev;
  assert.match(String(err.mock.calls.at(-1)?.arguments[0]), /not empty.*--force/);

  const missing = initCommand()
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  await assert.rejects(missing.parseAsync([join(root, "m")], { from: "user" }), /--template/);
  let help = "";
  const cmd = initCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (help += s) });
  await assert.rejects(cmd.parseAsync(["--help"], { from: "user" }));
  for (const want of ["--template", "live", "batch", "--name", "--force", "--tributary", "Examples"])
    assert.ok(help.includes(want), `help mentions ${want}`);
});
