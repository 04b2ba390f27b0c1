/**
 * The fresh-clone smoke test (`npm run test:smoke`, issue #7): what a new user does, in a temporary
 * directory.
 *
 * 1. `git clone` this repository (its committed HEAD: uncommitted changes are not in the clone);
 * 2. `npm ci --prefer-offline --no-audit --no-fund` (reuses the ~/.npm cache);
 * 3. `npm start -- --offchain`, then separately the default devnet `npm start`; each time: wait
 *    for the summary it prints, run `tributary job run text-reverse …` and a 3 s
 *    `tributary job live --testsrc …` through the gateway (the output file is decoded to check it
 *    plays), send SIGINT to the process group (as Ctrl-C does), wait for the exit, and check that no
 *    process of that tree is left (every /proc entry whose cwd or command line is in the temporary
 *    directory);
 * 4. a container project as its README says: `npm run tributary -- init` in the temporary directory
 *    (npm passes it as INIT_CWD; from a checkout, init packs it with `npm pack`, which compiles it, and
 *    the project depends on that tarball), then `npm install --prefer-offline` and `npm test` in the
 *    project (the pipeline and its test run against the compiled package, on the project's Node.js 24);
 * 5. remove the temporary directory.
 *
 * The default ports (8935, 8937, 8545) are used as a user would; when one is taken, every port is
 * chosen by the system instead (said in the output). Exit code 1 on any failure; `--keep` keeps the
 * temporary directory for a look.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { probeVideo } from "../src/client/media.ts";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const keep = process.argv.includes("--keep");
const t0 = performance.now();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const say = (s: string) => process.stderr.write(`smoke: ${s}\n`);

class SmokeFailure extends Error {}

/** Runs a step, printing its start and its outcome with the time it took. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  say(`${name}…`);
  try {
    const v = await fn();
    say(`${name}: ok (${secs(performance.now() - t)})`);
    return v;
  } catch (err) {
    say(`${name}: FAILED after ${secs(performance.now() - t)}`);
    throw err;
  }
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (with a time limit); rejects when it does not exit 0. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: cleanEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const r = { code, signal, stdout, stderr };
      if (code === 0) resolve(r);
      else
        reject(
          new SmokeFailure(
            `${cmd} ${args.join(" ")} ${signal ? `was killed (${signal}, limit ${secs(timeoutMs)})` : `exited ${code}`}\n${tail(stderr || stdout)}`,
          ),
        );
    });
  });
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The environment for the clone: no npm_* variables of the npm run that started this script. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== "INIT_CWD") env[k] = v;
  // The clone's own Node (its node_modules/.bin) must come first, not this checkout's.
  env.PATH = (env.PATH ?? "")
    .split(":")
    .filter((p) => !p.startsWith(join(REPO, "node_modules")))
    .join(":");
  return env;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

interface Dev {
  child: ChildProcess;
  gateway: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start [-- args]` in its own process group; resolves once the summary names the gateway. */
function startDev(clone: string, args: string[], timeoutMs: number): Promise<Dev> {
  const npmArgs = ["start", ...(args.length > 0 ? ["--", ...args] : [])];
  const child = spawn("npm", npmArgs, {
    cwd: clone,
    stdio: ["ignore", "pipe", "pipe"],
    env: cleanEnv(),
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, "SIGKILL");
      reject(
        new SmokeFailure(`npm ${npmArgs.join(" ")} not ready within ${secs(timeoutMs)}\n${tail(stderr)}`),
      );
    }, timeoutMs);
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
      const gw = /^\s*gateway\s+(http:\/\/\S+)/m.exec(stdout);
      if (gw && /Ctrl-C stops everything/.test(stdout)) {
        clearTimeout(timer);
        const ready = /ready in ([\d.]+ s)/.exec(stdout);
        say(`  network ready in ${ready?.[1] ?? "?"} (as it reports), gateway ${gw[1]}`);
        resolve({ child, gateway: gw[1] as string, stderr: () => stderr, exited });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new SmokeFailure(`npm ${npmArgs.join(" ")} exited (${code ?? signal}) before ready\n${tail(stderr)}`),
      );
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Live processes whose cwd or command line is inside `dir` (zombies excluded). */
export function processesIn(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // another user's process: only its command line is readable
      }
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cmd.includes(dir)) found.push({ pid, cmd });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** SIGINT to the group (Ctrl-C), wait for the exit, then check nothing of it is left. */
async function stopDev(dev: Dev, dir: string): Promise<void> {
  killGroup(dev.child, "SIGINT");
  const limit = 30_000;
  const result = await Promise.race([
    dev.exited,
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), limit).unref()),
  ]);
  if (result === "timeout") {
    killGroup(dev.child, "SIGKILL");
    throw new SmokeFailure(`npm start did not exit within ${secs(limit)} of SIGINT\n${tail(dev.stderr())}`);
  }
  // npm itself may report the signal; the dev process must have stopped cleanly.
  if (!/dev: stopped/.test(dev.stderr()))
    throw new SmokeFailure(`tributary dev did not report a clean stop\n${tail(dev.stderr())}`);
  let left = processesIn(dir);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    left = processesIn(dir);
  }
  if (left.length > 0) {
    for (const p of left)
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {}
    throw new SmokeFailure(
      `processes left after the stop (killed now):\n${left.map((p) => `  ${p.pid} ${p.cmd}`).join("\n")}`,
    );
  }
}

