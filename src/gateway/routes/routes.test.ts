// The gateway's routes and its batch retry loop over a context built in memory: no server, no
// orchestrator (a fake pool, selector and HTTPS client stand in for them).
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import { Registry } from "prom-client";
import { silentLogger } from "../../node/logger.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { type GatewayContext, gatewayMetrics } from "../context.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import type { OrchestratorCall } from "../orch-http.ts";
import { type Rejection, Suspender } from "../selection/index.ts";
import { createRouter } from "./index.ts";

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
  flushHeaders(): void {}
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  end(chunk: string | Uint8Array = ""): void {
    if (!this.headersSent) this.writeHead(200);
    this.chunks.push(Buffer.from(chunk));
    this.writableEnded = this.writableFinished = true;
    this.emit("finish");
    this.emit("close");
  }
  destroy(): void {
    this.emit("close");
  }
  get body(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
  get json(): { error?: { code: string; message: string; orchestrator?: unknown } } & Record<
    string,
    unknown
  > {
    return JSON.parse(this.body) as never;
  }
}

const ORCHS = ["https://o1:8935", "https://o2:8935"];

/** What one fake orchestrator answers: status and body. */
type Answer = { status: number; body: string; type?: string };

/** A context over fake orchestrators answering `answers[url]`; records the calls made. */
function fakeContext(answers: Record<string, Answer>) {
  const calls: { url: string; call: OrchestratorCall }[] = [];
  const descriptors = ORCHS.map((u) => ({ url: u, transcoder: u }) as OrchestratorDescriptor);
  const suspender = new Suspender();
  const ctx = {
    log: silentLogger(),
    signal: new AbortController().signal,
    pool: {
      current: async () => descriptors,
      refresh: async () => descriptors,
      snapshot: () => descriptors,
      recordFailure: () => {},
      recordSuccess: () => {},
    },
    selector: {
      select: (all: OrchestratorDescriptor[], q: { exclude: string[] }) => ({
        ranked: all.filter((d) => !q.exclude.includes(d.transcoder)).map((descriptor) => ({ descriptor })),
        rejected: [],
      }),
    },
    suspender,
    http: {
      send: async (url: string, call: OrchestratorCall) => {
        calls.push({ url, call });
        const a = answers[new URL(url).origin];
        if (a === undefined) throw new Error("connect ECONNREFUSED");
        return Object.assign(Readable.from([Buffer.from(a.body)]), {
          statusCode: a.status,
          headers: a.type ? { "content-type": a.type } : {},
        }) as unknown as IncomingMessage;
      },
      close: () => {},
    },
    payments: undefined,
    metrics: gatewayMetrics(new Registry()),
    dashboard: { handle: () => false, close: () => {} },
    live: { handle: async (_req: unknown, res: FakeResponse, path: string) => res.end(`live ${path}`) },
    aiTimeoutMs: 1000,
  } as unknown as GatewayContext;
  return { ctx, calls, suspender };
}

async function serve(ctx: GatewayContext, req: NodeRequest): Promise<FakeResponse> {
  const res = new FakeResponse();
  await createRouter(ctx).handle(req, res as unknown as NodeResponse);
  return res;
}

test("system routes: GET /health and /metrics; other methods on them are a 404, a bad target a 400", async () => {
  const { ctx } = fakeContext({});
  const health = await serve(ctx, request("GET", "/health"));
  assert.deepEqual([health.status, health.json], [200, { status: "ok" }]);
  const metrics = await serve(ctx, request("GET", "/metrics"));
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /tributary_gateway_jobs_total/);
  const post = await serve(ctx, request("POST", "/health"));
  assert.deepEqual([post.status, post.json.error?.code], [404, "NOT_FOUND"]);
  assert.match(post.json.error?.message ?? "", /^no route POST \/health; see GET \/dashboard/);
  const bad = await serve(ctx, request("GET", "http://["));
  assert.deepEqual([bad.status, bad.json.error?.code], [400, "BAD_URL"]);
});

test("the target's normalised path routes: /x/../health is /health, /live/… goes to the live manager", async () => {
  const { ctx } = fakeContext({});
  assert.equal((await serve(ctx, request("GET", "/x/../health"))).status, 200);
  assert.equal(
    (await serve(ctx, request("GET", "/live/video-to-video/a/status?key=k"))).body,
    "live /live/video-to-video/a/status",
  );
});

