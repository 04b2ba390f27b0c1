import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createChainClients, type Devnet, readSenderInfo, startDevnet } from "../chain/index.ts";
import { depositCommand, parseAmount, runDeposit } from "./deposit.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, "deposit", ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test("amounts: bare numbers are wei, eth and gwei units convert exactly", () => {
  assert.equal(parseAmount("1000"), 1000n);
  assert.equal(parseAmount("0.5eth"), 5n * 10n ** 17n);
  assert.equal(parseAmount("1.25 ETH"), 125n * 10n ** 16n);
  assert.equal(parseAmount("20gwei"), 20n * 10n ** 9n);
  assert.throws(() => parseAmount("1.5"), /whole numbers/);
  assert.throws(() => parseAmount("-1"), /expected an amount/);
  assert.throws(() => parseAmount("lots"), /expected an amount/);
});

describe("tributary deposit against a devnet", () => {
  let devnet: Devnet;
  let dir: string;
  let keyFile: string;
  before(async () => {
    devnet = await startDevnet();
    dir = mkdtempSync(join(tmpdir(), "tributary-deposit-"));
    keyFile = join(dir, "gw.key");
    writeFileSync(keyFile, `${devnet.accounts.gateway.privateKey}\n`);
  });
  after(async () => {
    await devnet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("funds deposit and reserve and prints the new state (default devnet TicketBroker)", async () => {
    const r = await cli([
      "--amount",
      "0.25eth",
      "--reserve",
      "1eth",
      "--eth-url",
      devnet.rpcUrl,
      "--key-file",
      keyFile,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.sender, devnet.accounts.gateway.address);
    assert.equal(out.ticketBroker, devnet.contracts.ticketBroker);
    assert.equal(out.senderInfo.deposit, (25n * 10n ** 16n).toString());
    const info = await readSenderInfo(
      createChainClients({ rpcUrl: devnet.rpcUrl, chainId: devnet.chainId }),
      devnet.contracts.ticketBroker,
      devnet.accounts.gateway.address,
    );
    assert.equal(info.reserve.fundsRemaining, 10n ** 18n);

    const lines: string[] = [];
    const code = await runDeposit(
      { amount: 1000n, reserve: 0n, ethUrl: devnet.rpcUrl, keyFile },
      (l) => lines.push(l),
      (l) => lines.push(l),
    );
    assert.equal(code, 0, lines.join("\n"));
    assert.match(lines[0]!, /^funded sender 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 on chain 31337/);
    assert.match(lines.join("\n"), /now: +deposit 0\.250000000000001 ETH, reserve 1 ETH/);
  });

  test("errors are one clear line with a non-zero exit", async () => {
    const call = async (opts: Partial<Parameters<typeof runDeposit>[0]>) => {
      const lines: string[] = [];
      const code = await runDeposit(
        { amount: 1n, reserve: 0n, ethUrl: devnet.rpcUrl, keyFile, ...opts },
        (l) => lines.push(l),
        (l) => lines.push(l),
      );
      assert.equal(lines.length, 1, `one line: ${lines.join("\n")}`);
      return { code, line: lines[0]! };
    };
    let r = await call({ keyFile: join(dir, "nope.key") });
    assert.equal(r.code, 1);
    assert.match(r.line, /^error: cannot read key file .*nope\.key: ENOENT/);

    const badKey = join(dir, "bad.key");
    writeFileSync(badKey, "not a key");
    r = await call({ keyFile: badKey });
    assert.equal(r.code, 1);
    assert.match(r.line, /must hold a 32-byte hex private key/);

    r = await call({ ticketBroker: "0x000000000000000000000000000000000000dEaD" });
    assert.equal(r.code, 1);
    assert.match(r.line, /no contract at TicketBroker address 0x000000000000000000000000000000000000dEaD/);

    const poor = join(dir, "poor.key");
    writeFileSync(poor, `0x${"42".repeat(32)}`);
    r = await call({ keyFile: poor, amount: 10n ** 18n });
    assert.equal(r.code, 1);
    assert.match(r.line, /holds 0 wei but deposit \+ reserve is 1000000000000000000 wei/);

    r = await call({ ethUrl: "http://127.0.0.1:1" });
    assert.equal(r.code, 1);
    assert.match(r.line, /cannot reach the Ethereum RPC at http:\/\/127\.0\.0\.1:1/);

    r = await call({ amount: 0n });
    assert.equal(r.code, 2);
    assert.match(r.line, /nothing to fund/);
  });

  test("bad flags are usage errors", async () => {
    let err = "";
    const cmd = depositCommand()
      .exitOverride()
      .configureOutput({ writeErr: (t) => (err += t), writeOut: () => {} });
    await assert.rejects(
      cmd.parseAsync(["--amount", "abc", "--eth-url", devnet.rpcUrl, "--key-file", keyFile], {
        from: "user",
      }),
    );
    assert.match(err, /expected an amount/);
    err = "";
    await assert.rejects(cmd.parseAsync(["--amount", "1"], { from: "user" }));
    assert.match(err, /required option '--eth-url <url>' not specified/);
  });
});
