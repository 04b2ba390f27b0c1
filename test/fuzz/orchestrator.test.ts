/**
 * Fuzzing of the orchestrator's routes over real HTTPS on 127.0.0.1 (HTTP/1.1 and HTTP/2), offchain and priced (payment
 * gate over a real Recipient, chain facts in memory), in front of real SDK containers: random and
 * malformed `Livepeer`, `Livepeer-Eth-Address`, `Livepeer-Payment`, `Livepeer-Segment` headers, random
 * JSON and non-JSON bodies, wrong content types, oversized bodies, on every route.
 *
 * Pass criteria: every request gets an answer; no 5xx except the documented ones — 502 (container
 * unreachable), 503 (unknown capability, no free slot, sender reserve unknown) and 501 (a priced
 * pipeline whose units cannot be counted: audio-to-text, non-PNG/JPEG images); every 4xx carries a
 * message; `/health` still answers afterwards and the heap after GC is within
 * {@link HEAP_GROWTH_LIMIT_BYTES} of the start.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { constants as h2c, connect as h2connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import fc from "fast-check";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import {
  encodeJobHeader,
  encodeJobSenderHeader,
  jobSigningPayloadV0,
  jobSigningPayloadV1,
} from "../../src/protocol/job-header.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { encodeSegmentHeader } from "../../src/protocol/segment-header.ts";
import {
  parseJsonBig,
  priceInfoFromGoJson,
  ticketParamsFromGoJson,
} from "../../src/protocol/ticket-params-json.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { inMemoryRecipient, senders, time } from "../e2e/orchestrator-helpers.ts";
import { until } from "../until.ts";
import { junkHeaderValue, mutated, payment, segCreds, text } from "./arbitraries.ts";
import {
  assertHeapStable,
  assertSaneReply,
  checkAsync,
  errorMessageOf,
  heapAfterGc,
  printTally,
  tally,
} from "./fuzz-util.ts";
import {
  bigBody,
  body,
  checkOversizedHeaders,
  contentType,
  extraHeaders,
  type FuzzRequest,
  H2,
  h2Frame,
  h2Request,
  method,
  pathSegment,
  query,
  rawH2,
  send,
  type Target,
} from "./http-util.ts";

const RUNS = 100;
const WAIT_MS = 15_000;
/**
 * The 5xx each route may answer (documented in src/orchestrator/README.md): 502 when a container
 * cannot be reached, 503 when no ready container has a free slot (or the model is not served), 501
 * for priced native work whose units cannot be counted (a non-PNG/JPEG image), 503 on
 * `/process/token` and `/payment` when the sender's reserve cannot back a ticket. Everything else —
 * `/capabilities`, `/metrics`, `/health`, registration, the trickle mount, unknown paths — never.
 */
function allowed5xx(path: string): readonly number[] {
  const p = path.split("?")[0]!;
  if (p.startsWith("/process/request") || p.startsWith("/ai/stream/") || p === "/live-video-to-video")
    return [502, 503];
  if (p === "/process/token" || p === "/payment") return [503];
  if (NATIVE.includes(p.slice(1))) return [501, 502, 503];
  return [];
}
const SECRET = "fuzz-secret";
/** HTTP limits of the `limited` orchestrator. */
const LIMITED_STREAMS = 8;
const LIMITED_HEADERS_TIMEOUT_MS = 600;
const LIMITED_UPLOAD_MIB = 4;
const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);

/** Native AI pipelines served (by SDK containers named after them). */
const NATIVE = ["llm", "text-to-image", "image-to-image", "audio-to-text", "upscale"];
/** The only `model_id` label values the metrics may carry: configured models, BYOC names, "unknown". */
const KNOWN_MODEL_LABELS = new Set(["m1", "noop", "echo", "streamer", "", "unknown"]);

const ROUTES = [
  "/process/request/echo",
  "/process/request/",
  "/process/request",
  "/process/token",
  "/llm",
  "/text-to-image",
  "/image-to-image",
  "/audio-to-text",
  "/upscale",
  "/live-video-to-video",
  "/capability/register",
  "/capability/unregister",
  "/payment",
  "/ai/stream/start",
  "/ai/stream/stop",
  "/ai/stream/update",
  "/ai/stream/payment",
  "/capabilities",
  "/metrics",
  "/net.Orchestrator/GetOrchestrator",
  "/net.Orchestrator/Ping",
] as const;