test("job routes take POST only (405 `use POST`, Allow: POST); an AI job needs a model id", async () => {
  const { ctx, calls } = fakeContext({});
  for (const path of ["/llm", "/my-capability", "/process/request/x"]) {
    const res = await serve(ctx, request("GET", path));
    assert.deepEqual(
      [res.status, res.headers.allow, res.json.error?.message],
      [405, "POST", "use POST"],
      path,
    );
  }
  const res = await serve(
    ctx,
    request("POST", "/text-to-image", { "content-type": "application/json" }, "{}"),
  );
  assert.deepEqual([res.status, res.json.error?.code], [400, "MODEL_ID_REQUIRED"]);
  assert.equal(calls.length, 0);
});

test("a BYOC job moves on after a 5xx: 'insufficient capacity' switches, anything else suspends", async () => {
  for (const [text, suspended] of [
    ["insufficient capacity", false],
    ['{"error":{"code":"TICKET_EXPIRED","message":"ticket params expired at L1 block 9"}}', false],
    ["runner crashed", true],
  ] as const) {
    const { ctx, calls, suspender } = fakeContext({
      [ORCHS[0] as string]: { status: 500, body: text },
      [ORCHS[1] as string]: { status: 200, body: "done", type: "text/plain" },
    });
    const res = await serve(ctx, request("POST", "/reverse", { "x-model-id": "text-reverse" }, "abc"));
    assert.deepEqual(
      [res.status, res.body, res.headers["x-orchestrator-url"]],
      [200, "done", ORCHS[1]],
      text,
    );
    assert.deepEqual(
      calls.map((c) => c.url),
      ORCHS.map((o) => `${o}/process/request/reverse`),
    );
    assert.ok(calls[0]?.call.headers?.livepeer, "the gateway built the Livepeer header");
    assert.equal(suspender.isSuspended(ORCHS[0] as string), suspended, text);
  }
});

test("a job every orchestrator fails is a 502 ALL_ORCHESTRATORS_FAILED with the job's trace id", async () => {
  const { ctx } = fakeContext({ [ORCHS[0] as string]: { status: 503, body: "busy" } });
  const res = await serve(ctx, request("POST", "/process/request/x", { livepeer: "" }, ""));
  // No Livepeer header: the client's job is refused before any orchestrator is asked.
  assert.equal(res.status, 400);
  const job = await serve(ctx, request("POST", "/reverse", {}, "abc"));
  assert.deepEqual([job.status, job.json.error?.code], [502, "ALL_ORCHESTRATORS_FAILED"]);
  assert.match(job.headers["x-trace-id"] ?? "", /^[0-9a-f]{32}$/);
});

// Issue 17 (busy is not dead; say which): an orchestrator's capacity refusal is neither a failure nor a
// suspension, a success lifts a suspension, and the client learns which case it hit.
const BUSY = JSON.stringify({
  error: { code: "NO_CAPACITY", message: "No capacity available for capability text-reverse" },
});

test("a NO_CAPACITY answer is busy, not failed: no suspension, no failure counted; a success lifts a suspension", async () => {
  const { ctx, suspender } = fakeContext({
    [ORCHS[0] as string]: { status: 503, body: BUSY },
    [ORCHS[1] as string]: { status: 200, body: "done", type: "text/plain" },
  });
  const failures: string[] = [];
  (ctx.pool as unknown as { recordFailure: (u: string) => void }).recordFailure = (u) => failures.push(u);
  suspender.suspend(ORCHS[1] as string, 3);
  const res = await serve(ctx, request("POST", "/reverse", {}, "abc"));
  assert.deepEqual([res.status, res.headers["x-orchestrator-url"]], [200, ORCHS[1]]);
  assert.equal(suspender.isSuspended(ORCHS[0] as string), false, "busy is not suspended");
  assert.deepEqual(failures, [], "busy is not counted as a failure");
  assert.equal(suspender.isSuspended(ORCHS[1] as string), false, "an answered job lifts the suspension");
});

