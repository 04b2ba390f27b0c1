/**
 * OUR gateway, as an operator runs it (`tributary gateway --remote-signer-url … --remote-signer-headers
 * "Authorization:Bearer …"`, a child process with no key file, no network flags), paying OUR
 * orchestrator through OUR remote signer on the devnet. A BYOC job through the gateway is signed
 * (V1) and paid by the signer; the orchestrator credits the signer's address; the tickets the signer
 * counts are the tickets the orchestrator credited; the winners are the signer's and one is redeemed
 * on chain. Without --orch-addr the gateway finds the orchestrator through the signer's
 * `/discover-orchestrators`. The CLI refuses a key and a signer together, and an unreachable signer
 * at start.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseEther } from "viem";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { initializeCurrentRound, mineBlocks } from "../../src/chain/index.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { startRunner } from "../../src/runner/index.ts";
import { startSigner } from "../../src/signer/index.ts";
import { devnetFixture } from "../devnet.ts";
import { call } from "../e2e/orchestrator-helpers.ts";
import { poll, until } from "../until.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const EV = 10n ** 15n;
const PRICE_PER_SECOND = 10n ** 13n;
const TOKEN = "gateway-cli-token-0123456789";

/** Runs the CLI with `args` and an environment without any TRIBUTARY_* setting. */
function cli(args: string[]): ChildProcess {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TRIBUTARY_")));
  return spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
}

/** Exit code and stderr of a CLI run that should end by itself. */
async function exits(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = cli(args);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}

test("our gateway process with --remote-signer-url pays our orchestrator through our signer on the devnet", async (t) => {
  await using net = await devnetFixture({
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const runner = net.use(await startRunner(textReverse, { port: 0 }));
  const onchain = await net.orchestratorPayments({ ticketEV: EV, maxFaceValue: EV + 1n });
  const orch = net.use(
    await startOrchestrator({
      port: 0,
      dataDir: net.dir,
      orchSecret: "s",
      network: "devnet",
      payments: onchain.gate,
      address: onchain.address,
      health: { intervalMs: 100, failureThreshold: 1 },
    }),
  );
  const reg = await call(orch, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: "text-reverse",
      url: runner.url,
      capacity: 4,
      price_per_unit: Number(PRICE_PER_SECOND),
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  await poll(() => orch.registry.advertised().some((a) => a.modelId === "text-reverse"));
  const signer = await startSigner({
    port: 0,
    dataDir: join(net.dir, "signer"),
    network: "devnet",
    ethUrl: devnet.rpcUrl,
    contracts: devnet.contracts,
    privateKey: devnet.accounts.gateway.privateKey,
    maxTicketEV: 10n * EV,
    maxTotalEV: 1000n * EV,
    pollIntervalMs: 200,
    tokens: new Map([[TOKEN, "cli-gateway"]]),
    discovery: { orchAddr: [orch.url] },
  });
  t.after(() => signer.close());
  const gwDir = join(net.dir, "gateway");
  mkdirSync(gwDir, { recursive: true });
  const base = ["gateway", "--orch-addr", orch.url, "--http-addr", "127.0.0.1:0", "--data-dir", gwDir];

  await t.test("a key and a remote signer together are refused (exit 2)", async () => {
    const r = await exits([...base, "--remote-signer-url", signer.url, "--key-file", join(net.dir, "nokey")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--remote-signer-url and --key-file both given/);
  });

  await t.test(
    "an unreachable signer stops the start (exit 1, REMOTE_SIGNER_UNREACHABLE's message)",
    async () => {
      const r = await exits([...base, "-remoteSignerUrl", "http://127.0.0.1:9"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot reach the remote signer at http:\/\/127\.0\.0\.1:9/);
    },
  );

  /** Starts the CLI gateway with `args`; resolves once it prints that it listens. */
  const startCli = async (args: string[]) => {
    const child = cli(args);
    t.after(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const [line] = (await Promise.race([
      once(createInterface({ input: child.stdout! }), "line"),
      once(child, "exit").then(() => {
        throw new Error(`the gateway exited: ${stderr}`);
      }),
    ])) as [string];
    const m =
      /gateway listening on (http:\/\/[^ ]+) .*paying through the remote signer (\S+) as (0x[0-9a-fA-F]{40})/.exec(
        line,
      );
    assert.ok(m, line);
    const stop = async () => {
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      assert.equal(code, 0, stderr);
    };
    return { url: m[1]!, payer: m[3]!, stop };
  };
  /** A text-reverse job through the gateway at `gwUrl` (retried while it has no orchestrator yet). */
  const textReverseJob = async (gwUrl: string) => {
    let res: Response | undefined;
    await until("the gateway to run the job", async () => {
      res = await fetch(`${gwUrl}/text-reverse`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "abc" }),
      });
      return res.status !== 503;
    });
    const text = await res!.text();
    assert.equal(res!.status, 200, text);
    assert.deepEqual(JSON.parse(text), { text: "cba" });
  };

  await t.test(
    "a BYOC job through the keyless gateway process is paid by the signer and credited",
    async () => {
      const gw = await startCli([
        ...base,
        "-remoteSignerUrl",
        signer.url,
        "-remoteSignerHeaders",
        `Authorization:Bearer ${TOKEN}`,
      ]);
      assert.equal(gw.payer.toLowerCase(), signer.address.toLowerCase());
      await textReverseJob(gw.url);
      const metrics = await (await fetch(`${signer.url}/metrics`)).text();
      const tickets = Number(
        /tributary_signer_tickets_total\{app="cli-gateway"[^}]*\} (\d+)/.exec(metrics)?.[1],
      );
      assert.ok(tickets >= 1, metrics);
      assert.equal(
        onchain.gate.totals.tickets,
        tickets,
        "the orchestrator credited every ticket the signer made",
      );
      assert.ok(onchain.gate.balance(signer.address as `0x${string}`, "text-reverse").cmp(0n) > 0);
      await gw.stop();
    },
  );

  await t.test(
    "without --orch-addr the gateway finds the orchestrator through the signer's discovery",
    async () => {
      const before = onchain.gate.totals.tickets;
      const gw = await startCli([
        "gateway",
        "--http-addr",
        "127.0.0.1:0",
        "--data-dir",
        gwDir,
        "--remote-signer-url",
        signer.url,
        "--remote-signer-headers",
        JSON.stringify({ Authorization: `Bearer ${TOKEN}` }),
      ]);
      await textReverseJob(gw.url);
      assert.ok(onchain.gate.totals.tickets > before, "paid through the signer");
      await gw.stop();
    },
  );

  await t.test("the winners are the signer's and are redeemed on chain", async () => {
    const won = onchain.store.listWinningTickets({ limit: 100 });
    assert.ok(won.length >= 1);
    assert.ok(won.every((w) => w.ticket.sender.toLowerCase() === signer.address.toLowerCase()));
    await mineBlocks(devnet.rpcUrl, 41);
    await initializeCurrentRound(net.clients("deployer"), devnet.contracts.roundsManager);
    const redeemed = () =>
      won.filter((w) => onchain.store.getWinningTicket(w.id)?.status === "redeemed").length;
    await until(
      () => `a winner to be redeemed (${redeemed()} of ${won.length})`,
      async () => {
        await onchain.redeemer.runOnce();
        return redeemed() >= 1;
      },
      60_000,
      250,
    );
  });
});
