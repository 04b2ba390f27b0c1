/**
 * `tributary orchestrator` prices live runners in USD through the network's ETH/USD feed: on the
 * devnet the deployed PriceFeed by default (`-priceFeedAddr` names another), and `--price-feed-addr`
 * must be an address.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { privateKeyToAccount } from "viem/accounts";
import { startDevnet } from "../chain/devnet.ts";
import { OrchestratorInfoSchema } from "../protocol/gen/lp_rpc_pb.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "orch-feed-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    httpsRequest(
      url,
      {
        method: "POST",
        rejectUnauthorized: false,
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(text)),
          ...headers,
        },
      },
      (res) => {
        let b = "";
        res.on("data", (c) => {
          b += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    )
      .on("error", reject)
      .end(text);
  });
}

test("--network devnet: a runner priced in USD gets its 402 priced from the devnet's ETH/USD feed (the default -priceFeedAddr)", async () => {
  await using devnet = await startDevnet({ gatewayDeposit: 10n ** 18n, gatewayReserve: 10n ** 18n });
  const keyFile = join(dir, "orch.key");
  writeFileSync(keyFile, devnet.accounts.orchestrator.privateKey, { mode: 0o600 });
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
      "-serviceAddr",
      "127.0.0.1:0",
      "-orchSecret",
      "s",
      "-useLiveRunners",
      "-cliAddr",
      "127.0.0.1:0",
      "-dataDir",
      join(dir, "data"),
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
    const reg = await post(
      `${url}/runners/heartbeat`,
      {
        runner_url: "http://127.0.0.1:9",
        app: "usd/app",
        runner_id: "usd",
        price_info: { price: "3.6", unit: "hour" },
      },
      { authorization: "s" },
    );
    assert.equal(reg.status, 200, reg.body);
    const payer = privateKeyToAccount(devnet.accounts.gateway.privateKey);
    const challenge = await post(`${url}/apps/usd/session`, {}, { "livepeer-payer-address": payer.address });
    assert.equal(challenge.status, 402, challenge.body);
    const info = fromBinary(
      OrchestratorInfoSchema,
      Buffer.from(JSON.parse(challenge.body).payment_params, "base64"),
    );
    // 3.6 USD/hour = 0.001 USD/s; at the devnet's 3000 USD/ETH: 10^18 / 3,000,000 wei per second.
    assert.equal(info.priceInfo?.pricePerUnit, 10n ** 18n / 3_000_000n);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    assert.equal((await exited)[0], 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("--price-feed-addr must be an address", async () => {
  const child = spawn(process.execPath, [MAIN, "orchestrator", "-priceFeedAddr", "chainlink"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const [code] = await once(child, "exit");
  assert.notEqual(code, 0);
  assert.match(err, /--price-feed-addr.*expected a 0x-prefixed 20-byte address/);
});