test("every orchestrator busy: 503 ORCHESTRATORS_BUSY with Retry-After, 'all 2 … are busy'", async () => {
  const { ctx, suspender } = fakeContext({
    [ORCHS[0] as string]: { status: 503, body: BUSY },
    [ORCHS[1] as string]: { status: 503, body: "insufficient capacity" },
  });
  const res = await serve(ctx, request("POST", "/reverse", {}, "abc"));
  assert.deepEqual([res.status, res.json.error?.code], [503, "ORCHESTRATORS_BUSY"]);
  assert.equal(res.headers["retry-after"], "2");
  assert.match(
    res.json.error?.message ?? "",
    /^all 2 orchestrators offering BYOC capability "reverse" are busy/,
  );
  assert.equal(suspender.entries().length, 0);
});

test("an orchestrator's refusal is passed on as a structured error, not JSON inside a string", async () => {
  const { ctx } = fakeContext({
    [ORCHS[0] as string]: {
      status: 502,
      body: JSON.stringify({ error: { code: "CONTAINER_UNAVAILABLE", message: "container crashed" } }),
    },
  });
  const res = await serve(ctx, request("POST", "/reverse", {}, "abc"));
  assert.deepEqual([res.status, res.json.error?.code], [502, "ALL_ORCHESTRATORS_FAILED"]);
  assert.deepEqual(res.json.error?.orchestrator, {
    url: ORCHS[0],
    status: 502,
    code: "CONTAINER_UNAVAILABLE",
    message: "container crashed",
  });
  assert.doesNotMatch(res.json.error?.message ?? "", /\{"error"/);
});

test("no candidate: unknown model is a 404, all busy a 503 with Retry-After, all too dear a 503 PRICE_ABOVE_LIMIT", async () => {
  const cases: [Rejection["code"][], number, string, string | undefined][] = [
    [["MODEL_NOT_OFFERED", "MODEL_NOT_OFFERED"], 404, "MODEL_NOT_OFFERED", undefined],
    [["MODEL_NOT_OFFERED", "NO_CAPACITY"], 503, "ORCHESTRATORS_BUSY", "2"],
    [["PRICE_ABOVE_MAX", "PRICE_ABOVE_MAX"], 503, "PRICE_ABOVE_LIMIT", undefined],
    [["PRICE_ABOVE_MAX", "NO_CAPACITY"], 503, "NO_ORCHESTRATORS", undefined],
  ];
  for (const [codes, status, code, retryAfter] of cases) {
    const { ctx, calls } = fakeContext({});
    (ctx as unknown as { selector: unknown }).selector = {
      select: () => ({
        ranked: [],
        rejected: codes.map((c, i) => ({ transcoder: ORCHS[i], code: c, message: `${c} here` })),
      }),
    };
    const res = await serve(ctx, request("POST", "/text-to-image", {}, '{"model_id":"m1"}'));
    assert.deepEqual(
      [res.status, res.json.error?.code, res.headers["retry-after"]],
      [status, code, retryAfter],
    );
    assert.equal(calls.length, 0);
  }
  const { ctx } = fakeContext({});
  (ctx as unknown as { selector: unknown }).selector = {
    select: () => ({
      ranked: [],
      rejected: [{ transcoder: ORCHS[0], code: "MODEL_NOT_OFFERED", message: "" }],
    }),
  };
  const res = await serve(ctx, request("POST", "/text-to-image", {}, '{"model_id":"m1"}'));
  assert.match(res.json.error?.message ?? "", /^no orchestrator offers text-to-image\/m1 \(1 known\)/);
});

test("GET /getNetworkCapabilities is routed (go-livepeer's shape, from the pool); POST to it is a 404", async () => {
  const { ctx } = fakeContext({});
  const info = { transcoder: ORCHS[0], capabilitiesPrices: [], hardware: [] };
  (ctx.pool as unknown as { current: () => Promise<unknown[]> }).current = async () => [
    { url: ORCHS[0], transcoder: ORCHS[0], address: "0x", info },
  ];
  const res = await serve(ctx, request("GET", "/getNetworkCapabilities"));
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, {
    orchestrators: [
      {
        address: "0x",
        local_address: ORCHS[0],
        orch_uri: ORCHS[0],
        capabilities: null,
        capabilities_prices: null,
        hardware: null,
      },
    ],
  });
  assert.equal((await serve(ctx, request("POST", "/getNetworkCapabilities"))).status, 404);
});
