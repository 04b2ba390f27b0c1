/**
 * Fuzzing of the gateway's user API over real HTTP on 127.0.0.1, in front of a real offchain
 * orchestrator and real SDK containers: random JSON and non-JSON bodies, `X-Model-Id`, `Livepeer`
 * and `traceparent` headers on native AI routes (`/<pipeline>`), BYOC (`/<name>`,
 * `/process/request/*`), live video (`/live/video-to-video` and its update/status/stop), BYOC streams
 * (`/process/stream/*`), the gateway's trickle mount and the dashboard.
 *
 * Pass criteria: every request gets an answer (an SSE data stream or a trickle read of a live stream
 * may stay open: those are the protocol); no 5xx except the documented ones — 502
 * `ALL_ORCHESTRATORS_FAILED`, 503 `NO_ORCHESTRATORS` / a stream that is moving, 501 WHIP/RTMP ingest
 * on a BYOC stream; every 4xx has a message; `/health` answers afterwards; the heap after GC stays
 * within {@link HEAP_GROWTH_LIMIT_BYTES}.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { parseAiModels } from "../../src/orchestrator/config.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { encodeJobHeader } from "../../src/protocol/job-header.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { junkHeaderValue, mutated, text } from "./arbitraries.ts";
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
  method,
  pathSegment,
  query,
  send,
  type Target,
} from "./http-util.ts";

const RUNS = 100;
const WAIT_MS = 20_000;
/** An open SSE stream or trickle read is the protocol: give it this long, then hang up. */
const STREAM_WAIT_MS = 1500;
/**
 * The 5xx each route may answer (src/gateway/README.md): on job routes 502 `ALL_ORCHESTRATORS_FAILED`
 * and 503 `NO_ORCHESTRATORS`; on a live or BYOC stream 503 while it moves and 502/503 when no
 * orchestrator takes or answers it; 501 for WHIP/RTMP ingest on a BYOC stream. The dashboard,
 * `/metrics`, `/health`, the trickle mount and unknown paths never.
 */
function allowed5xx(path: string): readonly number[] {
  const p = path.split("?")[0]!;
  if (p.startsWith("/dashboard") || p === "/metrics" || p === "/health" || p.startsWith("/live/trickle/"))
    return [];
  if (p.startsWith("/process/stream/")) return [501, 502, 503];
  return [502, 503];
}
const SECRET = "fuzz-secret";
const NATIVE = ["llm", "text-to-image", "audio-to-text"];
const STREAM_IDS = ["s1", "s2", "nope"];

const streamPath = fc
  .tuple(
    fc.constantFrom("/live/video-to-video/", "/process/stream/"),
    fc.oneof(fc.constantFrom(...STREAM_IDS), pathSegment),
    fc.constantFrom("update", "status", "stop", "data", "whip", ""),
  )
  .map(([base, id, action]) => `${base}${id}${action === "" ? "" : `/${action}`}`);

const path = fc
  .oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom(
        "/llm",
        "/text-to-image",
        "/audio-to-text",
        "/echo",
        "/unknown-capability",
        "/process/request/echo",
        "/process/request/",
        "/process/request",
        "/live/video-to-video",
        "/process/stream/start",
        "/dashboard",
        "/dashboard/api/state",
        "/metrics",
      ),
    },
    { weight: 3, arbitrary: streamPath },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.oneof(fc.constantFrom("s1-in", "s2-in", "s1-out", "s2-data"), pathSegment),
          fc.oneof(fc.integer({ min: -2, max: 6 }).map(String), pathSegment),
        )
        .map(([c, s]) => `/live/trickle/${c}/${s}`),
    },
    { weight: 1, arbitrary: fc.array(pathSegment, { maxLength: 3 }).map((p) => `/${p.join("/")}`) },
  )
  .chain((p) => query.map((q) => `${p}${q}`));

