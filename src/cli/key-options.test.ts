import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { privateKeyToAddress } from "viem/accounts";
import { encryptKeystore } from "../chain/keystore.ts";
import { GATEWAY_GO_FLAG_ALIASES } from "./gateway.ts";
import { keyFileOf, loadNodeKey } from "./key-options.ts";
import { translateGoFlags } from "./options.ts";
import { GO_FLAG_ALIASES } from "./orchestrator.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const FAST = { n: 1024, r: 8, p: 1 };
const dir = mkdtempSync(join(tmpdir(), "key-opts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("-ethPassword and -ethAcctAddr are aliases on both nodes", () => {
  for (const aliases of [GO_FLAG_ALIASES, GATEWAY_GO_FLAG_ALIASES])
    assert.deepEqual(
      translateGoFlags(["-ethKeystorePath", "k", "-ethPassword=p", "-ethAcctAddr", "0x1"], aliases),
      ["--key-file", "k", "--password=p", "--eth-acct-addr", "0x1"],
    );
});

test("loadNodeKey: nothing without --key-file; a keystore directory with --eth-acct-addr and a password", async () => {
  assert.equal(await loadNodeKey({}), undefined);
  const keys = [`0x${"01".repeat(32)}`, `0x${"02".repeat(32)}`] as const;
  const ksDir = join(dir, "keystore");
  mkdirSync(ksDir);
  for (const [i, k] of keys.entries())
    writeFileSync(join(ksDir, `UTC--${i}`), JSON.stringify(await encryptKeystore(k, "pw", FAST)));
  assert.equal(
    await loadNodeKey({ keyFile: ksDir, password: "pw", ethAcctAddr: privateKeyToAddress(keys[1]) }),
    keys[1],
  );
});

test("without --key-file, <data-dir>/keystore is used when it exists (go-livepeer's default -ethKeystorePath)", async () => {
  const dataDir = join(dir, "node-data");
  mkdirSync(dataDir);
  assert.equal(keyFileOf({ dataDir }), undefined);
  assert.equal(await loadNodeKey({ dataDir }), undefined);
  mkdirSync(join(dataDir, "keystore"));
  const key = `0x${"0c".repeat(32)}` as const;
  writeFileSync(join(dataDir, "keystore", "UTC--x"), JSON.stringify(await encryptKeystore(key, "pw", FAST)));
  assert.equal(keyFileOf({ dataDir }), join(dataDir, "keystore"));
  assert.equal(keyFileOf({ dataDir, keyFile: "/given" }), "/given");
  assert.equal(await loadNodeKey({ dataDir, password: "pw" }), key);
});

test("the gateway CLI: a JSON keystore without or with a wrong password exits 1 naming the file, no stack trace", async () => {
  const keyFile = join(dir, "gw.json");
  writeFileSync(keyFile, JSON.stringify(await encryptKeystore(`0x${"6b".repeat(32)}`, "right", FAST)));
  const base = [
    MAIN,
    "gateway",
    "-network",
    "devnet",
    "-ethUrl",
    "http://127.0.0.1:1",
    "-ethKeystorePath",
    keyFile,
  ];
  base.push("-orchAddr", "127.0.0.1:1", "-httpAddr", "127.0.0.1:0");
  for (const [extra, re] of [
    [["-ethPassword", "wrong"], new RegExp(`wrong password for key file ${keyFile}`)],
    [[], new RegExp(`key file ${keyFile} is an encrypted JSON keystore.*--password`)],
  ] as const) {
    const child = spawn(process.execPath, [...base, ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 1, err);
    assert.match(err, re);
    assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
  }
});
