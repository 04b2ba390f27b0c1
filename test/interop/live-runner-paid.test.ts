/**
 * PyPI livepeer-gateway 1.0.0's live runner client calling a PRICED runner on the devnet, paid
 * through OUR remote signer (`tributary signer`), winners redeemed (the Python side is
 * test/interop/py/runner_paid_client.py):
 *
 * - direct: `reserve_session(orchestrators=[our orchestrator], signer_url=our signer)` answers our
 *   402 challenge with the signer's `/generate-live-payment` (type `live`), retries with
 *   `Livepeer-Payment`/`Livepeer-Segment`, and its payment loop tops the session up at the
 *   challenge's `payment_url`; `call_runner` gets the runner's answers; `aclose()` stops it.
 * - through our gateway: the Python client holds no key and no signer; our gateway, started with
 *   `remoteSigner` = the same signer, pays the runner session it reserves and carries the client's
 *   JSON and SSE calls; `stop_runner_session` at the gateway's control URL ends it.
 *
 * Both ways also call a fixed-priced single-shot runner, paid once per call (`fixed`).
 * The orchestrator credits the signer's address on each session; every winner is the signer's and
 * is redeemed on chain; the deposit paid exactly the redeemed face values.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Address, parseEther } from "viem";
import { initializeCurrentRound, mineBlocks, readSenderInfo } from "../../src/chain/index.ts";
import { startGateway } from "../../src/gateway/index.ts";
import { connectRemoteSigner } from "../../src/gateway/remote-signer.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { startSigner } from "../../src/signer/index.ts";
import { postJson, startTinyRunner } from "../conformance/live-runner-kit.ts";
import { devnetFixture } from "../devnet.ts";
import { until } from "../until.ts";
import { interopCache, type PeerLine, type PeerResult, spawnPeer } from "./peers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "py", "runner_paid_client.py");
const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;
/** Above the real redemption cost on anvil; face value EV + 1: every ticket wins. */
const EV = 10n ** 15n;
/** Wei per second: the signer's first 10 s are one ticket. */
const PRICE = 10n ** 14n;
/** Wei per call of the fixed-priced single-shot runner: one ticket. */
const FIXED_PRICE = 5n * 10n ** 14n;
const TOKEN = "interop-runner-token-0123456789";

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

function only(result: PeerResult, event: string): PeerLine {
  const found = result.lines.filter((l) => l.event === event);
  assert.equal(
    found.length,
    1,
    `expected one "${event}" line; lines: ${JSON.stringify(result.lines)}\nstderr: ${result.stderr.slice(-3000)}`,
  );
  return found[0] as PeerLine;
}

