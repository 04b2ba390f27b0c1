/**
 * A priced orchestrator (payment gate over the payments module's Recipient, chain facts faked in
 * process — no devnet) against real SDK containers and a real ticket Sender: token with ticket
 * params, V0 and V1 job signatures, insufficient balance with the missing amount, tickets credited and
 * winners queued before the answer, per-second debits with Livepeer-Balance, signed GetOrchestrator,
 * and a BYOC stream stopped when its balance runs out.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Address, keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { orchestratorRequestPayload, signPayload } from "../../src/payments/signature.ts";
import type { SignedTicket } from "../../src/payments/types.ts";
import {
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_CapabilityConstraintsSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
  Orchestrator,
  PaymentResultSchema,
} from "../../src/protocol/gen/lp_rpc_pb.ts";
import { encodeJobHeader, jobSigningPayloadV1 } from "../../src/protocol/job-header.ts";
import {
  encodePaymentHeader,
  priceInfoFromWire,
  ticketParamsFromWire,
} from "../../src/protocol/payment-header.ts";
import {
  EMPTY_SEGMENT_HASH,
  encodeSegmentHeader,
  segCredsSigningBytes,
} from "../../src/protocol/segment-header.ts";
import { priceInfoFromGoJson, ticketParamsFromGoJson } from "../../src/protocol/ticket-params-json.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { until } from "../until.ts";
import {
  call,
  inMemoryRecipient,
  multipartBody,
  type Reply,
  senders,
  silentWav,
  time,
} from "./orchestrator-helpers.ts";

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);
const TICKET_EV = 1000n;
const PRICE = 10n; // wei per second
let seedCounter = 0;
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
  const dir = mkdtempSync(join(tmpdir(), "orch-pay-"));
  let worker: RunningRunner;
  let streamer: RunningRunner;
  let sse: RunningRunner;
  let llm: RunningRunner;
  let live: RunningRunner;
  let upscale: RunningRunner;
  let asr: RunningRunner;
  let releaseSse: () => void = () => {};
  let orch: RunningOrchestrator;
  let gate: PaymentGate;
  const winners: SignedTicket[] = [];
  const sender = new Sender({ signer: gw, time, senders });

  before(async () => {
    worker = await startRunner(
      defineBatchPipeline({ name: "shout", run: (i: { text: string }) => ({ text: i.text.toUpperCase() }) }),
      { port: 0 },
    );
    streamer = await startRunner(defineLivePipeline({ name: "paid-stream", start: () => {} }), { port: 0 });
    llm = await startRunner(
      defineBatchPipeline({
        name: "llm",
        run: (i: { prompt: string; max_tokens: number }) => ({ text: `${i.prompt}!`, tokens: i.max_tokens }),
      }),
      { port: 0 },
    );
    upscale = await startRunner(
      defineBatchPipeline({
        name: "upscale",
        run: (i: { image: { data: Uint8Array } }) => ({ bytes: i.image.data.length }),
      }),
      { port: 0 },
    );
    asr = await startRunner(
      defineBatchPipeline({
        name: "audio-to-text",
        run: (i: { audio: { data: Uint8Array } }) => ({ text: "", bytes: i.audio.data.length }),
      }),
      { port: 0 },
    );
    live = await startRunner(defineLivePipeline({ name: "paid-live", start: () => {} }), { port: 0 });
    sse = await startRunner(
      defineBatchPipeline({
        name: "ticker",
        run: async function* () {
          yield { n: 1 };
          // Holds the stream open until the test ends it.
          await new Promise<void>((r) => {
            releaseSse = r;
          });
          yield { n: 2 };
        },
      }),
      { port: 0 },
    );
    // Face value just above EV: a ticket wins with probability 1000/1001; with the deterministic
    // seeds below (and deterministic RFC 6979 signatures) the outcome is the same on every run.
    const recipient = inMemoryRecipient(ORCH, TICKET_EV, (n) => new Uint8Array(n).fill(++seedCounter));
    gate = new PaymentGate({
      recipient,
      balances: new Balances(),
      enqueueWinner: (t) => winners.push(t),
      isActive: () => active,
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: gate,
      address: ORCH,
      health: { intervalMs: 100, failureThreshold: 1 },
      streamCheckIntervalMs: 100,
      streamDebitIntervalMs: 1000,
      sseDebitIntervalMs: 1000,
      livePaymentIntervalMs: 1000,
      defaultPricePerUnit: Rat.of(7n),
      models: parseAiModels(
        JSON.stringify([
          { pipeline: "llm", model_id: "paid-llm", url: llm.url, price_per_unit: 5 },
          { pipeline: "upscale", model_id: "paid-up", url: upscale.url, price_per_unit: 1 },
          { pipeline: "audio-to-text", model_id: "paid-asr", url: asr.url, price_per_unit: 1 },
          { pipeline: "text-to-speech", model_id: "default-priced", url: llm.url },
          {
            pipeline: "live-video-to-video",
            model_id: "paid-live",
            url: live.url,
            price_per_unit: 100,
            price_unit: "second",
          },
        ]),
      ),
    });
    for (const [name, url] of [
      ["shout", worker.url],
      ["paid-stream", streamer.url],
      ["ticker", sse.url],
    ] as const) {
      const r = await call(orch, "/capability/register", {
        method: "POST",
        headers: { authorization: "s" },
        body: JSON.stringify({ name, url, capacity: 1, price_per_unit: Number(PRICE), price_scaling: 1 }),
      });
      assert.equal(r.status, 200);
    }
    await until("the containers to be healthy", () => orch.registry.advertised().length === 7);
  });

  after(async () => {
    await orch?.close();
    releaseSse();
    await Promise.all([
      worker?.close(),
      streamer?.close(),
      sse?.close(),
      llm?.close(),
      live?.close(),
      upscale?.close(),
      asr?.close(),
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

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

  test("native AI batch: GetOrchestrator quote, Livepeer-Payment + signed Livepeer-Segment, charged per token", async () => {
    const client = createClient(
      Orchestrator,
      createGrpcTransport({ baseUrl: orch.url, nodeOptions: { ca: orch.cert } }),
    );
    const caps = create(CapabilitiesSchema, {
      capacities: { 33: 1 },
      constraints: create(Capabilities_ConstraintsSchema, {
        PerCapability: {
          33: create(Capabilities_CapabilityConstraintsSchema, {
            models: { "paid-llm": create(Capabilities_CapabilityConstraints_ModelConstraintSchema, {}) },
          }),
        },
      }),
    });
    const sig = await signPayload(gw, orchestratorRequestPayload(gw.address));
    const info = await client.getOrchestrator({
      address: Buffer.from(gw.address.slice(2), "hex"),
      sig: Buffer.from(sig.slice(2), "hex"),
      capabilities: caps,
    });
    assert.equal(info.priceInfo?.pricePerUnit, 5n);
    const session = sender.startSession(ticketParamsFromWire(info.ticketParams!));
    const payment = encodePaymentHeader(
      await sender.createPayment(session, 2, priceInfoFromWire(info.priceInfo!)),
    );
    const manifestId = "33_paid-llm";
    const segment = (token = info.authToken!) =>
      signPayload(gw, segCredsSigningBytes(manifestId, 0n, EMPTY_SEGMENT_HASH)).then((segSig) =>
        encodeSegmentHeader({
          manifestId,
          seq: 0n,
          hash: EMPTY_SEGMENT_HASH,
          sig: segSig,
          durationMs: 0,
          authToken: {
            token: `0x${Buffer.from(token.token).toString("hex")}`,
            sessionId: token.sessionId,
            expiration: token.expiration,
          },
        }),
      );
    const post = (headers: Record<string, string>, body: object) =>
      call(orch, "/llm", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ model_id: "paid-llm", prompt: "hi", ...body }),
      });
    assert.equal((await post({ "livepeer-segment": await segment() }, { max_tokens: 50 })).status, 402);
    assert.equal((await post({ "livepeer-payment": payment }, { max_tokens: 50 })).status, 403);
    const forged = { ...info.authToken!, token: new Uint8Array(32) };
    assert.equal(
      (
        await post(
          { "livepeer-payment": payment, "livepeer-segment": await segment(forged as never) },
          { max_tokens: 50 },
        )
      ).status,
      403,
    );
    assert.equal(
      (await post({ "livepeer-payment": payment, "livepeer-segment": await segment() }, {})).status,
      400,
    );
    const ok = await post(
      { "livepeer-payment": payment, "livepeer-segment": await segment() },
      { max_tokens: 50 },
    );
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { text: "hi!", tokens: 50 });
    // Two tickets of EV ≈ 1000 credited, 50 tokens × 5 wei charged.
    const balance = gate.balance(gw.address, manifestId);
    assert.ok(balance.cmp(Rat.of(1749n)) > 0 && balance.cmp(Rat.of(1751n)) < 0, balance.toFixed(3));
  });

  /** A signed GetOrchestrator for one AI capability/model, then a payment and segment credentials. */
  async function quoteAi(capId: number, model: string, tickets: number, manifestId: string) {
    const client = createClient(
      Orchestrator,
      createGrpcTransport({ baseUrl: orch.url, nodeOptions: { ca: orch.cert } }),
    );
    const caps = create(CapabilitiesSchema, {
      capacities: { [capId]: 1 },
      constraints: create(Capabilities_ConstraintsSchema, {
        PerCapability: {
          [capId]: create(Capabilities_CapabilityConstraintsSchema, {
            models: { [model]: create(Capabilities_CapabilityConstraints_ModelConstraintSchema, {}) },
          }),
        },
      }),
    });
    const sig = await signPayload(gw, orchestratorRequestPayload(gw.address));
    const info = await client.getOrchestrator({
      address: Buffer.from(gw.address.slice(2), "hex"),
      sig: Buffer.from(sig.slice(2), "hex"),
      capabilities: caps,
    });
    const session = sender.startSession(ticketParamsFromWire(info.ticketParams!));
    const payment = encodePaymentHeader(
      await sender.createPayment(session, tickets, priceInfoFromWire(info.priceInfo!)),
    );
    const segSig = await signPayload(gw, segCredsSigningBytes(manifestId, 0n, EMPTY_SEGMENT_HASH));
    const segment = encodeSegmentHeader({
      manifestId,
      seq: 0n,
      hash: EMPTY_SEGMENT_HASH,
      sig: segSig,
      durationMs: 0,
      authToken: {
        token: `0x${Buffer.from(info.authToken!.token).toString("hex")}`,
        sessionId: info.authToken!.sessionId,
        expiration: info.authToken!.expiration,
      },
    });
    return { info, payment, segment };
  }

  test("live-video-to-video: paid start, debited per second, topped up with POST /payment, closed when out of credit", async () => {
    const body = JSON.stringify({ model_id: "paid-live", params: {}, stream_id: "lv" });
    const unpaid = await call(orch, "/live-video-to-video", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(unpaid.status, 402);
    const q = await quoteAi(35, "paid-live", 2, "35_paid-live");
    assert.equal(q.info.priceInfo?.pricePerUnit, 100n);
    const started = await call(orch, "/live-video-to-video", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "livepeer-payment": q.payment,
        "livepeer-segment": q.segment,
      },
      body,
    });
    assert.equal(started.status, 200, started.body);
    const mid = JSON.parse(started.body).manifest_id as string;
    const before = gate.balance(gw.address, mid);
    assert.ok(before.cmp(Rat.of(1900n)) > 0, "two tickets credited to the stream's manifest");
    await until("a debit", () => gate.balance(gw.address, mid).cmp(before) < 0);
    const debited = gate.balance(gw.address, mid);
    // Top up through POST /payment with segment credentials naming the stream.
    const top = await quoteAi(35, "paid-live", 1, mid);
    const reply = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = httpsRequest(
        `${orch.url}/payment`,
        {
          method: "POST",
          headers: { "livepeer-payment": top.payment, "livepeer-segment": top.segment },
          ca: orch.cert,
          agent: false,
        },
        (r) => {
          const parts: Buffer[] = [];
          r.on("data", (c: Buffer) => parts.push(c));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(parts) }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(reply.status, 200);
    assert.ok(fromBinary(PaymentResultSchema, reply.body).info?.ticketParams, "fresh ticket params");
    assert.ok(gate.balance(gw.address, mid).cmp(debited.add(Rat.of(500n))) > 0, "topped up");
    const streamsBefore = orch.streamCount;
    gate.balances.debit(gw.address, mid, Rat.of(100_000n));
    await until("the stream to be closed", () => orch.streamCount === streamsBefore - 1);
    assert.equal(orch.registry.container(live.url)?.inUse, 0);
  });

  test("multipart AI batch: charged by the input image's pixels (PNG header)", async () => {
    const q = await quoteAi(30, "paid-up", 2, "30_paid-up");
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.writeUInt32BE(0x0d0a1a0a, 4);
    png.writeUInt32BE(13, 8);
    png.write("IHDR", 12, "ascii");
    png.writeUInt32BE(20, 16);
    png.writeUInt32BE(10, 20);
    const b = "----t";
    const body = Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="model_id"\r\n\r\npaid-up\r\n`),
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="image"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n`,
      ),
      png,
      Buffer.from(`\r\n--${b}--\r\n`),
    ]);
    const res = await new Promise<Reply>((resolve, reject) => {
      const req = httpsRequest(
        `${orch.url}/upscale`,
        {
          method: "POST",
          headers: {
            "content-type": `multipart/form-data; boundary=${b}`,
            "livepeer-payment": q.payment,
            "livepeer-segment": q.segment,
          },
          ca: orch.cert,
          agent: false,
        },
        (r) => {
          let text = "";
          r.setEncoding("utf8");
          r.on("data", (c) => {
            text += c;
          });
          r.on("end", () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { bytes: 33 });
    const balance = gate.balance(gw.address, "30_paid-up");
    // Two tickets (≈ 2000 wei) minus 20 × 10 pixels at 1 wei.
    assert.ok(balance.cmp(Rat.of(1799n)) > 0 && balance.cmp(Rat.of(1801n)) < 0, balance.toFixed(3));
  });

  test("audio-to-text is charged by the audio's duration (whole seconds × 1000); undecodable audio is a 400", async () => {
    const q = await quoteAi(31, "paid-asr", 3, "31_paid-asr");
    const wav = silentWav(2.5);
    const form = multipartBody(
      { model_id: "paid-asr" },
      { audio: { name: "a.wav", type: "audio/wav", data: wav } },
    );
    const res = await call(orch, "/audio-to-text", {
      method: "POST",
      headers: {
        "content-type": form.contentType,
        "livepeer-payment": q.payment,
        "livepeer-segment": q.segment,
      },
      body: form.body,
    });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), { text: "", bytes: wav.length });
    const balance = gate.balance(gw.address, "31_paid-asr");
    // Three tickets (≈ 3000 wei) minus 2000 ms (2.5 s counted as 2 whole seconds) at 1 wei.
    assert.ok(balance.cmp(Rat.of(999n)) > 0 && balance.cmp(Rat.of(1001n)) < 0, balance.toFixed(3));

    const junk = multipartBody(
      { model_id: "paid-asr" },
      { audio: { name: "a.wav", type: "audio/wav", data: Buffer.from("RIFF but not really a wave file") } },
    );
    const bad = await call(orch, "/audio-to-text", {
      method: "POST",
      headers: {
        "content-type": junk.contentType,
        "livepeer-payment": q.payment,
        "livepeer-segment": q.segment,
      },
      body: junk.body,
    });
    assert.equal(bad.status, 400, bad.body);
    assert.match(bad.body, /Unable to calculate duration: the audio file could not be decoded/);
    assert.ok(gate.balance(gw.address, "31_paid-asr").cmp(balance) === 0, "nothing charged for a 400");
  });
});
