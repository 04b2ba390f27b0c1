import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { privateKeyToAccount } from "viem/accounts";
import { startDevnet } from "../chain/devnet.ts";
import { encryptKeystore } from "../chain/keystore.ts";
import { signPayload } from "../payments/signature.ts";
import { buildProgram } from "./main.ts";
import { translateGoFlags as translateWith } from "./options.ts";
import { GO_FLAG_ALIASES } from "./orchestrator.ts";

const translateGoFlags = (args: string[]) => translateWith(args, GO_FLAG_ALIASES);
/** A cheap scrypt cost for test keystores. */
const FAST = { n: 1024, r: 8, p: 1 };

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "orch-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("go-livepeer flag spellings become ours; implied booleans are dropped", () => {
  assert.deepEqual(
    translateGoFlags([
      "-orchestrator",
      "-aiWorker=true",
      "-aiModels",
      "/m.json",
      "-serviceAddr=0.0.0.0:8935",
      "--orchSecret",
      "s",
      "-network",
      "offchain",
      "--data-dir",
      "d",
      "--",
      "-aiModels",
    ]),
    [
      "--ai-models",
      "/m.json",
      "--service-addr=0.0.0.0:8935",
      "--orch-secret",
      "s",
      "--network",
      "offchain",
      "--data-dir",
      "d",
      "--",
      "-aiModels",
    ],
  );
});

test("--help names the routes and the go-livepeer aliases", () => {
  const cmd = buildProgram().commands.find((c) => c.name() === "orchestrator");
  assert.ok(cmd);
  let help = "";
  cmd.configureOutput({ writeOut: (s) => (help += s) });
  cmd.outputHelp();
  assert.match(help, /--ai-models <file>/);
  assert.match(help, /-aiModels, -serviceAddr, -orchSecret/);
  assert.match(help, /\/process\/request/);
});

test("tributary orchestrator runs with go-livepeer flags, serves /capabilities over TLS, stops on SIGTERM", async () => {
  const models = join(dir, "aiModels.json");
  writeFileSync(models, "[]");
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "orchestrator",
      "-orchestrator",
      "-aiModels",
      models,
      "-serviceAddr",
      "127.0.0.1:0",
      "-orchSecret",
      "s",
      "-network",
      "offchain",
      "-dataDir",
      dir,
      "--container-keep-alive",
      "--log-level",
      "silent",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    let out = "";
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${out}${err}`)));
    });
    const { body } = await get(`${url}/capabilities`);
    assert.deepEqual(JSON.parse(body).capabilities, []);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("an invalid aiModels.json stops the start with the entry and field named", async () => {
  const models = join(dir, "bad.json");
  writeFileSync(models, JSON.stringify([{ pipeline: "llm", model_id: "m" }]));
  const child = spawn(
    process.execPath,
    [MAIN, "orchestrator", "--ai-models", models, "--service-addr", "127.0.0.1:0", "--data-dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.match(err, /entry 0 \(llm\/m\): url/);
});

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { rejectUnauthorized: false, agent: false, headers }, (res) => {
      let b = "";
      res.on("data", (c) => {
        b += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
    })
      .on("error", reject)
      .end();
  });
}

test("a JSON keystore with the wrong -ethPassword: exit 1, the file named, no stack trace", async () => {
  const keyFile = join(dir, "wrong-pw.json");
  writeFileSync(keyFile, JSON.stringify(await encryptKeystore(`0x${"5a".repeat(32)}`, "right", FAST)));
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "orchestrator",
      "-network",
      "devnet",
      "-ethUrl",
      "http://127.0.0.1:1",
      "-ethKeystorePath",
      keyFile,
      "-ethPassword",
      "wrong",
      "-serviceAddr",
      "127.0.0.1:0",
      "-dataDir",
      join(dir, "wrong-pw-data"),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.match(err, new RegExp(`wrong password for key file ${keyFile}`));
  assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
});

test("--network devnet with a JSON keystore and a password file: ticket params for a signed sender, recipient = the keystore's address", async () => {
  await using devnet = await startDevnet();
  const keyFile = join(dir, "orch.json");
  writeFileSync(
    keyFile,
    JSON.stringify(await encryptKeystore(devnet.accounts.orchestrator.privateKey, "orch-pw", FAST)),
    { mode: 0o600 },
  );
  const passwordFile = join(dir, "orch.pw");
  writeFileSync(passwordFile, "orch-pw\n", { mode: 0o600 });
  const dataDir = join(dir, "devnet-data");
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "orchestrator",
      "-network",
      "devnet",
      "-ethUrl",
      devnet.rpcUrl,
      "-ethKeystorePath",
      keyFile,
      "-ethPassword",
      passwordFile,
      "-serviceAddr",
      "127.0.0.1:0",
      "-orchSecret",
      "s",
      "-dataDir",
      dataDir,
      "--log-level",
      "silent",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    let out = "";
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${out}${err}`)));
    });
    const gw = privateKeyToAccount(devnet.accounts.gateway.privateKey);
    const sig = await signPayload(gw, gw.address);
    const token = await get(`${url}/process/token`, {
      "livepeer-eth-address": Buffer.from(JSON.stringify({ addr: gw.address, sig })).toString("base64"),
      "livepeer-capability": "anything",
    });
    assert.equal(token.status, 200, token.body);
    const params = JSON.parse(token.body).ticket_params as { recipient: string };
    assert.equal(
      Buffer.from(params.recipient, "base64").toString("hex"),
      devnet.accounts.orchestrator.address.slice(2).toLowerCase(),
    );
    assert.equal(
      statSync(join(dataDir, "recipient-secret")).mode & 0o777,
      0o600,
      "recipient secret kept, private",
    );
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
