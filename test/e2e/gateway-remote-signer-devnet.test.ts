/**
 * Our gateway paying through our remote signer on the devnet (anvil + our contracts): the signer
 * holds the funded key; the gateway is started with `remoteSigner` only (no key, no Sender, no
 * chain). A BYOC batch job, a BYOC stream's start, a native AI (llm) job and a live stream's start
 * are paid by the signer; the orchestrator credits the signer's address, and the tickets and value
 * the signer and the gateway report agree with what the orchestrator credited; the winners are
 * redeemed on chain.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEther } from "viem";
import greenTint from "../../examples/green-tint/pipeline.ts";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { initializeCurrentRound, mineBlocks } from "../../src/chain/index.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { connectRemoteSigner } from "../../src/gateway/remote-signer.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { defineBatchPipeline, startRunner } from "../../src/runner/index.ts";
import { startSigner } from "../../src/signer/index.ts";
import { devnetFixture } from "../devnet.ts";
import { poll, until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

/** Above the real redemption cost on anvil, which the redeemer checks. */
const EV = 10n ** 15n;
/** Wei per second of text-reverse: the signer's BYOC opening (60 s) is 6e14, one ticket. */
const PRICE_PER_SECOND = 10n ** 13n;
/** Wei per pixel of green-tint: 60 s of 1280×720@30 at start is ~1.7e15, two tickets. */
const PRICE_PER_PIXEL = 10 ** 6;
/** Wei per llm token: 50 tokens is 5e14, one ticket. */
const PRICE_PER_TOKEN = 10 ** 13;
const TOKEN = "gateway-token-0123456789";

