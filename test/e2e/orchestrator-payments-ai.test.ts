/**
 * A priced orchestrator (priced-orchestrator.ts) and native AI payments: a signed GetOrchestrator
 * quote, `Livepeer-Payment` with signed `Livepeer-Segment` credentials, charged per token, per pixel
 * of the input image and per second of audio; live video paid at start, debited per second, topped up
 * with POST /payment and closed when out of credit. BYOC payments: orchestrator-payments.test.ts.
 */
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { after, before, describe, test } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { PaymentGate, RunningOrchestrator } from "../../src/orchestrator/index.ts";
import { Rat } from "../../src/payments/rational.ts";
import type { Sender } from "../../src/payments/sender.ts";
import { orchestratorRequestPayload, signPayload } from "../../src/payments/signature.ts";
import {
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_CapabilityConstraintsSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
  Orchestrator,
  PaymentResultSchema,
} from "../../src/protocol/gen/lp_rpc_pb.ts";
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
import type { RunningRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call, multipartBody, type Reply, silentWav } from "./orchestrator-helpers.ts";
import { gw, type PricedNode, startPricedNode } from "./priced-orchestrator.ts";

describe("orchestrator with payments", () => {
  let node: PricedNode;
  let orch: RunningOrchestrator;
  let gate: PaymentGate;
  let sender: Sender;
  let live: RunningRunner;

  before(async () => {
    node = await startPricedNode();
    ({ orch, gate, sender, live } = node);
  });

  after(() => node?.close());

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
