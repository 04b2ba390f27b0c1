/**
 * compose.yaml and the Dockerfiles, without a Docker engine (there is none on this machine): the
 * compose file is parsed (a small YAML subset, below), every service's image is resolved from its
 * Dockerfile (stage chain, ENV, WORKDIR, ENTRYPOINT/CMD, HEALTHCHECK), and every service's command runs
 * as a local process with its environment. Container paths are mapped to the checkout (the images copy
 * the repository's files to the same relative paths under WORKDIR, which is asserted), volumes and
 * configs to temporary files, and every container port to an ephemeral 127.0.0.1 port (`service:port`,
 * `0.0.0.0:port`, `--port port`, published `localhost:port`). Services start in `depends_on` order; a
 * `service_healthy` dependency waits until that service's own HEALTHCHECK command succeeds. Then a paid
 * text-reverse job and a live stream go through the gateway.
 *
 * What this cannot prove: that the images build, that the base image has what the commands need, and
 * container networking. docs/deployment.md says so.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { poll, until } from "../until.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

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

function parseDockerfile(path: string): Stage[] {
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

interface Image {
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
function resolveImage(stages: Stage[], target?: string): Image {
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

interface Service {
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

function loadCompose(): { services: Service[]; configs: Map<string, string> } {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function runOnce(argv: string[], env: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env, stdio: "ignore", timeout: timeoutMs });
    child.once("error", () => resolve(-1));
    child.once("exit", (code) => resolve(code ?? -1));
  });
}

// ---------------------------------------------------------------------------------------------------

describe("Dockerfiles", () => {
  const dockerfiles = [
    "Dockerfile",
    ...readdirSync(join(ROOT, "examples"))
      .map((d) => `examples/${d}/Dockerfile`)
      .filter((f) => existsSync(join(ROOT, f))),
  ];

  test("every COPY source of every Dockerfile exists in the build context (the repository root)", () => {
    assert.ok(dockerfiles.length >= 3);
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.replace(/^\/|\/$/g, ""));
    for (const f of dockerfiles)
      for (const stage of parseDockerfile(join(ROOT, f)))
        for (const ins of stage.instructions.filter((i) => i.op === "COPY" && !/--from=/.test(i.args))) {
          const sources = ins.args.split(/\s+/).slice(0, -1);
          for (const src of sources) {
            assert.ok(existsSync(join(ROOT, src)), `${f}:${ins.line}: COPY source ${src} does not exist`);
            assert.ok(!ignored.includes(src), `${f}:${ins.line}: COPY source ${src} is in .dockerignore`);
          }
        }
  });

  test("the node image runs tributary as a non-root user with a /data volume and a health check", () => {
    const stages = parseDockerfile(join(ROOT, "Dockerfile"));
    for (const target of [undefined, "node", "devnet"]) {
      const image = resolveImage(stages, target);
      assert.match(stages[0]!.from, /^node:24(-[a-z]+)?-slim$/);
      assert.ok(
        image.user && image.user !== "root" && image.user !== "0",
        `${target}: runs as ${image.user}`,
      );
      assert.deepEqual(image.volumes, ["/data"]);
      assert.equal(image.env.TRIBUTARY_DATA_DIR, "/data");
      assert.ok(image.healthcheck, `${target}: HEALTHCHECK`);
      assert.deepEqual(image.entrypoint, ["node", "/app/bin/tributary.js"]);
    }
    assert.deepEqual(resolveImage(stages).cmd, ["--help"]);
  });

  test("the YAML subset parser reads what compose.yaml uses and refuses the rest", () => {
    assert.deepEqual(
      parseYamlSubset(
        'a: 1 # c\nb:\n  - x\n  - "y # z"\n  - k: v\n    l: [m, "n"]\nc: |\n  one\n  two\nd:\ne: \'q\'\n',
      ),
      { a: "1", b: ["x", "y # z", { k: "v", l: ["m", "n"] }], c: "one\ntwo\n", d: null, e: "q" },
    );
    assert.throws(() => parseYamlSubset("a: &x 1\nb: *x\n"), /unsupported/);
    assert.throws(() => parseYamlSubset("a: 1\na: 2\n"), /duplicate/);
  });
});

describe("compose.yaml run as local processes", { timeout: 240_000 }, () => {
  const { services, configs } = loadCompose();
  const byName = new Map(services.map((s) => [s.name, s]));
  const temp = mkdtempSync(join(tmpdir(), "tributary-compose-"));
  /** service:containerPort → local port. */
  const portMap = new Map<string, number>();
  const children = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  const healthy = new Map<string, Promise<void>>();

  /** Rewrites one argument or environment value of `service` from the container's view to local. */
  function localize(service: Service, value: string, own: boolean): string {
    let v = value;
    for (const s of services)
      for (const p of s.ports)
        v = v.replaceAll(`${s.name}:${p}`, `127.0.0.1:${portMap.get(`${s.name}:${p}`)}`);
    for (const s of services)
      for (const [host, container] of s.published)
        v = v.replaceAll(`localhost:${host}`, `127.0.0.1:${portMap.get(`${s.name}:${container}`)}`);
    if (own)
      for (const p of service.ports) {
        const local = portMap.get(`${service.name}:${p}`)!;
        v = v
          .replaceAll(`0.0.0.0:${p}`, `127.0.0.1:${local}`)
          .replaceAll(`127.0.0.1:${p}`, `127.0.0.1:${local}`);
      }
    if (own && v === "0.0.0.0") v = "127.0.0.1";
    const wd = service.image.workdir.replace(/\/$/, "");
    if (v === wd) v = ROOT;
    else if (v.startsWith(`${wd}/`)) v = join(ROOT, v.slice(wd.length + 1));
    for (const m of [...service.volumes, ...service.configs]) {
      const local = join(temp, service.name, m.target.replace(/\W+/g, "_"));
      if (v === m.target) v = local;
      else if (v.startsWith(`${m.target}/`)) v = join(local, v.slice(m.target.length + 1));
    }
    return v;
  }

  function argv(service: Service, command: string[]): string[] {
    const out = command.map((a) => localize(service, a, true));
    for (let i = 1; i < out.length; i++)
      if (out[i - 1] === "--port" && service.ports.includes(Number(command[i])))
        out[i] = String(portMap.get(`${service.name}:${command[i]}`));
    return out;
  }

  function envOf(service: Service): Record<string, string> {
    const env: Record<string, string> = {
      // `node` is this Node 24, also for shell-form commands.
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      HOME: join(temp, service.name, "home"),
    };
    for (const [k, v] of Object.entries({ ...service.image.env, ...service.environment }))
      env[k] = localize(service, v, true);
    return env;
  }

  function tail(name: string): string {
    return (logs.get(name) ?? "").slice(-3000);
  }

  function waitHealthy(service: Service): Promise<void> {
    let p = healthy.get(service.name);
    if (p) return p;
    p = (async () => {
      assert.ok(service.healthcheck, `${service.name} has a health check`);
      const cmd = argv(service, service.healthcheck);
      const env = envOf(service);
      await until(
        () => `${service.name} to be healthy within 150 s:\n${tail(service.name)}`,
        async () => {
          if (children.get(service.name)?.exitCode != null)
            throw new Error(
              `${service.name} exited (${children.get(service.name)?.exitCode}):\n${tail(service.name)}`,
            );
          return (await runOnce(cmd, env, 10_000)) === 0;
        },
        150_000,
        500,
      );
    })();
    healthy.set(service.name, p);
    return p;
  }

  async function startService(service: Service, started: Set<string>): Promise<void> {
    if (started.has(service.name)) return;
    started.add(service.name);
    for (const [dep, condition] of service.dependsOn) {
      const d = byName.get(dep);
      assert.ok(d, `${service.name} depends on unknown service ${dep}`);
      await startService(d, started);
      if (condition === "service_healthy") await waitHealthy(d);
    }
    for (const m of service.volumes) mkdirSync(localize(service, m.target, true), { recursive: true });
    for (const c of service.configs) {
      const content = configs.get(c.source);
      assert.ok(content !== undefined, `config ${c.source}`);
      writeFileSync(localize(service, c.target, true), localize(service, content, false));
    }
    mkdirSync(join(temp, service.name, "home"), { recursive: true });
    const cmd = argv(service, service.command);
    const child = spawn(cmd[0]!, cmd.slice(1), {
      cwd: ROOT,
      env: envOf(service),
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.set(service.name, child);
    logs.set(service.name, "");
    const keep = (c: Buffer) =>
      logs.set(service.name, (logs.get(service.name)! + c.toString("utf8")).slice(-20_000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
  }

  before(async () => {
    for (const s of services) for (const p of s.ports) portMap.set(`${s.name}:${p}`, await freePort());
    const started = new Set<string>();
    for (const s of services) await startService(s, started);
  });

  after(async () => {
    // Reverse start order; each node stops on SIGTERM (the chain's anvil dies with its owner).
    for (const [, child] of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(temp, { recursive: true, force: true });
    // The chain's anvil (a grandchild) must be gone too: found by its port on /proc, killed and
    // reported if it survived its owner.
    const chainPorts = [...portMap].filter(([k]) => k.startsWith("chain:")).map(([, v]) => v);
    const anvils = (): number[] => {
      const found: number[] = [];
      for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let cmd: string;
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
        } catch {
          continue;
        }
        if (/\banvil\b/.test(cmd) && chainPorts.some((p) => cmd.includes(`--port ${p} `)))
          found.push(Number(pid));
      }
      return found;
    };
    await poll(() => anvils().length === 0, 5000, 100);
    const left = anvils();
    for (const pid of left) process.kill(pid, "SIGKILL");
    assert.deepEqual(left, [], "anvil outlived the chain service");
  });

  test("the compose file has the network tributary dev runs: chain, orchestrator, both examples, gateway", () => {
    assert.deepEqual(services.map((s) => s.name).sort(), [
      "chain",
      "gateway",
      "green-tint",
      "orchestrator",
      "text-reverse",
    ]);
    for (const s of services)
      for (const c of s.image.copies) {
        // The images mirror the checkout under WORKDIR, so running from the checkout is faithful.
        const dest = c.dest.replace(/^\.\//, "").replace(/\/$/, "");
        assert.ok(
          dest === "" || (c.sources.length === 1 && dest === c.sources[0]),
          `${s.dockerfile}:${c.line}: COPY ${c.sources.join(" ")} ${c.dest} does not mirror the repository layout`,
        );
      }
  });

  test("every service with a health check becomes healthy", async () => {
    for (const s of services) await waitHealthy(s);
  });

  test("a paid text-reverse job goes through the gateway to the registered container", async () => {
    const gw = `http://127.0.0.1:${portMap.get("gateway:8937")}`;
    const deadline = Date.now() + 90_000;
    let last = "";
    while (Date.now() < deadline) {
      const res = await fetch(`${gw}/text-reverse`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "compose ✓" }),
      }).catch((err: Error) => err);
      if (!(res instanceof Error)) {
        const body = await res.text();
        if (res.status === 200) {
          assert.deepEqual(JSON.parse(body), { text: "✓ esopmoc" });
          // Priced on devnet: the orchestrator reports the gateway's credit after paying with tickets.
          assert.ok(res.headers.get("livepeer-balance"), "Livepeer-Balance header (paid job)");
          return;
        }
        last = `${res.status} ${body}`;
      } else last = res.message;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail(
      `no job through the gateway within 90 s; last answer ${last}\n${tail("gateway")}\n${tail("text-reverse")}`,
    );
  });

  test("a live video stream starts on green-tint through the gateway, with URLs on the published host", async () => {
    const gw = `http://127.0.0.1:${portMap.get("gateway:8937")}`;
    const res = await fetch(`${gw}/live/video-to-video`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "green-tint" }),
    });
    const body = (await res.json()) as Record<string, string>;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.publish_url?.startsWith(gw), body.publish_url);
    const stop = await fetch(body.stop_url!, { method: "POST" });
    assert.equal(stop.status, 200);
    await stop.arrayBuffer();
  });
});
