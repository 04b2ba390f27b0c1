/**
 * What the compose and Dockerfile tests (compose.test.ts, dockerfiles.test.ts) read, without a Docker
 * engine: a small YAML subset for compose.yaml, the Dockerfiles' stages resolved to the image a
 * service runs (stage chain, ENV, WORKDIR, ENTRYPOINT/CMD, HEALTHCHECK, COPY), and compose.yaml's
 * services in that model.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout (the build context of every Dockerfile), without a trailing slash. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

// ---------------------------------------------------------------------------------------------------
// A YAML subset: block mappings and sequences, sequence items that are mappings, plain / 'single' /
// "double" quoted scalars, flow sequences of scalars ([a, "b"]), literal block scalars (|), comments.
// Scalars stay strings (an empty value is null). Anything else (anchors, flow mappings, folded
// scalars, tabs) throws, so compose.yaml cannot drift outside what this test understands.

type Yaml = string | null | Yaml[] | { [k: string]: Yaml };

interface Line {
  indent: number;
  text: string;
  no: number;
}

function stripComment(text: string): string {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || text[i - 1] === " ")) return text.slice(0, i).trimEnd();
  }
  return text.trimEnd();
}

function scalar(raw: string, no: number): Yaml {
  const s = raw.trim();
  if (s === "" || s === "~" || s === "null") return null;
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith("'")) {
    if (!s.endsWith("'")) throw new Error(`line ${no}: unterminated quote`);
    return s.slice(1, -1).replaceAll("''", "'");
  }
  if (s.startsWith("[")) {
    if (!s.endsWith("]")) throw new Error(`line ${no}: flow sequence must fit on one line`);
    const items: string[] = [];
    let cur = "";
    let quote = "";
    for (const c of s.slice(1, -1)) {
      if (quote) {
        cur += c;
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") {
        cur += c;
        quote = c;
      } else if (c === ",") {
        items.push(cur);
        cur = "";
      } else cur += c;
    }
    if (cur.trim() !== "") items.push(cur);
    return items.map((i) => scalar(i, no));
  }
  if (/^[&*!{>]/.test(s)) throw new Error(`line ${no}: unsupported YAML (${s.slice(0, 20)})`);
  return s;
}

/** Parses the YAML subset described above. */
export function parseYamlSubset(text: string): Yaml {
  const raw = text.split("\n");
  const lines: Line[] = [];
  const blockScalars = new Map<number, string>();
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i]!;
    if (r.includes("\t")) throw new Error(`line ${i + 1}: tabs are not supported`);
    const text = stripComment(r);
    if (text.trim() === "") continue;
    const indent = text.length - text.trimStart().length;
    lines.push({ indent, text: text.trim(), no: i + 1 });
    if (/:\s+\|[-+]?$/.test(text.trim()) || /^-\s+\|$/.test(text.trim())) {
      // A literal block: every following line indented deeper (or blank) belongs to it, verbatim.
      const body: string[] = [];
      let j = i + 1;
      for (; j < raw.length; j++) {
        const b = raw[j]!;
        if (b.trim() !== "" && b.length - b.trimStart().length <= indent) break;
        body.push(b);
      }
      while (body.length > 0 && body.at(-1)!.trim() === "") body.pop();
      const cut = Math.min(
        ...body.filter((b) => b.trim() !== "").map((b) => b.length - b.trimStart().length),
      );
      const chomp = text.trim().endsWith("|-") ? "" : "\n";
      blockScalars.set(lines.length - 1, body.map((b) => b.slice(cut)).join("\n") + chomp);
      i = j - 1;
    }
  }
  let pos = 0;
  const blockValue = (index: number, rest: string): Yaml | undefined =>
    /^\|[-+]?$/.test(rest) ? (blockScalars.get(index) ?? "") : undefined;

  function parseNode(indent: number): Yaml {
    const first = lines[pos];
    if (first === undefined || first.indent < indent) return null;
    return first.text.startsWith("- ") || first.text === "-"
      ? parseSeq(first.indent)
      : parseMap(first.indent);
  }

  function parseMap(indent: number): Yaml {
    const out: { [k: string]: Yaml } = {};
    while (pos < lines.length && lines[pos]!.indent === indent) {
      const line = lines[pos]!;
      const m = /^("[^"]*"|'[^']*'|[^"'\s][^:]*?):(?:\s+(.*))?$/.exec(line.text);
      if (!m) throw new Error(`line ${line.no}: expected "key: value", got ${line.text}`);
      const key = scalar(m[1]!, line.no) as string;
      if (Object.hasOwn(out, key)) throw new Error(`line ${line.no}: duplicate key ${key}`);
      const rest = (m[2] ?? "").trim();
      const index = pos++;
      const block = blockValue(index, rest);
      if (block !== undefined) out[key] = block;
      else if (rest !== "") out[key] = scalar(rest, line.no);
      else if (pos < lines.length && lines[pos]!.indent > indent) out[key] = parseNode(lines[pos]!.indent);
      else if (pos < lines.length && lines[pos]!.indent === indent && lines[pos]!.text.startsWith("- "))
        out[key] = parseSeq(indent); // a sequence may sit at its key's indentation
      else out[key] = null;
    }
    if (pos < lines.length && lines[pos]!.indent > indent)
      throw new Error(`line ${lines[pos]!.no}: unexpected indentation`);
    return out;
  }

  function parseSeq(indent: number): Yaml {
    const out: Yaml[] = [];
    while (pos < lines.length && lines[pos]!.indent === indent && /^-(\s|$)/.test(lines[pos]!.text)) {
      const line = lines[pos]!;
      const content = line.text.slice(1).trimStart();
      const offset = line.text.length - content.length;
      if (content === "") {
        pos++;
        out.push(parseNode(indent + 1));
      } else if (/^("[^"]*"|'[^']*'|[^"'[\s][^:]*?):(\s|$)/.test(content)) {
        // "- key: value": a mapping whose keys sit where "key" starts.
        lines[pos] = { indent: indent + offset, text: content, no: line.no };
        out.push(parseMap(indent + offset));
      } else {
        const index = pos++;
        out.push(blockValue(index, content) ?? scalar(content, line.no));
      }
    }
    return out;
  }

  const doc = parseNode(0);
  if (pos < lines.length) throw new Error(`line ${lines[pos]!.no}: unexpected content`);
  return doc;
}

