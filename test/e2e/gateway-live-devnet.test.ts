/**
 * Live video with payments on the devnet (anvil + our contracts): a client publishes synthetic
 * H.264/AAC MPEG-TS into the gateway, which starts the stream on a priced orchestrator with a signed
 * `Livepeer-Segment` and real tickets, relays it to the green-tint SDK container and tops the
 * stream up with `POST /payment`. The orchestrator credits the stream's manifest, debits it as the
 * stream runs, stores the winning tickets (face value just above EV: nearly every ticket wins) and
 * its redeemer redeems one on chain. Then a priced BYOC stream (`/process/stream/start`) with the
 * same container: tickets at start, `/ai/stream/payment` top-ups as the orchestrator debits the
 * capability balance, video relayed, update and stop reach the orchestrator.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEther } from "viem";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { initializeCurrentRound, mineBlocks } from "../../src/chain/index.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { startRunner } from "../../src/runner/index.ts";
import { TricklePublisher, TrickleSubscriber } from "../../src/trickle/index.ts";
import { devnetFixture } from "../devnet.ts";
import { poll, until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

/** Above the real redemption cost on anvil, which the redeemer checks. */
const EV = 10n ** 15n;
/** Wei per pixel: 60 s of 1280×720@30 at start costs ~1.7e15, i.e. two tickets. */
const PRICE_PER_PIXEL = 10 ** 6;
/** Wei per second of the BYOC stream: the 120 s balance the gateway keeps is six tickets. */
const BYOC_PRICE_PER_SECOND = 5 * 10 ** 13;

interface Status {
  state: string;
  orchestrator: string;
  manifest_id: string | null;
  payments: number;
  segments_in: number;
  segments_out: number;
  bytes_in: number;
  bytes_out: number;
  last_output_latency_ms: number | null;
  tickets_sent: number;
  paid_wei: string;
}

