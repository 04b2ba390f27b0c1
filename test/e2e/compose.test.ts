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
 * container networking. docs/deployment.md says so. The parsers are compose-model.ts's; the
 * Dockerfiles' own checks are dockerfiles.test.ts.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { poll, until } from "../until.ts";
import { loadCompose, ROOT, type Service } from "./compose-model.ts";

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
