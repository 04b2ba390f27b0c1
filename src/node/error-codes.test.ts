/**
 * The error-code registry matches the source, and docs/errors.md matches the registry.
 *
 * The source side is scripts/error-scan.ts (its header lists what it reads): every code thrown with
 * TributaryError or a subclass, every class's own and default code, and every hand-built
 * `{ error: { code } }` envelope, with the status where the source spells it out.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ErrorCodeSite, scanErrorCodes } from "../../scripts/error-scan.ts";
import { ERRORS_DOC, renderErrorsDoc } from "../../scripts/gen-errors.ts";
import { ERROR_CODES, type ErrorCodeInfo } from "./error-codes.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const registry: Readonly<Record<string, ErrorCodeInfo>> = ERROR_CODES;
const sites = scanErrorCodes(ROOT);
const where = (s: ErrorCodeSite) => `${s.file}:${s.line}`;
const byCode = Map.groupBy(sites, (s) => s.code);

/** A small source tree with one case of each pattern the scanner reads (and some it must ignore). */
const FIXTURE: Record<string, string> = {
  "src/node/errors.ts": `
    export class TributaryError extends Error {
      constructor(code: string, message: string, options: { status?: number } = {}) { super(message); }
    }
    export class BadRequestError extends TributaryError {
      constructor(message: string, options: { code?: string } = {}) {
        super(options.code ?? "BAD_REQUEST", message, { ...options, status: 400 });
      }
    }`,
  "src/alpha/errors.ts": `
    import { BadRequestError, TributaryError } from "../node/errors.ts";
    export class FixedError extends TributaryError {
      constructor(m: string) { super("FIXED", m, { status: 410 }); }
    }
    export class StatusArgError extends TributaryError {
      constructor(m: string, status: number) { super("STATUS_ARG", m, { status }); }
    }
    export class CodeFirstError extends TributaryError {
      constructor(code: string, m: string, o: { status?: number } = {}) { super(code, m, { status: o.status ?? 400 }); }
    }
    export class SubBadError extends BadRequestError {
      constructor(m: string) { super(m, { code: "SUB_BAD" }); }
    }`,
  "src/beta/use.ts": `
    import { BadRequestError, TributaryError } from "../node/errors.ts";
    import { CodeFirstError, FixedError, StatusArgError } from "../alpha/errors.ts";
    // new TributaryError("IN_COMMENT", "m", { status: 400 })
    const text = 'new TributaryError("IN_STRING")';
    const re = /"NOT_IN_REGEX"/;
    const CONST_CODE = "FROM_CONST";
    export function f(cond: boolean, err: { code: string }, d: unknown, res: unknown, kind: "LIT_A" | "LIT_B") {
      if (cond) throw new TributaryError(cond ? "TERN_A" : "TERN_B", "m", { status: 503 });
      if (cond) throw new BadRequestError("m", { code: "OPT_CODE" });
      if (cond) throw new BadRequestError("m");
      if (cond) throw new StatusArgError("m", 402);
      if (cond) throw new CodeFirstError("FIRST_ARG", "m", { status: 402 });
      if (cond) throw new CodeFirstError(kind, "m");
      if (cond) throw new FixedError("m");
      if (cond) throw new TributaryError(CONST_CODE, "m");
      if (cond && err.code === "NARROWED") throw new TributaryError(err.code, "m", { status: 503 });
      sendJson(res, 401, { error: { code: "ENVELOPE", message: "m" } });
      reject(d, "NOT_A_CODE", "a plain string argument");
      return [text, re];
    }`,
  "src/beta/use.test.ts": `throw new TributaryError("IN_A_TEST", "m", { status: 400 });`,
};