const livepeer = fc
  .record({
    id: text,
    request: fc.oneof(
      fc.constant("{}"),
      fc.constantFrom(...STREAM_IDS).map((s) => JSON.stringify({ stream_id: s })),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    ),
    parameters: fc.oneof(
      fc.constantFrom(
        "",
        "{}",
        '{"enable_data_output":true}',
        '{"orchestrators":{"include":["https://nowhere:1"]}}',
        '{"orchestrators":{"exclude":[1,2]}}',
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
    sender: fc.constant(""),
    sig: fc.constant(""),
  })
  .map(encodeJobHeader);

const jsonObjectBody = fc
  .record(
    {
      model_id: fc.oneof(fc.constantFrom("m1", "noop", "echo", ""), text),
      prompt: text,
      max_tokens: fc.oneof(fc.integer(), fc.double(), text),
      stream_id: fc.oneof(fc.constantFrom(...STREAM_IDS), text),
      stream_name: text,
      params: fc.jsonValue({ maxDepth: 2 }),
      text,
    },
    { requiredKeys: [] },
  )
  .map((o) => Buffer.from(JSON.stringify(o)));

/** A live start that can succeed: a served model and one of a few stream ids, random params. */
const liveStartBody = fc
  .record({
    model_id: fc.constant("noop"),
    stream_id: fc.constantFrom(...STREAM_IDS),
    params: fc.jsonValue({ maxDepth: 2 }),
  })
  .map((o) => Buffer.from(JSON.stringify(o)));

const gatewayRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.oneof({ weight: 5, arbitrary: fc.constant("POST") }, { weight: 2, arbitrary: method }),
    path,
    body: fc.oneof(
      { weight: 3, arbitrary: jsonObjectBody },
      { weight: 2, arbitrary: liveStartBody },
      { weight: 2, arbitrary: body },
    ),
    contentType,
    livepeer: fc.option(fc.oneof(livepeer, mutated(livepeer), junkHeaderValue), { nil: undefined }),
    modelId: fc.option(fc.oneof(fc.constantFrom("m1", "echo", "noop"), junkHeaderValue), { nil: undefined }),
    extra: extraHeaders(["traceparent", "x-timeout-seconds", "accept", "lp-trickle-reset"]),
    cut: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
  })
  .map((r) => {
    const headers: Record<string, string> = { ...r.extra };
    if (r.contentType !== undefined) headers["content-type"] = r.contentType;
    if (r.livepeer !== undefined) headers.livepeer = r.livepeer;
    if (r.modelId !== undefined) headers["x-model-id"] = r.modelId;
    return {
      method: r.method,
      path: r.path,
      headers,
      body: r.body,
      ...(r.cut !== undefined ? { abortAfter: r.cut % (r.body.length + 1) } : {}),
    };
  });

/** Requests that may legitimately stay open: SSE data of a running stream, trickle reads. */
function mayStayOpen(r: FuzzRequest): boolean {
  return r.method === "GET" && (/\/data(\?|$)/.test(r.path) || r.path.startsWith("/live/trickle/"));
}

