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
import {
  InitError,
  initCommand,
  initProject,
  NODE_RANGE,
  runsFromCheckout,
  type TemplateName,
  TRIBUTARY_ROOT,
  TRIBUTARY_VERSION,
  userCwd,
} from "./init.ts";

const run = promisify(execFile);

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "tributary-init-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Links this checkout as the project's tributary (the sources: the children run with the
 * `tributary-source` export condition). test/e2e/package.test.ts runs the packed package instead.
 */
function linkTributary(project: string): void {
  mkdirSync(join(project, "node_modules"));
  symlinkSync(TRIBUTARY_ROOT, join(project, "node_modules", "tributary"), "dir");
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
        const { stdout } = await run(process.execPath, ["--conditions=tributary-source", ...args], {
          cwd: dir,
          env,
          timeout: 60_000,
        });
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

test("the generated project carries the chosen name, a version range of tributary and Node.js 24", (t) => {
  const dir = join(tempDir(t), "shouter");
  const result = initProject({ dir, template: "batch" });
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    name: string;
    type: string;
    engines: { node: string };
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    allowScripts: Record<string, boolean>;
  };
  assert.equal(pkg.name, "shouter");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.dependencies.tributary, `^${TRIBUTARY_VERSION}`);
  assert.equal(result.spec, `^${TRIBUTARY_VERSION}`);
  assert.doesNotMatch(JSON.stringify(pkg), /file:/);
  // Node.js 24 comes with the project, as in this repository: npm scripts and npx run on it.
  assert.equal(pkg.devDependencies.node, NODE_RANGE);
  assert.equal(pkg.allowScripts.node, true);
  assert.equal(pkg.engines.node, ">=24");
  const own = JSON.parse(readFileSync(join(TRIBUTARY_ROOT, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  assert.equal(own.devDependencies.node, NODE_RANGE, "the repository and its projects bring the same Node");
  const pipeline = readFileSync(join(dir, "pipeline.ts"), "utf8");
  assert.match(pipeline, /name: "shouter"/);
  assert.match(pipeline, /from "tributary\/runner"/);
  assert.match(readFileSync(join(dir, "pipeline.test.ts"), "utf8"), /\/shouter`/);
  const docker = readFileSync(join(dir, "Dockerfile"), "utf8");
  assert.match(docker, /^FROM node:24-slim$/m);
  assert.match(docker, /docker build -t shouter \.$/m);
  assert.doesNotMatch(docker + readFileSync(join(dir, "README.md"), "utf8"), /my-pipeline|__TRIBUTARY/);
});

test("--tributary: a version range is written as is; a tarball is copied in and named file:./<tarball>", (t) => {
  const root = tempDir(t);
  const ranged = initProject({ dir: join(root, "a"), template: "live", tributarySpec: "~0.1.2" });
  assert.equal(ranged.spec, "~0.1.2");
  mkdirSync(join(root, "packs"));
  writeFileSync(join(root, "packs", "tributary-0.1.0.tgz"), "tarball bytes");
  // A relative tarball path is resolved against cwd (the folder the command was typed in).
  const packed = initProject({
    dir: "b",
    cwd: root,
    template: "batch",
    tributarySpec: "packs/tributary-0.1.0.tgz",
  });
  assert.equal(packed.dir, join(root, "b"));
  assert.equal(packed.spec, "file:./tributary-0.1.0.tgz");
  assert.ok(packed.files.includes("tributary-0.1.0.tgz"));
  assert.equal(readFileSync(join(root, "b", "tributary-0.1.0.tgz"), "utf8"), "tarball bytes");
  const pkg = JSON.parse(readFileSync(join(root, "b", "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  assert.equal(pkg.dependencies.tributary, "file:./tributary-0.1.0.tgz");
  assert.throws(
    () => initProject({ dir: join(root, "c"), template: "batch", tributarySpec: join(root, "none.tgz") }),
    /does not exist/,
  );
});

test("through npm scripts the folder is relative to INIT_CWD and the printed cd is right", async (t) => {
  const root = tempDir(t);
  const typedIn = join(root, "work");
  mkdirSync(typedIn);
  const log = t.mock.method(console, "log", () => {});
  const prev = process.env.INIT_CWD;
  // npm runs scripts from the package root; INIT_CWD is where the user typed `npm run tributary -- init`.
  process.env.INIT_CWD = typedIn;
  t.after(() => {
    if (prev === undefined) delete process.env.INIT_CWD;
    else process.env.INIT_CWD = prev;
  });
  assert.equal(userCwd(), typedIn);
  assert.equal(userCwd({ INIT_CWD: "" }), process.cwd());
  await initCommand().parseAsync(["my-filter", "--template", "live", "--tributary", "^0.1.0"], {
    from: "user",
  });
  assert.ok(existsSync(join(typedIn, "my-filter", "pipeline.ts")));
  assert.equal(existsSync(join(process.cwd(), "my-filter")), false);
  const printed = log.mock.calls.map((c) => String(c.arguments[0])).join("\n");
  assert.match(printed, /in my-filter:/);
  assert.match(printed, /^ {2}cd my-filter$/m);
  assert.match(printed, /tributary dependency: \^0\.1\.0/);
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
  await initCommand().parseAsync(
    [join(root, "cli"), "--template", "live", "--name", "cli-demo", "--tributary", "^0.1.0"],
    { from: "user" },
  );
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

test("init packs the checkout only when it runs from one, never from an installed package", () => {
  assert.equal(runsFromCheckout(), true);
  assert.equal(runsFromCheckout(join("/srv/app/node_modules/tributary")), false);
  assert.equal(runsFromCheckout(tmpdir()), false);
});
