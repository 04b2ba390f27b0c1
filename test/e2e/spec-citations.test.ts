/**
 * Keeps the protocol citations inside the repository: every `docs/spec/<page>.md#anchor` that a source
 * file, test, benchmark, script, example or template cites names a page and a heading that exist, and no
 * file points at protocol documents outside the repository (a bare `§` section number other than a public standard's, a spec page named
 * without its `docs/spec/` path, the design notes the project started from). A renamed heading or a new
 * outside reference fails this test until the citation follows.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { anchorsOf } from "./markdown.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCANNED = ["src", "test", "bench", "scripts", "examples", "templates", "bin"];
const TEXT = /\.(ts|js|mjs|md|sol|proto|json|ya?ml|py|go|sh)$/;
const SKIPPED = /(^|\/)(node_modules|artifacts)(\/|$)/;
const SELF = "test/e2e/spec-citations.test.ts";

function scannedFiles(): string[] {
  const out: string[] = [];
  for (const top of SCANNED) {
    if (!existsSync(join(ROOT, top))) continue;
    for (const rel of readdirSync(join(ROOT, top), { recursive: true, encoding: "utf8" })) {
      const path = `${top}/${rel}`;
      if (TEXT.test(path) && !SKIPPED.test(path) && path !== SELF) out.push(path);
    }
  }
  return [...out, "README.md"];
}

const PAGES = new Map(
  readdirSync(join(ROOT, "docs/spec"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => [f, anchorsOf(readFileSync(join(ROOT, "docs/spec", f), "utf8"))] as const),
);

/** A comment line that continues a citation: `#anchor` tokens with no page of their own. */
const CONTINUATION = /^\s*(\*|\/\/\/?|#)\s/;

test("every docs/spec citation names an existing page and heading", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of scannedFiles()) {
    let page: string | undefined;
    readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (!line.includes("docs/spec/") && !(page && CONTINUATION.test(line))) {
          page = undefined;
          return;
        }
        const tokens =
          /docs\/spec\/([A-Za-z0-9-]+\.md)(?:#([a-z][a-z0-9-]*))?|(?<![\w/&])#([a-z][a-z0-9-]*)/g;
        for (const m of line.matchAll(tokens)) {
          if (m[1] !== undefined) {
            page = m[1];
            if (!PAGES.has(page)) broken.push(`${file}:${i + 1}: no docs/spec/${page}`);
          }
          const anchor = m[2] ?? m[3];
          if (page === undefined || anchor === undefined || !PAGES.has(page)) continue;
          checked++;
          if (!PAGES.get(page)!.has(anchor))
            broken.push(`${file}:${i + 1}: no heading #${anchor} in docs/spec/${page}`);
        }
      });
  }
  assert.ok(PAGES.size >= 5, "docs/spec lost its pages");
  assert.deepEqual(broken, [], `broken citations:\n  ${broken.join("\n  ")}`);
  assert.ok(checked > 100, `only ${checked} citations found: are the comments still citing docs/spec?`);
});

test("no file points at protocol documents outside the repository", () => {
  const outside: [RegExp, string][] = [
    [/shared\/spec|\.\.\/spec\//, "the shared spec folder"],
    [
      /architecture (principle|\.md|")|conventions\.md|style-examples|byoc-overview|peers\.md/,
      "the design notes",
    ],
    // A public standard's own numbering (ISO/IEC …, RFC …) is not a protocol document of ours.
    [/(?<!(ISO\/IEC [\d-]+|RFC \d+) )§\s?\d/, "a bare § section (cite docs/spec/<page>.md#<heading>)"],
    [
      /(?<![\w/.[(-])(orchestrator-gateway|container-contract|payments|trickle)\.md/,
      "a spec page without its docs/spec/ path",
    ],
  ];
  const found: string[] = [];
  for (const file of scannedFiles()) {
    readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        for (const [re, what] of outside)
          if (re.test(line)) found.push(`${file}:${i + 1}: ${what}: ${line.trim().slice(0, 100)}`);
      });
  }
  assert.deepEqual(found, [], `references outside the repository:\n  ${found.join("\n  ")}`);
});
