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
 *
 * The nodes are orchestrator-nodes.ts's; the HTTP limits (header sizes, HTTP/2 streams and resets,
 * slow clients, oversized bodies) are checked in orchestrator-limits.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { RunningOrchestrator } from "../../src/orchestrator/index.ts";
import { encodeJobHeader } from "../../src/protocol/job-header.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { encodeSegmentHeader } from "../../src/protocol/segment-header.ts";
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
  body,
  contentType,
  extraHeaders,
  type FuzzRequest,
  method,
  pathSegment,
  query,
  send,
  type Target,
} from "./http-util.ts";
import { type FuzzNodes, gw, NATIVE, SECRET, startFuzzNodes, WAIT_MS } from "./orchestrator-nodes.ts";

const RUNS = 100;
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

describe("fuzz: orchestrator routes over HTTPS", () => {
  let nodes: FuzzNodes;
  let offchain: RunningOrchestrator;
  let priced: RunningOrchestrator;
  let signedJobs: string[];
  let senderHeader: string;

  before(async () => {
    nodes = await startFuzzNodes();
    ({ offchain, priced, signedJobs, senderHeader } = nodes);
  });

  after(() => nodes?.close());

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
});
