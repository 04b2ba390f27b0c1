/**
 * Fault injection: SIGKILL of the remote signer under load. The signer is a real child process
 * (`node src/cli/main.ts signer --network devnet …`); eight clients ask it for payments on one set
 * of ticket params as fast as it answers; it is SIGKILLed without warning and restarted on the same
 * data directory, and the clients go on.
 *
 * Pass criteria: no nonce is handed out twice, before or after the kill (a payment the signer
 * reserved but never answered leaves a gap, never a reuse); the first nonce after the restart is above
 * every nonce answered before; and a second signer started on the held data directory exits 1 with
 * DATA_DIR_LOCKED.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Hex, parseEther } from "viem";
import { createChainClients, type Devnet, fundSender, startDevnet } from "../../src/chain/index.ts";
import { OrchestratorInfoSchema, PriceInfoSchema } from "../../src/protocol/gen/lp_rpc_pb.ts";
import { decodePaymentHeader, ticketParamsToWire } from "../../src/protocol/payment-header.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const CLIENTS = 8;
const ORCH = `0x${"22".repeat(20)}` as const;

let devnet: Devnet;
let dir: string;
const children: ChildProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "fault-signer-"));
  devnet = await startDevnet();
  const g = createChainClients({
    rpcUrl: devnet.rpcUrl,
    chainId: devnet.chainId,
    privateKey: devnet.accounts.gateway.privateKey,
  });
  await fundSender(g, devnet.contracts.ticketBroker, { deposit: parseEther("1"), reserve: parseEther("1") });
  writeFileSync(join(dir, "gateway.key"), devnet.accounts.gateway.privateKey, { mode: 0o600 });
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await devnet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `tributary signer` and resolves with its URL once it listens (or its exit, if it exits). */
function startSigner(): Promise<{ child: ChildProcess; url?: string; code?: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "signer",
      "--network",
      "devnet",
      "--eth-url",
      devnet.rpcUrl,
      "--key-file",
      join(dir, "gateway.key"),
      "--data-dir",
      join(dir, "signer"),
      "--http-addr",
      "127.0.0.1:0",
      "--max-ticket-ev",
      String(10n ** 15n),
      "--max-total-ev",
      String(10n ** 18n),
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
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

/** One set of ticket params (EV 1e12) at 1 wei per unit, expiring far ahead. */
const orchestrator = Buffer.from(
  toBinary(
    OrchestratorInfoSchema,
    create(OrchestratorInfoSchema, {
      transcoder: "https://orch.example:8935",
      address: Buffer.from(ORCH.slice(2), "hex"),
      priceInfo: create(PriceInfoSchema, { pricePerUnit: 10n ** 11n, pixelsPerUnit: 1n }),
      ticketParams: ticketParamsToWire({
        recipient: ORCH,
        faceValue: 2n * 10n ** 12n,
        winProb: 2n ** 255n,
        recipientRandHash: `0x${"55".repeat(32)}` as Hex,
        seed: 1n,
        expirationBlock: 10n ** 9n,
      }),
    }),
  ),
).toString("base64");

test("signer SIGKILLed under load and restarted: no nonce handed out twice; a second signer on its data dir is refused", async () => {
  const first = await startSigner();
  assert.ok(first.url, `signer did not start: ${first.output}`);
  const answered: number[] = [];
  let url = first.url;
  let stop = false;
  let failures = 0;
  const client = async (): Promise<void> => {
    while (!stop) {
      try {
        const r = await fetch(`${url}/generate-live-payment`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ orchestrator, type: "live" }),
        });
        const body = (await r.json()) as { payment?: string };
        if (r.status === 200 && body.payment)
          for (const p of decodePaymentHeader(body.payment).senderParams) answered.push(p.senderNonce);
      } catch {
        failures++; // killed mid-request, or not up yet
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const clients = Array.from({ length: CLIENTS }, client);
  while (answered.length < 60) await new Promise((r) => setTimeout(r, 10));

  const second = await startSigner();
  assert.equal(second.code, 1, second.output);
  assert.match(second.output, /in use by another Tributary process/);

  first.child.kill("SIGKILL");
  await new Promise((r) => first.child.once("exit", r));
  const beforeKill = [...answered];
  const restarted = await startSigner();
  assert.ok(restarted.url, `signer did not restart: ${restarted.output}`);
  url = restarted.url;
  while (answered.length < beforeKill.length + 60) await new Promise((r) => setTimeout(r, 10));
  stop = true;
  await Promise.all(clients);
  restarted.child.kill("SIGTERM");
  assert.equal(await new Promise((r) => restarted.child.once("exit", r)), 0, "clean stop on SIGTERM");

  assert.equal(new Set(answered).size, answered.length, "a nonce was handed out twice");
  const after = answered.slice(beforeKill.length);
  assert.ok(Math.min(...after) > Math.max(...beforeKill), "nonces after the restart continue above");
  assert.ok(answered.length >= 120, `answered ${answered.length} (client errors ${failures})`);
});