// ---------------------------------------------------------------------------------------------------
// Dockerfiles

interface Instruction {
  op: string;
  args: string;
  line: number;
}

interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

export function parseDockerfile(path: string): Stage[] {
  const stages: Stage[] = [];
  const logical: { text: string; line: number }[] = [];
  let cur = "";
  let start = 0;
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((l, i) => {
      if (cur === "" && (l.trim().startsWith("#") || l.trim() === "")) return;
      if (cur === "") start = i + 1;
      if (l.endsWith("\\")) cur += `${l.slice(0, -1)} `;
      else {
        logical.push({ text: cur + l, line: start });
        cur = "";
      }
    });
  for (const { text, line } of logical) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(text);
    if (!m) throw new Error(`${path}:${line}: cannot parse ${text}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === "FROM") {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`${path}:${line}: bad FROM`);
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${path}:${line}: ${op} before FROM`);
      stage.instructions.push({ op, args, line });
    }
  }
  return stages;
}

/** Exec form (JSON array) as is; shell form through /bin/sh -c. */
function commandForm(args: string): string[] {
  return args.startsWith("[") ? (JSON.parse(args) as string[]) : ["/bin/sh", "-c", args];
}

export interface Image {
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  healthcheck?: string[];
  user?: string;
  volumes: string[];
  /** COPY instructions from the build context (not --from) of the stages used. */
  copies: { sources: string[]; dest: string; line: number }[];
}

/** The image a target (default: the last stage) of a Dockerfile describes. */
export function resolveImage(stages: Stage[], target?: string): Image {
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name!, s]));
  const chain: Stage[] = [];
  let stage: Stage | undefined = target ? byName.get(target) : stages.at(-1);
  if (!stage) throw new Error(`no stage ${target}`);
  while (stage) {
    chain.unshift(stage);
    stage = byName.get(stage.from);
  }
  const image: Image = { workdir: "/", env: {}, entrypoint: [], cmd: [], volumes: [], copies: [] };
  for (const s of chain)
    for (const ins of s.instructions) {
      switch (ins.op) {
        case "WORKDIR":
          image.workdir = ins.args.startsWith("/") ? ins.args : join(image.workdir, ins.args);
          break;
        case "ENV":
          for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
            image.env[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
          break;
        case "ENTRYPOINT":
          image.entrypoint = commandForm(ins.args);
          image.cmd = []; // as Docker: a new ENTRYPOINT resets an inherited CMD
          break;
        case "CMD":
          image.cmd = commandForm(ins.args);
          break;
        case "HEALTHCHECK": {
          const m = /^(?:--\S+\s+)*CMD\s+(.*)$/.exec(ins.args);
          image.healthcheck = m ? commandForm(m[1]!) : undefined;
          break;
        }
        case "USER":
          image.user = ins.args;
          break;
        case "VOLUME":
          image.volumes.push(...(ins.args.startsWith("[") ? (JSON.parse(ins.args) as string[]) : [ins.args]));
          break;
        case "COPY": {
          const parts = ins.args.split(/\s+/);
          if (parts.some((p) => p.startsWith("--from="))) break;
          const words = parts.filter((p) => !p.startsWith("--"));
          image.copies.push({ sources: words.slice(0, -1), dest: words.at(-1)!, line: ins.line });
          break;
        }
      }
    }
  return image;
}