/** A counter of the signer's /metrics, summed over its labels. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(" ").at(-1));
  return sum;
}

test("gateway --remote-signer-url on the devnet: BYOC and live paid by our signer, credited by our orchestrator, winners redeemed", async (t) => {
  await using net = await devnetFixture({
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const byocRunner = net.use(await startRunner(textReverse, { port: 0 }));
  const liveRunner = net.use(
    await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } }),
  );
  await liveRunner.loaded;
  const streamRunner = net.use(
    await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } }),
  );
  await streamRunner.loaded;
  const llmRunner = net.use(
    await startRunner(
      defineBatchPipeline({
        name: "llm",
        run: (i: { prompt: string; max_tokens: number }) => ({ text: `${i.prompt}!`, tokens: i.max_tokens }),
      }),
      { port: 0 },
    ),
  );
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
      // No stream debit within the test: the live credit stays what was paid.
      streamDebitIntervalMs: 600_000,
      models: parseAiModels(
        JSON.stringify([
          {
            pipeline: "live-video-to-video",
            model_id: "green-tint",
            url: liveRunner.url,
            price_per_unit: PRICE_PER_PIXEL,
          },
          { pipeline: "llm", model_id: "paid-llm", url: llmRunner.url, price_per_unit: PRICE_PER_TOKEN },
        ]),
      ),
    }),
  );
  const reg = await call(orch, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: "text-reverse",
      url: byocRunner.url,
      capacity: 4,
      price_per_unit: Number(PRICE_PER_SECOND),
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  const regStream = await call(orch, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: "tint-stream",
      url: streamRunner.url,
      capacity: 1,
      price_per_unit: Number(PRICE_PER_SECOND),
    }),
  });
  assert.equal(regStream.status, 200, regStream.body);
  await poll(() =>
    ["green-tint", "text-reverse", "paid-llm", "tint-stream"].every((m) =>
      orch.registry.advertised().some((a) => a.modelId === m),
    ),
  );

  const signer = await startSigner({
    port: 0,
    dataDir: `${net.dir}/signer`,
    network: "devnet",
    ethUrl: devnet.rpcUrl,
    contracts: devnet.contracts,
    privateKey: devnet.accounts.gateway.privateKey,
    maxTicketEV: 10n * EV,
    maxTotalEV: 1000n * EV,
    pollIntervalMs: 200,
    tokens: new Map([[TOKEN, "our-gateway"]]),
  });
  t.after(() => signer.close());
  const signerMetrics = async () => (await fetch(`${signer.url}/metrics`)).text();

  await t.test("without the signer's token the gateway does not start (fails fast)", async () => {
    await assert.rejects(
      connectRemoteSigner({ url: signer.url }),
      (e: Error & { code?: string }) => e.code === "REMOTE_SIGNER_REFUSED" && /HTTP 401/.test(e.message),
    );
  });

  const client = await connectRemoteSigner({
    url: signer.url,
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(client.address.toLowerCase(), signer.address.toLowerCase());
  // The gateway gets no key and no Sender: only the signer client.
  const gw = net.use(
    await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      remoteSigner: client,
      livePaymentIntervalMs: 1000,
    }),
  );
  const payer = signer.address as `0x${string}`;

  let byocTickets = 0;
  await t.test(
    "a BYOC batch job is signed (V1) and paid by the signer; the orchestrator credits it",
    async () => {
      // GetOrchestrator signed with the signer's address and signature: the orchestrator answers.
      await until(
        "the gateway's pool to hold the orchestrator",
        async () => (await gw.pool.current()).length > 0,
      );
      const r = await fetch(`${gw.url}/text-reverse`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: "abc" }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      assert.deepEqual(JSON.parse(text), { text: "cba" });

      const m = await signerMetrics();
      byocTickets = metric(m, "tributary_signer_tickets_total");
      const spent = metric(m, "tributary_signer_spent_wei_total");
      assert.ok(byocTickets >= 1, `the signer made ${byocTickets} tickets`);
      assert.equal(onchain.gate.totals.tickets, byocTickets, "the orchestrator credited every ticket");
      // What the signer paid, less the seconds the job was billed, is the sender's balance.
      const balance = Number(onchain.gate.balance(payer, "text-reverse").toFixed(0));
      const billed = spent - balance;
      assert.ok(
        billed >= Number(PRICE_PER_SECOND) && billed <= 10 * Number(PRICE_PER_SECOND),
        `spent ${spent}, balance ${balance}: billed ${billed / Number(PRICE_PER_SECOND)} s`,
      );
    },
  );

  await t.test(
    "a live stream's start is paid through the signer: tickets and value match the credited manifest",
    async () => {
      const r = await fetch(`${gw.url}/live/video-to-video`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model_id: "green-tint", params: { width: 192, height: 144, green: 80 } }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const s = JSON.parse(text) as { status_url: string; stop_url: string };
      const st = (await (await fetch(s.status_url)).json()) as {
        manifest_id: string;
        tickets_sent: number;
        paid_wei: string;
      };
      assert.ok(st.manifest_id);
      assert.ok(st.tickets_sent >= 2, `60 s of pixels is two tickets, sent ${st.tickets_sent}`);
      const credited = onchain.gate.balance(payer, st.manifest_id);
      assert.ok(
        BigInt(credited.floor().toString()) === BigInt(st.paid_wei),
        `credited ${credited.toFixed(0)}, the gateway says it paid ${st.paid_wei}`,
      );
      const m = await signerMetrics();
      assert.equal(metric(m, "tributary_signer_tickets_total"), byocTickets + st.tickets_sent);
      assert.equal(onchain.gate.totals.tickets, byocTickets + st.tickets_sent);
      // Top-ups every second: the signer's credit estimate covers them (482), nothing more is sent.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const after = (await (await fetch(s.status_url)).json()) as { tickets_sent: number };
      assert.equal(after.tickets_sent, st.tickets_sent);
      const stop = await fetch(s.stop_url, { method: "POST" });
      assert.equal(stop.status, 200);
    },
  );

  await t.test(
    "a BYOC stream's start is signed and paid by the signer and credited to the capability",
    async () => {
      const before = onchain.gate.totals.tickets;
      const header = Buffer.from(
        JSON.stringify({
          request: "{}",
          parameters: JSON.stringify({ enable_video_ingress: true, enable_video_egress: true }),
          capability: "tint-stream",
          timeout_seconds: 30,
        }),
      ).toString("base64");
      const r = await fetch(`${gw.url}/process/stream/start`, {
        method: "POST",
        headers: { livepeer: header, "content-type": "application/json" },
        body: JSON.stringify({ params: JSON.stringify({ width: 160, height: 120, green: 80 }) }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const s = JSON.parse(text) as { status_url: string; stop_url: string };
      const st = (await (await fetch(s.status_url)).json()) as { tickets_sent: number; paid_wei: string };
      assert.ok(st.tickets_sent >= 1, `sent ${st.tickets_sent}`);
      assert.equal(
        onchain.gate.totals.tickets - before,
        st.tickets_sent,
        "the orchestrator credited each ticket",
      );
      const credited = onchain.gate.balance(payer, "tint-stream");
      assert.ok(
        credited.cmp(0n) > 0 && credited.cmp(BigInt(st.paid_wei) + 1n) <= 0,
        `credited ${credited.toFixed(0)}`,
      );
      const stop = await fetch(s.stop_url, { method: "POST", body: "{}" });
      assert.equal(stop.status, 200);
    },
  );

  await t.test("a native AI (llm) job is paid through the signer at the model's price", async () => {
    const before = onchain.gate.totals.tickets;
    const signed = metric(await signerMetrics(), "tributary_signer_tickets_total");
    const r = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "paid-llm", prompt: "hi", max_tokens: 50 }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.deepEqual(JSON.parse(text), { text: "hi!", tokens: 50 });
    const made = metric(await signerMetrics(), "tributary_signer_tickets_total") - signed;
    assert.ok(made >= 1, `the signer made ${made} tickets`);
    assert.equal(onchain.gate.totals.tickets - before, made, "the orchestrator credited them");
  });

  await t.test("the winners are the signer's and are redeemed on chain", async () => {
    const won = onchain.store.listWinningTickets({ limit: 100 });
    assert.ok(won.length >= 1);
    assert.ok(won.every((w) => w.ticket.sender.toLowerCase() === payer.toLowerCase()));
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
