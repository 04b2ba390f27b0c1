/**
 * Keeps the source folders layered: a module under `src/<folder>/` imports only from its own folder
 * or from folders below it, and only `src/cli/` reads environment variables. A new import that
 * points up (or sideways, between two folders of the same rank) fails here with its file and line,
 * so the layering stays true as the code grows.
 */
import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The layers, bottom to top (docs: README "Layout"). A folder may import its own files and any
 * folder of a LOWER rank; folders that share a rank do not import each other.
 *
 *   node      errors, logging, metrics, the HTTP server helpers, the SQLite file
 *   protocol  wire formats: pure encoders and decoders, no I/O, no environment
 *   payments  tickets, balances, the payment store; trickle: the transport
 *   chain     contracts and clients; media: decoding, encoding and muxing shared by runner and client
 *   runner    the container SDK
 *   client, orchestrator, gateway: the nodes and the job client
 *   signer    the remote signer: a gateway whose key others use; it reuses the gateway's on-chain
 *             Sender assembly and its discovery pool (the gateway never imports it)
 *   dev       the local network, which starts nodes
 *   cli       the `tributary` command: the only place that reads the environment
 */
const LAYERS: readonly (readonly string[])[] = [
  ["node"],
  ["protocol"],
  ["payments", "trickle"],
  ["chain", "media"],
  ["runner"],
  ["client", "orchestrator", "gateway"],
  ["signer"],
  ["dev"],
  ["cli"],
];
const RANK = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

/** The only folder allowed to read `process.env`. */
const ENV_FOLDER = "cli";

/** Generated code is checked like any other file; tests may import across layers. */
const SOURCES = globSync("src/**/*.ts", { cwd: ROOT }).filter((f) => !f.endsWith(".test.ts"));

/** `src/payments/store/nonces.ts` → `payments`; undefined for a file outside `src/<folder>/`. */
function folderOf(rel: string): string | undefined {
  const parts = rel.split(/[\\/]/);
  return parts[0] === "src" && parts.length > 2 ? parts[1] : undefined;
}

interface Violation {
  where: string;
  message: string;
}

/** Every static import, `export … from`, `import type` and dynamic `import("…")` of a file. */
function importsOf(text: string): { specifier: string; line: number }[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map((f) => ({
    specifier: f.fileName,
    line: text.slice(0, f.pos).split("\n").length,
  }));
}

/** Lines (1-based) where the code reads `process.env` (comments and strings do not count). */
function envReadsOf(file: string, text: string): number[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isPropertyAccessExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "process" &&
      node.name.text === "env"
    )
      lines.push(source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

function violations(): Violation[] {
  const out: Violation[] = [];
  for (const file of SOURCES) {
    const from = folderOf(file);
    const text = readFileSync(join(ROOT, file), "utf8");
    if (from === undefined) {
      out.push({ where: file, message: "is outside a layer folder: move it under src/<folder>/" });
      continue;
    }
    const fromRank = RANK.get(from);
    if (fromRank === undefined) {
      out.push({
        where: file,
        message: `src/${from} has no layer: add it to LAYERS in test/e2e/layers.test.ts`,
      });
      continue;
    }
    for (const { specifier, line } of importsOf(text)) {
      if (!specifier.startsWith(".")) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
      const to = folderOf(target);
      if (to === undefined || to === from) continue;
      const toRank = RANK.get(to);
      if (toRank === undefined || toRank >= fromRank) {
        const why =
          toRank === undefined
            ? "a folder with no layer"
            : toRank === fromRank
              ? "a folder of the same rank"
              : "a higher layer";
        out.push({ where: `${file}:${line}`, message: `${from} imports ${target}, ${why} (${to})` });
      }
    }
    if (from !== ENV_FOLDER) {
      for (const line of envReadsOf(file, text)) {
        out.push({
          where: `${file}:${line}`,
          message: `reads process.env outside src/${ENV_FOLDER}: take the value as an option`,
        });
      }
    }
  }
  return out;
}

test("every source folder has a layer and imports only folders below it", () => {
  const found = violations();
  assert.deepEqual(
    found.map((v) => `${v.where}: ${v.message}`),
    [],
    `${found.length} layering violation(s); the order is in LAYERS at the top of this file`,
  );
});

test("the check sees imports of every kind, and points up", () => {
  const text = [
    'import { a } from "../payments/a.ts";',
    'import type { B } from "../payments/b.ts";',
    'export { c } from "./c.ts";',
    "export * from './d.ts';",
    'const e = await import("../runner/e.ts");',
    'import "./side-effect.ts";',
    "import {",
    "  f,",
    '} from "../chain/f.ts";',
  ].join("\n");
  assert.deepEqual(importsOf(text), [
    { specifier: "../payments/a.ts", line: 1 },
    { specifier: "../payments/b.ts", line: 2 },
    { specifier: "./c.ts", line: 3 },
    { specifier: "./d.ts", line: 4 },
    { specifier: "../runner/e.ts", line: 5 },
    { specifier: "./side-effect.ts", line: 6 },
    { specifier: "../chain/f.ts", line: 9 },
  ]);
  assert.deepEqual(
    envReadsOf("x.ts", "// process.env.A\nconst a = process.env.A;\nconst s = 'process.env';"),
    [2],
  );
  assert.ok((RANK.get("node") ?? -1) < (RANK.get("payments") ?? -1));
  assert.ok((RANK.get("media") ?? -1) < (RANK.get("runner") ?? -1));
  assert.ok((RANK.get("runner") ?? -1) < (RANK.get("client") ?? -1));
  assert.equal(RANK.get("cli"), LAYERS.length - 1);
});