/** Batch and live jobs through the gateway with the clone's CLI. */
async function jobs(
  clone: string,
  dir: string,
  gateway: string,
  label: string,
  paid: boolean,
): Promise<void> {
  const tributary = (args: string[], timeoutMs: number) =>
    run("npm", ["run", "--silent", "tributary", "--", ...args], clone, timeoutMs);
  await step(`${label}: tributary job run text-reverse`, async () => {
    const r = await tributary(
      ["job", "run", "text-reverse", "--gateway", gateway, "--json", '{"text":"smoke test"}', "-v"],
      60_000,
    );
    if (r.stdout.trim() !== '{"text":"tset ekoms"}')
      throw new SmokeFailure(`unexpected answer ${JSON.stringify(r.stdout)}`);
    const info = /job: .*/.exec(r.stderr)?.[0] ?? "";
    if (paid && !/balance \d+/.test(info))
      throw new SmokeFailure(`no Livepeer-Balance on devnet (the job was not paid?): ${info}`);
    say(`  ${info}`);
  });
  await step(`${label}: tributary job live --testsrc --duration 3s`, async () => {
    const output = join(dir, `${label}-live.mp4`);
    const r = await tributary(
      [
        "job",
        "live",
        "--gateway",
        gateway,
        "--model",
        "green-tint",
        "--testsrc",
        "--size",
        "256x256",
        "--duration",
        "3s",
        "--output",
        output,
      ],
      120_000,
    );
    const last = r.stderr
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("live: t="))
      .pop();
    say(`  ${last ?? "(no stats line)"}`);
    if (!existsSync(output)) throw new SmokeFailure(`no output file\n${tail(r.stderr)}`);
    const probe = await probeVideo(output);
    if (probe.frames === 0)
      throw new SmokeFailure(`the output has no video frames: ${JSON.stringify(probe)}`);
    const [red, green] = probe.meanRgb;
    if (!(green - red > 20))
      throw new SmokeFailure(
        `the output is not green-tinted: mean rgb ${probe.meanRgb.map(Math.round).join(",")}`,
      );
    say(`  output: ${probe.frames} frames ${probe.width}x${probe.height}, green-tinted`);
  });
}

/** `tributary init` a live project beside the clone, install the packed package into it, run its test. */
async function project(clone: string, dir: string): Promise<void> {
  const proj = join(dir, "my-filter");
  await step("npm run tributary -- init my-filter --template live (packs the clone)", async () => {
    // npm --prefix runs the clone's script from `dir`, as a user does from their own folder.
    const r = await run(
      "npm",
      ["--prefix", clone, "run", "--silent", "tributary", "--", "init", "my-filter", "--template", "live"],
      dir,
      300_000,
    );
    if (!/^ {2}cd my-filter$/m.test(r.stdout))
      throw new SmokeFailure(`init printed no "cd my-filter"\n${r.stdout}`);
    const pkg = JSON.parse(readFileSync(join(proj, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const spec = pkg.dependencies.tributary ?? "";
    if (
      !/^file:\.\/tributary-[\d.]+\.tgz$/.test(spec) ||
      !existsSync(join(proj, spec.slice("file:./".length)))
    )
      throw new SmokeFailure(`the project does not depend on a packed tarball: ${spec}`);
  });
  await step("my-filter: npm install --prefer-offline --no-audit --no-fund", () =>
    run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], proj, 600_000),
  );
  await step("my-filter: npm test", async () => {
    const r = await run("npm", ["test"], proj, 300_000);
    const pass = /(?:ℹ|#) pass (\d+)/.exec(r.stdout)?.[1];
    if (!/(?:ℹ|#) fail 0\n/.test(r.stdout) || pass === undefined || Number(pass) === 0)
      throw new SmokeFailure(`the project's tests did not pass\n${tail(r.stdout)}`);
    say(`  ${pass} tests passed`);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tributary-smoke-"));
  const clone = join(dir, "tributary");
  let running: Dev | undefined;
  try {
    const head = (await run("git", ["rev-parse", "--short", "HEAD"], REPO, 10_000)).stdout.trim();
    await step(`git clone (HEAD ${head}) into ${dir}`, () =>
      run("git", ["clone", "--quiet", "--no-hardlinks", REPO, clone], dir, 120_000),
    );
    await step("npm ci --prefer-offline --no-audit --no-fund", () =>
      run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"], clone, 600_000),
    );
    const defaults = (await Promise.all([8935, 8937, 8545].map(portFree))).every(Boolean);
    const portArgs = defaults ? [] : ["--orchestrator-port", "0", "--gateway-port", "0", "--chain-port", "0"];
    if (!defaults) say("a default port (8935, 8937 or 8545) is taken: every port is picked by the system");
    await project(clone, dir);
    for (const mode of ["offchain", "devnet"] as const) {
      const args = [...(mode === "offchain" ? ["--offchain"] : []), ...portArgs];
      running = await step(`${mode}: npm start${args.length ? ` -- ${args.join(" ")}` : ""}`, () =>
        startDev(clone, args, 120_000),
      );
      await jobs(clone, dir, running.gateway, mode, mode === "devnet");
      const dev = running;
      running = undefined;
      await step(`${mode}: SIGINT, exit, no process left`, () => stopDev(dev, dir));
    }
  } finally {
    if (running) {
      killGroup(running.child, "SIGKILL");
      for (const p of processesIn(dir))
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {}
    }
    if (keep) say(`kept ${dir}`);
    else
      await step("remove the temporary directory", async () => rmSync(dir, { recursive: true, force: true }));
  }
}

try {
  await main();
  say(`passed in ${secs(performance.now() - t0)}`);
} catch (err) {
  say(`${err instanceof SmokeFailure ? "" : "error: "}${err instanceof Error ? err.message : String(err)}`);
  say(`FAILED after ${secs(performance.now() - t0)}`);
  process.exitCode = 1;
}
