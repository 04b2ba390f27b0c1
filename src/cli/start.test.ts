/**
 * What a user sees when a command starts, through the real entry point (`bin/tributary.js`): one clear
 * line on a Node older than 24, no SQLite `ExperimentalWarning` (other warnings still printed), and one
 * friendly line naming the flag to change when a port is busy — no pino record, no stack.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isSqliteWarning } from "./main.ts";

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL("../../bin/tributary.js", import.meta.url));
const MAIN = new URL("./main.ts", import.meta.url).href;

async function runNode(
  args: string[],
  timeout = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  try {
    const { stdout, stderr } = await exec(process.execPath, args, { env, timeout });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

test("on a Node older than 24 the CLI prints one clear line and exits 1", async () => {
  // The version Node reports is replaced before bin/tributary.js runs, as Node 20 would report it.
  const older = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.1"})';
  const r = await runNode(["--import", older, BIN, "--help"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^Tributary needs Node\.js 24 or newer \(this is v20\.11\.1\); run it through npm/);
  // The current Node runs it.
  const ok = await runNode([BIN, "--version"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^\d+\.\d+\.\d+\n$/);
});

test("node:sqlite's ExperimentalWarning is dropped; other warnings are still printed", async () => {
  assert.equal(
    isSqliteWarning(
      Object.assign(new Error("SQLite is an experimental feature and might change at any time"), {
        name: "ExperimentalWarning",
      }),
    ),
    true,
  );
  assert.equal(isSqliteWarning(Object.assign(new Error("x"), { name: "DeprecationWarning" })), false);
  const script = `
    const { quietWarnings } = await import(${JSON.stringify(MAIN)});
    quietWarnings();
    await import("node:sqlite");
    process.emitWarning("something else", { type: "DeprecationWarning", code: "DEP_TEST" });
    await new Promise((r) => setTimeout(r, 50));`;
  const r = await runNode(["--input-type=module", "-e", script]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /SQLite|ExperimentalWarning/);
  assert.match(r.stderr, /\[DEP_TEST\] DeprecationWarning: something else/);
  // Without the filter Node prints it (the test would be vacuous otherwise).
  const plain = await runNode(["--input-type=module", "-e", 'await import("node:sqlite");']);
  assert.match(plain.stderr, /ExperimentalWarning: SQLite/);
});

function busyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === "object" && addr ? addr.port : 0 });
    });
  });
}

test("a busy port gives one friendly line naming the flag, for every node command", async (t) => {
  const { server, port } = await busyPort();
  const dir = mkdtempSync(join(tmpdir(), "tributary-start-"));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const key = join(dir, "signer.key");
  writeFileSync(key, `0x${"11".repeat(32)}\n`);
  const addr = `127.0.0.1:${port}`;
  const cases: { args: string[]; flag: string }[] = [
    { args: ["orchestrator", "--service-addr", addr, "--data-dir", join(dir, "o")], flag: "--service-addr" },
    {
      args: ["gateway", "--http-addr", addr, "--orch-addr", "127.0.0.1:1", "--data-dir", join(dir, "g")],
      flag: "--http-addr",
    },
    { args: ["trickle", "--port", String(port)], flag: "--port" },
    {
      args: ["signer", "--http-addr", addr, "--key-file", key, "--data-dir", join(dir, "s")],
      flag: "--http-addr",
    },
    {
      args: [
        "dev",
        "--offchain",
        "--gateway-port",
        String(port),
        "--orchestrator-port",
        "0",
        "--data-dir",
        join(dir, "d"),
      ],
      flag: "--gateway-port",
    },
  ];
  const results = await Promise.all(cases.map((c) => runNode([BIN, ...c.args], 90_000)));
  for (const [i, c] of cases.entries()) {
    const r = results[i]!;
    const name = c.args[0]!;
    assert.notEqual(r.code, 0, `${name} must fail`);
    const wanted = new RegExp(
      `port ${port} on 127\\.0\\.0\\.1 is already in use; pick another with ${c.flag}`,
    );
    const errors = r.stderr
      .trim()
      .split("\n")
      .filter((l) => !/^dev: |^ {7}everything that had started/.test(l));
    assert.equal(errors.length, 1, `${name}: one line, got:\n${r.stderr}`);
    assert.match(errors[0]!, wanted, name);
    assert.doesNotMatch(r.stderr + r.stdout, /"level":|\n\s+at |ExperimentalWarning/, name);
  }
});