test("livepeer-gateway 1.0.0 calls a priced runner paid through tributary signer, directly and through our gateway; winners redeemed", {
  skip: !existsSync(python) && !process.env.CI ? missing : false,
}, async () => {
  assert.ok(existsSync(python), missing);
  // Long rounds: redeeming a block per winner must not cross into an uninitialized round.
  await using net = await devnetFixture({
    roundLength: 1000,
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
  await register("once", {
    app: "paid/once",
    mode: "single-shot",
    price_info: { price: Number(FIXED_PRICE), currency: "wei", unit: "fixed" },
  });
  const sessions = () => orch.runners?.registry.get("paid")?.sessions.size ?? 0;
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
    }),
  );
  const payer = signer.address as Address;
  /** The signer's payments of one type. */
  const payments = async (type: string): Promise<number> => {
    const m = signer.context.metrics.registry.getSingleMetric("tributary_signer_payments_total");
    return ((await m?.get())?.values ?? [])
      .filter((v) => v.labels.type === type)
      .reduce((sum, v) => sum + v.value, 0);
  };

  // 1. The Python client pays our orchestrator through our signer.
  const d = await py([
    "direct",
    "--orch",
    orch.url,
    "--app",
    "paid/echo",
    "--signer",
    signer.url,
    "--token",
    TOKEN,
    "--seconds",
    "7",
  ]);
  const reserved = only(d, "reserved");
  const sid = String(reserved.session_id);
  assert.ok(String(reserved.app_url).startsWith(`${orch.serviceUri}/apps/paid/session/`));
  const called = only(d, "called").data as Record<string, string>;
  assert.deepEqual([called.route, called.session_id], ["paid", sid], "the runner got the paid session");
  const later = only(d, "called_later");
  assert.equal((later.data as Record<string, string>).session_id, sid, "still paid 7 s later");
  assert.equal(later.released, false);
  only(d, "stopped");
  const once = only(d, "single_shot");
  const onceData = once.data as Record<string, string>;
  assert.deepEqual([onceData.path, onceData.route], ["/echo", "once"]);
  assert.equal(await payments("fixed"), 1, "the single-shot call was paid once through the signer");
  assert.equal(d.code, 0, d.stderr.slice(-3000));
  assert.ok(onchain.gate.balance(payer, sid).cmp(0n) > 0, "the signer's address is credited on the session");
  // The signer's first payment covers 10 s, about all of it charged by the time of the payment
  // loop's first 3 s cycle: that cycle pays a ticket at the challenge's payment_url.
  assert.ok((await payments("live")) >= 2, "the reservation and at least one top-up went through the signer");
  assert.ok(onchain.gate.totals.tickets >= 2, `${onchain.gate.totals.tickets} tickets credited`);
  await until("the orchestrator released the stopped session", async () => sessions() === 0, 5000);

  // 2. The same client, keyless, through our gateway paying with the same signer.
  const client = await connectRemoteSigner({
    url: signer.url,
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  const gw = net.use(
    await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      remoteSigner: client,
      liveRunnerDiscoveryIntervalMs: 200,
      liveRunnerSessions: { topUpEveryMs: 1000 },
    }),
  );
  await until(
    "the gateway to list the priced runner",
    async () => (await (await fetch(`${gw.url}/discovery`)).text()).includes('"paid/echo"'),
    15_000,
  );
  const ticketsBefore = onchain.gate.totals.tickets;
  const g = await py(["gateway", "--gw", gw.url, "--app", "paid/echo", "--seconds", "3"]);
  const gr = only(g, "reserved");
  assert.ok(String(gr.app_url).startsWith(`${gw.url}/apps/`), "the gateway's URLs");
  const gcalled = only(g, "called").data as Record<string, string>;
  assert.equal(gcalled.route, "paid");
  const orchSid = gcalled.session_id as string;
  assert.notEqual(orchSid, gr.session_id, "the gateway's own session id");
  const sse = only(g, "sse");
  assert.equal(sse.status, 200);
  assert.deepEqual(sse.data, [{ n: 0 }, { n: 1 }, { n: 2 }]);
  assert.equal((only(g, "called_later").data as Record<string, string>).session_id, orchSid);
  only(g, "stopped");
  const gOnce = only(g, "single_shot").data as Record<string, string>;
  assert.deepEqual([gOnce.path, gOnce.route], ["/echo", "once"], "a single-shot call the gateway paid");
  assert.equal(await payments("fixed"), 2, "through the same signer, type fixed");
  assert.equal(g.code, 0, g.stderr.slice(-3000));
  assert.ok(onchain.gate.totals.tickets > ticketsBefore, "the gateway's signer paid tickets");
  assert.ok(onchain.gate.balance(payer, orchSid).cmp(0n) > 0, "credited to the signer's address");
  await until("the gateway stopped the session at the orchestrator", async () => sessions() === 0, 5000);

  // 3. What the signer paid, what the chain redeemed.
  const won = onchain.store.listWinningTickets({ limit: 100 });
  assert.ok(won.length >= 2, `${won.length} winners`);
  assert.ok(won.every((w) => w.ticket.sender.toLowerCase() === payer.toLowerCase()));
  await mineBlocks(devnet.rpcUrl, 45);
  await initializeCurrentRound(net.clients("deployer"), devnet.contracts.roundsManager);
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
  const info = await readSenderInfo(net.clients("gateway"), devnet.contracts.ticketBroker, payer);
  assert.equal(parseEther("1") - info.deposit, redeemed, "the deposit paid exactly the redeemed face values");
});
