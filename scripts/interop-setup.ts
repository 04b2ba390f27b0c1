/**
 * Installs the real upstream peers that `test/interop/**` runs against, into a cache outside the repo
 * (`$TRIBUTARY_CACHE`, default `~/.cache/tributary`):
 *
 * - Python: a virtualenv (`venv/`) with PyPI `pytrickle` and PyPI `livepeer-gateway`, installed from a
 *   wheelhouse (`wheels/`) that `pip download` fills, so a rebuilt venv downloads nothing. pytrickle pulls
 *   torch, whose PyPI Linux wheel brings the CUDA libraries (several GB, minutes on a first install);
 *   livepeer-gateway declares Python >= 3.12 but imports and runs on 3.11, so on an older interpreter it
 *   is installed with `--no-deps --ignore-requires-python` and its dependencies are installed normally.
 * - Go: `test/interop/go-trickle` (our program around go-livepeer's `trickle` package) built to
 *   `bin/go-trickle`, with GOMODCACHE and GOCACHE under the cache, the module from the Go module proxy
 *   only. (As of 2026-11 the proxy answers 403 "This module version is not available" for every
 *   github.com/livepeer/go-livepeer version, so the Go peer is recorded as unavailable and its tests
 *   skip with that reason.)
 *
 * Idempotent: each part writes a stamp keyed by its versions and is skipped while the stamp matches.
 * A part that cannot be installed is reported (exact reason, what to do) and recorded in
 * `status.json`; the interop tests for that peer then skip with that reason. Exit code 1 when no peer
 * at all is available, and in CI (`CI` set) when the Python peers are missing: PyPI is reachable there. Run: `node scripts/interop-setup.ts [--force]`.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GO_DIR = join(REPO, "test/interop/go-trickle");

/** Pinned upstream versions; changing one re-runs that part of the setup. */
export const PEER_VERSIONS = {
  pytrickle: "0.1.6",
  livepeerGateway: "1.0.0",
  goLivepeer: "v0.9.1",
} as const;

/** Extra PyPI requirements: livepeer-gateway's own (installed beside it with --no-deps), with `av`
 * kept to the range pytrickle accepts, which has binary wheels for Python 3.11. */
const GATEWAY_DEPS = ["aiohttp>=3.9.0", "grpcio>=1.76.0", "protobuf>=6.31.1", "av>=11.0.0,<=14.4.0"];

const cache = resolve(process.env.TRIBUTARY_CACHE ?? join(homedir(), ".cache", "tributary"));
const force = process.argv.includes("--force");
const stampDir = join(cache, "stamps");

interface PartStatus {
  ok: boolean;
  detail: string;
}

function log(line: string): void {
  process.stdout.write(`[interop-setup] ${line}\n`);
}

