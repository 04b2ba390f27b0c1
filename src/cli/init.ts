/**
 * `tributary init <dir> --template live|batch [--name N]`: writes a ready pipeline project — package.json,
 * pipeline.ts, pipeline.test.ts (node:test, starts the pipeline with `startRunner`), README.md,
 * Dockerfile (node:24-slim), tsconfig.json, .gitignore, .dockerignore — from `templates/<template>` and
 * `templates/common` in this repository.
 *
 * The project depends on tributary through a `file:` link to the checkout that runs `init` (override
 * with `--tributary <spec>`). Tributary ships TypeScript sources, and Node refuses to strip types under
 * `node_modules`; `npm install` turns a `file:` directory dependency into a symlink whose real path is
 * outside `node_modules`, so the generated project runs with no build step. A registry install would not
 * run until tributary publishes compiled JavaScript.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { TributaryError } from "../node/errors.ts";
import { RESERVED_NAMES } from "../runner/pipeline.ts";

/** The project templates `init` offers. */
export const TEMPLATES = ["live", "batch"] as const;

/** One of {@link TEMPLATES}. */
export type TemplateName = (typeof TEMPLATES)[number];

/** The root of the tributary checkout this module belongs to. */
export const TRIBUTARY_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

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
  /** The package.json spec of the tributary dependency; default `file:<this checkout>`. */
  tributarySpec?: string;
  /** Write into a non-empty folder (files of the same name are overwritten; others are kept). */
  force?: boolean;
}

/** What {@link initProject} wrote. */
export interface InitResult {
  dir: string;
  name: string;
  /** Paths written, relative to `dir`. */
  files: string[];
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
  const pkg = {
    name,
    version: "0.1.0",
    private: true,
    description: `A ${template} Livepeer BYOC pipeline served by the tributary container SDK`,
    type: "module",
    engines: { node: ">=24" },
    scripts: {
      start: "tributary serve pipeline.ts --port 8000",
      test: "node --test pipeline.test.ts",
      typecheck: "tsc --noEmit",
    },
    dependencies: { tributary: spec },
    devDependencies: { "@types/node": "^24.0.0", typescript: "^5.9.0" },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** Template file name → name in the project (npm would drop dotfiles from a published package). */
function targetName(file: string): string {
  return file === "gitignore" || file === "dockerignore" ? `.${file}` : file;
}

/**
 * Writes a new project. Refuses (InitError) a non-empty folder unless `force`.
 * @throws InitError
 */
export function initProject(options: InitOptions): InitResult {
  if (!(TEMPLATES as readonly string[]).includes(options.template))
    throw new InitError(
      `unknown template ${JSON.stringify(options.template)}: use ${TEMPLATES.join(" or ")}`,
    );
  const dir = resolve(options.dir);
  const name = checkProjectName(options.name ?? basename(dir));
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InitError(`${dir} exists and is not a folder`);
    if (readdirSync(dir).length > 0 && !options.force)
      throw new InitError(`${dir} is not empty; pick a new folder or pass --force to write into it`);
  }
  const spec = options.tributarySpec ?? `file:${TRIBUTARY_ROOT}`;
  const substitute = (text: string) =>
    text
      .replaceAll(PLACEHOLDER_NAME, name)
      .replaceAll("__TRIBUTARY_SPEC__", spec)
      .replaceAll("__TRIBUTARY_DIR__", spec.startsWith("file:") ? spec.slice(5) : "/path/to/tributary");
  const sources = [join(TEMPLATES_DIR, "common"), join(TEMPLATES_DIR, options.template)];
  const files = new Map<string, string>();
  for (const src of sources) {
    for (const file of readdirSync(src))
      files.set(targetName(file), substitute(readFileSync(join(src, file), "utf8")));
  }
  files.set("package.json", packageJson(name, options.template, spec));
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of files) writeFileSync(join(dir, file), text);
  return { dir, name, files: [...files.keys()].sort() };
}

/** The `tributary init` command. */
export function initCommand(): Command {
  return new Command("init")
    .description("create a new pipeline project (container SDK) in <dir>")
    .argument("<dir>", "folder to create (must be empty or missing, unless --force)")
    .addOption(
      new Option("-t, --template <template>", "live: real-time video stream; batch: request/response")
        .choices([...TEMPLATES])
        .makeOptionMandatory(),
    )
    .option(
      "-n, --name <name>",
      "pipeline name: its batch route and package name (default: the folder's name)",
    )
    .option(
      "--tributary <spec>",
      "package.json spec of the tributary dependency (default: file: link to this checkout)",
    )
    .option("-f, --force", "write into a non-empty folder, overwriting files of the same name")
    .addHelpText(
      "after",
      `
Writes package.json, pipeline.ts, pipeline.test.ts, README.md, Dockerfile (node:24-slim), tsconfig.json,
.gitignore and .dockerignore. The project depends on tributary with a file: link to ${TRIBUTARY_ROOT}
(tributary runs from TypeScript sources, which Node only runs outside node_modules; npm install makes the
link a symlink).

Examples:
  tributary init my-filter --template live
  tributary init summarise --template batch --name summarise-v1
  cd my-filter && npm install && npm test && npm start`,
    )
    .action(
      (dir: string, opts: { template: TemplateName; name?: string; tributary?: string; force?: boolean }) => {
        try {
          const result = initProject({
            dir,
            template: opts.template,
            ...(opts.name !== undefined ? { name: opts.name } : {}),
            ...(opts.tributary !== undefined ? { tributarySpec: opts.tributary } : {}),
            force: opts.force === true,
          });
          const where = relative(process.cwd(), result.dir) || ".";
          console.log(`created ${opts.template} pipeline "${result.name}" in ${where}:`);
          for (const f of result.files) console.log(`  ${f}`);
          console.log(`\nnext:\n  cd ${where}\n  npm install\n  npm test\n  npm start`);
        } catch (err) {
          if (!(err instanceof InitError)) throw err;
          console.error(`tributary init: ${err.message}`);
          process.exitCode = 1;
        }
      },
    );
}
