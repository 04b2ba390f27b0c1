/**
 * Paid live runner sessions on a priced orchestrator (payment gate over an in-memory Recipient, chain
 * facts faked in process — no devnet) with a tiny Node runner priced in wei per second: the 402
 * challenge (`payment_params` = OrchestratorInfo with ticket params for `Livepeer-Payer-Address`, an
 * auth token whose session id is `manifest_id`), the paid reservation (`Livepeer-Payment` +
 * `Livepeer-Segment`), the top-up at `…/payment`, the per-period meter, and the release when the
 * credit stops covering a period; single-shot calls, HTTP and WebSocket, paid per call the same way.
 * Payments are made with the conformance kit's {@link runnerPayment}.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { ticketEV } from "../../src/payments/ticket.ts";
import { OrchestratorInfoSchema, PaymentResultSchema } from "../../src/protocol/gen/lp_rpc_pb.ts";
import { ticketParamsFromWire } from "../../src/protocol/payment-header.ts";
import {
  call,
  postJson,
  type RunnerChallenge,
  runnerPayment,
  startTinyRunner,
  type TinyRunner,
  wsConnect,
} from "../conformance/live-runner-kit.ts";
import { until } from "../until.ts";
import { inMemoryRecipient, senders, time } from "./orchestrator-helpers.ts";

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const payer = privateKeyToAccount(`0x${"43".repeat(32)}`);
const TICKET_EV = 1000n;
/** Wei per second: one ticket's EV pays one 1 s period. */
const PRICE = 1000;

