/**
 * A priced orchestrator (priced-orchestrator.ts) and BYOC payments: token with ticket params, V0 and
 * V1 job signatures, insufficient balance with the missing amount, tickets credited and winners
 * queued before the answer, per-second debits with Livepeer-Balance, signed GetOrchestrator, a BYOC
 * stream stopped when its balance runs out, and an SSE job ended for lack of balance. Native AI and
 * live video payments: orchestrator-payments-ai.test.ts.
 */
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { keccak256, stringToBytes } from "viem";
import type { PaymentGate, RunningOrchestrator } from "../../src/orchestrator/index.ts";
import { Rat } from "../../src/payments/rational.ts";
import type { Sender } from "../../src/payments/sender.ts";
import { orchestratorRequestPayload, signPayload } from "../../src/payments/signature.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import { Orchestrator } from "../../src/protocol/gen/lp_rpc_pb.ts";
import { encodeJobHeader, jobSigningPayloadV1 } from "../../src/protocol/job-header.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { priceInfoFromGoJson, ticketParamsFromGoJson } from "../../src/protocol/ticket-params-json.ts";
import type { RunningRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call, type Reply } from "./orchestrator-helpers.ts";
import { gw, ORCH, PRICE, type PricedNode, startPricedNode, TICKET_EV } from "./priced-orchestrator.ts";

let active = true;

/** A signed `Livepeer` header (V0: personal_sign(keccak256(request + parameters))). */
async function signedJob(capability: string, extra: Record<string, unknown> = {}): Promise<string> {
  const request = (extra.request as string | undefined) ?? "{}";
  const parameters = (extra.parameters as string | undefined) ?? "{}";
  const sig = await gw.signMessage({ message: { raw: keccak256(stringToBytes(request + parameters)) } });
  return Buffer.from(
    JSON.stringify({
      capability,
      timeout_seconds: 10,
      sender: gw.address,
      sig,
      ...extra,
      request,
      parameters,
    }),
  ).toString("base64");
}