/** gRPC frames (flag, length, message) around random bytes, and content types that route to gRPC. */
const grpcBody = fc
  .tuple(fc.constantFrom(0, 1), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -5, max: 5 }))
  .map(([flag, msg, skew]) => {
    const head = Buffer.alloc(5);
    head[0] = flag;
    head.writeUInt32BE(Math.max(0, msg.length + skew), 1);
    return Buffer.concat([head, Buffer.from(msg)]);
  });
const grpcContentType = fc.constantFrom("application/grpc", "application/grpc+proto");

/** Job headers: well-formed (signed or not) for the registered capabilities, or junk. */
function livepeerHeader(signed: string[]): fc.Arbitrary<string> {
  const wellFormed = fc
    .record({
      id: text,
      request: fc.oneof(
        fc.constant("{}"),
        text.map((s) => JSON.stringify({ stream_id: s })),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      ),
      parameters: fc.oneof(
        fc.constantFrom(
          "",
          "{}",
          '{"enable_video_ingress":true,"enable_video_egress":true,"enable_data_output":true}',
        ),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      ),
      capability: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom("echo", "streamer", "nope", "") },
        { weight: 1, arbitrary: text },
      ),
      timeoutSeconds: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 86_400 }) },
        { weight: 1, arbitrary: fc.integer() },
      ),
      sender: fc.oneof(fc.constant(""), fc.constant(gw.address), text),
      sig: fc.oneof(fc.constant(""), fc.constant(`0x${"ab".repeat(65)}`), text),
    })
    .map(encodeJobHeader);
  return fc.oneof(
    { weight: 3, arbitrary: wellFormed },
    { weight: 2, arbitrary: fc.constantFrom(...signed) },
    { weight: 1, arbitrary: mutated(fc.constantFrom(...signed)) },
    { weight: 2, arbitrary: junkHeaderValue },
  );
}

interface Setup {
  orch: RunningOrchestrator;
  signedJobs: string[];
  senderHeader: string;
}

