import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { privateKeyToAccount } from "viem/accounts";
import { translateGoFlags } from "./options.ts";
import { SIGNER_GO_FLAG_ALIASES } from "./signer.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const KEY = `0x${"42".repeat(32)}` as const;
const dir = mkdtempSync(join(tmpdir(), "cli-signer-"));
writeFileSync(join(dir, "key"), KEY, { mode: 0o600 });
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("go-livepeer signer spellings become ours; -remoteSigner is implied", () => {
  assert.deepEqual(
    translateGoFlags(
      [
        "-remoteSigner",
        "-remoteSignerWebhookUrl",
        "http://a/b",
        "-remoteSignerWebhookHeaders=X-K: v",
        "-remoteSignerAllowNoAuth",
        "-remoteDiscovery",
        "-httpAddr",
        "0.0.0.0:8936",
      ],
      SIGNER_GO_FLAG_ALIASES,
    ),
    [
      "--remote-signer-webhook-url",
      "http://a/b",
      "--remote-signer-webhook-headers=X-K: v",
      "--remote-signer-allow-no-auth",
      "--remote-discovery",
      "--http-addr",
      "0.0.0.0:8936",
    ],
  );
});

/** Runs the CLI; resolves with its URL once it listens, or with its exit code and output. */
function run(
  args: string[],
): Promise<{ child: ChildProcess; url?: string; code?: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, "signer", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stderr?.on("data", (c) => {
    output += c;
  });
  return new Promise((resolve) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      output += `${line}\n`;
      const m = /signer listening on (\S+),/.exec(line);
      if (m) resolve({ child, url: m[1]!, output });
    });
    child.once("exit", (code) => resolve({ child, code, output }));
  });
}

test("offchain with go-livepeer spellings: signs orchestrator-info requests as the key file's address, refuses payments (503), stops on SIGTERM", async () => {
  const s = await run([
    "-remoteSigner",
    "-network",
    "offchain",
    "-ethKeystorePath",
    join(dir, "key"),
    "-dataDir",
    join(dir, "a"),
    "-httpAddr",
    "127.0.0.1:0",
    "--log-level",
    "warn",
  ]);
  assert.ok(s.url, s.output);
  const info = await fetch(`${s.url}/sign-orchestrator-info`, { method: "POST", body: "{}" });
  assert.equal(info.status, 200);
  const body = (await info.json()) as { address: string; signature: string };
  assert.equal(body.address, privateKeyToAccount(KEY).address);
  assert.match(body.signature, /^0x[0-9a-f]{130}$/);
  const pay = await fetch(`${s.url}/generate-live-payment`, { method: "POST", body: "{}" });
  assert.equal(pay.status, 503);
  s.child.kill("SIGTERM");
  assert.equal(await new Promise((r) => s.child.once("exit", r)), 0);
});

test("without auth on a non-loopback address the signer refuses to start; -remoteSignerAllowNoAuth starts it with the warning", async () => {
  const base = ["--key-file", join(dir, "key"), "--http-addr", "0.0.0.0:0"];
  const refused = await run([...base, "--data-dir", join(dir, "b")]);
  assert.equal(refused.code, 1, refused.output);
  assert.match(refused.output, /--remote-signer-allow-no-auth/);
  const allowed = await run([...base, "--data-dir", join(dir, "c"), "-remoteSignerAllowNoAuth"]);
  assert.ok(allowed.url, allowed.output);
  await new Promise((r) => setTimeout(r, 200));
  assert.match(allowed.output, /anyone who can reach it can spend/);
  allowed.child.kill("SIGTERM");
  await new Promise((r) => allowed.child.once("exit", r));
});