test("gateway live video and BYOC streams on the devnet", async (suite) => {
  const input = await syntheticSegments({ width: 192, height: 144, fps: 15, seconds: 8, audio: true });
  await using net = await devnetFixture({
    fundGateway: { deposit: parseEther("0.1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const runner = net.use(await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } }));
  await runner.loaded;
  const byocRunner = net.use(
    await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } }),
  );
  await byocRunner.loaded;
  // Face value just above EV: a ticket wins with probability EV/(EV+1).
  const onchain = await net.orchestratorPayments({ ticketEV: EV, maxFaceValue: EV + 1n });
  const orch = net.use(
    await startOrchestrator({
      port: 0,
      dataDir: net.dir,
      orchSecret: "s",
      streamDebitIntervalMs: 1000,
      network: "devnet",
      payments: onchain.gate,
      address: onchain.address,
      health: { intervalMs: 100, failureThreshold: 1 },
      streamCheckIntervalMs: 100,
      livePaymentIntervalMs: 1000,
      models: parseAiModels(
        JSON.stringify([
          {
            pipeline: "live-video-to-video",
            model_id: "green-tint",
            url: runner.url,
            price_per_unit: PRICE_PER_PIXEL,
          },
        ]),
      ),
    }),
  );
  const reg = await call(orch, "/capability/register", {
    method: "POST",
    headers: { authorization: "s" },
    body: JSON.stringify({
      name: "tint-stream",
      url: byocRunner.url,
      capacity: 1,
      price_per_unit: BYOC_PRICE_PER_SECOND,
    }),
  });
  assert.equal(reg.status, 200, reg.body);
  await poll(() =>
    ["green-tint", "tint-stream"].every((m) => orch.registry.advertised().some((a) => a.modelId === m)),
  );
  const gwChain = await net.gatewayPayments({ maxTicketEV: 10n * EV, maxTotalEV: 1000n * EV });
  const gw = net.use(
    await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      payments: gwChain.payments,
      livePaymentIntervalMs: 1000,
      byocStreamPaymentIntervalMs: 1000,
    }),
  );

  await suite.test(
    "a paid live stream: tickets sent at start and in top-ups, the stream credited and debited, output tinted, a winner redeemed",
    async () => {
      const r = await fetch(`${gw.url}/live/video-to-video`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model_id: "green-tint", params: { width: 192, height: 144, green: 80 } }),
      });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      const s = JSON.parse(text) as {
        publish_url: string;
        subscribe_url: string;
        status_url: string;
        stop_url: string;
      };
      const statusOf = async () => (await (await fetch(s.status_url)).json()) as Status;

      const started = await statusOf();
      assert.ok(started.manifest_id, "the orchestrator's manifest id is reported");
      assert.ok(
        started.tickets_sent >= 2,
        `60 s of pixels at start is two tickets, got ${started.tickets_sent}`,
      );
      assert.ok(BigInt(started.paid_wei) >= 2n * EV);
      const manifest = started.manifest_id;
      const gwAddr = gwChain.address;
      const credited = onchain.gate.balance(gwAddr, manifest);
      assert.ok(credited.cmp(0n) > 0, "the orchestrator credited the stream's manifest");

      const out: Uint8Array[] = [];
      const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
      const outDone = (async () => {
        for await (const seg of outSub) out.push(await seg.bytes());
      })();
      const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
      for (const seg of input) await pub.write(seg);
      await until("output through the gateway", () => out.length > 0, 15_000);
      const frame = (await decodeSegments(out.slice(0, 1), 192, 144)).video[0];
      assert.ok(frame, "the output decodes");
      assert.ok(channelMean(frame, 1) - channelMean(frame, 0) > 50, "and is tinted green");

      // Top-ups every second: more tickets, and the gateway's stats count them.
      let st = await statusOf();
      await until("the gateway to top the stream up", async () => {
        st = await statusOf();
        return st.payments > 0;
      });
      assert.equal(st.state, "running");
      assert.ok(st.tickets_sent > started.tickets_sent);
      assert.ok(BigInt(st.paid_wei) > BigInt(started.paid_wei));
      assert.ok(st.segments_in > 0 && st.bytes_in > 0);
      assert.ok(st.segments_out > 0 && st.bytes_out > 0);
      assert.ok(st.last_output_latency_ms !== null && st.last_output_latency_ms >= 0);

      // The orchestrator debits the stream every second: its balance is under what was sent (read
      // before the gateway's figure, so a top-up in between cannot make it look over).
      await poll(async () => {
        st = await statusOf();
        return st.payments >= 2;
      });
      const balance = onchain.gate.balance(gwAddr, manifest);
      st = await statusOf();
      const oneDebit = BigInt(PRICE_PER_PIXEL) * 1280n * 720n * 30n;
      assert.ok(
        balance.cmp(BigInt(st.paid_wei) - oneDebit / 2n) < 0,
        `balance ${balance.toFixed(0)} after debits, paid ${st.paid_wei}`,
      );
      assert.ok(balance.cmp(0n) > 0, "and still positive: the stream is paid ahead");

      // Winners are stored by the orchestrator, for the gateway's address.
      const won = onchain.store.listWinningTickets({ limit: 100 });
      assert.ok(won.length >= st.tickets_sent - 1, `stored ${won.length} of ${st.tickets_sent}`);
      assert.ok(won.every((t) => t.ticket.sender.toLowerCase() === gwAddr.toLowerCase()));

      const stop = await fetch(s.stop_url, { method: "POST" });
      assert.equal(stop.status, 200);
      await pub.close();
      outSub.close();
      await outDone;

      // Redemption: after the ticket params' expiration block and a new round.
      await mineBlocks(devnet.rpcUrl, 41);
      const d = net.clients("deployer");
      await initializeCurrentRound(d, devnet.contracts.roundsManager);
      const head = await d.publicClient.getBlockNumber({ cacheTime: 0 });
      const first = won[0];
      assert.ok(first);
      await until(
        () => `a winner to be redeemed: ${onchain.store.getWinningTicket(first.id)?.lastError}`,
        async () => {
          await onchain.redeemer.runOnce();
          return onchain.store.getWinningTicket(first.id)?.status === "redeemed";
        },
        30_000,
        250,
      );
      // Both nodes see the new blocks before the next test (else the orchestrator's ticket params,
      // made on its older view, look expired to the gateway: the gateway retries, but slowly).
      await poll(
        () => onchain.facts.lastSeenL1Block() >= head && gwChain.facts.lastSeenL1Block() >= head,
        10_000,
        50,
      );
    },
  );

  await suite.test(
    "a paid BYOC stream: tickets at start and in /ai/stream/payment top-ups, the capability balance credited, video relayed, stopped on the orchestrator",
    async () => {
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
      const s = JSON.parse(text) as {
        publish_url: string;
        subscribe_url: string;
        status_url: string;
        stop_url: string;
        update_url: string;
      };
      const statusOf = async () => (await (await fetch(s.status_url)).json()) as Status;
      const started = await statusOf();
      assert.ok(
        started.tickets_sent >= 6,
        `120 s of price at start is six tickets, got ${started.tickets_sent}`,
      );
      const gwAddr = gwChain.address;
      assert.ok(
        onchain.gate.balance(gwAddr, "tint-stream").cmp(0n) > 0,
        "the capability balance is credited",
      );

      const out: Uint8Array[] = [];
      const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
      const outDone = (async () => {
        for await (const seg of outSub) out.push(await seg.bytes());
      })();
      const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
      for (const seg of input.slice(0, 3)) await pub.write(seg);
      await until("output through the gateway", () => out.length > 0, 15_000);

      // Debited every second by the orchestrator, the balance falls under 120 s of price: top-ups follow.
      let st = await statusOf();
      await until("the gateway to top the stream up with /ai/stream/payment", async () => {
        st = await statusOf();
        return st.payments > 0;
      });
      assert.equal(st.state, "running");
      assert.ok(st.tickets_sent > started.tickets_sent);
      assert.ok(BigInt(st.paid_wei) > BigInt(started.paid_wei));

      const upd = await fetch(s.update_url, { method: "POST", body: JSON.stringify({ green: 20 }) });
      assert.equal(upd.status, 200, await upd.text());
      const stop = await fetch(s.stop_url, { method: "POST", body: "{}" });
      assert.equal(stop.status, 200);
      await pub.close();
      outSub.close();
      await outDone;
      await until("the stream to stop on the orchestrator", () => orch.streamCount === 0, 5_000);
    },
  );
});