describe("fuzz: gateway user API over HTTP", () => {
  const dir = mkdtempSync(join(tmpdir(), "gw-fuzz-"));
  const runners: RunningRunner[] = [];
  let orch: RunningOrchestrator;
  let gw: RunningGateway;
  let target: Target;

  before(async () => {
    const batch: Record<string, RunningRunner> = {};
    for (const name of [...NATIVE, "echo"]) {
      batch[name] = await startRunner(
        defineBatchPipeline({ name, run: (input: unknown) => ({ type: typeof input }) }),
        { port: 0 },
      );
      runners.push(batch[name]!);
    }
    const live = await startRunner(defineLivePipeline({ name: "streamer", start: () => {} }), { port: 0 });
    runners.push(live);
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: SECRET,
      models: parseAiModels(
        JSON.stringify([
          ...NATIVE.map((pipeline) => ({ pipeline, model_id: "m1", url: batch[pipeline]!.url, capacity: 4 })),
          { pipeline: "live-video-to-video", model_id: "noop", url: live.url, capacity: 2 },
        ]),
      ),
      health: { intervalMs: 200, failureThreshold: 1 },
    });
    for (const [name, url] of [
      ["echo", batch.echo!.url],
      ["streamer", live.url],
    ] as const) {
      const r = await send(
        { url: orch.url, ca: orch.cert },
        {
          method: "POST",
          path: "/capability/register",
          headers: { authorization: SECRET },
          body: Buffer.from(JSON.stringify({ name, url, capacity: 2, price_per_unit: 0, price_scaling: 1 })),
        },
        WAIT_MS,
      );
      assert.equal(r.kind === "reply" && r.status, 200);
    }
    await until(
      "the containers to become healthy",
      () => orch.registry.advertised().length >= NATIVE.length + 3,
      20_000,
      50,
    );
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      refreshIntervalMs: 500,
      liveEventTimeoutMs: 60_000,
    });
    target = { url: gw.url };
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await Promise.all(runners.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  test("random requests get answers, no undocumented 5xx, 4xx with messages, still serving, heap stable", async () => {
    const ok = await send(
      target,
      {
        method: "POST",
        path: "/llm",
        headers: { "content-type": "application/json" },
        body: Buffer.from('{"model_id":"m1"}'),
      },
      WAIT_MS,
    );
    assert.equal(ok.kind === "reply" && ok.status, 200, JSON.stringify(ok));
    const start = await heapAfterGc();
    await checkAsync(
      "gateway",
      RUNS,
      [fc.array(gatewayRequest, { minLength: 1, maxLength: 3 })],
      async (batch) => {
        const outcomes = await Promise.all(
          batch.map((r) => send(target, r, mayStayOpen(r) ? STREAM_WAIT_MS : WAIT_MS)),
        );
        outcomes.forEach((out, i) => {
          const r = batch[i]!;
          const what = `${r.method} ${r.path}`;
          tally(
            `${r.path.split("?")[0]!.slice(0, 28)} ${out.kind === "reply" ? out.status : out.kind}${
              out.kind === "reply" && out.status >= 500 ? ` ${errorMessageOf(out.body).slice(0, 100)}` : ""
            }`,
          );
          if (r.abortAfter !== undefined) return;
          if (out.kind === "timeout" && mayStayOpen(r)) return;
          assert.equal(out.kind, "reply", `${what}: ${JSON.stringify(out)}`);
          if (out.kind === "reply") assertSaneReply(out, allowed5xx(r.path), what, r.method === "HEAD");
        });
      },
    );
    printTally("gateway");
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200, "still answers /health");
    await assertHeapStable(start, "gateway");
  });

  test("inputs the fuzzer found: a request target of '//' is a 4xx, not a 500", async () => {
    for (const path of ["//", "//x/llm"]) {
      const out = await send(target, { method: "POST", path, headers: {}, body: Buffer.from("{}") }, WAIT_MS);
      assert.ok(
        out.kind === "reply" && out.status >= 400 && out.status < 500,
        `${path}: ${JSON.stringify(out)}`,
      );
    }
  });

  test("headers up to 1 MiB are accepted, over it 431 with a message, the server keeps serving", async () => {
    await checkOversizedHeaders(target, "/health");
  });

  test("a Content-Length over the body limit answers 413 at once, before any of the body is sent", async () => {
    const url = new URL(target.url);
    for (const path of ["/llm", "/process/request/echo", "/live/video-to-video"]) {
      const socket = netConnect(Number(url.port), url.hostname);
      socket.on("error", () => {});
      let answer = "";
      socket.on("data", (d: Buffer) => {
        answer += d.toString("latin1");
      });
      const job = encodeJobHeader({
        id: "big",
        request: "{}",
        parameters: "{}",
        capability: "echo",
        timeoutSeconds: 30,
        sender: "",
        sig: "",
      });
      socket.write(
        `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nlivepeer: ${job}\r\n` +
          `content-length: ${100 * 1024 * 1024}\r\n\r\n`,
      );
      try {
        await until(`${path}: an answer without a body`, () => answer.includes("\r\n\r\n"), 3000);
      } finally {
        socket.destroy();
      }
      assert.match(answer, /^HTTP\/1.1 413 /, path);
      assert.match(answer, /PAYLOAD_TOO_LARGE/, path);
    }
  });

  test("an oversized body answers 413 on every buffering route, the gateway keeps serving", async () => {
    const big = bigBody(10 * 1024 * 1024 + 1, 0x7b);
    for (const p of [
      "/llm",
      "/echo",
      "/process/request/echo",
      "/live/video-to-video",
      "/process/stream/start",
    ]) {
      const out = await send(
        target,
        {
          method: "POST",
          path: p,
          headers: {
            "content-type": "application/json",
            livepeer: encodeJobHeader({
              id: "big",
              request: '{"stream_id":"big"}',
              parameters: "{}",
              capability: "echo",
              timeoutSeconds: 30,
              sender: "",
              sig: "",
            }),
          },
          body: big,
        },
        WAIT_MS * 2,
      );
      assert.equal(out.kind === "reply" && out.status, 413, `${p}: ${JSON.stringify(out).slice(0, 300)}`);
    }
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200);
  });
});
