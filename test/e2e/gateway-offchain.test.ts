/**
 * Gateway end to end, offchain: gateway → two real orchestrators (one TLS port each, gRPC discovery)
 * → real SDK containers (the text-reverse example as a BYOC capability, an `llm` batch container for
 * the native AI route). Batch, SSE passthrough, 4xx passthrough, tracing, dashboard, metrics, and
 * failover when one orchestrator is closed in the middle of a run of jobs.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { defineBatchPipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";

function register(orch: RunningOrchestrator, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${orch.url}/capability/register`,
      { method: "POST", headers: { authorization: "s3cret" }, ca: orch.cert, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("gateway offchain e2e", () => {
  const dirs: string[] = [];
  let reverse: RunningRunner;
  let llm: RunningRunner;
  let spell: RunningRunner;
  let drip: RunningRunner;
  /** Lets "drip" send its second event: resolved by the test once the first one reached it. */
  let releaseDrip: () => void = () => {};
  let broken: RunningRunner;
  let working: RunningRunner;
  const orchs: RunningOrchestrator[] = [];
  let gw: RunningGateway;
  const llmTraces: string[] = [];

  before(async () => {
    reverse = await startRunner(textReverse, { port: 0 });
    llm = await startRunner(
      defineBatchPipeline({
        name: "llm",
        run: async (input: { model_id: string; prompt: string }, ctx) => {
          llmTraces.push(String(ctx.headers["x-trace-id"]));
          return { model: input.model_id, text: input.prompt.toUpperCase() };
        },
      }),
      { port: 0 },
    );
    // Always streams, whatever the Accept header (text-reverse streams only when asked).
    spell = await startRunner(
      defineBatchPipeline({
        name: "spell",
        run: async function* (input: { text: string }) {
          for (const ch of input.text) yield { ch };
        },
      }),
      { port: 0 },
    );
    // Sends an event, then waits for the test to have received it before the next one: an answer
    // buffered anywhere on the way would never release it.
    drip = await startRunner(
      defineBatchPipeline({
        name: "drip",
        run: async function* () {
          const released = new Promise<void>((resolve) => {
            releaseDrip = resolve;
          });
          yield { n: 1 };
          await released;
          yield { n: 2 };
        },
      }),
      { port: 0 },
    );
    // "flaky" fails with a 500 on the first orchestrator and works on the second.
    broken = await startRunner(
      defineBatchPipeline({
        name: "flaky",
        run: () => {
          throw new Error("model crashed");
        },
      }),
      { port: 0 },
    );
    working = await startRunner(
      defineBatchPipeline({ name: "flaky", run: (i: { n: number }) => ({ n: i.n + 1 }) }),
      { port: 0 },
    );
    for (let i = 0; i < 2; i++) {
      const flaky = i === 0 ? broken : working;
      const dir = mkdtempSync(join(tmpdir(), "gw-e2e-"));
      dirs.push(dir);
      const aiModels = join(dir, "aiModels.json");
      writeFileSync(
        aiModels,
        JSON.stringify([{ pipeline: "llm", model_id: "m1", url: llm.url, capacity: 4, warm: true }]),
      );
      const orch = await startOrchestrator({
        port: 0,
        aiModelsPath: aiModels,
        orchSecret: "s3cret",
        dataDir: dir,
        health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
        reload: { sighup: false },
      });
      orchs.push(orch);
      assert.equal(
        await register(orch, { name: "text-reverse", url: reverse.url, capacity: 4, price_per_unit: 0 }),
        200,
      );
      assert.equal(
        await register(orch, { name: "spell", url: spell.url, capacity: 4, price_per_unit: 0 }),
        200,
      );
      assert.equal(
        await register(orch, { name: "drip", url: drip.url, capacity: 4, price_per_unit: 0 }),
        200,
      );
      assert.equal(
        await register(orch, { name: "flaky", url: flaky.url, capacity: 4, price_per_unit: 0 }),
        200,
      );
    }
    for (const orch of orchs)
      await until("capabilities to be advertised", () => {
        const keys = orch.registry.advertised().map((a) => a.key);
        return ["byoc/text-reverse", "byoc/spell", "byoc/drip", "byoc/flaky", "llm/m1"].every((k) =>
          keys.includes(k),
        );
      });
    gw = await startGateway({ port: 0, discovery: { orchAddr: orchs.map((o) => o.url) } });
  });

  after(async () => {
    await gw?.close();
    for (const o of orchs) await o.close();
    await Promise.all([
      reverse?.close(),
      llm?.close(),
      spell?.close(),
      drip?.close(),
      broken?.close(),
      working?.close(),
    ]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("POST /text-reverse runs the BYOC capability and answers with the orchestrator and trace", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ text: "héllo 👋" }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { text: "👋 olléh" });
    assert.ok(orchs.some((o) => o.url === r.headers.get("x-orchestrator-url")));
    assert.equal(r.headers.get("x-trace-id"), traceId, "the client's trace continues");
    assert.match(String(r.headers.get("traceparent")), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  test("SSE passes through as Server-Sent Events", async () => {
    const r = await fetch(`${gw.url}/spell`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ text: "abc" }),
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers.get("content-type")), /text\/event-stream/);
    const text = await r.text();
    const data = text
      .split("\n")
      .filter((l) => l.startsWith('data: {"ch"'))
      .map((l) => (JSON.parse(l.slice(6)) as { ch: string }).ch);
    assert.deepEqual(data, ["a", "b", "c"]);
    assert.match(text, /data: \[DONE\]/);
  });

  test("Accept: text/event-stream reaches the container on both BYOC routes and the SSE answer comes back", async () => {
    const header = Buffer.from(
      JSON.stringify({ request: "{}", parameters: "{}", capability: "text-reverse", timeout_seconds: 10 }),
    ).toString("base64");
    for (const [url, extra] of [
      [`${gw.url}/text-reverse`, {}],
      [`${gw.url}/process/request/text-reverse`, { livepeer: header }],
    ] as const) {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", ...extra },
        body: JSON.stringify({ text: "héllo 👋" }),
      });
      assert.equal(r.status, 200, url);
      assert.match(String(r.headers.get("content-type")), /^text\/event-stream/, url);
      const text = await r.text();
      const pieces = text
        .split("\n")
        .filter((l) => l.startsWith('data: {"text"'))
        .map((l) => (JSON.parse(l.slice(6)) as { text: string }).text);
      assert.deepEqual(pieces, ["👋", " ", "o", "l", "l", "é", "h"], url);
      assert.match(text, /data: \[DONE\]/);
    }
    const plain = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "ab" }),
    });
    assert.match(String(plain.headers.get("content-type")), /application\/json/, "JSON unless asked");
    assert.deepEqual(await plain.json(), { text: "ba" });
  });

  test("an SSE answer is streamed unbuffered: the first event arrives while the container still runs", async () => {
    const r = await fetch(`${gw.url}/drip`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: "{}",
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers.get("content-type")), /^text\/event-stream/);
    assert.equal(r.headers.get("cache-control"), "no-cache");
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes('data: {"n":1}')) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the answer ended before its first event: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    assert.ok(!text.includes('"n":2'), "the second event waits for the first one to arrive");
    releaseDrip();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /data: \{"n":2\}/);
    assert.match(text, /data: \[DONE\]/);
  });

  test("the go-livepeer BYOC route takes the client's Livepeer header; a bad header is a 400 envelope", async () => {
    const header = Buffer.from(
      JSON.stringify({ request: "{}", parameters: "{}", capability: "text-reverse", timeout_seconds: 10 }),
    ).toString("base64");
    const ok = await fetch(`${gw.url}/process/request/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", livepeer: header },
      body: JSON.stringify({ text: "xy" }),
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { text: "yx" });
    const bad = await fetch(`${gw.url}/process/request/text-reverse`, {
      method: "POST",
      headers: { livepeer: Buffer.from('{"capability":"text-reverse"}').toString("base64") },
      body: "{}",
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "BAD_JOB_HEADER");
  });

  test("a container's 4xx goes back to the client unchanged (no failover)", async () => {
    const before = gw.pool.stats().reduce((n, s) => n + s.failures, 0);
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ txt: "no" }),
    });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /INVALID_INPUT/);
    assert.equal(
      gw.pool.stats().reduce((n, s) => n + s.failures, 0),
      before,
    );
  });

  test("native AI POST /llm routes by model_id and forwards the trace id to the container", async () => {
    const r = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", prompt: "hi" }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { model: "m1", text: "HI" });
    assert.equal(llmTraces.at(-1), r.headers.get("x-trace-id"));
    const missing = await fetch(`${gw.url}/llm`, { method: "POST", body: JSON.stringify({ prompt: "x" }) });
    assert.equal(missing.status, 400);
    const unknown = await fetch(`${gw.url}/llm`, {
      method: "POST",
      body: JSON.stringify({ model_id: "nope" }),
    });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "MODEL_NOT_OFFERED");
  });

  test("bad requests get 4xx envelopes and never a crash", async () => {
    const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;
    assert.equal((await fetch(`${gw.url}/llm`)).status, 405);
    const nf = await fetch(`${gw.url}/no/such/route`);
    assert.equal(nf.status, 404);
    assert.equal(await code(nf), "NOT_FOUND");
    const badJson = await fetch(`${gw.url}/llm`, { method: "POST", body: "{" });
    assert.equal(badJson.status, 400);
    const big = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      body: Buffer.alloc(11 * 1024 * 1024),
    });
    assert.equal(big.status, 413);
    const badTimeout = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "x-timeout-seconds": "-1" },
      body: "{}",
    });
    assert.equal(badTimeout.status, 400);
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: "garbage" },
      body: JSON.stringify({ text: "ok" }),
    });
    assert.equal(r.status, 200, "an invalid traceparent starts a new trace");
    assert.match(String(r.headers.get("x-trace-id")), /^[0-9a-f]{32}$/);
  });

  test("dashboard and metrics are served", async () => {
    const d = await fetch(`${gw.url}/dashboard`);
    assert.equal(d.status, 200);
    await d.text();
    const m = await fetch(`${gw.url}/metrics`);
    const text = await m.text();
    assert.match(
      text,
      /tributary_gateway_jobs_total\{[^}]*pipeline="byoc"[^}]*model_id="text-reverse"[^}]*outcome="ok"/,
    );
  });

  test("a 5xx from one orchestrator moves the job to the next; the failing one is suspended", async () => {
    const bad = String(orchs[0]?.url);
    const good = String(orchs[1]?.url);
    // Rank the failing orchestrator first: the good one is suspended (still tried, but last).
    gw.suspender.suspend(good, 100);
    try {
      const r = await fetch(`${gw.url}/flaky`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ n: 1 }),
      });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { n: 2 });
      assert.equal(r.headers.get("x-orchestrator-url"), good);
    } finally {
      gw.suspender.release(good);
    }
    assert.ok((gw.pool.stats(bad)?.failures ?? 0) >= 1, "the failing orchestrator was tried");
    assert.ok(gw.suspender.isSuspended(bad), "and suspended after its 5xx");
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(
      metrics,
      /tributary_gateway_orchestrator_failures_total\{[^}]*model_id="flaky"[^}]*action="suspend"/,
    );
    gw.suspender.release(bad);
  });

  test("closing an orchestrator mid-run: every batch job still succeeds on the other one", async () => {
    const results: number[] = [];
    const served = new Set<string>();
    let closed: string | undefined;
    for (let i = 0; i < 12; i++) {
      if (i === 4) {
        // Close the orchestrator that served the last job (so the next jobs would go to it first).
        closed = [...served].at(-1) ?? orchs[0]?.url;
        await orchs.find((o) => o.url === closed)?.close();
      }
      const r = await fetch(`${gw.url}/text-reverse`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: `job${i}` }),
      });
      results.push(r.status);
      served.add(String(r.headers.get("x-orchestrator-url")));
      assert.deepEqual(await r.json(), { text: [...`job${i}`].reverse().join("") });
    }
    assert.deepEqual(
      results,
      results.map(() => 200),
    );
    assert.equal(served.size, 2, "jobs after the close went to the other orchestrator");
    assert.ok(
      (gw.pool.stats(String(closed))?.failures ?? 0) >= 1,
      "the closed one was tried and failed over",
    );
  });
});