test("the scanner reads each pattern of its header, and nothing else (a fixture tree)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tributary-error-scan-"));
  try {
    for (const [file, text] of Object.entries(FIXTURE)) {
      mkdirSync(join(dir, dirname(file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    const found = scanErrorCodes(dir).map((s) => `${s.code} ${s.status ?? "?"} ${s.file}`);
    assert.deepEqual([...new Set(found)].sort(), [
      "BAD_REQUEST 400 src/beta/use.ts", // a class's default code, at a call site…
      "BAD_REQUEST 400 src/node/errors.ts", // …and where the class is declared
      "ENVELOPE 401 src/beta/use.ts", // a hand-built envelope, with its call's status
      "FIRST_ARG 402 src/beta/use.ts", // a subclass taking the code first, status option
      "FIXED 410 src/alpha/errors.ts", // a subclass's own code (declaration)…
      "FIXED 410 src/beta/use.ts", // …and its use
      "FROM_CONST 500 src/beta/use.ts", // a const, and TributaryError's default status
      "LIT_A 400 src/beta/use.ts", // a parameter typed as a union of literals
      "LIT_B 400 src/beta/use.ts",
      "NARROWED 503 src/beta/use.ts", // err.code inside if (err.code === "NARROWED")
      "OPT_CODE 400 src/beta/use.ts", // { code } option of BadRequestError
      "STATUS_ARG 402 src/beta/use.ts", // status given as a constructor argument
      "STATUS_ARG ? src/alpha/errors.ts", // …unknown where the class is declared
      "SUB_BAD 400 src/alpha/errors.ts", // a subclass of a subclass passing { code }
      "TERN_A 503 src/beta/use.ts", // both branches of a ternary
      "TERN_B 503 src/beta/use.ts",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the scan of src/ finds codes, none from tests", () => {
  assert.ok(byCode.size > 100, `only ${byCode.size} codes found`);
  assert.ok(!sites.some((s) => s.file.endsWith(".test.ts")));
  assert.ok(!byCode.has("NOT_WARM"), "selection reasons are not error codes");
});

test("every code in the source is in src/node/error-codes.ts", () => {
  const missing = [...byCode].filter(([code]) => !Object.hasOwn(registry, code));
  assert.deepEqual(
    missing.map(([code, s]) => `${code} (${s.map(where).join(", ")})`),
    [],
    "add these codes to their component's file in src/node/error-codes/, then run `npm run gen:errors`",
  );
});

test("every code is thrown with the status the registry gives it", () => {
  const wrong: string[] = [];
  for (const [code, info] of Object.entries(registry)) {
    const allowed = [info.status, ...(info.otherStatuses ?? [])];
    const seen = byCode.get(code) ?? [];
    for (const s of seen)
      if (s.status !== undefined && !allowed.includes(s.status))
        wrong.push(`${code}: ${s.status} at ${where(s)}, the registry says ${allowed.join(" or ")}`);
    // A listed status nobody uses is stale, unless some site's status cannot be read.
    if (seen.length > 0 && seen.every((s) => s.status !== undefined))
      for (const status of allowed)
        if (!seen.some((s) => s.status === status))
          wrong.push(`${code}: the registry lists ${status}, the source never uses it`);
  }
  assert.deepEqual(
    wrong,
    [],
    "fix the entry in src/node/error-codes/ (or the throw), then run `npm run gen:errors`",
  );
});

test("every code in the registry is still used", () => {
  const unused = Object.keys(registry).filter((code) => !byCode.has(code));
  assert.deepEqual(
    unused,
    [],
    "remove these codes from src/node/error-codes/, then run `npm run gen:errors`",
  );
});

test("every code lists the folders of src/ that raise it as its components", () => {
  const wrong: string[] = [];
  for (const [code, info] of Object.entries(registry)) {
    const seen = [...new Set((byCode.get(code) ?? []).map((s) => s.file.split("/")[1]!))].sort();
    const listed = [...info.components].sort();
    if (seen.length > 0 && seen.join() !== listed.join())
      wrong.push(
        `${code}: the registry lists ${listed.join(", ")}, the source raises it in ${seen.join(", ")}`,
      );
  }
  assert.deepEqual(wrong, [], "fix the components in src/node/error-codes.ts, then run `npm run gen:errors`");
});

test("every entry is well formed: UPPER_SNAKE code, one sentence, real components", () => {
  const dirs = new Set(
    readdirSync(join(ROOT, "src")).filter((d) => statSync(join(ROOT, "src", d)).isDirectory()),
  );
  for (const [code, info] of Object.entries(registry)) {
    assert.match(code, /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/, code);
    assert.ok(Number.isInteger(info.status) && info.status >= 400 && info.status < 600, `${code}: status`);
    assert.match(info.meaning, /^[^\n]+[.)]$/, `${code}: the meaning is one sentence ending with a period`);
    assert.ok(!/\.\s+[A-Z]/.test(info.meaning), `${code}: the meaning is one sentence`);
    assert.ok(info.components.length > 0, `${code}: components`);
    for (const c of info.components) assert.ok(dirs.has(c), `${code}: ${c} is not a folder of src/`);
  }
  assert.ok(Object.isFrozen(ERROR_CODES));
});

test(`${ERRORS_DOC} is generated from the registry and lists every code`, () => {
  const doc = readFileSync(join(ROOT, ERRORS_DOC), "utf8");
  assert.ok(doc === renderErrorsDoc(), `${ERRORS_DOC} is out of date: run \`npm run gen:errors\``);
  for (const code of Object.keys(registry)) assert.ok(doc.includes(`| \`${code}\` |`), code);
});