describe("orchestrator with payments", () => {
  let node: PricedNode;
  let orch: RunningOrchestrator;
  let gate: PaymentGate;
  let winners: SignedTicket[];
  let sender: Sender;
  let streamer: RunningRunner;
  let sse: RunningRunner;

  before(async () => {
    node = await startPricedNode(() => active);
    ({ orch, gate, winners, sender, streamer, sse } = node);
  });

  after(() => node?.close());

  /** GET /process/token as the gateway, then a payment of `n` tickets against it. */
  async function pay(
    capability: string,
    n: number,
  ): Promise<{ header: string; token: Record<string, unknown> }> {
    const sig = await signPayload(gw, gw.address);
    const r = await call(orch, "/process/token", {
      headers: {
        "livepeer-eth-address": Buffer.from(JSON.stringify({ addr: gw.address, sig })).toString("base64"),
        "livepeer-capability": capability,
      },
    });
    assert.equal(r.status, 200, r.body);
    const token = JSON.parse(r.body) as Record<string, unknown>;
    const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
    const payment = await sender.createPayment(session, n, priceInfoFromGoJson(token.price));
    return { header: encodePaymentHeader(payment), token };
  }

  test("the token quotes the price and ticket params; a forged sender signature is refused", async () => {
    const { token } = await pay("shout", 0);
    assert.deepEqual(token.price, { pricePerUnit: 10, pixelsPerUnit: 1 });
    const tp = ticketParamsFromGoJson(token.ticket_params);
    assert.equal(tp.recipient, ORCH);
    assert.equal(tp.faceValue, TICKET_EV + 1n);
    const forged = await call(orch, "/process/token", {
      headers: {
        "livepeer-eth-address": Buffer.from(
          JSON.stringify({ addr: ORCH, sig: await signPayload(gw, ORCH) }),
        ).toString("base64"),
        "livepeer-capability": "shout",
      },
    });
    assert.equal(forged.status, 400);
    assert.match(forged.body, /Invalid eth address header/);
  });

  test("a job without credit is refused with the missing amount; with tickets it runs and is charged", async () => {
    const poor = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: { livepeer: await signedJob("shout"), "content-type": "application/json" },
      body: JSON.stringify({ text: "hi" }),
    });
    assert.equal(poor.status, 400);
    assert.match(poor.body, /Insufficient balance for request: shout needs 600 wei.*at least 600 wei more/);

    const badSig = Buffer.from(
      JSON.stringify({
        request: "{}",
        parameters: "{}",
        capability: "shout",
        timeout_seconds: 5,
        sender: gw.address,
        sig: `0x${"11".repeat(65)}`,
      }),
    ).toString("base64");
    const forged = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: { livepeer: badSig },
      body: "{}",
    });
    assert.equal(forged.status, 400);
    assert.match(forged.body, /Could not verify job creds/);

    const { header } = await pay("shout", 1); // one ticket of EV 1000 ≥ 60 × 10
    const before = winners.length;
    const ok = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: {
        livepeer: await signedJob("shout"),
        "livepeer-payment": header,
        "content-type": "application/json",
      },
      body: JSON.stringify({ text: "hi" }),
    });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { text: "HI" });
    assert.equal(winners.length, before + 1, "the winning ticket was queued");
    assert.equal(winners.at(-1)!.recipient, ORCH);
    // 1000 credited, at least one second (10 wei) charged.
    assert.ok(Number(ok.headers["livepeer-balance"]) <= 990, String(ok.headers["livepeer-balance"]));

    // A V1 signature (go-livepeer branch feat/remote-signer-byoc) is accepted too; it covers the id,
    // so the same signature on another job id is refused.
    const v1Job = { id: "v1-job", request: "{}", parameters: "{}", capability: "shout", timeoutSeconds: 10 };
    const v1Sig = await signPayload(gw, jobSigningPayloadV1(v1Job));
    const v1Header = (id: string) => encodeJobHeader({ ...v1Job, id, sender: gw.address, sig: v1Sig });
    const v1 = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: { livepeer: v1Header("v1-job"), "content-type": "application/json" },
      body: JSON.stringify({ text: "v1" }),
    });
    assert.equal(v1.status, 200, v1.body);
    assert.deepEqual(JSON.parse(v1.body), { text: "V1" });
    const replayed = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: { livepeer: v1Header("another-job"), "content-type": "application/json" },
      body: JSON.stringify({ text: "v1" }),
    });
    assert.equal(replayed.status, 400);
    assert.match(replayed.body, /Could not verify job creds/);

    active = false;
    const inactive = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: { livepeer: await signedJob("shout"), "livepeer-payment": (await pay("shout", 1)).header },
      body: "{}",
    });
    active = true;
    assert.equal(inactive.status, 400);
    assert.match(inactive.body, /not in the active set/);

    const garbage = await call(orch, "/process/request/shout", {
      method: "POST",
      headers: { livepeer: await signedJob("shout"), "livepeer-payment": "%%%" },
      body: "{}",
    });
    assert.equal(garbage.status, 402);
  });

  test("GetOrchestrator needs the gateway's signature and then carries ticket params", async () => {
    const client = createClient(
      Orchestrator,
      createGrpcTransport({ baseUrl: orch.url, nodeOptions: { ca: orch.cert } }),
    );
    await assert.rejects(client.getOrchestrator({}), /sig check failed/);
    const sig = await signPayload(gw, orchestratorRequestPayload(gw.address));
    const got = await client.getOrchestrator({
      address: Buffer.from(gw.address.slice(2), "hex"),
      sig: Buffer.from(sig.slice(2), "hex"),
    });
    assert.equal(Buffer.from(got.address).toString("hex"), ORCH.slice(2).toLowerCase());
    assert.ok(got.ticketParams, "ticket params for the asking sender");
    assert.equal(
      got.capabilitiesPrices.find((p) => p.constraint === "shout")?.pricePerUnit,
      PRICE,
      "BYOC price advertised with capability 37",
    );
    const tts = got.capabilitiesPrices.find((p) => p.constraint === "default-priced");
    assert.deepEqual(
      [tts?.capability, tts?.pricePerUnit],
      [36, 7n],
      "an entry without a price gets the default",
    );
  });

  test("a BYOC stream needs credit (402), is debited while it runs, and is stopped when the balance runs out", async () => {
    const job = (extra: Record<string, unknown> = {}) =>
      signedJob("paid-stream", { id: "ps-1", request: '{"stream_id":"ps-1"}', ...extra });
    const poor = await call(orch, "/ai/stream/start", {
      method: "POST",
      headers: { livepeer: await job(), "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(poor.status, 402);
    assert.equal(orch.registry.container(streamer.url)?.inUse, 0, "the slot was given back");
    const { header } = await pay("paid-stream", 1); // 1000 wei ≈ 100 s at 10 wei/s; debited 1 s per 1 s tick
    const start = await call(orch, "/ai/stream/start", {
      method: "POST",
      headers: { livepeer: await job(), "livepeer-payment": header, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(start.status, 200, start.body);
    assert.ok(start.headers["livepeer-balance"]);
    assert.equal(orch.streamCount, 1);
    const pay0 = await call(orch, "/ai/stream/payment", {
      method: "POST",
      headers: { livepeer: await job() },
      body: "",
    });
    assert.equal(pay0.status, 200);
    const bal = Number(pay0.headers["livepeer-balance"]);
    assert.ok(bal > 0 && bal < 1000, String(bal));
    // Spend the credit elsewhere: the next two negative debits stop the stream and free the slot.
    gate.balances.debit(gw.address, "paid-stream", Rat.of(10_000n));
    await until("the stream to be stopped for lack of balance", () => orch.streamCount === 0);
    assert.equal(orch.registry.container(streamer.url)?.inUse, 0);
    await until("the container to see the stop", () => streamer.session === undefined);
  });

  test("an SSE job is debited every period and ended with go's insufficient-balance events", async () => {
    const { header } = await pay("ticker", 1);
    const res = new Promise<Reply>((resolve, reject) => {
      void signedJob("ticker").then((livepeer) => {
        const req = httpsRequest(
          `${orch.url}/process/request/ticker`,
          {
            method: "POST",
            headers: { livepeer, "livepeer-payment": header, "content-type": "application/json" },
            ca: orch.cert,
            agent: false,
          },
          (r) => {
            let body = "";
            r.setEncoding("utf8");
            r.on("data", (c) => {
              body += c;
              // Once the first item is through, spend the credit: the next debit goes negative.
              if (body.includes('{"n":1}')) gate.balances.debit(gw.address, "ticker", Rat.of(10_000n));
            });
            r.on("end", () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body }));
          },
        );
        req.on("error", reject);
        req.end("{}");
      });
    });
    const r = await res;
    assert.equal(r.status, 200);
    assert.ok(r.headers["livepeer-payment-balance"], "opening balance header");
    assert.match(r.body, /event: insufficient balance\ndata: \{"balance": 0\}\n\ndata: \[DONE\]/);
    assert.ok(!r.body.includes('{"n":2}'));
    await until("the slot to be free", () => orch.registry.container(sse.url)?.inUse === 0);
    const metrics = await call(orch, "/metrics");
    assert.match(metrics.body, /tributary_orchestrator_tickets_credited_total [1-9]/);
    assert.match(metrics.body, /tributary_orchestrator_winning_tickets_total [1-9]/);
    assert.match(metrics.body, /tributary_orchestrator_balances [1-9]/);
    assert.match(metrics.body, /tributary_orchestrator_credit_held_wei \d+/);
  });
});