// ---------------------------------------------------------------------------------------------------
// The compose model

export interface Service {
  name: string;
  image: Image;
  dockerfile: string;
  command: string[];
  environment: Record<string, string>;
  healthcheck?: string[];
  /** Container ports the service listens on. */
  ports: number[];
  /** Published host ports → container port. */
  published: Map<number, number>;
  volumes: { source: string; target: string }[];
  configs: { source: string; target: string }[];
  dependsOn: Map<string, string>;
}

type Obj = { [k: string]: Yaml };
const obj = (v: Yaml | undefined, what: string): Obj => {
  assert.ok(v !== null && typeof v === "object" && !Array.isArray(v), `${what} must be a mapping`);
  return v as Obj;
};
const list = (v: Yaml | undefined): Yaml[] => (v === undefined || v === null ? [] : (v as Yaml[]));

export function loadCompose(): { services: Service[]; configs: Map<string, string> } {
  const doc = obj(parseYamlSubset(readFileSync(join(ROOT, "compose.yaml"), "utf8")), "compose.yaml");
  const configs = new Map<string, string>();
  for (const [name, c] of Object.entries(obj(doc.configs ?? {}, "configs")))
    configs.set(name, obj(c, `config ${name}`).content as string);
  const services: Service[] = [];
  for (const [name, raw] of Object.entries(obj(doc.services, "services"))) {
    const s = obj(raw, `service ${name}`);
    const build = obj(s.build, `${name}.build`);
    assert.equal(build.context, ".", `${name}: images build from the repository root`);
    const dockerfile = (build.dockerfile as string | undefined) ?? "Dockerfile";
    const image = resolveImage(parseDockerfile(join(ROOT, dockerfile)), build.target as string | undefined);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj(s.environment ?? {}, `${name}.environment`)))
      env[k] = (v as string | null) ?? "";
    const published = new Map<number, number>();
    const ports = new Set<number>();
    for (const p of list(s.ports)) {
      const parts = String(p).split(":");
      const container = Number(parts.at(-1));
      published.set(Number(parts.at(-2) ?? container), container);
      ports.add(container);
    }
    for (const p of list(s.expose)) ports.add(Number(p));
    const mounts = (v: Yaml | undefined) =>
      list(v).map((m) => {
        if (typeof m === "string") {
          const [source, target] = m.split(":");
          return { source: source!, target: target! };
        }
        const o = obj(m, `${name} mount`);
        return { source: o.source as string, target: o.target as string };
      });
    const dependsOn = new Map<string, string>();
    const deps = s.depends_on;
    if (Array.isArray(deps)) for (const d of deps) dependsOn.set(d as string, "service_started");
    else if (deps)
      for (const [d, c] of Object.entries(obj(deps, `${name}.depends_on`)))
        dependsOn.set(d, (obj(c, d).condition as string) ?? "service_started");
    const command = s.command === undefined ? undefined : (s.command as string[] | string);
    const hc = s.healthcheck === undefined ? undefined : obj(s.healthcheck, `${name}.healthcheck`);
    services.push({
      name,
      image,
      dockerfile,
      command: [
        ...image.entrypoint,
        ...(command === undefined ? image.cmd : typeof command === "string" ? commandForm(command) : command),
      ],
      environment: env,
      healthcheck: hc ? composeHealthcheck(hc.test) : image.healthcheck,
      ports: [...ports],
      published,
      volumes: mounts(s.volumes),
      configs: mounts(s.configs),
      dependsOn,
    });
  }
  return { services, configs };
}

/** A compose `healthcheck.test`: `[CMD, …]`, `[CMD-SHELL, "…"]` or a shell string. */
function composeHealthcheck(test: Yaml | undefined): string[] {
  if (typeof test === "string") return ["/bin/sh", "-c", test];
  const t = test as string[];
  if (t[0] === "CMD") return t.slice(1);
  if (t[0] === "CMD-SHELL") return ["/bin/sh", "-c", t[1]!];
  throw new Error(`unsupported healthcheck test ${JSON.stringify(test)}`);
}
