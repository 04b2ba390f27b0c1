/**
 * The published package, as a container author gets it: `npm pack` this repository (its `prepack`
 * compiles `dist/`), `tributary init` a live project outside the repository that depends on the packed
 * tarball, `npm install` it, and run the project's own test (a pipeline written with
 * `import { defineLivePipeline } from "tributary/runner"`), its type check against the shipped `.d.ts`,
 * and the `tributary` command from `node_modules`. Node refuses to strip types under `node_modules`, so
 * this passes only when the package ships working JavaScript.
 *
 * The project's npm scripts run on the Node.js 24 it installs (the `node` package): the repository's
 * own `node_modules/.bin` is taken off PATH for them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./compose-model.ts";

const exec = promisify(execFile);

/** The environment for npm in the project: no npm_* variables of an npm run above us, no repo .bin. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^npm_/i.test(k) && k !== "INIT_CWD" && k !== "NODE_TEST_CONTEXT" && k !== "NODE_OPTIONS")
      env[k] = v;
  env.PATH = (env.PATH ?? "")
    .split(":")
    .filter((p) => p !== "" && !p.startsWith(join(ROOT, "node_modules")))
    .join(":");
  return env;
}

async function sh(cmd: string, args: string[], cwd: string, timeoutMs: number, env = cleanEnv()) {
  try {
    return await exec(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}: ${e.message}\n${e.stdout}\n${e.stderr}`);
  }
}

test("the packed tarball installs into a project outside the repository and runs its pipeline and test", {
  timeout: 900_000,
}, async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "tributary-package-")));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.ok(relative(ROOT, dir).startsWith(".."), "the project is outside the repository");

  // npm pack runs prepack (npm run build: tsc -p tsconfig.build.json) with the repository's Node.js 24.
  const packEnv = { ...cleanEnv(), PATH: `${join(ROOT, "node_modules", ".bin")}:${cleanEnv().PATH}` };
  const packed = await sh("npm", ["pack", "--silent", "--pack-destination", dir], ROOT, 600_000, packEnv);
  const tarball = join(dir, packed.stdout.trim().split("\n").pop() ?? "");
  assert.match(tarball, /tributary-\d+\.\d+\.\d+\.tgz$/);
  const listing = (await sh("tar", ["-tzf", tarball], dir, 60_000)).stdout.split("\n");
  for (const want of [
    "package/bin/tributary.js",
    "package/dist/runner/index.js",
    "package/dist/runner/index.d.ts",
    "package/dist/cli/main.js",
    "package/dist/gateway/dashboard/static/index.html",
    "package/dist/gateway/live-page/static/live.html",
    "package/dist/gateway/static/base.css",
    "package/templates/live/pipeline.ts",
  ])
    assert.ok(listing.includes(want), `the tarball holds ${want}`);
  assert.equal(
    listing.filter(
      (f) => f.startsWith("package/src/") || (f.startsWith("package/dist/") && /\.test\./.test(f)),
    ).length,
    0,
    "no sources or compiled tests are shipped (templates keep their pipeline.test.ts)",
  );

  // tributary init (from this checkout) with the tarball: the project depends on it, not on a file: link
  // to the checkout.
  const project = join(dir, "my-filter");
  await sh(
    process.execPath,
    [join(ROOT, "bin", "tributary.js"), "init", "my-filter", "--template", "live", "--tributary", tarball],
    dir,
    60_000,
  );
  const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  assert.match(pkg.dependencies.tributary ?? "", /^file:\.\/tributary-[\d.]+\.tgz$/);
  assert.match(
    readFileSync(join(project, "pipeline.ts"), "utf8"),
    /defineLivePipeline.*from "tributary\/runner"/s,
  );

  await sh("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], project, 600_000);
  const installed = join(project, "node_modules", "tributary");
  assert.ok(existsSync(join(installed, "dist", "runner", "index.js")));
  assert.equal(existsSync(join(installed, "src")), false);

  // The project's own Node.js 24 (its `node` dev dependency) runs its scripts.
  const { stdout: version } = await sh("npm", ["exec", "--", "node", "--version"], project, 60_000);
  assert.ok(Number(/^v(\d+)/.exec(version.trim())?.[1]) >= 24, `npm scripts run on Node ${version}`);

  const tested = await sh("npm", ["test"], project, 300_000);
  assert.match(tested.stdout, /(ℹ|#) fail 0\n/);
  assert.match(tested.stdout, /(ℹ|#) pass [1-9]/);

  await sh("npm", ["run", "typecheck"], project, 300_000);

  const cli = await sh("npx", ["tributary", "--version"], project, 60_000);
  const own = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  assert.equal(cli.stdout.trim(), own.version);
});
