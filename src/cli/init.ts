/**
 * `tributary init <dir> --template live|batch|runner [--name N]`: writes a ready pipeline project — package.json,
 * pipeline.ts, pipeline.test.ts (node:test, starts the pipeline with `startRunner`), README.md,
 * Dockerfile (node:24-slim), tsconfig.json, .gitignore, .dockerignore — from `templates/<template>` and
 * `templates/common` in this package (`runner`: a live runner app, `defineRunnerApp` + `startLiveRunner`,
 * started with `node pipeline.ts`, with its own Dockerfile).
 *
 * The project depends on the tributary package (its compiled build: Node refuses to strip types under
 * `node_modules`) and on the `node` package at 24, so `npm install`, `npm test` and `npm start` run on
 * Node.js 24 whatever `node` the machine has. The dependency is `--tributary <spec>` when given (a packed
 * tarball is copied into the project and named `file:./<tarball>`, so `docker build .` finds it too);
 * else the version range of this package when it is an installed package; else, run from a checkout,
 * the checkout packed with `npm pack` (which compiles it first) into the project.
 *
 * `<dir>` is relative to the folder the user typed the command in: npm scripts run from the package
 * root, and npm passes that folder as `INIT_CWD`.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { TributaryError } from "../node/errors.ts";
import { RESERVED_NAMES } from "../runner/pipeline.ts";

/** The project templates `init` offers. */
export const TEMPLATES = ["live", "batch", "runner"] as const;

/** One of {@link TEMPLATES}. */
export type TemplateName = (typeof TEMPLATES)[number];

/** The root of the tributary package (or checkout) this module belongs to. */
export const TRIBUTARY_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** This package's version: generated projects depend on `^<version>`. */
export const TRIBUTARY_VERSION = (
  JSON.parse(readFileSync(join(TRIBUTARY_ROOT, "package.json"), "utf8")) as { version: string }
).version;

/** The `node` package version range generated projects run on (as this repository does). */
export const NODE_RANGE = "^24.9.0";

/** Where the template sources live. */
export const TEMPLATES_DIR = join(TRIBUTARY_ROOT, "templates");

/** The name every template is written with; `init` replaces it with the chosen name. */
const PLACEHOLDER_NAME = "my-pipeline";

/** `init` refused: bad name or template, or a non-empty target without `--force`. */
export class InitError extends TributaryError {
  constructor(message: string) {
    super("INIT_REFUSED", message, { status: 400 });
  }
}

/** Options of {@link initProject}. */
export interface InitOptions {
  /** Target folder (created when missing). */
  dir: string;
  template: TemplateName;
  /** Pipeline and package name; default: the folder's name. */
  name?: string;
  /**
   * The package.json spec of the tributary dependency; default `^<this version>`. A path to a packed
   * tarball (`….tgz`, also as `file:…`) is copied into the project and named `file:./<tarball>`.
   */
  tributarySpec?: string;
  /** The folder a relative `dir` and a relative tarball path are resolved against; default `process.cwd()`. */
  cwd?: string;
  /** Write into a non-empty folder (files of the same name are overwritten; others are kept). */
  force?: boolean;
}

/** What {@link initProject} wrote. */
export interface InitResult {
  dir: string;
  name: string;
  /** Paths written, relative to `dir`. */
  files: string[];
  /** The tributary dependency written in package.json. */
  spec: string;
}

/**
 * The folder the user typed the command in: `INIT_CWD` when run through an npm script (npm runs
 * scripts from the package root and passes the original folder there), else the process's cwd.
 */
export function userCwd(env: Record<string, string | undefined> = process.env): string {
  const init = env.INIT_CWD;
  return init !== undefined && init !== "" && isAbsolute(init) ? init : process.cwd();
}

/** True when this module runs from a tributary checkout (sources present, not an installed package). */
export function runsFromCheckout(root: string = TRIBUTARY_ROOT): boolean {
  return existsSync(join(root, "src", "cli", "init.ts")) && !root.split(sep).includes("node_modules");
}

/**
 * Packs the checkout at `root` with `npm pack` (its `prepack` compiles it) into a temporary folder and
 * returns the tarball's path; the caller removes the folder (`dirname` of the path).
 */
