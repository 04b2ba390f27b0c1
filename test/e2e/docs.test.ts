/**
 * Keeps the user documentation honest: every long flag of the node and container commands is
 * documented, every go-livepeer spelling is listed, every `aiModels.json` field of the config schema
 * is in the operator guide's reference, and every relative link (and its #anchor) in docs/*.md and
 * README.md resolves. A new flag, field or renamed file fails this test until the docs follow.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { GATEWAY_GO_FLAG_ALIASES } from "../../src/cli/gateway.ts";
import { buildProgram } from "../../src/cli/main.ts";
import { GO_FLAG_ALIASES } from "../../src/cli/orchestrator.ts";
import { SIGNER_GO_FLAG_ALIASES } from "../../src/cli/signer.ts";
import { anchorsOf } from "./markdown.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (rel: string): string => readFileSync(join(ROOT, rel), "utf8");

const OPERATOR_GUIDE = "docs/operator-guide.md";
const CONTAINER_GUIDE = "docs/container-guide.md";

/** Commands whose flags the guides document, and which guide. `job` is included once it exists. */
const DOCUMENTED: Record<string, string> = {
  orchestrator: OPERATOR_GUIDE,
  gateway: OPERATOR_GUIDE,
  dev: OPERATOR_GUIDE,
  serve: CONTAINER_GUIDE,
  init: CONTAINER_GUIDE,
  job: OPERATOR_GUIDE,
  signer: OPERATOR_GUIDE,
};

function subcommand(program: Command, name: string): Command | undefined {
  return program.commands.find((c) => c.name() === name);
}

/** The long flags a command (and its own subcommands) prints in --help, e.g. `--ai-models`. */
function longFlags(cmd: Command, prefix = ""): { flag: string; where: string }[] {
  const out: { flag: string; where: string }[] = [];
  for (const o of cmd.options)
    if (o.long && o.long !== "--help") out.push({ flag: o.long, where: prefix + cmd.name() });
  for (const sub of cmd.commands) out.push(...longFlags(sub, `${prefix}${cmd.name()} `));
  return out;
}

/** `flag` as a whole word of `text` (so `--port` is not found inside `--chain-port`). */
function mentions(text: string, flag: string): boolean {
  const escaped = flag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9-])${escaped}(?![A-Za-z0-9-])`).test(text);
}

/** Relative link targets of a markdown file (outside code blocks and inline code; a link text may span lines). */
function relativeLinks(markdown: string): string[] {
  const prose: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) prose.push(line.replace(/`[^`]*`/g, ""));
  }
  const out: string[] = [];
  for (const m of prose.join("\n").matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    out.push(target);
  }
  return out;
}

