// The orchestrator's route handlers over a context built in memory: no TLS server, no network, no
// container (each case stops before a container would be called).
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import type { NodeRequest } from "../../node/server.ts";
import { Rat } from "../../payments/rational.ts";
import { Orchestrator, PaymentResultSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { encodeJobHeader, encodeJobSenderHeader, newJobRequest } from "../../protocol/job-header.ts";
import { type ModelConfig, parseAiModels } from "../config.ts";
import { closeContext, createContext, type OrchestratorContext } from "../context.ts";
import type { LiveStream } from "../streams.ts";
import { NATIVE_BATCH_PIPELINES } from "./ai-batch.ts";
import { grpcRoutes } from "./grpc.ts";
import { createRouter } from "./index.ts";

const SECRET = "operator-secret";

function request(method: string, url: string, headers: Record<string, string> = {}, body = ""): NodeRequest {
  return Object.assign(Readable.from(body === "" ? [] : [Buffer.from(body)]), {
    method,
    url,
    headers,
  }) as unknown as NodeRequest;
}

/** A response that keeps what the handler wrote. */
class FakeResponse extends EventEmitter {
  status = 0;
  headers: Record<string, string> = {};
  chunks: Buffer[] = [];
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  setHeader(name: string, value: string): void {
    this.headers[name.toLowerCase()] = value;
  }
  writeHead(status: number, headers: Record<string, string> = {}): this {
    this.status = status;
    for (const [k, v] of Object.entries(headers)) this.headers[k.toLowerCase()] = String(v);
    this.headersSent = true;
    return this;
  }
  end(chunk: string | Uint8Array = ""): void {
    if (!this.headersSent) this.writeHead(200);
    this.chunks.push(Buffer.from(chunk));
    this.writableEnded = this.writableFinished = true;
    this.emit("finish");
    this.emit("close");
  }
  get body(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** A context as the node builds it, over `models`, offchain, with the operator secret. */
function context(models: ModelConfig[] = []): OrchestratorContext & AsyncDisposable {
  const ctx = createContext({ orchSecret: SECRET, serviceUri: "https://orch.test:8935" }, models);
  return Object.assign(ctx, { [Symbol.asyncDispose]: () => closeContext(ctx) });
}

async function call(ctx: OrchestratorContext, req: NodeRequest) {
  const res = new FakeResponse();
  await createRouter(ctx).handle(req, res as unknown as ServerResponse);
  return res;
}

const models = (...entries: [pipeline: string, modelId: string][]): ModelConfig[] =>
  parseAiModels(
    JSON.stringify(
      entries.map(([pipeline, model_id]) => ({ pipeline, model_id, url: "http://127.0.0.1:9" })),
    ),
  );

// ---- routes/index.ts -------------------------------------------------------------------------

test("every answer carries a trace id (the caller's when well-formed); unknown paths answer the JSON 404", async () => {
  await using ctx = context();
  const given = await call(ctx, request("GET", "/health", { "x-trace-id": "abc-123" }));
  assert.equal(given.status, 200);
  assert.equal(given.headers["x-trace-id"], "abc-123");
  const bad = await call(ctx, request("GET", "/nope?x=1", { "x-trace-id": "no spaces allowed" }));
  assert.match(bad.headers["x-trace-id"] ?? "", /^[0-9a-f]{16}$/);
  assert.equal(bad.status, 404);
  assert.deepEqual(JSON.parse(bad.body), { error: { code: "NOT_FOUND", message: "no route GET /nope" } });
});

// ---- byoc-registration.ts ---------------------------------------------------------------------

test("registration: a wrong secret answers go's 400 'invalid authorization' (after the 405 for a wrong method)", async () => {
  await using ctx = context();
  const body = JSON.stringify({ name: "echo", url: "http://127.0.0.1:9", capacity: 1 });
  const wrong = await call(ctx, request("POST", "/capability/register", { authorization: "nope" }, body));
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body, "invalid authorization\n");
  assert.equal(ctx.registry.get("byoc", "echo"), undefined);
  const get = await call(ctx, request("GET", "/capability/register", { authorization: "nope" }));
  assert.equal(get.status, 405);
  assert.equal(get.body, "Method not allowed\n");
  const ok = await call(ctx, request("POST", "/capability/register", { authorization: SECRET }, body));
  assert.equal(ok.status, 200);
  assert.equal(ok.body, "ok\n");
  assert.equal(ctx.registry.get("byoc", "echo")?.key, "byoc/echo");
  const bad = await call(
    ctx,
    request(
      "POST",
      "/capability/register",
      { authorization: SECRET },
      JSON.stringify({ name: "x", capacity: 0 }),
    ),
  );
  assert.equal(bad.status, 400);
  assert.match(bad.body, /^Error registering capability: url: .*capacity: zero capacity\n$/);
  const gone = await call(ctx, request("POST", "/capability/unregister", { authorization: SECRET }, "echo"));
  assert.equal(gone.status, 200);
  assert.equal(ctx.registry.get("byoc", "echo"), undefined);
});

test("token: offchain, price 0 for the sender, no capacity advertised while no container is ready", async () => {
  await using ctx = context();
  const sender = { addr: "0x00000000000000000000000000000000000000aa", sig: "" };
  const res = await call(
    ctx,
    request("GET", "/process/token", {
      "livepeer-eth-address": encodeJobSenderHeader(sender),
      "livepeer-capability": "echo",
    }),
  );
  assert.equal(res.status, 200);
  const token = JSON.parse(res.body) as Record<string, unknown>;
  assert.deepEqual(token.sender_address, sender);
  assert.equal(token.service_addr, "https://orch.test:8935");
  assert.deepEqual(token.price, { pixelsPerUnit: 1 }, "price 0 (go omits zero fields)");
  assert.equal(token.available_capacity, undefined);
  assert.equal(token.ticket_params, undefined);
  const missing = await call(
    ctx,
    request("GET", "/process/token", { "livepeer-eth-address": encodeJobSenderHeader(sender) }),
  );
  assert.equal(missing.status, 400);
  assert.equal(missing.body, "missing Livepeer-Capability header\n");
});

// ---- byoc-jobs.ts -----------------------------------------------------------------------------

test("BYOC job: an unknown capability answers 503 in go's plain text and counts as rejected", async () => {
  await using ctx = context();
  const job = encodeJobHeader(newJobRequest({ capability: "nothing", timeoutSeconds: 5 }));
  const res = await call(ctx, request("POST", "/process/request/run", { livepeer: job }, "{}"));
  assert.equal(res.status, 503);
  assert.equal(res.body, "No capacity available for capability\n");
  const metrics = await ctx.metrics.registry.metrics();
  assert.match(metrics, /outcome="rejected"/);
  const tooLong = encodeJobHeader(newJobRequest({ capability: "nothing", timeoutSeconds: 86_401 }));
  const refused = await call(ctx, request("POST", "/process/request", { livepeer: tooLong }));
  assert.equal(refused.status, 400);
  assert.equal((await call(ctx, request("GET", "/process/request/run"))).status, 405);
});

// ---- byoc-streams.ts --------------------------------------------------------------------------

/** A BYOC stream `id` in the table, started by `owner`, on a registered capability. */
function runningStream(ctx: OrchestratorContext, id: string, owner: string): LiveStream {
  ctx.registry.registerByoc({
    name: "echo",
    description: "",
    url: "http://127.0.0.1:9",
    capacity: 2,
    price: Rat.ZERO,
    pricePerUnit: 0n,
    priceScaling: 1n,
    currency: "wei",
    token: undefined,
  });
  const cap = ctx.registry.get("byoc", "echo")!;
  const lease = { capability: cap, container: { url: "http://127.0.0.1:9" }, release() {} } as never;
  ctx.trickle.createChannel(`${id}-control`, "application/json");
  const s: LiveStream = {
    id,
    kind: "byoc",
    lease,
    channels: [`${id}-control`],
    watch: `${id}-control`,
    owner,
  };
  ctx.streams.add(s);
  return s;
}

test("BYOC streams: someone else's stream answers 404 as an unknown one; a start with its id 409", async () => {
  await using ctx = context();
  runningStream(ctx, "s1", "0x00000000000000000000000000000000000000a1");
  const header = (fields: Parameters<typeof newJobRequest>[0]) => ({
    livepeer: encodeJobHeader(newJobRequest(fields)),
  });
  // an unsigned job (owner "") names Alice's stream
  for (const route of ["stop", "update", "payment"]) {
    const res = await call(
      ctx,
      request("POST", `/ai/stream/${route}`, header({ capability: "echo", timeoutSeconds: 5, id: "s1" })),
    );
    assert.equal(res.status, 404, route);
    assert.equal(res.body, "stream s1 does not run here\n", route);
  }
  const unknown = await call(
    ctx,
    request(
      "POST",
      "/ai/stream/stop",
      header({ capability: "echo", timeoutSeconds: 5, request: '{"stream_id":"s9"}' }),
    ),
  );
  assert.equal(unknown.body, "stream s9 does not run here\n");
  assert.equal(ctx.streams.size, 1, "the stream still runs");
  const again = await call(
    ctx,
    request("POST", "/ai/stream/start", header({ capability: "echo", timeoutSeconds: 5, id: "s1" }), "{}"),
  );
  assert.equal(again.status, 409);
  assert.equal(again.body, "stream id s1 is in use here: choose another id\n");
});

// ---- ai-batch.ts ------------------------------------------------------------------------------

test("AI batch: an unknown model answers 503 in the JSON envelope; a GET is no route; model_id needed among several", async () => {
  await using ctx = context(models(["text-to-image", "a"], ["text-to-image", "b"]));
  assert.ok(NATIVE_BATCH_PIPELINES.includes("llm") && !NATIVE_BATCH_PIPELINES.includes("byoc"));
  assert.ok(!NATIVE_BATCH_PIPELINES.includes("live-video-to-video"));
  const json = { "content-type": "application/json" };
  const unknown = await call(
    ctx,
    request("POST", "/text-to-image", json, JSON.stringify({ model_id: "zzz" })),
  );
  assert.equal(unknown.status, 503);
  assert.deepEqual(JSON.parse(unknown.body).error, {
    code: "NO_CAPACITY",
    message: "insufficient capacity: model zzz is not served here for text-to-image",
  });
  const none = await call(ctx, request("POST", "/text-to-image", json, "{}"));
  assert.equal(none.status, 400);
  assert.equal(JSON.parse(none.body).error.code, "MODEL_ID_REQUIRED");
  const get = await call(ctx, request("GET", "/text-to-image"));
  assert.equal(get.status, 404);
  assert.equal(JSON.parse(get.body).error.message, "no route GET /text-to-image");
  assert.equal((await call(ctx, request("POST", "/byoc", json, "{}"))).status, 404);
});

// ---- live-video.ts ----------------------------------------------------------------------------

test("live video: unknown model 503, bad body 400; offchain /payment answers a PaymentResult with the info", async () => {
  await using ctx = context(models(["live-video-to-video", "noop"]));
  const unknown = await call(
    ctx,
    request("POST", "/live-video-to-video", {}, JSON.stringify({ model_id: "x" })),
  );
  assert.equal(unknown.status, 503);
  assert.equal(JSON.parse(unknown.body).error.code, "NO_CAPACITY");
  const bad = await call(ctx, request("POST", "/live-video-to-video", {}, "[1]"));
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error.message, "Invalid JSON body");
  assert.equal(ctx.streams.size, 0);
  const get = await call(ctx, request("GET", "/live-video-to-video"));
  assert.equal(get.status, 405);
  const paid = await call(ctx, request("POST", "/payment"));
  assert.equal(paid.status, 200);
  const result = fromBinary(PaymentResultSchema, Buffer.concat(paid.chunks));
  assert.equal(result.info?.transcoder, "https://orch.test:8935");
});

// ---- grpc.ts ----------------------------------------------------------------------------------

test("gRPC over an in-memory transport: GetOrchestrator answers the service URI offchain; Ping echoes", async () => {
  await using ctx = context();
  const client = createClient(Orchestrator, createRouterTransport(grpcRoutes(ctx)));
  const info = await client.getOrchestrator({});
  assert.equal(info.transcoder, "https://orch.test:8935");
  const pong = await client.ping({ value: new Uint8Array([1, 2, 3]) });
  assert.deepEqual([...pong.value], [1, 2, 3]);
});
