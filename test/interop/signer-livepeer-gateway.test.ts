/**
 * PyPI livepeer-gateway 1.0.0 paying OUR orchestrator through OUR remote signer on the devnet (the
 * Python side is test/interop/py/signer_gateway.py): `discover_orchestrators(signer_url=…)` finds the
 * orchestrator through the signer, and `submit_byoc_job(signer_url=…)` with no orchestrator given
 * discovers it, has the signer sign the job (V1) and make the tickets, and gets the text-reverse
 * container's answer; `start_lv2v(signer_url=…)` starts a green-tint stream paid by the signer, and
 * four payment cycles of its `PaymentSession` follow (each `send_payment` is the signer's state
 * round-trip and `POST /payment`; the SDK's own loop runs them per output segment, which needs media,
 * not sent here). The orchestrator credits the signer's address, stores the winners, and its
 * redeemer redeems them on chain; tickets, value paid and value redeemed agree.
 *
 * The Python client asks for BYOC ticket params over gRPC at port 8935 of the orchestrator's host
 * (fixed in livepeer-gateway 1.0.0), so the orchestrator listens on 127.0.0.1:8935 here.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseEther } from "viem";
import greenTint from "../../examples/green-tint/pipeline.ts";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { mineBlocks, readSenderInfo } from "../../src/chain/index.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { Rat } from "../../src/payments/rational.ts";
import { ticketEV } from "../../src/payments/ticket.ts";
import { startRunner } from "../../src/runner/index.ts";
import { startSigner } from "../../src/signer/index.ts";
import { devnetFixture } from "../devnet.ts";
import { call } from "../e2e/orchestrator-helpers.ts";
import { poll, until } from "../until.ts";
import { interopCache, type PeerResult, spawnPeer } from "./peers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "py", "signer_gateway.py");
const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;
const EV = 10n ** 15n;
const PRICE_PER_SECOND = 10n ** 13n;
/** Wei per pixel of the LV2V model: 60 s of 720p30 is 6.6e16 (67 tickets), each 1.1 s 1.2e15 (1 or 2 more). */
const PRICE_PER_PIXEL = 40_000_000;
const TOKEN = "interop-app-token-0123456789";

async function py(args: string[]): Promise<PeerResult> {
  const peer = spawnPeer(python, [SCRIPT, ...args], {
    timeoutMs: 90_000,
    env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
  });
  try {
    return await peer.done;
  } finally {
    await peer.kill();
  }
}