export function packCheckout(root: string = TRIBUTARY_ROOT): string {
  const out = mkdtempSync(join(tmpdir(), "tributary-pack-"));
  try {
    const stdout = execFileSync("npm", ["pack", "--silent", "--pack-destination", out], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    const name = stdout.trim().split("\n").pop() ?? "";
    const file = join(out, name);
    if (!name.endsWith(".tgz") || !existsSync(file))
      throw new Error(`npm pack printed ${JSON.stringify(stdout)}`);
    return file;
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw new InitError(`npm pack of ${root} failed (${(err as Error).message}); pass --tributary <spec>`);
  }
}

/** A tarball path in a spec (`x.tgz`, `./x.tgz`, `file:x.tgz`), resolved against `cwd`; else undefined. */
function tarballOf(spec: string, cwd: string): string | undefined {
  const path = spec.startsWith("file:") ? spec.slice("file:".length) : spec;
  if (!/\.(tgz|tar\.gz)$/.test(path) || /^[a-z]+:\/\//i.test(path)) return undefined;
  return resolve(cwd, path);
}

/**
 * Checks a pipeline name: the runner's route-name rule (letters, digits, `.`, `_`, `-`, starting with a
 * letter or digit), lower case (it is also the npm package name), and not a route the runner serves.
 * @throws InitError
 */
export function checkProjectName(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,127}$/.test(name))
    throw new InitError(
      `invalid pipeline name ${JSON.stringify(name)}: use lower-case letters, digits, ".", "_" and "-", ` +
        "starting with a letter or digit (pass --name)",
    );
  if (RESERVED_NAMES.has(name))
    throw new InitError(`pipeline name "${name}" is a route the runner serves itself; pick another (--name)`);
  return name;
}

function packageJson(name: string, template: TemplateName, spec: string): string {
  // The `node` package puts Node.js 24 first on the PATH of npm scripts and `npx` (as in this
  // repository); its install script fetches the binary, so it is allowed to run.
  const pkg = {
    name,
    version: "0.1.0",
    private: true,
    description:
      template === "runner"
        ? "A Livepeer live runner served by the tributary SDK"
        : `A ${template} Livepeer BYOC pipeline served by the tributary container SDK`,
    type: "module",
    engines: { node: ">=24" },
    scripts: {
      // A live runner starts itself (and registers with ORCH_URL / ORCH_SECRET).
      start: template === "runner" ? "node pipeline.ts" : "tributary serve pipeline.ts --port 8000",
      test: "node --test pipeline.test.ts",
      typecheck: "tsc --noEmit",
    },
    dependencies: { tributary: spec },
    devDependencies: { "@types/node": "^24.0.0", node: NODE_RANGE, typescript: "^5.9.0" },
    // As in this repository: the node package fetches its binary; the native modules tributary uses
    // ship prebuilt binaries and need no install script.
    allowScripts: { node: true, keccak: false, "node-av": false, secp256k1: false },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** Template file name → name in the project (npm would drop dotfiles from a published package). */
function targetName(file: string): string {
  return file === "gitignore" || file === "dockerignore" ? `.${file}` : file;
}

/**
 * Checks what {@link initProject} checks before writing: the template, the name and the target folder.
 * @throws InitError
 */
export function checkTarget(options: InitOptions): { dir: string; name: string } {
  if (!(TEMPLATES as readonly string[]).includes(options.template))
    throw new InitError(
      `unknown template ${JSON.stringify(options.template)}: use ${TEMPLATES.join(" or ")}`,
    );
  const dir = resolve(options.cwd ?? process.cwd(), options.dir);
  const name = checkProjectName(options.name ?? basename(dir));
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InitError(`${dir} exists and is not a folder`);
    if (readdirSync(dir).length > 0 && !options.force)
      throw new InitError(`${dir} is not empty; pick a new folder or pass --force to write into it`);
  }
  return { dir, name };
}

/**
 * Writes a new project. Refuses (InitError) a non-empty folder unless `force`.
 * @throws InitError
 */
export function initProject(options: InitOptions): InitResult {
  const cwd = options.cwd ?? process.cwd();
  const { dir, name } = checkTarget(options);
  const requested = options.tributarySpec ?? `^${TRIBUTARY_VERSION}`;
  const tarball = tarballOf(requested, cwd);
  if (tarball !== undefined && !existsSync(tarball))
    throw new InitError(`--tributary ${requested}: ${tarball} does not exist`);
  const spec = tarball === undefined ? requested : `file:./${basename(tarball)}`;
  const substitute = (text: string) =>
    text.replaceAll(PLACEHOLDER_NAME, name).replaceAll("__TRIBUTARY_SPEC__", spec);
  const sources = [join(TEMPLATES_DIR, "common"), join(TEMPLATES_DIR, options.template)];
  const files = new Map<string, string>();
  for (const src of sources) {
    for (const file of readdirSync(src))
      files.set(targetName(file), substitute(readFileSync(join(src, file), "utf8")));
  }
  files.set("package.json", packageJson(name, options.template, spec));
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of files) writeFileSync(join(dir, file), text);
  if (tarball !== undefined) {
    copyFileSync(tarball, join(dir, basename(tarball)));
    files.set(basename(tarball), "");
  }
  return { dir, name, files: [...files.keys()].sort(), spec };
}

