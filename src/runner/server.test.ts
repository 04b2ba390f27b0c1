import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { BadRequestError } from "../node/errors.ts";
import { MemoryChannels } from "./memory-channels.ts";
import { defineBatchPipeline, defineLivePipeline } from "./pipeline.ts";
import { startRunner } from "./server.ts";

// biome-ignore lint/suspicious/noExplicitAny: test helper reading loosely shaped JSON answers
type Loose = any;
const read = (r: Response): Promise<Loose> => r.json();

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

test("a batch pipeline answers JSON, bytes, 204, a web Response, and 4xx from BadRequestError", async (t) => {
  const runner = await startRunner(
    defineBatchPipeline({
      name: "echo",
      run: (input: unknown) => {
        const i = input as { mode?: string };
        if (i instanceof Uint8Array) return i.slice().reverse();
        if (typeof i === "string") return { text: i };
        if (i.mode === "none") return undefined;
        if (i.mode === "response") return new Response("hi", { status: 202, headers: { "x-metadata": "m" } });
        if (i.mode === "bad") throw new BadRequestError("mode bad is not allowed");
        if (i.mode === "crash") throw new Error("secret internals");
        return { got: i };
      },
    }),
    { port: 0 },
  );
  t.after(() => runner.close());
  await runner.loaded;
  let r = await fetch(`${runner.url}/echo`, json({ a: 1 }));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { got: { a: 1 } });
  r = await fetch(`${runner.url}/run`, { method: "POST", body: new Uint8Array([1, 2, 3]) });
  assert.equal(r.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual([...new Uint8Array(await r.arrayBuffer())], [3, 2, 1]);
  r = await fetch(`${runner.url}/run`, {
    method: "POST",
    headers: { accept: "text/event-stream" },
    body: new Uint8Array([1, 2]),
  });
  assert.equal(
    r.headers.get("content-type"),
    "application/octet-stream",
    "bytes stay bytes even for SSE clients",
  );
  r = await fetch(`${runner.url}/echo`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ a: 3 }),
  });
  assert.equal(
    await r.text(),
    'data: {"got":{"a":3}}\n\ndata: [DONE]\n\n',
    "a plain value becomes one SSE message",
  );
  r = await fetch(`${runner.url}/echo`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "yo",
  });
  assert.deepEqual(await r.json(), { text: "yo" });
  r = await fetch(`${runner.url}/echo`, json({ mode: "none" }));
  assert.equal(r.status, 204);
  r = await fetch(`${runner.url}/echo`, json({ mode: "response" }));
  assert.equal(r.status, 202);
  assert.equal(r.headers.get("x-metadata"), "m");
  assert.equal(await r.text(), "hi");
  r = await fetch(`${runner.url}/echo`, json({ mode: "bad" }));
  assert.equal(r.status, 400);
  assert.deepEqual(await r.json(), { error: { code: "BAD_REQUEST", message: "mode bad is not allowed" } });
  r = await fetch(`${runner.url}/echo`, json({ mode: "crash" }));
  assert.equal(r.status, 500);
  const body = await r.text();
  assert.doesNotMatch(body, /secret internals/);
  r = await fetch(`${runner.url}/echo/v2/sub?x=1`, json({ a: 2 }));
  assert.deepEqual(await read(r), { got: { a: 2 } });
  r = await fetch(`${runner.url}/echoes`, json({}));
  assert.equal(r.status, 404);
  r = await fetch(`${runner.url}/echo`, { method: "GET" });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get("allow"), "POST");
  r = await fetch(`${runner.url}/stream/start`, json({ gateway_request_id: "x" }));
  assert.equal(r.status, 404);
  assert.equal(runner.health.status, "IDLE");
});

test("a multipart upload reaches run as fields and files", async (t) => {
  const runner = await startRunner(
    defineBatchPipeline({
      name: "upload",
      run: (input: unknown) => {
        const i = input as { prompt: string; image: { filename: string; data: Uint8Array } };
        return { prompt: i.prompt, filename: i.image.filename, size: i.image.data.length };
      },
    }),
    { port: 0 },
  );
  t.after(() => runner.close());
  await runner.loaded;
  const form = new FormData();
  form.append("prompt", "cat");
  form.append("image", new Blob([new Uint8Array(10)]), "a.png");
  const r = await fetch(`${runner.url}/upload`, { method: "POST", body: form });
  assert.deepEqual(await r.json(), { prompt: "cat", filename: "a.png", size: 10 });
});

