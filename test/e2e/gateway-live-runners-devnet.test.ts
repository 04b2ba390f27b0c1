/**
 * A priced live runner reached through our gateway on the devnet (anvil + our contracts): the
 * orchestrator pays by tickets into its recipient; the gateway pays the 402 challenge of the session
 * it reserves for its user (its own key and Sender, then through our remote signer), tops the session
 * up while it lives, and carries the user's calls. The user holds no key and gets answers; the
 * orchestrator's balance for the gateway's address on the session grows with the top-ups; after the
 * user stops the session the gateway pays nothing more and the orchestrator released it; the winning
 * tickets are the gateway's (or the signer's) and are redeemed on chain. A fixed-priced single-shot
 * runner is paid once per call through the gateway. A session whose calls stop is
 * stopped by the gateway after its idle timeout, and its payments end too.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Address, parseEther } from "viem";
import { initializeCurrentRound, mineBlocks } from "../../src/chain/index.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { connectRemoteSigner } from "../../src/gateway/remote-signer.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { startSigner } from "../../src/signer/index.ts";
import { postJson, startTinyRunner } from "../conformance/live-runner-kit.ts";
import { devnetFixture } from "../devnet.ts";
import { until } from "../until.ts";

/** Above the real redemption cost on anvil; face value EV + 1: every ticket wins. */
const EV = 10n ** 15n;
/** Wei per second: the 10 s paid upfront are one ticket, each 1 s top-up one more. */
const PRICE = 10n ** 14n;
/** Wei per single-shot call of the fixed-priced runner: one ticket. */
const FIXED_PRICE = 5n * 10n ** 14n;
const TOKEN = "runner-gateway-token-0123456789";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a priced live runner through the gateway on the devnet: paid reservation, top-ups, answers, stop ends the payments, winners redeemed", async (t) => {
  await using net = await devnetFixture({
    fundGateway: { deposit: parseEther("1"), reserve: parseEther("1") },
  });
  const { devnet } = net;
  const runner = net.use(await startTinyRunner());
  const onchain = await net.orchestratorPayments({ ticketEV: EV, maxFaceValue: EV + 1n });
  const orch = net.use(
    await startOrchestrator({
      port: 0,
      dataDir: net.dir,
      orchSecret: "s",
      network: "devnet",
      payments: onchain.gate,
      address: onchain.address,
      livePaymentIntervalMs: 1000,
      liveRunners: {},
    }),
  );
  /** Registers a runner and keeps it heartbeating (its TTL is 20 s), as the SDKs do. */
  const register = async (runnerId: string, extra: Record<string, unknown>) => {
    const body = { runner_url: runner.url, capacity: 4, runner_id: runnerId, ...extra };
    const reg = await postJson(`${orch.url}/runners/heartbeat`, body, { authorization: "s" });
    assert.equal(reg.status, 200, reg.text);
    const secret = (reg.json() as { heartbeat_secret: string }).heartbeat_secret;
    const beat = setInterval(
      () => void postJson(`${orch.url}/runners/heartbeat`, body, { authorization: secret }).catch(() => {}),
      2000,
    );
    net.defer(() => clearInterval(beat));
  };
  await register("paid", {
    app: "paid/echo",
    price_info: { price: Number(PRICE), currency: "wei", unit: "seconds" },
  });
  await register("once-fixed", {
    app: "paid/once",
    mode: "single-shot",
    price_info: { price: Number(FIXED_PRICE), currency: "wei", unit: "fixed" },
  });
  const sessions = () => orch.runners?.registry.get("paid")?.sessions.size ?? 0;

  const gwChain = await net.gatewayPayments({ maxTicketEV: 10n * EV, maxTotalEV: 1000n * EV });
  const gw = net.use(
    await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      payments: gwChain.payments,
      liveRunnerDiscoveryIntervalMs: 200,
      liveRunnerSessions: { topUpEveryMs: 1000 },
    }),
  );
  await until(
    "the gateway to list the priced runner",
    async () => (await (await fetch(`${gw.url}/discovery`)).text()).includes('"paid/echo"'),
    15_000,
  );

  await t.test("the user reserves and calls with no key; the gateway pays and tops up", async () => {
    const r = await fetch(`${gw.url}/apps/paid%2Fecho/session`, { method: "POST" });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as { app_url: string; control_url: string };
    assert.ok(s.app_url.startsWith(gw.url), "the user calls the gateway");
    const echo = await postJson(`${s.app_url}/echo`, { hello: 1 });
    assert.equal(echo.status, 200, echo.text);
    const manifest = echo.json().session_id as string;
    assert.ok(manifest, "the orchestrator's session id reached the runner");
    const payer = gwChain.address;
    const balance = () => onchain.gate.balance(payer, manifest);
    assert.ok(balance().cmp(0n) > 0, "the reservation was paid by the gateway's address");
    const reserveTickets = onchain.gate.totals.tickets;
    assert.ok(reserveTickets >= 1);

    // Top-ups of one ticket (1e15) a second against a charge of 1e14 a second: the credit grows.
    const first = balance();
    await until(
      () => `the balance to grow (${balance().toFixed(0)})`,
      async () => balance().cmp(first.add(EV)) > 0,
      10_000,
    );
    assert.ok(onchain.gate.totals.tickets >= reserveTickets + 2, "top-ups are tickets");
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 200, "answers while paid");

    const stop = await fetch(`${s.control_url}/stop`, { method: "POST" });
    assert.equal(stop.status, 204);
    await until("the orchestrator released the session", async () => sessions() === 0, 5000);
    const after = onchain.gate.totals.tickets;
    await sleep(2500);
    assert.equal(onchain.gate.totals.tickets, after, "no payment after the stop");
    assert.equal((await fetch(`${s.app_url}/echo`)).status, 404, "the session is gone at the gateway");
  });

  await t.test("a fixed-priced single-shot runner through the gateway: each call paid once", async () => {
    await until(
      "the gateway to list the single-shot runner",
      async () => (await (await fetch(`${gw.url}/discovery`)).text()).includes('"paid/once"'),
      15_000,
    );
    const before = onchain.gate.totals.tickets;
    const a = await postJson(`${gw.url}/apps/paid%2Fonce/app/echo?n=1`, { one: 1 });
    assert.equal(a.status, 200, a.text);
    const got = a.json() as { path: string; query: string; body: string; session_id: string };
    assert.deepEqual([got.path, got.query, got.body], ["/echo", "?n=1", '{"one":1}']);
    assert.equal(onchain.gate.totals.tickets, before + 1, "one ticket for the call");
    const left = onchain.gate.balance(gwChain.address, got.session_id);
    assert.ok(left.cmp(0n) >= 0 && left.cmp(EV) < 0, `charged the fixed price once: ${left.toFixed(0)} left`);
    const b = await postJson(`${gw.url}/apps/paid%2Fonce/app/echo`, {});
    assert.equal(b.status, 200, b.text);
    assert.equal(onchain.gate.totals.tickets, before + 2, "the next call is paid again");
  });

  await t.test("the same through our remote signer: the signer's address is credited", async () => {
    const signer = net.use(
      await startSigner({
        port: 0,
        dataDir: `${net.dir}/signer`,
        network: "devnet",
        ethUrl: devnet.rpcUrl,
        contracts: devnet.contracts,
        privateKey: devnet.accounts.gateway.privateKey,
        maxTicketEV: 10n * EV,
        maxTotalEV: 1000n * EV,
        pollIntervalMs: 200,
        tokens: new Map([[TOKEN, "runner-gateway"]]),
      }),
    );
    const client = await connectRemoteSigner({
      url: signer.url,
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    const sgw = net.use(
      await startGateway({
        port: 0,
        discovery: { orchAddr: [orch.url] },
        remoteSigner: client,
        liveRunnerDiscoveryIntervalMs: 200,
        liveRunnerSessions: { topUpEveryMs: 1000 },
      }),
    );
    await until(
      "the signer gateway to list the runner",
      async () => (await (await fetch(`${sgw.url}/discovery`)).text()).includes('"paid/echo"'),
      15_000,
    );
    const before = onchain.gate.totals.tickets;
    const r = await fetch(`${sgw.url}/apps/paid/session`, { method: "POST" });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as { app_url: string; control_url: string };
    const echo = await postJson(`${s.app_url}/echo`, {});
    assert.equal(echo.status, 200, echo.text);
    const manifest = echo.json().session_id as string;
    assert.ok(onchain.gate.totals.tickets > before, "the signer's tickets were credited");
    assert.ok(onchain.gate.balance(signer.address as Address, manifest).cmp(0n) > 0);
    // The signer paid 10 s first; its top-ups pay the time since its last payment once its credit
    // estimate runs low (482 until then): the session stays paid.
    await sleep(3000);
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 200, "still paid");
    assert.equal((await fetch(`${s.control_url}/stop`, { method: "POST" })).status, 204);
    await until("released", async () => sessions() === 0, 5000);
  });

  await t.test("a session whose calls stopped is stopped when idle: the gateway pays no more", async () => {
    const igw = net.use(
      await startGateway({
        port: 0,
        discovery: { orchAddr: [orch.url] },
        payments: gwChain.payments,
        liveRunnerDiscoveryIntervalMs: 200,
        liveRunnerSessions: { topUpEveryMs: 500, idleTimeoutMs: 1500 },
      }),
    );
    await until(
      "the idle gateway to list the runner",
      async () => (await (await fetch(`${igw.url}/discovery`)).text()).includes('"paid/echo"'),
      15_000,
    );
    const r = await fetch(`${igw.url}/apps/paid/session`, { method: "POST" });
    assert.equal(r.status, 200);
    const s = (await r.json()) as { app_url: string };
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 200);
    await until("the idle session stopped at the orchestrator", async () => sessions() === 0, 10_000);
    const after = onchain.gate.totals.tickets;
    await sleep(1500);
    assert.equal(onchain.gate.totals.tickets, after, "no top-up after the idle stop");
    assert.equal((await fetch(`${s.app_url}/echo`)).status, 404);
  });

  await t.test("the winners are the payers' and are redeemed on chain", async () => {
    const won = onchain.store.listWinningTickets({ limit: 200 });
    assert.ok(won.length >= 3, `${won.length} winners`);
    const payers = new Set(won.map((w) => w.ticket.sender.toLowerCase()));
    assert.ok(payers.has(gwChain.address.toLowerCase()), "the gateway's");
    await mineBlocks(devnet.rpcUrl, 41);
    await initializeCurrentRound(net.clients("deployer"), devnet.contracts.roundsManager);
    const redeemed = () =>
      won.filter((w) => onchain.store.getWinningTicket(w.id)?.status === "redeemed").length;
    await until(
      () => `winners to be redeemed (${redeemed()} of ${won.length})`,
      async () => {
        await onchain.redeemer.runOnce();
        return redeemed() >= 1;
      },
      60_000,
      250,
    );
  });
});