test("livepeer-gateway 1.0.0 with signer_url = tributary signer: discovery finds our orchestrator, submit_byoc_job and start_lv2v with its payments pay it, winners redeemed", {
  skip: !existsSync(python) && !process.env.CI ? missing : false,
}, async () => {
  assert.ok(existsSync(python), missing);
  // Long rounds: redeeming a block per winner must not cross into an uninitialized round.
  await using net = await devnetFixture({
    roundLength: 1000,
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const runner = net.use(await startRunner(textReverse, { port: 0 }));
  const tint = net.use(await startRunner(greenTint, { port: 0 }));
  await tint.loaded;
  const onchain = await net.orchestratorPayments({ ticketEV: EV, maxFaceValue: EV + 1n });
  const orch = net.use(
    await startOrchestrator({
      host: "127.0.0.1",
      port: 8935,
      dataDir: net.dir,
      orchSecret: "s",
      network: "devnet",
      payments: onchain.gate,
      address: onchain.address,
      health: { intervalMs: 100, failureThreshold: 1 },
      streamCheckIntervalMs: 100,
      models: parseAiModels(
        JSON.stringify([
          {
            pipeline: "live-video-to-video",
            model_id: "green-tint",
            url: tint.url,
            price_per_unit: PRICE_PER_PIXEL,
            warm: true,
          },
        ]),
      ),
    }),
  );
  const reg = await call(orch, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: "text-reverse",
      url: runner.url,
      capacity: 2,
      price_per_unit: Number(PRICE_PER_SECOND),
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  await poll(() =>
    ["text-reverse", "green-tint"].every((m) => orch.registry.advertised().some((a) => a.modelId === m)),
  );
  const signer = net.use(
    await startSigner({
      port: 0,
      dataDir: join(net.dir, "signer"),
      network: "devnet",
      ethUrl: devnet.rpcUrl,
      contracts: devnet.contracts,
      privateKey: devnet.accounts.gateway.privateKey,
      maxTicketEV: 10n * EV,
      maxTotalEV: 1000n * EV,
      pollIntervalMs: 200,
      tokens: new Map([[TOKEN, "interop"]]),
      discovery: { orchAddr: ["127.0.0.1:8935"] },
    }),
  );

  await until("the signer's discovery to see the orchestrator", async () => {
    const r = await fetch(`${signer.url}/discover-orchestrators`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return r.status === 200;
  });
  const d = await py(["discover", "--signer", signer.url, "--token", TOKEN]);
  const found = d.lines.find((l) => l.event === "discover");
  assert.ok(found, `${JSON.stringify(d.lines)}\n${d.stderr.slice(-3000)}`);
  assert.deepEqual(found.orchestrators, ["https://127.0.0.1:8935"]);

  const b = await py([
    "byoc",
    "--signer",
    signer.url,
    "--token",
    TOKEN,
    "--capability",
    "text-reverse",
    "--payload",
    '{"text":"signer"}',
  ]);
  const job = b.lines.find((l) => l.event === "byoc");
  assert.ok(job, `${JSON.stringify(b.lines)}\n${b.stderr.slice(-3000)}`);
  assert.equal(job.status, 200);
  assert.deepEqual(job.data, { text: "rengis" });
  assert.ok(onchain.gate.balance(signer.address as `0x${string}`, "text-reverse").cmp(0n) > 0, "credited");

  // start_lv2v through the signer, then four payment cycles of its session (state round-trip, POST /payment).
  const l = await py([
    "lv2v",
    "--signer",
    signer.url,
    "--token",
    TOKEN,
    "--orch",
    "127.0.0.1:8935",
    "--model",
    "green-tint",
    "--payments",
    "4",
  ]);
  const started = l.lines.find((x) => x.event === "started");
  assert.ok(started, `${JSON.stringify(l.lines)}\n${l.stderr.slice(-3000)}`);
  const paidCycles = l.lines.filter((x) => x.event === "payment").length;
  const skipped = l.lines.filter((x) => x.event === "skipped").length;
  assert.equal(paidCycles + skipped, 4, `${JSON.stringify(l.lines)}\n${l.stderr.slice(-3000)}`);
  assert.ok(paidCycles >= 2, `paid ${paidCycles} of 4 cycles`);
  assert.equal(l.code, 0, l.stderr.slice(-3000));
  const payments = signer.context.metrics.registry.getSingleMetric("tributary_signer_payments_total");
  const byType = new Map(
    ((await payments?.get())?.values ?? []).map((v) => [String(v.labels.type), v.value]),
  );
  assert.deepEqual(
    [byType.get("byoc"), byType.get("lv2v")],
    [1, 1 + paidCycles],
    "one BYOC payment; the LV2V start and each paid cycle",
  );

  // What the signer paid, what the orchestrator holds, what the chain redeemed.
  const spent = signer.context.store.spent("interop");
  assert.ok(spent.tickets >= 1);
  const won = onchain.store.listWinningTickets({ limit: 100 });
  assert.equal(
    won.length,
    spent.tickets,
    "every ticket wins (face value EV + 1, deterministic enough at this size)",
  );
  const evOf = (t: (typeof won)[number]) => ticketEV(t.ticket.faceValue, t.ticket.winProb);
  const paid = won.reduce((s, t) => s.add(evOf(t)), Rat.ZERO);
  assert.equal(paid.cmp(spent.wei), 0, `paid ${paid} vs spent ${spent.wei}`);
  await mineBlocks(devnet.rpcUrl, 45);
  await until(
    "the winners to be redeemed",
    async () => {
      await onchain.redeemer.runOnce();
      return won.every((w) => onchain.store.getWinningTicket(w.id)?.status === "redeemed");
    },
    60_000,
    250,
  );
  const redeemed = won.reduce((sum, t) => sum + t.ticket.faceValue, 0n);
  const info = await readSenderInfo(
    net.clients("gateway"),
    devnet.contracts.ticketBroker,
    signer.address as `0x${string}`,
  );
  assert.equal(parseEther("1") - info.deposit, redeemed, "the deposit paid exactly the redeemed face values");
});