describe("documentation", () => {
  const program = buildProgram();
  const guides: Record<string, string> = {
    [OPERATOR_GUIDE]: read(OPERATOR_GUIDE),
    [CONTAINER_GUIDE]: read(CONTAINER_GUIDE),
  };

  test("every long flag of orchestrator, gateway, signer, dev, serve and init (and job) is in its guide", () => {
    const missing: string[] = [];
    let checked = 0;
    for (const [name, guide] of Object.entries(DOCUMENTED)) {
      const cmd = subcommand(program, name);
      if (cmd === undefined) {
        assert.equal(name, "job", `command ${name} is gone from the CLI: update the guides and this test`);
        continue;
      }
      for (const { flag, where } of longFlags(cmd)) {
        checked++;
        if (!mentions(guides[guide]!, flag)) missing.push(`${where} ${flag} (${guide})`);
      }
    }
    assert.ok(checked > 40, `only ${checked} flags found: is buildProgram() still the CLI?`);
    assert.deepEqual(missing, [], `undocumented flags:\n  ${missing.join("\n  ")}`);
  });

  test("every go-livepeer flag spelling the orchestrator, gateway and signer accept is in the operator guide", () => {
    const missing = [
      ...Object.keys(GO_FLAG_ALIASES),
      ...Object.keys(GATEWAY_GO_FLAG_ALIASES),
      ...Object.keys(SIGNER_GO_FLAG_ALIASES),
    ]
      .map((k) => `-${k}`)
      .filter((f) => !mentions(guides[OPERATOR_GUIDE]!, f));
    assert.deepEqual(missing, []);
  });

  test("every aiModels.json field of the config schema is in the operator guide's reference", () => {
    const source = read("src/orchestrator/config.ts");
    const m = /const entrySchema = z\s*\.object\(\{([\s\S]*?)\n {2}\}\)\s*\.strict\(\)/.exec(source);
    assert.ok(m, "entrySchema not found in src/orchestrator/config.ts: update this test");
    const fields = [...m[1]!.matchAll(/^ {4}([a-z_]+):/gm)].map((f) => f[1]!);
    assert.ok(
      fields.includes("pipeline") && fields.includes("price_unit") && fields.length >= 12,
      fields.join(),
    );
    const guide = guides[OPERATOR_GUIDE]!;
    const section = guide.slice(guide.indexOf("## aiModels.json reference"));
    assert.ok(section.length > 0 && guide.includes("## aiModels.json reference"));
    assert.deepEqual(
      fields.filter((f) => !section.includes(`\`${f}\``)),
      [],
    );
  });

  test("every relative link in docs/**/*.md and README.md resolves to a file (and its #anchor to a heading)", () => {
    const files = ["README.md", ...docsPages()];
    const broken: string[] = [];
    for (const file of files) {
      const text = read(file);
      for (const link of relativeLinks(text)) {
        const [path, anchor] = link.split("#") as [string, string | undefined];
        const target = path === "" ? join(ROOT, file) : join(ROOT, dirname(file), decodeURIComponent(path));
        if (!existsSync(target)) {
          broken.push(`${file}: ${link} (no ${relative(ROOT, target)})`);
          continue;
        }
        if (anchor && target.endsWith(".md") && statSync(target).isFile()) {
          if (!anchorsOf(readFileSync(target, "utf8")).has(anchor.toLowerCase()))
            broken.push(`${file}: ${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
        }
      }
    }
    assert.ok(files.length >= 5);
    assert.deepEqual(broken, [], `broken links:\n  ${broken.join("\n  ")}`);
  });

  test("every repository path named in backticks in the docs and READMEs exists, with the names cited beside it", () => {
    const files = ["README.md", ...docsPages(), ...readmes()].filter((f) => !REPORTS.has(f));
    const missing: string[] = [];
    for (const file of files) {
      const text = read(file);
      for (const path of backtickedPaths(text)) {
        if (!existsSync(join(ROOT, path))) missing.push(`${file}: \`${path}\``);
      }
      for (const { path, names } of citedNames(text)) {
        if (!existsSync(join(ROOT, path)) || !statSync(join(ROOT, path)).isFile()) continue;
        const source = read(path);
        for (const name of names) {
          if (!new RegExp(`\\b${name.replace(/[$]/g, "\\$")}\\b`).test(source))
            missing.push(`${file}: \`${name}\` is not in ${path}`);
        }
      }
    }
    assert.ok(files.length >= 10);
    assert.deepEqual(missing, [], `paths that do not exist:\n  ${missing.join("\n  ")}`);
  });
});

/**
 * Reports of a run at a date (benchmarks, soak) describe the code as it was then; their paths are
 * history, not claims about today's tree.
 */
const REPORTS = new Set(["docs/benchmarks.md", "docs/soak-report.md"]);

/** docs/**\/*.md, relative to the repository. */
function docsPages(): string[] {
  return readdirSync(join(ROOT, "docs"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`);
}

/** Every README.md of the source, examples, templates, tests and benchmarks. */
function readmes(): string[] {
  return ["src", "examples", "templates", "test", "bench"].flatMap((top) =>
    readdirSync(join(ROOT, top), { recursive: true, encoding: "utf8" })
      .filter((f) => f === "README.md" || f.endsWith("/README.md"))
      .filter((f) => !f.includes("node_modules"))
      .map((f) => `${top}/${f}`),
  );
}

/**
 * `path` (`name`, `name2`, …): the identifiers a doc cites in parentheses right after a source file.
 * Only plain identifiers count (`#route`, `NAME = 1` or prose in the parentheses are skipped).
 */
function citedNames(markdown: string): { path: string; names: string[] }[] {
  const cited: { path: string; names: string[] }[] = [];
  for (const m of markdown.matchAll(
    /`((?:src|test|bench|scripts|examples|templates)\/[A-Za-z0-9_./-]+\.ts)` \(([^)]*)\)/g,
  )) {
    const names = [...(m[2] as string).matchAll(/`([A-Za-z_$][A-Za-z0-9_$]*)`/g)].map((n) => n[1] as string);
    if (names.length > 0) cited.push({ path: m[1] as string, names });
  }
  return cited;
}

/** Backticked spans that are exactly a repository path (`src/x/y.ts`, `test/e2e/`); no globs or placeholders. */
function backtickedPaths(markdown: string): string[] {
  const paths: string[] = [];
  for (const m of markdown.matchAll(
    /`((?:src|test|bench|scripts|examples|templates|docs)\/[A-Za-z0-9_./-]*)`/g,
  )) {
    paths.push((m[1] as string).replace(/\/$/, ""));
  }
  return paths;
}