/** The `tributary init` command. */
export function initCommand(): Command {
  return new Command("init")
    .description("create a new pipeline project (container SDK) in <dir>")
    .argument("<dir>", "folder to create (must be empty or missing, unless --force)")
    .addOption(
      new Option(
        "-t, --template <template>",
        "live: real-time video stream; batch: request/response; runner: a live runner (Live Runner API)",
      )
        .choices([...TEMPLATES])
        .makeOptionMandatory(),
    )
    .option(
      "-n, --name <name>",
      "pipeline name: its batch route and package name (default: the folder's name)",
    )
    .option(
      "--tributary <spec>",
      "the tributary dependency: a version range, or a packed tarball (copied into the project) " +
        "(default: ^<this version>; from a checkout, the checkout packed with npm pack)",
    )
    .option("-f, --force", "write into a non-empty folder, overwriting files of the same name")
    .addHelpText(
      "after",
      `
Writes package.json, pipeline.ts, pipeline.test.ts, README.md, Dockerfile (node:24-slim), tsconfig.json,
.gitignore and .dockerignore. The project depends on the tributary package (compiled JavaScript) and on
the node package at Node.js 24, so its npm scripts run on Node.js 24 whatever node the machine has.
<dir> is relative to the folder the command was typed in (also through npm run).

Examples:
  tributary init my-filter --template live
  tributary init summarise --template batch --name summarise-v1
  tributary init my-runner --template runner
  tributary init my-filter --template live --tributary ./tributary-${TRIBUTARY_VERSION}.tgz
  cd my-filter && npm install && npm test && npm start`,
    )
    .action(
      (dir: string, opts: { template: TemplateName; name?: string; tributary?: string; force?: boolean }) => {
        const cwd = userCwd();
        let packed: string | undefined;
        try {
          const base = {
            dir,
            cwd,
            template: opts.template,
            ...(opts.name !== undefined ? { name: opts.name } : {}),
            force: opts.force === true,
          };
          checkTarget(base);
          let spec = opts.tributary;
          if (spec === undefined && runsFromCheckout()) {
            console.error(`packing tributary from ${TRIBUTARY_ROOT} (npm pack compiles it first)…`);
            packed = packCheckout();
            spec = packed;
          }
          const result = initProject({ ...base, ...(spec !== undefined ? { tributarySpec: spec } : {}) });
          const where = relative(cwd, result.dir) || ".";
          console.log(`created ${opts.template} pipeline "${result.name}" in ${where}:`);
          for (const f of result.files) console.log(`  ${f}`);
          console.log(`tributary dependency: ${result.spec}`);
          const cd = /^[\w./@+-]+$/.test(where) ? where : JSON.stringify(where);
          console.log(`\nnext:\n  cd ${cd}\n  npm install\n  npm test\n  npm start`);
        } catch (err) {
          if (!(err instanceof InitError)) throw err;
          console.error(`tributary init: ${err.message}`);
          process.exitCode = 1;
        } finally {
          if (packed !== undefined) rmSync(dirname(packed), { recursive: true, force: true });
        }
      },
    );
}
