import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { startDevnet } from "../chain/devnet.ts";
import { GATEWAY_GO_FLAG_ALIASES } from "./gateway.ts";
import { buildProgram } from "./main.ts";
import { translateGoFlags as translateFlags } from "./options.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

test("go-livepeer gateway spellings become ours; implied booleans are dropped", () => {
  assert.deepEqual(
    translateFlags(
      [
        "-gateway",
        "-orchAddr",
        "a:1,b:2",
        "-httpAddr=0.0.0.0:8937",
        "--maxPricePerUnit",
        "5",
        "--",
        "-orchAddr",
      ],
      GATEWAY_GO_FLAG_ALIASES,
    ),
    ["--orch-addr", "a:1,b:2", "--http-addr=0.0.0.0:8937", "--max-price-per-unit", "5", "--", "-orchAddr"],
  );
});

test("--help lists the routes, the flags and the go-livepeer aliases", () => {
  const cmd = buildProgram().commands.find((c) => c.name() === "gateway");
  assert.ok(cmd);
  let help = "";
  cmd.configureOutput({ writeOut: (s) => (help += s) });
  cmd.outputHelp();
  for (const re of [
    /--orch-addr <list>/,
    /--http-addr <host:port>/,
    /--max-price-per-unit <wei>/,
    /--byoc-stream-payment-interval <duration>\s+on-chain: how often a BYOC stream's balance[\s\S]*\(default: 50s/,
    /-orchAddr, -orchWebhookUrl, -httpAddr/,
    /POST \/live\/video-to-video/,
  ])
    assert.match(help, re);
});

test("--byoc-stream-payment-interval (default 50 s) and --token-reuse (default 0) take durations and refuse a bad one", () => {
  const parse = (args: string[]) => {
    const cmd = buildProgram().commands.find((c) => c.name() === "gateway");
    assert.ok(cmd);
    cmd.exitOverride().configureOutput({ writeErr: () => {} });
    cmd.parseOptions(args);
    return cmd.opts() as { byocStreamPaymentInterval: number; tokenReuse: number };
  };
  assert.equal(parse([]).byocStreamPaymentInterval, 50_000);
  assert.equal(parse(["--byoc-stream-payment-interval", "20s"]).byocStreamPaymentInterval, 20_000);
  assert.equal(parse(["--byoc-stream-payment-interval=1500ms"]).byocStreamPaymentInterval, 1500);
  assert.equal(parse([]).tokenReuse, 0);
  assert.equal(parse(["--token-reuse", "2s"]).tokenReuse, 2000);
  assert.throws(() => parse(["--token-reuse", "later"]), /duration/);
  assert.throws(() => parse(["--byoc-stream-payment-interval", "soon"]), /duration/);
});

function run(args: string[]) {
  const child = spawn(process.execPath, [MAIN, "gateway", ...args], {
    env: { ...process.env, TRIBUTARY_LOG_LEVEL: "silent" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (err += c));
  return { child, out: () => out, err: () => err };
}

test("go-livepeer flags start a gateway that answers /health and stops on SIGTERM", async () => {
  const p = run(["-gateway", "-orchAddr", "127.0.0.1:1", "-httpAddr", "127.0.0.1:0", "-network", "offchain"]);
  for (let i = 0; i < 400 && !/listening on/.test(p.out()); i++) await new Promise((r) => setTimeout(r, 25));
  const url = /listening on (http:\/\/\S+)/.exec(p.out())?.[1];
  assert.ok(url, p.out() + p.err());
  const r = await fetch(`${url}/health`);
  assert.deepEqual(await r.json(), { status: "ok" });
  p.child.kill("SIGTERM");
  const [code] = await once(p.child, "exit");
  assert.equal(code, 0);
});

test("an on-chain network without --eth-url/--key-file, or offchain without discovery, exits 2 with what to do", async () => {
  const a = run(["--orch-addr", "127.0.0.1:1", "--network", "devnet", "--http-addr", "127.0.0.1:0"]);
  assert.equal((await once(a.child, "exit"))[0], 2);
  assert.match(a.err(), /needs --eth-url and --key-file/);
  const b = run(["--http-addr", "127.0.0.1:0"]);
  assert.equal((await once(b.child, "exit"))[0], 2);
  assert.match(b.err(), /--orch-addr/);
});

test("on the devnet the gateway starts with its key and says which address pays", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gw-cli-"));
  try {
    await using devnet = await startDevnet();
    const keyFile = join(dir, "gw.key");
    writeFileSync(keyFile, devnet.accounts.gateway.privateKey, { mode: 0o600 });
    const args = [
      "-network",
      "devnet",
      "-ethUrl",
      devnet.rpcUrl,
      "-ethKeystorePath",
      keyFile,
      "-dataDir",
      join(dir, "data"),
      "-orchAddr",
      "127.0.0.1:1",
      "-httpAddr",
      "127.0.0.1:0",
    ];
    const p = run(args);
    for (let i = 0; i < 400 && !/listening on/.test(p.out()) && p.child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.match(p.out(), new RegExp(`paying as ${devnet.accounts.gateway.address}`, "i"), p.err());
    // A second gateway on the same data directory is refused, naming the pid that holds it.
    const second = run(args);
    assert.equal((await once(second.child, "exit"))[0], 1);
    assert.match(second.err(), new RegExp(`in use by another Tributary process \\(pid ${p.child.pid}\\)`));
    p.child.kill("SIGTERM");
    const [code, signal] = await once(p.child, "exit");
    assert.equal(code, 0, `exit code ${code}, signal ${signal}; stderr: ${p.err().slice(-2000)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
