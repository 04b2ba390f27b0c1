/**
 * Finds every error code the source can throw or answer with, and the HTTP status it goes with
 * where the source spells it out. The registry test (src/node/error-codes.test.ts) compares the
 * result with src/node/error-codes.ts; `node scripts/error-scan.ts` prints it (one line per site).
 *
 * It parses src/**\/*.ts (tests excluded) with the TypeScript parser, so comments, strings and
 * regular expressions never confuse it, and records a site for:
 *
 * 1. every `new X(…)` where X is `TributaryError` or a class that extends it (directly or through
 *    other subclasses; the class is looked up through the file's own declarations and relative
 *    imports). The constructor call is followed down to `TributaryError(code, message, options)`:
 *    the arguments are bound to each constructor's parameters (defaults included) and each `super(…)`
 *    is evaluated with them, so `new BadRequestError(m, { code: "BAD_JSON" })` gives BAD_JSON with
 *    400 and `new NotFoundError(m)` gives NOT_FOUND with 404;
 * 2. every class declaration in that family, its `super(…)` evaluated with unknown arguments: a class's
 *    own code (`super("TRICKLE_EOS", …)`) and default code (`options.code ?? "BAD_REQUEST"`) count as
 *    used even where only tests construct it;
 * 3. every `code: <expression>` property outside those calls whose value is an UPPER_SNAKE string
 *    (hand-built envelopes such as `{ error: { code: "UNAUTHORIZED", message } }`); the status is the
 *    one number literal (100–599) among the arguments of the call the envelope is built in
 *    (`sendJson(res, 401, { error: … })`), else unknown.
 *
 * Expressions are evaluated only as far as the source makes them plain: string and number literals,
 * object literals and spreads, `a ?? b`, `a || b`, `c ? a : b` (both branches unless `c` is a
 * comparison of known numbers), property reads of object literals, identifiers bound to constructor
 * parameters, `const` declarations in scope, parameters typed as a union of string literals, and
 * `err.code` inside `if (… && err.code === "X")` (rethrowing with another status).
 * Anything else is unknown: an unknown code is not recorded, an unknown status is `undefined` (the
 * test then checks nothing about it). A missing `status` option means TributaryError's 500.
 */
import { globSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** One place where a code is thrown or answered. */
export interface ErrorCodeSite {
  code: string;
  /** The HTTP status read from the source; undefined when it is not a literal. */
  status: number | undefined;
  /** Path relative to the repository root. */
  file: string;
  line: number;
}

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT_CLASS = "TributaryError";
const CODE_SHAPE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
/** Stops runaway evaluation (a parameter bound to itself through a cycle). */
const MAX_DEPTH = 40;

type Value =
  | { k: "str"; v: string }
  | { k: "num"; v: number }
  | { k: "bool"; v: boolean }
  | { k: "undef" }
  | { k: "unknown" }
  | { k: "obj"; props: Map<string, Value[]>; open: boolean };

interface Binding {
  node: ts.Expression | undefined;
  env: Env;
}
type Env = Map<string, Binding>;

interface ClassInfo {
  name: string;
  parent: string;
  file: string;
  ctor: ts.ConstructorDeclaration | undefined;
  superArgs: readonly ts.Expression[] | undefined;
  node: ts.ClassDeclaration;
}

const UNKNOWN: Value = { k: "unknown" };
const UNDEF: Value = { k: "undef" };

/** Scans `src/` (tests excluded) of the repository at `root`. */
export function scanErrorCodes(root = REPO): ErrorCodeSite[] {
  const files = globSync("src/**/*.ts", { cwd: root })
    .filter((f) => !f.endsWith(".test.ts"))
    .sort();
  const sources = new Map<string, ts.SourceFile>();
  for (const f of files) {
    const abs = resolve(root, f);
    sources.set(abs, ts.createSourceFile(abs, readFileSync(abs, "utf8"), ts.ScriptTarget.Latest, true));
  }

  const classes = new Map<string, ClassInfo[]>(); // by name
  const imports = new Map<string, Map<string, string>>(); // file → local name → resolved file
  for (const [file, sf] of sources) {
    const own = new Map<string, string>();
    imports.set(file, own);
    const visit = (node: ts.Node): void => {
      if (ts.isClassDeclaration(node) && node.name) {
        const parent = node.heritageClauses
          ?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)
          ?.types[0]?.expression.getText(sf);
        if (parent) {
          const ctor = node.members.find(ts.isConstructorDeclaration);
          let superArgs: readonly ts.Expression[] | undefined;
          const findSuper = (n: ts.Node): void => {
            if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword)
              superArgs ??= n.arguments;
            else ts.forEachChild(n, findSuper);
          };
          if (ctor?.body) findSuper(ctor.body);
          const info: ClassInfo = { name: node.name.text, parent, file, ctor, superArgs, node };
          classes.set(info.name, [...(classes.get(info.name) ?? []), info]);
        }
      }
      if (
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
        node.moduleSpecifier &&
        ts.isStringLiteral(node.moduleSpecifier) &&
        node.moduleSpecifier.text.startsWith(".")
      ) {
        const target = resolve(dirname(file), node.moduleSpecifier.text);
        const named = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : node.exportClause;
        if (named && (ts.isNamedImports(named) || ts.isNamedExports(named)))
          for (const el of named.elements) own.set(el.name.text, target);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }

  /** The class `name` as seen from `file`: declared there, imported (or re-exported), or unique. */
  const lookup = (name: string, file: string, seen = new Set<string>()): ClassInfo | undefined => {
    const all = classes.get(name);
    if (!all) return undefined;
    const here = all.find((c) => c.file === file);
    if (here) return here;
    const from = imports.get(file)?.get(name);
    if (from && !seen.has(from)) {
      seen.add(from);
      const found = lookup(name, from, seen);
      if (found) return found;
    }
    return all[0];
  };
  const inFamily = (info: ClassInfo | undefined, depth = 0): boolean => {
    if (!info || depth > MAX_DEPTH) return false;
    if (info.name === ROOT_CLASS) return true;
    if (info.parent === ROOT_CLASS) return true;
    return inFamily(lookup(info.parent, info.file), depth + 1);
  };

  // ------------------------------------------------------------------ evaluation
  const evaluate = (node: ts.Expression | undefined, env: Env, depth = 0): Value[] => {
    if (!node) return [UNDEF];
    if (depth > MAX_DEPTH) return [UNKNOWN];
    const ev = (n: ts.Expression | undefined, e: Env = env) => evaluate(n, e, depth + 1);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))
      return [{ k: "str", v: node.text }];
    if (ts.isNumericLiteral(node)) return [{ k: "num", v: Number(node.text) }];
    if (node.kind === ts.SyntaxKind.TrueKeyword) return [{ k: "bool", v: true }];
    if (node.kind === ts.SyntaxKind.FalseKeyword) return [{ k: "bool", v: false }];
    if (
      ts.isParenthesizedExpression(node) ||
      ts.isAsExpression(node) ||
      ts.isSatisfiesExpression(node) ||
      ts.isNonNullExpression(node)
    )
      return ev(node.expression);
    if (ts.isIdentifier(node)) {
      if (node.text === "undefined") return [UNDEF];
      const bound = env.get(node.text);
      if (bound) return bound.node ? evaluate(bound.node, bound.env, depth + 1) : [UNDEF];
      return declared(node, depth);
    }
    if (ts.isConditionalExpression(node)) {
      const cond = ev(node.condition);
      if (cond.every((c) => c.k === "bool" && c.v)) return ev(node.whenTrue);
      if (cond.every((c) => c.k === "bool" && !c.v)) return ev(node.whenFalse);
      return [...ev(node.whenTrue), ...ev(node.whenFalse)];
    }
    if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      if (op === ts.SyntaxKind.QuestionQuestionToken || op === ts.SyntaxKind.BarBarToken) {
        const falsy = (v: Value) =>
          v.k === "undef" ||
          (op === ts.SyntaxKind.BarBarToken &&
            ((v.k === "num" && v.v === 0) || (v.k === "str" && v.v === "")));
        const out: Value[] = [];
        let right = false;
        for (const v of ev(node.left)) {
          if (falsy(v)) right = true;
          else {
            out.push(v);
            if (v.k === "unknown") right = true;
          }
        }
        return right ? [...out, ...ev(node.right)] : out;
      }
      const l = ev(node.left);
      const r = ev(node.right);
      const one = (vs: Value[]) => (vs.length === 1 ? vs[0] : undefined);
      const a = one(l);
      const b = one(r);
      if (op === ts.SyntaxKind.AmpersandAmpersandToken && a?.k === "bool" && b?.k === "bool")
        return [{ k: "bool", v: a.v && b.v }];
      if (a?.k === "num" && b?.k === "num") {
        const cmp: Partial<Record<ts.SyntaxKind, boolean>> = {
          [ts.SyntaxKind.GreaterThanEqualsToken]: a.v >= b.v,
          [ts.SyntaxKind.GreaterThanToken]: a.v > b.v,
          [ts.SyntaxKind.LessThanEqualsToken]: a.v <= b.v,
          [ts.SyntaxKind.LessThanToken]: a.v < b.v,
          [ts.SyntaxKind.EqualsEqualsEqualsToken]: a.v === b.v,
          [ts.SyntaxKind.ExclamationEqualsEqualsToken]: a.v !== b.v,
        };
        const res = cmp[op];
        if (res !== undefined) return [{ k: "bool", v: res }];
      }
      return [UNKNOWN];
    }
    if (ts.isPropertyAccessExpression(node)) {
      const key = node.name.text;
      const values = ev(node.expression).flatMap((v): Value[] => {
        if (v.k !== "obj") return [UNKNOWN];
        return v.props.get(key) ?? [v.open ? UNKNOWN : UNDEF];
      });
      return values.every((v) => v.k === "unknown") ? (narrowed(node) ?? values) : values;
    }
    if (ts.isObjectLiteralExpression(node)) {
      const props = new Map<string, Value[]>();
      let open = false;
      for (const p of node.properties) {
        if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)))
          props.set(p.name.text, ev(p.initializer));
        else if (ts.isShorthandPropertyAssignment(p)) props.set(p.name.text, ev(p.name));
        else if (ts.isSpreadAssignment(p)) {
          for (const v of ev(p.expression)) {
            if (v.k === "obj") {
              for (const [k, vs] of v.props) props.set(k, vs);
              open ||= v.open;
            } else if (v.k !== "undef") open = true;
          }
        }
      }
      return [{ k: "obj", props, open }];
    }
    return [UNKNOWN];
  };

  /** `err.code` inside `if (… && err.code === "X") …`: the literal it was compared with. */
  const narrowed = (node: ts.Expression): Value[] | undefined => {
    const text = node.getText();
    for (let n: ts.Node = node; n.parent; n = n.parent) {
      const p = n.parent;
      if (!ts.isIfStatement(p) || p.thenStatement !== n) continue;
      const found: Value[] = [];
      const visit = (c: ts.Node): void => {
        if (
          ts.isBinaryExpression(c) &&
          c.operatorToken.kind === ts.SyntaxKind.EqualsEqualsEqualsToken &&
          ts.isStringLiteral(c.right) &&
          c.left.getText() === text
        )
          found.push({ k: "str", v: c.right.text });
        else if (ts.isBinaryExpression(c) && c.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken) {
          visit(c.left);
          visit(c.right);
        } else if (ts.isParenthesizedExpression(c)) visit(c.expression);
      };
      visit(p.expression);
      if (found.length > 0) return found;
    }
    return undefined;
  };

  /** An identifier not bound to a constructor argument: a `const` in scope or a literal-typed parameter. */
  const declared = (id: ts.Identifier, depth: number): Value[] => {
    for (let n: ts.Node | undefined = id.parent; n; n = n.parent) {
      if (ts.isFunctionLike(n)) {
        const param = n.parameters.find((p) => ts.isIdentifier(p.name) && p.name.text === id.text);
        if (param) {
          const t = param.type;
          const members = t && ts.isUnionTypeNode(t) ? t.types : t ? [t] : [];
          const literals = members.flatMap((m) =>
            ts.isLiteralTypeNode(m) && ts.isStringLiteral(m.literal) ? [m.literal.text] : [],
          );
          return literals.length === members.length && literals.length > 0
            ? literals.map((v): Value => ({ k: "str", v }))
            : [UNKNOWN];
        }
      }
      const statements = ts.isBlock(n) || ts.isSourceFile(n) ? n.statements : undefined;
      for (const s of statements ?? []) {
        if (!ts.isVariableStatement(s) || !(s.declarationList.flags & ts.NodeFlags.Const)) continue;
        for (const d of s.declarationList.declarations)
          if (ts.isIdentifier(d.name) && d.name.text === id.text && d.initializer)
            return evaluate(d.initializer, new Map(), depth + 1);
      }
    }
    return [UNKNOWN];
  };

  /** Follows `new cls(args)` down to TributaryError's (code, message, options). */
  const construct = (
    info: ClassInfo | undefined,
    name: string,
    args: readonly (ts.Expression | undefined)[],
    env: Env,
    depth = 0,
  ): { codes: Value[]; statuses: Value[] } => {
    if (name === ROOT_CLASS || !info || depth > MAX_DEPTH) {
      if (name !== ROOT_CLASS) return { codes: [], statuses: [] };
      const statuses = evaluate(args[2], env).flatMap((o): Value[] => {
        if (o.k === "undef") return [{ k: "num", v: 500 }];
        if (o.k !== "obj") return [UNKNOWN];
        const s = o.props.get("status");
        if (!s) return [o.open ? UNKNOWN : { k: "num", v: 500 }];
        return s.map((v) => (v.k === "undef" ? { k: "num", v: 500 } : v));
      });
      return { codes: evaluate(args[0], env), statuses };
    }
    const parent = lookup(info.parent, info.file);
    if (!info.ctor) return construct(parent, info.parent, args, env, depth + 1);
    const own: Env = new Map();
    info.ctor.parameters.forEach((p, i) => {
      if (!ts.isIdentifier(p.name)) return;
      const arg = args[i];
      own.set(p.name.text, arg ? { node: arg, env } : { node: p.initializer, env: new Map() });
    });
    // Parameters given no argument at all (a class's own declaration) stay unknown.
    if (args.length === 0 && info.ctor.parameters.length > 0)
      for (const p of info.ctor.parameters)
        if (ts.isIdentifier(p.name) && !p.initializer) own.delete(p.name.text);
    return construct(parent, info.parent, info.superArgs ?? [], own, depth + 1);
  };

  /** A hand-built envelope's status: a number literal (100–599) among the arguments of the call it is passed to. */
  const statusOfEnvelope = (node: ts.Node): Value[] => {
    for (let n: ts.Node | undefined = node.parent; n && !ts.isFunctionLike(n); n = n.parent) {
      if (!ts.isCallExpression(n)) continue;
      const statuses = n.arguments.flatMap((a): Value[] =>
        ts.isNumericLiteral(a) && Number(a.text) >= 100 && Number(a.text) < 600
          ? [{ k: "num", v: Number(a.text) }]
          : [],
      );
      return statuses.length === 1 ? statuses : [UNKNOWN];
    }
    return [UNKNOWN];
  };

  // ------------------------------------------------------------------ sites
  const sites: ErrorCodeSite[] = [];
  const record = (code: Value[], statuses: Value[], file: string, sf: ts.SourceFile, node: ts.Node) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    const known = [...new Set(statuses.flatMap((s) => (s.k === "num" ? [s.v] : [])))];
    const unknown = statuses.length === 0 || statuses.some((s) => s.k !== "num");
    for (const c of code) {
      if (c.k !== "str" || !CODE_SHAPE.test(c.v)) continue;
      const rel = relative(root, file);
      for (const status of known) sites.push({ code: c.v, status, file: rel, line });
      if (unknown) sites.push({ code: c.v, status: undefined, file: rel, line });
    }
  };
  for (const [file, sf] of sources) {
    const visit = (node: ts.Node, inCall: boolean): void => {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression)) {
        const name = node.expression.text;
        const info = lookup(name, file);
        if (name === ROOT_CLASS || (info && inFamily(info))) {
          const { codes, statuses } = construct(info, name, node.arguments ?? [], new Map());
          record(codes, statuses, file, sf, node);
          ts.forEachChild(node, (c) => visit(c, true));
          return;
        }
      }
      if (ts.isClassDeclaration(node) && node.name && node.name.text !== ROOT_CLASS) {
        const info = classes.get(node.name.text)?.find((c) => c.node === node);
        if (info && inFamily(info)) {
          const { codes, statuses } = construct(info, info.name, [], new Map());
          record(codes, statuses, file, sf, node);
          ts.forEachChild(node, (c) => visit(c, true));
          return;
        }
      }
      if (!inCall && ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === "code")
        record(evaluate(node.initializer, new Map()), statusOfEnvelope(node), file, sf, node);
      ts.forEachChild(node, (c) => visit(c, inCall));
    };
    visit(sf, false);
  }
  return sites;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sites = scanErrorCodes();
  for (const s of sites.sort((a, b) => a.code.localeCompare(b.code) || a.file.localeCompare(b.file)))
    console.log(`${s.code}\t${s.status ?? "?"}\t${s.file}:${s.line}`);
}