test("an async generator streams SSE ending with [DONE]; an error mid-stream ends with an error event", async (t) => {
  const runner = await startRunner(
    defineBatchPipeline({
      name: "gen",
      run: async function* (input: unknown) {
        yield { n: 1 };
        yield "two";
        if ((input as { fail?: boolean }).fail) throw new BadRequestError("stopped early");
        yield [3];
      },
    }),
    { port: 0 },
  );
  t.after(() => runner.close());
  await runner.loaded;
  let r = await fetch(`${runner.url}/gen`, json({}));
  assert.equal(r.headers.get("content-type"), "text/event-stream");
  assert.equal(await r.text(), 'data: {"n":1}\n\ndata: "two"\n\ndata: [3]\n\ndata: [DONE]\n\n');
  r = await fetch(`${runner.url}/gen`, json({ fail: true }));
  const text = await r.text();
  assert.match(text, /event: error\ndata: \{"error":\{"code":"BAD_REQUEST","message":"stopped early"\}\}/);
  assert.doesNotMatch(text, /\[DONE\]/);
});

test("a body over the limit answers 413 and bad JSON 400 without hurting the runner", async (t) => {
  const runner = await startRunner(defineBatchPipeline({ name: "x", run: () => ({ ok: true }) }), {
    port: 0,
    maxBodyBytes: 100,
  });
  t.after(() => runner.close());
  await runner.loaded;
  let r = await fetch(`${runner.url}/x`, json({ big: "a".repeat(500) }));
  assert.equal(r.status, 413);
  assert.equal((await read(r)).error.code, "PAYLOAD_TOO_LARGE");
  r = await fetch(`${runner.url}/x`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{nope",
  });
  assert.equal(r.status, 400);
  assert.match((await read(r)).error.message, /not valid JSON/);
  r = await fetch(`${runner.url}/x`, json({}));
  assert.equal(r.status, 200);
});

test("a failing load puts /health into ERROR and batch requests get 503", async (t) => {
  const runner = await startRunner(
    defineBatchPipeline({
      name: "x",
      load: () => {
        throw new Error("weights missing");
      },
      run: () => 1,
    }),
    { port: 0 },
  );
  t.after(() => runner.close());
  await runner.loaded;
  assert.deepEqual(await (await fetch(`${runner.url}/health`)).json(), { status: "ERROR" });
  const r = await fetch(`${runner.url}/x`, json({}));
  assert.equal(r.status, 503);
  assert.match((await read(r)).error.message, /weights missing/);
});

test("a live start with media URLs runs the media path for a media pipeline and runs data-only for others", async (t) => {
  const media = await startRunner(defineLivePipeline({ video: (f) => f }), {
    port: 0,
    channels: new MemoryChannels(),
  });
  t.after(() => media.close());
  await media.loaded;
  const start = { gateway_request_id: "m1", subscribe_url: "http://x/in", publish_url: "http://x/out" };
  let r = await fetch(`${media.url}/stream/start`, json(start));
  assert.equal(r.status, 200);
  assert.equal(media.health.status, "OK");
  r = await fetch(`${media.url}/stream/stop`, { method: "POST" });
  assert.equal(r.status, 200);
  assert.equal(media.health.status, "IDLE");

  const channels = new MemoryChannels();
  const dataOnly = await startRunner(defineLivePipeline({}), { port: 0, channels });
  t.after(() => dataOnly.close());
  await dataOnly.loaded;
  r = await fetch(`${dataOnly.url}/api/stream/start`, json({ ...start, events_url: "mem://e" }));
  assert.equal(r.status, 200);
  await channels.channel("mem://e").waitForSegments(1);
  r = await fetch(`${dataOnly.url}/api/stream/status`);
  const status = await read(r);
  assert.equal(status.client_active, true);
  assert.equal(status.current_params.subscribe_url, "http://x/in");
  r = await fetch(`${dataOnly.url}/live-video-to-video`, json({ gateway_request_id: "m2" }));
  assert.equal(r.status, 409);
  r = await fetch(`${dataOnly.url}/stream/stop`, { method: "POST", body: "user stop" });
  assert.equal(r.status, 200);
  assert.equal(dataOnly.health.status, "IDLE");
});

test("close stops a running stream and ends the server; an aborted signal closes it too", async () => {
  const ac = new AbortController();
  let stopped = false;
  const runner = await startRunner(
    defineLivePipeline({
      stop: () => {
        stopped = true;
      },
    }),
    {
      port: 0,
      signal: ac.signal,
    },
  );
  await runner.loaded;
  const r = await fetch(`${runner.url}/stream/start`, json({ gateway_request_id: "c1" }));
  assert.equal(r.status, 200);
  ac.abort();
  await runner.close();
  assert.equal(stopped, true);
  await assert.rejects(fetch(`${runner.url}/health`));
});