function orchestratorRequest(setup: Setup): fc.Arbitrary<FuzzRequest> {
  const path = fc
    .oneof(
      { weight: 8, arbitrary: fc.constantFrom(...ROUTES) },
      {
        weight: 1,
        arbitrary: fc.array(pathSegment, { maxLength: 3 }).map((p) => `/process/request/${p.join("/")}`),
      },
      {
        weight: 1,
        arbitrary: fc.array(pathSegment, { maxLength: 3 }).map((p) => `/ai/trickle/${p.join("/")}`),
      },
      { weight: 1, arbitrary: fc.array(pathSegment, { maxLength: 3 }).map((p) => `/${p.join("/")}`) },
    )
    .chain((p) => query.map((q) => `${p}${q}`));
  const jsonObjectBody = fc
    .record(
      {
        model_id: fc.oneof(fc.constantFrom("m1", "paid", "noop", "paid-live", ""), text),
        prompt: text,
        max_tokens: fc.oneof(fc.integer(), fc.double(), text),
        height: fc.oneof(fc.integer(), fc.double()),
        width: fc.oneof(fc.integer(), fc.double()),
        num_images_per_prompt: fc.oneof(fc.integer(), fc.double()),
        name: fc.oneof(fc.constantFrom("echo", "new-cap"), text),
        url: fc.oneof(fc.constantFrom("http://127.0.0.1:1", "not a url"), text),
        capacity: fc.oneof(fc.integer(), fc.double(), text),
        price_per_unit: fc.oneof(fc.integer(), fc.double(), text),
        price_scaling: fc.oneof(fc.integer(), fc.double()),
        stream_id: text,
        params: fc.jsonValue({ maxDepth: 2 }),
        gateway_request_id: text,
      },
      { requiredKeys: [] },
    )
    .map((o) => Buffer.from(JSON.stringify(o)));
  return fc
    .record({
      method: fc.oneof({ weight: 5, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: method }),
      path,
      body: fc.oneof(
        { weight: 3, arbitrary: jsonObjectBody },
        { weight: 2, arbitrary: body },
        { weight: 1, arbitrary: grpcBody },
      ),
      contentType: fc.oneof({ weight: 6, arbitrary: contentType }, { weight: 1, arbitrary: grpcContentType }),
      grpc: fc.option(fc.tuple(grpcContentType, grpcBody), { freq: 4, nil: undefined }),
      livepeer: fc.option(livepeerHeader(setup.signedJobs), { nil: undefined }),
      ethAddress: fc.option(fc.oneof(fc.constant(setup.senderHeader), junkHeaderValue), { nil: undefined }),
      capability: fc.option(fc.oneof(fc.constantFrom("echo", "streamer"), text.map(encodeURIComponent)), {
        nil: undefined,
      }),
      payment: fc.option(
        fc.oneof(
          payment.map(encodePaymentHeader),
          mutated(payment.map(encodePaymentHeader)),
          junkHeaderValue,
        ),
        {
          nil: undefined,
        },
      ),
      segment: fc.option(
        fc.oneof(
          segCreds.map(encodeSegmentHeader),
          mutated(segCreds.map(encodeSegmentHeader)),
          junkHeaderValue,
        ),
        {
          nil: undefined,
        },
      ),
      authorization: fc.option(fc.oneof(fc.constant(SECRET), junkHeaderValue), { nil: undefined }),
      extra: extraHeaders(["x-trace-id", "traceparent", "accept", "x-model-id"]),
      cut: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
    })
    .map((r) => {
      const headers: Record<string, string> = { ...r.extra };
      if (r.contentType !== undefined) headers["content-type"] = r.contentType;
      // most calls to the gRPC paths are gRPC-framed, so that they reach the protobuf decoder
      if (r.grpc !== undefined && r.path.startsWith("/net.Orchestrator/")) {
        headers["content-type"] = r.grpc[0];
        r.body = r.grpc[1];
      }
      if (r.livepeer !== undefined) headers.livepeer = r.livepeer;
      if (r.ethAddress !== undefined) headers["livepeer-eth-address"] = r.ethAddress;
      if (r.capability !== undefined) headers["livepeer-capability"] = r.capability;
      if (r.payment !== undefined) headers["livepeer-payment"] = r.payment;
      if (r.segment !== undefined) headers["livepeer-segment"] = r.segment;
      if (r.authorization !== undefined) headers.authorization = r.authorization;
      return {
        method: r.method,
        path: r.path,
        headers,
        body: r.body,
        ...(r.cut !== undefined ? { abortAfter: r.cut % (r.body.length + 1) } : {}),
      };
    });
}

async function signedJobHeaders(): Promise<string[]> {
  const out: string[] = [];
  for (const [capability, request, parameters] of [
    ["echo", "{}", "{}"],
    ["echo", '{"a":1}', ""],
    ["streamer", '{"stream_id":"s1"}', '{"enable_data_output":true}'],
    ["streamer", '{"stream_id":"s2"}', "{}"],
  ] as const) {
    const job = { id: "", capability, request, parameters, timeoutSeconds: 30, sender: gw.address, sig: "" };
    const sig = await gw.signMessage({ message: { raw: jobSigningPayloadV1(job) } });
    out.push(encodeJobHeader({ ...job, sig }));
  }
  return out;
}