describe("paid live runner sessions", () => {
  const dir = mkdtempSync(join(tmpdir(), "lr-pay-"));
  let orch: RunningOrchestrator;
  let gate: PaymentGate;
  let runner: TinyRunner;
  let sender: Sender;

  before(async () => {
    runner = await startTinyRunner();
    let seed = 0;
    gate = new PaymentGate({
      recipient: inMemoryRecipient(ORCH, TICKET_EV, (n) => new Uint8Array(n).fill(++seed)),
      balances: new Balances(),
      enqueueWinner: () => {},
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: gate,
      address: ORCH,
      livePaymentIntervalMs: 1000,
      liveRunners: {},
    });
    sender = new Sender({ signer: payer, time, senders });
  });
  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const o = (path: string): string => `${orch.url}${path}`;
  /** One ticket session per challenge, so nonces go on. */
  const sessions = new Map<string, string>();

  /** The payment and segment headers for `tickets` tickets under a challenge (the kit's mechanism). */
  const pay = (challenge: RunnerChallenge, tickets: number, manifest?: string) =>
    runnerPayment(sender, payer, sessions, challenge, tickets, manifest);

  test("registration needs a wei price; discovery advertises it", async () => {
    const body = { runner_url: runner.url, app: "paid/echo", runner_id: "usd" };
    const usd = await postJson(
      o("/runners/heartbeat"),
      { ...body, price_info: { price: 3.5, unit: "hour" } },
      { authorization: "s" },
    );
    assert.equal(usd.status, 400);
    assert.match(usd.json().error.message, /ETH\/USD price feed/);
    const free = await postJson(o("/runners/heartbeat"), body, { authorization: "s" });
    assert.equal(free.status, 400, "a paid node needs a price");
    const ok = await postJson(
      o("/runners/heartbeat"),
      { ...body, runner_id: "paid", price_info: { price: PRICE, currency: "wei", unit: "seconds" } },
      { authorization: "s" },
    );
    assert.equal(ok.status, 200, ok.text);
    const d = (await call(o("/discovery"))).json();
    assert.deepEqual(d[0].runners[0].price_info, { price: PRICE, currency: "wei", unit: "seconds" });
  });

  test("402 challenge, paid reservation, top-up, meter, release when the credit stops", async () => {
    const noPayer = await call(o("/apps/paid/session"), { method: "POST" });
    assert.equal(noPayer.status, 402);
    assert.equal(noPayer.json().error.code, "PAYMENT_REQUIRED");
    const first = await call(o("/apps/paid/session"), {
      method: "POST",
      headers: { "livepeer-payer-address": payer.address },
    });
    assert.equal(first.status, 402);
    const challenge = first.json();
    assert.equal(challenge.orchestrator, orch.serviceUri);
    const info = fromBinary(OrchestratorInfoSchema, Buffer.from(challenge.payment_params, "base64"));
    assert.equal(info.authToken?.sessionId, challenge.manifest_id);
    assert.equal(info.priceInfo?.pricePerUnit, BigInt(PRICE));
    assert.equal(info.priceInfo?.pixelsPerUnit, 1n);
    assert.ok(info.ticketParams, "ticket params for the payer");
    assert.equal(Buffer.from(info.address).toString("hex"), ORCH.slice(2).toLowerCase());

    const mismatched = await call(o("/apps/paid/session"), {
      method: "POST",
      headers: await pay(challenge, 1, "another-manifest"),
    });
    assert.equal(mismatched.status, 403, mismatched.text);

    const paid = await call(o("/apps/paid/session"), { method: "POST", headers: await pay(challenge, 1) });
    assert.equal(paid.status, 200, paid.text);
    const s = paid.json();
    assert.equal(s.session_id, challenge.manifest_id, "the session id is the payment's manifest id");
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 200);

    // top-up: manifest must be the session id
    const wrongTopUp = await call(`${s.control_url}/payment`, {
      method: "POST",
      headers: await pay(challenge, 1, "x"),
    });
    assert.equal(wrongTopUp.status, 403);
    const topUp = await call(`${s.control_url}/payment`, {
      method: "POST",
      headers: await pay(challenge, 1),
    });
    assert.equal(topUp.status, 200, topUp.text);
    const result = fromBinary(PaymentResultSchema, topUp.bytes);
    assert.ok(result.info?.ticketParams, "fresh ticket params");
    const balance = () => gate.balance(payer.address, s.session_id);
    // Two tickets of EV ≈ 1000 wei each (the face value is rounded up a little).
    const credited = balance();
    assert.ok(credited.cmp(Rat.of(1999n)) > 0 && credited.cmp(Rat.of(2001n)) < 0, credited.toFixed(3));
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 200, "running while paid");

    // Two periods are paid, the third is not: the session is released and its URLs answer 404.
    // A call in flight when the credit stops is cut (ECONNRESET): the release is the 404 after it.
    await until(
      "the unpaid session released",
      async () => (await postJson(`${s.app_url}/echo`, {}).catch(() => undefined))?.status === 404,
      6000,
    );
    const left = balance();
    assert.ok(
      left.cmp(Rat.of(BigInt(PRICE))) < 0 && left.cmp(Rat.ZERO) >= 0,
      `charged two periods: ${left.toFixed(3)} left`,
    );
    assert.equal(orch.runners?.registry.get("paid")?.sessions.size, 0);
    const late = await call(`${s.control_url}/payment`, { method: "POST", headers: await pay(challenge, 1) });
    assert.equal(late.status, 404, "no payment for a released session");
  });

  test("single-shot calls are paid per call: 402, then the paid call, charged once at a fixed price; a fixed session takes no top-up", async () => {
    const register = async (id: string, mode: string) => {
      const r = await postJson(
        o("/runners/heartbeat"),
        {
          runner_url: runner.url,
          app: `paid/${id}`,
          runner_id: id,
          mode,
          price_info: { price: 5000, currency: "wei", unit: "fixed" },
        },
        { authorization: "s" },
      );
      assert.equal(r.status, 200, r.text);
    };
    await register("once", "single-shot");
    const asPayer = { "livepeer-payer-address": payer.address };
    const first = await call(o("/apps/once/app/echo"), { method: "POST", headers: asPayer, body: "hi" });
    assert.equal(first.status, 402, first.text);
    const challenge = first.json();
    const info = fromBinary(OrchestratorInfoSchema, Buffer.from(challenge.payment_params, "base64"));
    assert.equal(info.priceInfo?.pricePerUnit, 5000n, "the fixed price of one call");
    const paid = await call(o("/apps/once/app/echo?x=1"), {
      method: "POST",
      headers: { ...asPayer, ...(await pay(challenge, 10)) },
      body: "hi",
    });
    assert.equal(paid.status, 200, paid.text);
    assert.deepEqual(
      [paid.json().body, paid.json().query, paid.json().session_id],
      ["hi", "?x=1", challenge.manifest_id],
    );
    const params = ticketParamsFromWire(info.ticketParams!);
    const ev = ticketEV(params.faceValue, params.winProb);
    assert.deepEqual(
      gate.balance(payer.address, challenge.manifest_id),
      ev.mul(10n).sub(5000n),
      "ten tickets credited, the call charged once",
    );
    // Not enough for the call: 402, and the runner's capacity is given back.
    const again = (await call(o("/apps/once/app/echo"), { method: "POST", headers: asPayer })).json();
    const short = await call(o("/apps/once/app/echo"), {
      method: "POST",
      headers: { ...asPayer, ...(await pay(again, 2)) },
    });
    assert.equal(short.status, 402, short.text);
    assert.equal(short.json().error.code, "INSUFFICIENT_BALANCE");
    const d = (await call(o("/discovery")))
      .json()[0]
      .runners.find((r: { app: string }) => r.app === "paid/once");
    assert.deepEqual([d.capacity_used, d.price_info], [0, { price: 5000, currency: "wei", unit: "fixed" }]);

    await register("fixedsession", "persistent");
    const sc = (await call(o("/apps/fixedsession/session"), { method: "POST", headers: asPayer })).json();
    const session = await call(o("/apps/fixedsession/session"), {
      method: "POST",
      headers: { ...asPayer, ...(await pay(sc, 10)) },
    });
    assert.equal(session.status, 200, session.text);
    const topUp = await call(`${session.json().control_url}/payment`, {
      method: "POST",
      headers: await pay(sc, 1),
    });
    assert.equal(topUp.status, 409, topUp.text);
    assert.equal(topUp.json().error.code, "FIXED_PRICE_SESSION");
  });

  test("a single-shot WebSocket is paid like a call: 402 on the socket, the paid upgrade metered while open, closed when the credit runs out", async () => {
    const r = await postJson(
      o("/runners/heartbeat"),
      {
        runner_url: runner.url,
        app: "paid/ws",
        runner_id: "wsonce",
        mode: "single-shot",
        price_info: { price: PRICE, currency: "wei", unit: "seconds" },
      },
      { authorization: "s" },
    );
    assert.equal(r.status, 200, r.text);
    const url = o("/apps/wsonce/app/ws");
    const used = async () =>
      (await call(o("/discovery"))).json()[0].runners.find((x: { app: string }) => x.app === "paid/ws")
        .capacity_used;

    const anonymous = await wsConnect(url);
    assert.equal(anonymous.status, 402, "no upgrade without payment");
    assert.equal(JSON.parse(anonymous.body).error.code, "PAYMENT_REQUIRED");
    const asPayer = { "livepeer-payer-address": payer.address };
    const unpaid = await wsConnect(url, asPayer);
    assert.equal(unpaid.status, 402, unpaid.body);
    const challenge = JSON.parse(unpaid.body);
    const info = fromBinary(OrchestratorInfoSchema, Buffer.from(challenge.payment_params, "base64"));
    assert.equal(info.authToken?.sessionId, challenge.manifest_id);
    assert.equal(info.priceInfo?.pricePerUnit, BigInt(PRICE));
    assert.equal(await used(), 0, "a challenge reserves nothing");

    const forged = await wsConnect(url, { ...asPayer, ...(await pay(challenge, 2, "another-manifest")) });
    assert.equal(forged.status, 403, forged.body);

    // Two tickets pay two 1 s periods; the third is not covered.
    const ws = await wsConnect(url, { ...asPayer, ...(await pay(challenge, 2)) });
    assert.equal(ws.status, 101, ws.body);
    ws.send("hi");
    assert.equal(await ws.next(), `echo:hi:${challenge.manifest_id}`, "the call's session is the manifest");
    assert.equal(await used(), 1, "the open socket holds the runner's capacity");
    const opened = Date.now();
    await Promise.race([
      ws.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error("socket still open")), 8000).unref()),
    ]);
    assert.ok(Date.now() - opened >= 1500, "served while its credit lasted");
    const left = gate.balance(payer.address, challenge.manifest_id);
    assert.ok(
      left.cmp(Rat.of(BigInt(PRICE))) < 0 && left.cmp(Rat.ZERO) >= 0,
      `charged every period it was open: ${left.toFixed(3)} left`,
    );
    await until("the call's capacity given back", async () => (await used()) === 0, 3000);
  });
});
