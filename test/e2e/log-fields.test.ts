/**
 * Keeps every log line of `src/` to the logging convention (docs: conventions, "Logs"):
 *
 * - fields are snake_case (`stream_id`, `trace_id`, `retry_in_ms`), given as an object literal so
 *   they can be read here (`log.info(fields, …)` with a variable hides them);
 * - an error goes in `err` (not `error`) as the thrown value itself, which pino serialises with its
 *   type, code and stack, never its message (`err.message`, `String(err)`, a template or a helper
 *   returning text);
 * - a trickle channel name is logged only through `shortName()`, and a field whose name says it is
 *   a URL or a secret is one the logger redacts (REDACT_PATHS in src/node/logger.ts).
 *
 * A log call is a `.trace/.debug/.info/.warn/.error/.fatal(…)` (or `log[level](…)`) whose first
 * argument is not a string, and `.child({…})`; the scan uses TypeScript's parser, so comments and
 * strings never count.
 */
import assert from "node:assert/strict";
import { globSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { REDACT_PATHS } from "../../src/node/logger.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SOURCES = globSync("src/**/*.ts", { cwd: ROOT }).filter((f) => !f.endsWith(".test.ts"));

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
/** Receivers whose `.error(…)` is not a logger's. */
const NOT_LOGGERS = new Set(["console"]);
const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/** A field carrying a URL or a secret by its name. */
const SENSITIVE = /(^|_)(url|secret|token|password|private_key)$/;
/** A field carrying a trickle channel name. */
const CHANNEL = /^channel(_?name)?$/i;
/** Calls that turn an error into text. */
const TO_TEXT = new Set(["String", "messageOf", "toString", "format", "inspect"]);
const REDACTED_TOP_LEVEL = new Set(REDACT_PATHS.filter((p) => /^[A-Za-z_]+$/.test(p)));

const isStringLike = (n: ts.Expression): boolean =>
  ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n);

/** The name of a call's callee: `String` for `String(x)`, `toString` for `x.toString()`. */
function calleeName(call: ts.CallExpression): string | undefined {
  const c = call.expression;
  if (ts.isIdentifier(c)) return c.text;
  if (ts.isPropertyAccessExpression(c)) return c.name.text;
  return undefined;
}

/** Why an `err` value loses the error, or undefined when it passes the thrown value on. */
function textualError(value: ts.Expression): string | undefined {
  if (isStringLike(value)) return "a string";
  let why: string | undefined;
  const visit = (n: ts.Node): void => {
    if (why) return;
    if (ts.isPropertyAccessExpression(n) && n.name.text === "message") why = "its .message";
    else if (ts.isCallExpression(n) && TO_TEXT.has(calleeName(n) ?? "")) why = `${calleeName(n)}(…)`;
    else if (ts.isTemplateExpression(n)) why = "a template string";
    else ts.forEachChild(n, visit);
  };
  visit(value);
  return why;
}

function propertyName(name: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name)) return name.text;
  return undefined;
}

/** Problems of one fields object. */
function fieldProblems(fields: ts.ObjectLiteralExpression): string[] {
  const out: string[] = [];
  for (const p of fields.properties) {
    if (ts.isSpreadAssignment(p)) {
      out.push("spreads an object: list the fields so their names can be checked");
      continue;
    }
    if (!ts.isPropertyAssignment(p) && !ts.isShorthandPropertyAssignment(p)) continue;
    const key = propertyName(p.name);
    if (key === undefined) {
      out.push("has a computed field name");
      continue;
    }
    if (!SNAKE.test(key)) out.push(`field "${key}" is not snake_case`);
    if (key === "error") out.push('field "error": name the error "err" (pino serialises that key)');
    const value = ts.isPropertyAssignment(p) ? p.initializer : p.name;
    if (key === "err") {
      const why = textualError(value);
      if (why) out.push(`"err" is ${why}: pass the error itself (pino keeps its stack)`);
    }
    if (CHANNEL.test(key)) {
      const shortened = ts.isCallExpression(value) && calleeName(value) === "shortName";
      if (!shortened) out.push(`field "${key}" must be shortName(…): channel names are credentials`);
    }
    if (SENSITIVE.test(key) && !REDACTED_TOP_LEVEL.has(key))
      out.push(`field "${key}" names a URL or a secret but is not in REDACT_PATHS (src/node/logger.ts)`);
  }
  return out;
}

/** Every log call of a file that breaks the convention, as `file:line: problem`. */
function problemsOf(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const at = (n: ts.Node) => `${file}:${source.getLineAndCharacterOfPosition(n.getStart(source)).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const first = node.arguments[0];
      let method: string | undefined;
      let receiver: ts.Expression | undefined;
      if (ts.isPropertyAccessExpression(callee)) {
        method = callee.name.text;
        receiver = callee.expression;
      } else if (ts.isElementAccessExpression(callee) && /log/i.test(callee.expression.getText(source))) {
        method = "level";
        receiver = callee.expression;
      }
      const notLogger = receiver !== undefined && ts.isIdentifier(receiver) && NOT_LOGGERS.has(receiver.text);
      const isLevel = method !== undefined && (LEVELS.has(method) || method === "level") && !notLogger;
      if (first && isLevel && !isStringLike(first)) {
        if (ts.isObjectLiteralExpression(first))
          for (const p of fieldProblems(first)) out.push(`${at(node)}: ${p}`);
        else out.push(`${at(node)}: log fields are not an object literal: write {field: value, …}`);
      }
      if (method === "child" && first && ts.isObjectLiteralExpression(first))
        for (const p of fieldProblems(first)) out.push(`${at(node)}: ${p}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

test("every log call in src/ has snake_case fields, err as the error, and no channel name or secret in clear", () => {
  const found = SOURCES.flatMap((f) => problemsOf(f, readFileSync(join(ROOT, f), "utf8")));
  assert.deepEqual(found, [], `${found.length} log call(s) break the convention (see this file's header)`);
});

test("the check catches each kind of break, and passes a conforming call", () => {
  const lines = [
    'log.info({ streamId: s.id }, "a");',
    'log.warn({ err: err.message }, "b");',
    'log.warn({ stream_id: s.id, err: (err as Error).message }, "c");',
    'log.error({ err: String(err) }, "d");',
    'log.warn({ err: messageOf(err) }, "e");',
    "log.warn({ err: `failed: $" + '{err}` }, "f");',
    'log.debug({ channelName: name }, "g");',
    'log.debug({ channel: name }, "h");',
    'log.info({ listen_url: u }, "i");',
    'log.debug(r, "j");',
    "const l = log.child({ traceId });",
    'this.#log[level]({ mimeType }, "k");',
    'log.info({ ...fields }, "m");',
    'log.warn({ error: e }, "n");',
    // conforming: none of these is reported
    'log.warn({ err, stream_id: s.id, retry_in_ms: 5 }, "ok");',
    'log.info({ channel: shortName(name), subscribe_url: u, err: e.error }, "ok");',
    'log.info("plain message");',
    'cmd.error("error: bad flag", { exitCode: 2 });',
    "console.error({ anything: 1 });",
    "const c = log.child({ trace_id: id });",
  ];
  const found = problemsOf("x.ts", lines.join("\n")).map((p) => Number(p.split(":")[1]));
  assert.deepEqual(found, [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14]);
});