test("arbitrary bodies on every route never produce a 5xx or a dropped connection", async (t) => {
  const fc = await import("fast-check");
  const runner = await startRunner(
    defineLivePipeline({
      params: (p) => {
        if (p.boom) throw new Error("boom");
      },
    }),
    { port: 0, channels: new MemoryChannels(), maxBodyBytes: 4096 },
  );
  t.after(() => runner.close());
  await runner.loaded;
  const routes = [
    "/stream/start",
    "/api/stream/params",
    "/stream/update",
    "/stream/stop",
    "/live-video-to-video",
    "/x",
  ];
  const types = [
    "application/json",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data; boundary=b",
    "",
  ];
  const startLike = fc.record(
    {
      gateway_request_id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      params: fc.oneof(
        fc.jsonValue(),
        fc.dictionary(
          fc.constantFrom("width", "height", "max_framerate", "boom", "detect_out_resolution"),
          fc.jsonValue(),
        ),
      ),
      control_url: fc.oneof(fc.string(), fc.jsonValue()),
    },
    { requiredKeys: [] },
  );
  const bodies = fc.oneof(
    fc.jsonValue().map((v) => JSON.stringify(v)),
    startLike.map((v) => JSON.stringify(v)),
    fc.string(),
    fc.uint8Array({ maxLength: 5000 }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.constantFrom(...types),
      bodies,
      async (route, type, body) => {
        const r = await fetch(`${runner.url}${route}`, {
          method: "POST",
          headers: type ? { "content-type": type } : {},
          body,
        });
        await r.arrayBuffer();
        return r.status < 500 || r.status === 501 || r.status === 503;
      },
    ),
    { numRuns: 150 },
  );
  const h = await fetch(`${runner.url}/health`);
  assert.equal(h.status, 200);
  assert.notEqual((await read(h)).status, "ERROR");
});

test("/hardware/info and /hardware/stats report the probed GPUs in pytrickle's shapes", async (t) => {
  const runner = await startRunner(defineLivePipeline({}), {
    port: 0,
    pipelineName: "byoc",
    modelId: "my-cap",
    gpuProbe: async () => [
      {
        index: "0",
        id: "GPU-1",
        name: "Fake GPU",
        memoryTotal: 10,
        memoryFree: 4,
        major: 8,
        minor: 6,
        utilizationCompute: 50,
        utilizationMemory: 20,
      },
    ],
  });
  t.after(() => runner.close());
  const info = await read(await fetch(`${runner.url}/hardware/info`));
  assert.deepEqual(info, {
    pipeline: "byoc",
    model_id: "my-cap",
    gpu_info: {
      "0": { id: "GPU-1", name: "Fake GPU", memory_total: 10, memory_free: 4, major: 8, minor: 6 },
    },
  });
  const stats = await read(await fetch(`${runner.url}/hardware/stats`));
  assert.equal(stats.gpu_stats["0"].utilization_compute, 50);
  assert.deepEqual(await read(await fetch(`${runner.url}/version`)), {
    pipeline: "byoc",
    model_id: "my-cap",
    version: JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version,
  });
});

test("a stream whose control channel ends is stopped and the runner returns to IDLE", async (t) => {
  const channels = new MemoryChannels();
  const runner = await startRunner(defineLivePipeline({}), { port: 0, channels });
  t.after(() => runner.close());
  await runner.loaded;
  const r = await fetch(
    `${runner.url}/stream/start`,
    json({ gateway_request_id: "ended", control_url: "mem://c", events_url: "mem://e" }),
  );
  assert.equal(r.status, 200);
  assert.equal(runner.health.status, "OK");
  channels.channel("mem://c").end();
  for (let i = 0; i < 500 && runner.session !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(runner.session, undefined, "the session stopped by itself");
  assert.equal(runner.health.status, "IDLE");
  const again = await fetch(`${runner.url}/stream/start`, json({ gateway_request_id: "next" }));
  assert.equal(again.status, 200, "a new stream can start");
});

test("/metrics exposes health, batch and stream counters in Prometheus text", async (t) => {
  const runner = await startRunner(
    defineBatchPipeline({
      name: "m",
      run: (i: unknown) => {
        if ((i as { fail?: boolean }).fail) throw new Error("x");
        return 1;
      },
    }),
    { port: 0, pipelineName: "m", modelId: "m-cap" },
  );
  t.after(() => runner.close());
  await runner.loaded;
  await fetch(`${runner.url}/m`, json({}));
  await fetch(`${runner.url}/m`, json({ fail: true }));
  const r = await fetch(`${runner.url}/metrics`);
  assert.match(r.headers.get("content-type") ?? "", /text\/plain/);
  const text = await r.text();
  assert.match(text, /tributary_runner_health\{state="IDLE",pipeline="m",model_id="m-cap"\} 1/);
  assert.match(text, /tributary_runner_batch_requests_total\{pipeline="m",model_id="m-cap"\} 2/);
  assert.match(text, /tributary_runner_batch_errors_total\{pipeline="m",model_id="m-cap"\} 1/);
  assert.match(text, /tributary_runner_streams_active\{[^}]*\} 0/);
});

test("a port already in use is a clear PORT_IN_USE error", async (t) => {
  const first = await startRunner(defineLivePipeline({}), { port: 0 });
  t.after(() => first.close());
  const port = Number(new URL(first.url).port);
  await assert.rejects(startRunner(defineLivePipeline({}), { port }), { code: "PORT_IN_USE" });
});