function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string } = {},
): { ok: boolean; out: string } {
  const res = spawnSync(cmd, args, {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${res.stdout ?? ""}${res.stderr ?? ""}${res.error ? String(res.error) : ""}`;
  if (opts.logFile) writeFileSync(opts.logFile, `$ ${cmd} ${args.join(" ")}\n${out}`, { flag: "a" });
  return { ok: res.status === 0, out };
}

function lastLines(text: string, n = 12): string {
  return text.trim().split("\n").slice(-n).join("\n");
}

function readStamp(name: string): unknown {
  try {
    return JSON.parse(readFileSync(join(stampDir, `${name}.json`), "utf8"));
  } catch {
    return undefined;
  }
}

function writeStamp(name: string, value: unknown): void {
  mkdirSync(stampDir, { recursive: true });
  writeFileSync(join(stampDir, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function pythonVersion(python: string): string | undefined {
  const res = run(python, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]);
  return res.ok ? res.out.trim() : undefined;
}

const PY_CHECK = [
  "import importlib.metadata as m",
  "import pytrickle, livepeer_gateway.trickle_publisher, livepeer_gateway.trickle_subscriber",
  "print(m.version('pytrickle'), m.version('livepeer-gateway'))",
].join("; ");

/** Versions without importing (importing pytrickle loads torch, which takes seconds). */
const PY_QUICK_CHECK =
  "import importlib.metadata as m; print(m.version('pytrickle'), m.version('livepeer-gateway'))";

function setupPython(): PartStatus {
  const host = process.env.TRIBUTARY_PYTHON ?? "python3";
  const hostVersion = pythonVersion(host);
  if (!hostVersion) {
    return { ok: false, detail: `no Python interpreter: '${host}' does not run (set TRIBUTARY_PYTHON)` };
  }
  const venv = join(cache, "venv");
  const python = join(venv, "bin", "python");
  const wanted = {
    route: "venv",
    python: hostVersion,
    pytrickle: PEER_VERSIONS.pytrickle,
    livepeerGateway: PEER_VERSIONS.livepeerGateway,
    gatewayDeps: GATEWAY_DEPS,
  };
  const expected = `${wanted.pytrickle} ${wanted.livepeerGateway}`;
  if (
    !force &&
    sameJson(readStamp("python"), wanted) &&
    run(python, ["-c", PY_QUICK_CHECK]).out.trim() === expected
  ) {
    log(
      `python peers: up to date (pytrickle ${wanted.pytrickle}, livepeer-gateway ${wanted.livepeerGateway})`,
    );
    return { ok: true, detail: `venv on Python ${hostVersion}` };
  }
  const logFile = join(cache, "logs", "python-setup.log");
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, "");
  const started = Date.now();
  if (!existsSync(python) || pythonVersion(python) !== hostVersion) {
    log(`python peers: creating virtualenv ${venv} (Python ${hostVersion})`);
    rmSync(venv, { recursive: true, force: true });
    const made = run(host, ["-m", "venv", venv], { logFile });
    if (!made.ok) return { ok: false, detail: `python3 -m venv failed:\n${lastLines(made.out)}` };
  }
  const pipEnv = { PIP_CACHE_DIR: join(cache, "pip"), PIP_DISABLE_PIP_VERSION_CHECK: "1" };
  // pip's HTTP cache stays empty when the registry answers without caching headers (as here), so the
  // wheels are kept in a wheelhouse: `pip download` fetches only what it lacks, and the install reads it.
  const wheels = join(cache, "wheels");
  const pip = (args: string[]) => {
    const fetched = run(python, ["-m", "pip", "download", "--progress-bar", "off", "-d", wheels, ...args], {
      env: pipEnv,
      logFile,
    });
    if (!fetched.ok) return fetched;
    return run(
      python,
      ["-m", "pip", "install", "--progress-bar", "off", "--no-index", "--find-links", wheels, ...args],
      { env: pipEnv, logFile },
    );
  };
  log(
    `python peers: pip install pytrickle==${wanted.pytrickle} (brings torch + CUDA wheels, several GB; ` +
      `first install takes minutes; log: ${logFile})`,
  );
  const base = pip(["--only-binary=av", `pytrickle==${wanted.pytrickle}`, ...GATEWAY_DEPS]);
  if (!base.ok)
    return { ok: false, detail: `pip install pytrickle failed (log ${logFile}):\n${lastLines(base.out)}` };
  const [major = 0, minor = 0] = hostVersion.split(".").map(Number);
  const oldPython = major === 3 && minor < 12;
  log(
    `python peers: pip install livepeer-gateway==${wanted.livepeerGateway}` +
      (oldPython ? ` (--ignore-requires-python: it declares >=3.12, this is ${hostVersion})` : ""),
  );
  const gw = pip([
    "--no-deps",
    ...(oldPython ? ["--ignore-requires-python"] : []),
    `livepeer-gateway==${wanted.livepeerGateway}`,
  ]);
  if (!gw.ok) {
    return {
      ok: false,
      detail: `pip install livepeer-gateway failed (log ${logFile}):\n${lastLines(gw.out)}`,
    };
  }
  const check = run(python, ["-c", PY_CHECK], { logFile });
  if (!check.ok) {
    return {
      ok: false,
      detail:
        `the installed Python peers do not import on Python ${hostVersion} (log ${logFile}):\n${lastLines(check.out)}\n` +
        "A Python >= 3.12 interpreter (TRIBUTARY_PYTHON=/path/to/python3.12) avoids --ignore-requires-python.",
    };
  }
  writeStamp("python", wanted);
  log(`python peers: installed ${check.out.trim()} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { ok: true, detail: `venv on Python ${hostVersion}` };
}

function goSourceHash(): string {
  const h = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go"]) {
    const p = join(GO_DIR, f);
    h.update(f).update(existsSync(p) ? readFileSync(p) : "");
  }
  return h.digest("hex").slice(0, 16);
}

function setupGo(): PartStatus {
  const goVersion = run("go", ["env", "GOVERSION"]);
  if (!goVersion.ok) return { ok: false, detail: "the go command is not installed" };
  const bin = join(cache, "bin", "go-trickle");
  const wanted = {
    goVersion: goVersion.out.trim(),
    goLivepeer: PEER_VERSIONS.goLivepeer,
    source: goSourceHash(),
  };
  const stamp = readStamp("go-trickle") as (typeof wanted & { route?: string }) | undefined;
  if (
    !force &&
    stamp &&
    stamp.route === "module proxy" &&
    sameJson({ ...stamp, route: undefined }, { ...wanted, route: undefined }) &&
    existsSync(bin)
  ) {
    log(`go peer: up to date (go-livepeer ${wanted.goLivepeer}, ${stamp.route ?? "?"}) at ${bin}`);
    return { ok: true, detail: `go-trickle (${stamp.route ?? "?"})` };
  }
  const logFile = join(cache, "logs", "go-setup.log");
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, "");
  mkdirSync(dirname(bin), { recursive: true });
  const env = {
    GOMODCACHE: join(cache, "go", "mod"),
    GOCACHE: join(cache, "go", "build"),
    GOFLAGS: "-mod=mod",
    CGO_ENABLED: "0",
    GOTOOLCHAIN: "local",
  };
  // Build with a temporary go.mod/go.sum so that the committed files are never rewritten.
  const tmp = mkdtempSync(join(tmpdir(), "go-trickle-"));
  const build = (extraMod: string, route: string): PartStatus | { error: string } => {
    const modfile = join(tmp, "go.mod");
    writeFileSync(modfile, readFileSync(join(GO_DIR, "go.mod"), "utf8") + extraMod);
    const sum = join(GO_DIR, "go.sum");
    writeFileSync(join(tmp, "go.sum"), existsSync(sum) ? readFileSync(sum) : "");
    const res = run("go", ["build", `-modfile=${modfile}`, "-trimpath", "-o", bin, "."], {
      cwd: GO_DIR,
      env,
      logFile,
    });
    if (!res.ok) return { error: lastLines(res.out, 8) };
    writeStamp("go-trickle", { ...wanted, route });
    log(`go peer: built ${bin} (${route})`);
    return { ok: true, detail: `go-trickle (${route})` };
  };
  try {
    log(
      `go peer: building go-trickle against github.com/livepeer/go-livepeer ${wanted.goLivepeer} (module proxy)`,
    );
    const viaProxy = build("", "module proxy");
    if ("ok" in viaProxy) return viaProxy;
    return {
      ok: false,
      detail: `the Go module proxy does not serve github.com/livepeer/go-livepeer ${wanted.goLivepeer}:\n${viaProxy.error}`,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function main(): void {
  mkdirSync(cache, { recursive: true });
  log(`cache: ${cache}`);
  const python = setupPython();
  if (!python.ok) log(`python peers: UNAVAILABLE: ${python.detail}`);
  const go = setupGo();
  if (!go.ok) log(`go peer: UNAVAILABLE: ${go.detail}`);
  writeFileSync(
    join(cache, "status.json"),
    `${JSON.stringify({ python, go, versions: PEER_VERSIONS, at: new Date().toISOString() }, null, 2)}\n`,
  );
  if (!python.ok && process.env.CI) {
    // The Python peers come from PyPI, which CI reaches: their absence is a failure, not a skip.
    log("CI: the Python peers are required");
    process.exit(1);
  }
  if (!python.ok && !go.ok) {
    log("no interop peer is available; see the reasons above");
    process.exit(1);
  }
}

main();
