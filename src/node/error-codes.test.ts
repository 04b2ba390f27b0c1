/**
 * The error-code registry matches the source, and docs/errors.md matches the registry.
 *
 * The source side is scripts/error-scan.ts (its header lists what it reads): every code thrown with
 * TributaryError or a subclass, every class's own and default code, and every hand-built
 * `{ error: { code } }` envelope, with the status where the source spells it out.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
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

test("the scan finds the codes it must (a sanity check of the scanner itself)", () => {
  const found = (code: string, status: number | undefined, file: string) =>
    sites.some((s) => s.code === code && s.status === status && s.file === file);
  // new TributaryError("X", …, { status }) and a ternary code
  assert.ok(found("HEADERS_TOO_LARGE", 431, "src/node/http/limits.ts"));
  assert.ok(
    found("PORT_IN_USE", 500, "src/runner/server.ts") && found("LISTEN_FAILED", 500, "src/runner/server.ts"),
  );
  // a subclass with a fixed code, and a subclass of a subclass passing { code } to BadRequestError
  assert.ok(found("TRICKLE_EOS", 410, "src/trickle/client-errors.ts"));
  assert.ok(found("INVALID_STREAM_REQUEST", 400, "src/runner/params.ts"));
  // { code } option of BadRequestError, and a class's default code
  assert.ok(found("BAD_JSON", 400, "src/gateway/routes/ai-batch.ts"));
  assert.ok(found("NOT_FOUND", 404, "src/node/errors.ts"));
  // PaymentError(code, …) with the class's default status, and a parameter typed as a literal union
  assert.ok(found("TICKET_EXPIRED", 400, "src/payments/sender.ts"));
  assert.ok(found("INVALID_TICKET_SENDER", 400, "src/payments/recipient.ts"));
  // a hand-built envelope with the status of the call it is sent with
  assert.ok(found("UNAUTHORIZED", 401, "src/runner/server.ts"));
  // a status given as a constructor argument
  assert.ok(found("INSUFFICIENT_BALANCE", 400, "src/orchestrator/ai-payment.ts"));
  // nothing from comments, type unions of non-error words, or tests
  assert.ok(!byCode.has("NOT_WARM"), "selection reasons are not error codes");
  assert.ok(!sites.some((s) => s.file.endsWith(".test.ts")));
});

test("every code in the source is in src/node/error-codes.ts", () => {
  const missing = [...byCode].filter(([code]) => !Object.hasOwn(registry, code));
  assert.deepEqual(
    missing.map(([code, s]) => `${code} (${s.map(where).join(", ")})`),
    [],
    "add these codes to ERROR_CODES in src/node/error-codes.ts, then run `npm run gen:errors`",
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
  assert.deepEqual(wrong, [], "fix src/node/error-codes.ts (or the throw), then run `npm run gen:errors`");
});

test("every code in the registry is still used", () => {
  const unused = Object.keys(registry).filter((code) => !byCode.has(code));
  assert.deepEqual(
    unused,
    [],
    "remove these codes from src/node/error-codes.ts, then run `npm run gen:errors`",
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