describe("fuzz: orchestrator routes over HTTPS", () => {
  const dir = mkdtempSync(join(tmpdir(), "orch-fuzz-"));
  let echo: RunningRunner;
  const batch: Record<string, RunningRunner> = {};
  let live: RunningRunner;
  let offchain: RunningOrchestrator;
  let priced: RunningOrchestrator;
  /** Offchain, with small HTTP limits (a few streams, a short headers timeout, a small upload budget). */
  let limited: RunningOrchestrator;
  let signedJobs: string[];
  let senderHeader: string;

  before(async () => {
    echo = await startRunner(
      defineBatchPipeline({ name: "echo", run: (input: unknown) => ({ type: typeof input }) }),
      { port: 0 },
    );
    for (const name of NATIVE) {
      batch[name] = await startRunner(
        defineBatchPipeline({ name, run: (input: unknown) => ({ type: typeof input }) }),
        { port: 0 },
      );
    }
    live = await startRunner(defineLivePipeline({ name: "streamer", start: () => {} }), { port: 0 });
    signedJobs = await signedJobHeaders();
    senderHeader = encodeJobSenderHeader({
      addr: gw.address,
      sig: await gw.signMessage({ message: gw.address }),
    });
    const models = (price: boolean) =>
      parseAiModels(
        JSON.stringify(
          [...NATIVE.map((n) => [n, "m1", batch[n]!.url]), ["live-video-to-video", "noop", live.url]].map(
            ([pipeline, model_id, url]) => ({
              pipeline,
              model_id,
              url,
              capacity: 2,
              ...(price ? { price_per_unit: 3 } : {}),
            }),
          ),
        ),
      );
    offchain = await startOrchestrator({
      port: 0,
      dataDir: join(dir, "offchain"),
      orchSecret: SECRET,
      models: models(false),
      health: { intervalMs: 200, failureThreshold: 1 },
    });
    limited = await startOrchestrator({
      port: 0,
      dataDir: join(dir, "limited"),
      orchSecret: SECRET,
      models: models(false),
      health: { intervalMs: 200, failureThreshold: 1 },
      limits: {
        maxConcurrentStreams: LIMITED_STREAMS,
        headersTimeoutMs: LIMITED_HEADERS_TIMEOUT_MS,
        idleTimeoutMs: LIMITED_HEADERS_TIMEOUT_MS,
        maxSessionUploadBytes: LIMITED_UPLOAD_MIB * 1024 * 1024,
      },
    });
    const recipient = inMemoryRecipient(ORCH, 1000n);
    const gate = new PaymentGate({
      recipient,
      balances: new Balances(),
      enqueueWinner: () => {},
      isActive: () => true,
    });
    priced = await startOrchestrator({
      port: 0,
      dataDir: join(dir, "priced"),
      orchSecret: SECRET,
      network: "devnet",
      payments: gate,
      address: ORCH,
      defaultPricePerUnit: Rat.of(7n),
      models: models(true),
      health: { intervalMs: 200, failureThreshold: 1 },
    });
    for (const orch of [offchain, priced, limited]) {
      for (const [name, url] of [
        ["echo", echo.url],
        ["streamer", live.url],
      ] as const) {
        const r = await send(
          { url: orch.url, ca: orch.cert },
          {
            method: "POST",
            path: "/capability/register",
            headers: { authorization: SECRET },
            body: Buffer.from(
              JSON.stringify({ name, url, capacity: 2, price_per_unit: 1, price_scaling: 1 }),
            ),
          },
          WAIT_MS,
        );
        assert.equal(r.kind === "reply" && r.status, 200);
      }
    }
    const deadline = Date.now() + 20_000;
    while (offchain.registry.advertised().length < 8 || priced.registry.advertised().length < 8) {
      if (Date.now() > deadline) throw new Error("containers did not become healthy");
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    await Promise.all([offchain?.close(), priced?.close(), limited?.close()]);
    await Promise.all([echo?.close(), live?.close(), ...Object.values(batch).map((r) => r.close())]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function fuzz(name: string, orch: () => RunningOrchestrator, h2 = false): Promise<void> {
    const o = orch();
    const target: Target = { url: o.url, ca: o.cert, h2 };
    const setup: Setup = { orch: o, signedJobs, senderHeader };
    await send(target, { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) }, WAIT_MS);
    const start = await heapAfterGc();
    await checkAsync(
      name,
      RUNS,
      [fc.array(orchestratorRequest(setup), { minLength: 1, maxLength: 3 })],
      async (batch) => {
        const outcomes = await Promise.all(batch.map((r) => send(target, r, WAIT_MS)));
        outcomes.forEach((out, i) => {
          const r = batch[i]!;
          const what = `${r.method} ${r.path}`;
          tally(
            `${r.path.split("?")[0]!.slice(0, 24)} ${out.kind === "reply" ? out.status : out.kind}${
              out.kind === "reply" && out.headers["grpc-status"] !== undefined
                ? ` grpc-status ${out.headers["grpc-status"]} ${out.headers["grpc-message"]}`
                : ""
            }${
              out.kind === "reply" && out.status >= 500 ? ` ${errorMessageOf(out.body).slice(0, 120)}` : ""
            }`,
          );
          if (r.abortAfter !== undefined) return;
          assert.equal(out.kind, "reply", `${what}: ${JSON.stringify(out)}`);
          if (out.kind === "reply") assertSaneReply(out, allowed5xx(r.path), what, r.method === "HEAD");
        });
      },
    );
    printTally(name);
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200, "still answers /health");
    const metrics = await send(
      target,
      { method: "GET", path: "/metrics", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(metrics.kind, "reply");
    const labels = new Set(
      [...(metrics.kind === "reply" ? metrics.body : "").matchAll(/model_id="((?:[^"\\]|\\.)*)"/g)].map(
        (m) => m[1]!,
      ),
    );
    for (const label of labels)
      assert.ok(
        KNOWN_MODEL_LABELS.has(label),
        `metrics carry a client-chosen model_id label ${JSON.stringify(label)}`,
      );
    await assertHeapStable(start, name);
  }

  test("offchain: random requests get answers, no undocumented 5xx, 4xx with messages, heap stable", () =>
    fuzz("orchestrator offchain", () => offchain));

  test("priced: random payment, segment and job headers get answers, no undocumented 5xx, heap stable", () =>
    fuzz("orchestrator priced", () => priced));

  test("HTTP/2: random requests on the priced node get answers, no undocumented 5xx, heap stable", () =>
    fuzz("orchestrator h2", () => priced, true));

  test("inputs the fuzzer found: unknown model label, priced text/plain, non-ASCII stream id", async () => {
    const post = (o: RunningOrchestrator, path: string, headers: Record<string, string>, b: string) =>
      send({ url: o.url, ca: o.cert }, { method: "POST", path, headers, body: Buffer.from(b) }, WAIT_MS);
    // an unknown model_id is counted under model_id="unknown", not as a new series per value
    const unknown = await post(
      offchain,
      "/llm",
      { "content-type": "application/json" },
      '{"model_id":"no-such-model-42"}',
    );
    assert.equal(unknown.kind === "reply" && unknown.status, 503);
    const metrics = await send(
      { url: offchain.url, ca: offchain.cert },
      { method: "GET", path: "/metrics", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.ok(metrics.kind === "reply" && !metrics.body.includes("no-such-model-42"));
    assert.ok(metrics.kind === "reply" && metrics.body.includes('model_id="unknown"'));
    // a priced request whose body cannot be counted (text/plain) is the client's error: 415, not 501
    const plain = await post(
      priced,
      "/llm",
      { "content-type": "text/plain" },
      '{"model_id":"m1","max_tokens":5}',
    );
    assert.equal(plain.kind === "reply" && plain.status, 415);
    // a BYOC stream id that cannot travel in the x-stream-id header: 400, not 500
    const header = encodeJobHeader({
      id: "\u0100",
      request: "{}",
      parameters: "{}",
      capability: "streamer",
      timeoutSeconds: 5,
      sender: "",
      sig: "",
    });
    const stream = await post(
      offchain,
      "/ai/stream/start",
      { livepeer: header, "content-type": "application/json" },
      "{}",
    );
    assert.equal(stream.kind === "reply" && stream.status, 400, JSON.stringify(stream));
  });

  test("headers up to 1 MiB are accepted, over it 431 with a message (h1) or refused (h2), the server keeps serving", async () => {
    await checkOversizedHeaders({ url: offchain.url, ca: offchain.cert }, "/health");
    await checkOversizedHeaders({ url: offchain.url, ca: offchain.cert, h2: true }, "/health");
  });

  test("big Livepeer headers with a 400-ticket payment are served: a 64 KiB job over HTTP/1.1, a 64 KiB header over HTTP/2", async () => {
    // livepeer-gateway's Python client (HTTP/1.1) puts the whole job in the header: a 64 KiB job is an
    // 88 KiB header. Over HTTP/2 one header field is at most 64 KiB compressed (nghttp2's limit).
    // A 400-ticket payment is ~40 KiB.
    const jobHeader = async (textBytes: number) => {
      const job = {
        id: "big",
        capability: "echo",
        request: JSON.stringify({ text: "t".repeat(textBytes) }),
        parameters: "{}",
        timeoutSeconds: 30,
        sender: gw.address,
        sig: "",
      };
      return encodeJobHeader({ ...job, sig: await signPayload(gw, jobSigningPayloadV0(job)) });
    };
    const headers = { h1: await jobHeader(64 * 1024), h2: await jobHeader(48 * 1024) };
    assert.ok(headers.h2.length >= 64 * 1024, `h2 Livepeer header of ${headers.h2.length} bytes`);
    const sender = new Sender({ signer: gw, time, senders });
    const ethAddress = encodeJobSenderHeader({ addr: gw.address, sig: await signPayload(gw, gw.address) });
    for (const h2 of [false, true]) {
      const target: Target = { url: priced.url, ca: priced.cert, h2 };
      const tok = await send(
        target,
        {
          method: "GET",
          path: "/process/token",
          headers: { "livepeer-eth-address": ethAddress, "livepeer-capability": "echo" },
          body: Buffer.alloc(0),
        },
        WAIT_MS,
      );
      assert.equal(tok.kind === "reply" && tok.status, 200, JSON.stringify(tok).slice(0, 300));
      const token = parseJsonBig(tok.kind === "reply" ? tok.body : "") as {
        price: unknown;
        ticket_params: unknown;
      };
      const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
      const payment = encodePaymentHeader(
        await sender.createPayment(session, 400, priceInfoFromGoJson(token.price)),
      );
      assert.ok(payment.length > 32 * 1024, `payment header of ${payment.length} bytes`);
      const out = await send(
        target,
        {
          method: "POST",
          path: "/process/request/echo",
          headers: {
            livepeer: h2 ? headers.h2 : headers.h1,
            "livepeer-payment": payment,
            "content-type": "application/json",
          },
          body: Buffer.from("{}"),
        },
        WAIT_MS,
      );
      assert.equal(
        out.kind === "reply" && out.status,
        200,
        `${h2 ? "h2" : "h1"}: ${JSON.stringify(out).slice(0, 300)}`,
      );
    }
  });

  test("HTTP/2 limits: streams per connection capped, rapid resets close the connection, unfinished uploads bounded", async () => {
    const o = limited;
    const target: Target = { url: o.url, ca: o.cert };
    // 1. a client that opens more streams than announced gets the extra one refused
    const conn = await rawH2(target);
    try {
      const settings = await conn.waitFor((f) => f.type === H2.SETTINGS && f.flags === 0, WAIT_MS);
      const announced = new Map<number, number>();
      for (let i = 0; settings && i + 6 <= settings.payload.length; i += 6)
        announced.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
      assert.equal(announced.get(3), LIMITED_STREAMS, "SETTINGS_MAX_CONCURRENT_STREAMS");
      // streams whose answer waits: subscribers of a trickle channel that gets no segment
      o.trickle.createChannel("held");
      const frames: Buffer[] = [];
      for (let i = 0; i < LIMITED_STREAMS; i++)
        frames.push(h2Request(1 + 2 * i, "GET", "/ai/trickle/held/0"));
      conn.write(Buffer.concat(frames));
      await new Promise((r) => setTimeout(r, 200));
      conn.write(h2Request(1 + 2 * LIMITED_STREAMS, "GET", "/health"));
      const refused = await Promise.race([
        conn
          .waitFor((f) => f.type === H2.RST_STREAM && f.stream === 1 + 2 * LIMITED_STREAMS, WAIT_MS)
          .then((f) => !!f),
        conn.closedWithin(WAIT_MS),
      ]);
      assert.ok(refused, "the stream over the limit is refused");
    } finally {
      conn.destroy();
      o.trickle.deleteChannel("held");
    }
    // 2. 20 000 streams opened and cancelled at once: the connection is closed
    const flood = await rawH2(target);
    try {
      let id = 1;
      for (let b = 0; b < 200 && !(await flood.closedWithin(0)); b++) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 100; i++, id += 2)
          batch.push(
            h2Request(id, "GET", "/health"),
            h2Frame(H2.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])),
          );
        flood.write(Buffer.concat(batch));
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(await flood.closedWithin(WAIT_MS), "rapid resets close the connection");
    } finally {
      flood.destroy();
    }
    // 3. each stream of one connection holds 3 MiB of an unfinished JSON upload (which the route
    //    buffers): the streams over the budget are reset, and the memory held is about the budget
    const usage = async () => {
      await heapAfterGc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = await usage();
    const chunk = bigBody(3 * 1024 * 1024, 0x20);
    const session = h2connect(o.url, { ca: o.cert, servername: "localhost" });
    session.on("error", () => {});
    let settled = 0;
    const streams = Array.from({ length: LIMITED_STREAMS }, () => {
      const st = session.request(
        {
          ":method": "POST",
          ":path": "/llm",
          "content-type": "application/json",
          "content-length": String(9 * 1024 * 1024),
        },
        { endStream: false },
      );
      let done = false;
      const settle = () => {
        if (!done) settled++;
        done = true;
      };
      st.on("error", () => {});
      st.once("close", settle);
      st.write(chunk, settle);
      return st;
    });
    try {
      await until("every upload taken or reset", () => settled === streams.length);
      const growth = (await usage()) - before;
      const reset = streams.filter((st) => st.rstCode === h2c.NGHTTP2_ENHANCE_YOUR_CALM).length;
      assert.ok(reset >= streams.length - 2, `${reset} of ${streams.length} streams reset`);
      assert.ok(growth < (LIMITED_UPLOAD_MIB + 8) * 1024 * 1024, `memory grew ${growth} bytes`);
    } finally {
      session.destroy();
    }
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200);
  });

  test("slow clients: a head never finished is closed within the headers timeout, a waiting subscriber is not", async () => {
    const o = limited;
    o.trickle.createChannel("slow");
    const started = Date.now();
    const { port } = new URL(o.url);
    const slow = tlsConnect({
      port: Number(port),
      host: "127.0.0.1",
      ca: o.cert,
      servername: "localhost",
      ALPNProtocols: ["http/1.1"],
    });
    slow.on("error", () => {});
    slow.resume(); // read the 408, so that its end closes the socket
    slow.once("secureConnect", () => slow.write("GET /health HTTP/1.1\r\nhost: localhost\r\nx-slow: a"));
    const drip = setInterval(() => slow.writable && slow.write("a"), 100);
    const idleH2 = await rawH2({ url: o.url, ca: o.cert });
    // subscribers over both protocols wait for a segment for 3 headers timeouts, then get it
    const subscribers = [false, true].map((h2) =>
      send(
        { url: o.url, ca: o.cert, h2 },
        { method: "GET", path: "/ai/trickle/slow/0", headers: {}, body: Buffer.alloc(0) },
        WAIT_MS,
      ),
    );
    try {
      const closedAfter = await new Promise<number>((r) => slow.once("close", () => r(Date.now() - started)));
      assert.ok(closedAfter < 3 * LIMITED_HEADERS_TIMEOUT_MS, `slow head closed after ${closedAfter} ms`);
      assert.ok(
        await idleH2.closedWithin(3 * LIMITED_HEADERS_TIMEOUT_MS),
        "an HTTP/2 connection without streams is closed",
      );
      await new Promise((r) =>
        setTimeout(r, Math.max(0, 3 * LIMITED_HEADERS_TIMEOUT_MS - (Date.now() - started))),
      );
      const publish = await send(
        { url: o.url, ca: o.cert },
        { method: "POST", path: "/ai/trickle/slow/0", headers: {}, body: Buffer.from("late segment") },
        WAIT_MS,
      );
      assert.equal(publish.kind === "reply" && publish.status, 200, JSON.stringify(publish));
      for (const out of await Promise.all(subscribers))
        assert.ok(
          out.kind === "reply" && out.status === 200 && out.body === "late segment",
          JSON.stringify(out),
        );
    } finally {
      clearInterval(drip);
      slow.destroy();
      idleH2.destroy();
      o.trickle.deleteChannel("slow");
    }
  });

  test("oversized bodies on every body-reading route answer 413 (or are cut off), the node keeps serving", async () => {
    const target: Target = { url: offchain.url, ca: offchain.cert };
    const big = bigBody(10 * 1024 * 1024 + 1, 0x7b);
    for (const path of [
      "/process/request/echo",
      "/llm",
      "/live-video-to-video",
      "/capability/register",
      "/ai/stream/start",
    ]) {
      const out = await send(
        target,
        {
          method: "POST",
          path,
          headers: { "content-type": "application/json", authorization: SECRET, livepeer: signedJobs[0]! },
          body: big,
        },
        WAIT_MS * 2,
      );
      if (out.kind === "reply") {
        assert.ok(out.status === 413 || (out.status >= 400 && out.status < 500), `${path}: ${out.status}`);
        assertSaneReply(out, [], path);
      } else assert.equal(out.kind, "error", `${path}: ${out.kind}`);
    }
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200);
  });
});
