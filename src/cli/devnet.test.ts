import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createChainClients, DEVNET_DEFAULT_ADDRESSES, ticketBrokerAbi } from "../chain/index.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

test("tributary devnet prints addresses, keys and the RPC URL as JSON, serves the chain, and stops anvil on SIGTERM", async () => {
  const child = spawn(process.execPath, [MAIN, "devnet", "--port", "0", "--gateway-deposit", "0.5eth"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    let out = "";
    const summary = await new Promise<{
      rpcUrl: string;
      chainId: number;
      contracts: Record<string, string>;
      accounts: Record<string, { address: `0x${string}`; privateKey: string }>;
      round: string;
    }>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        try {
          resolve(JSON.parse(out));
        } catch {}
      });
      child.once("exit", (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    assert.match(summary.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(summary.chainId, 31337);
    assert.deepEqual(summary.contracts, DEVNET_DEFAULT_ADDRESSES);
    assert.match(summary.accounts.gateway!.privateKey, /^0x[0-9a-f]{64}$/);
    assert.notEqual(summary.round, "0");
    const { publicClient } = createChainClients({ rpcUrl: summary.rpcUrl, chainId: summary.chainId });
    const [sender] = await publicClient.readContract({
      address: DEVNET_DEFAULT_ADDRESSES.ticketBroker,
      abi: ticketBrokerAbi,
      functionName: "getSenderInfo",
      args: [summary.accounts.gateway!.address],
    });
    assert.equal(sender.deposit, 5n * 10n ** 17n);

    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0);
    await assert.rejects(
      fetch(summary.rpcUrl, { method: "POST", body: "{}", signal: AbortSignal.timeout(2000) }),
      "anvil is gone",
    );
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("tributary devnet rejects a bad port", async () => {
  const child = spawn(process.execPath, [MAIN, "devnet", "--port", "70000"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (c: Buffer) => {
    err += c.toString();
  });
  const [code] = await once(child, "exit");
  assert.notEqual(code, 0);
  assert.match(err, /expected a port number/);
});
