/**
 * Offchain orchestrator end to end: real SDK containers (startRunner), the orchestrator's one TLS
 * port, BYOC registration and jobs, native batch, capacity 503, health withdraw/restore, hot reload,
 * live-video-to-video start, and gRPC GetOrchestrator over TLS with Connect's gRPC transport.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { hasCapabilityBit as hasCapability } from "../../src/protocol/capabilities.ts";
import {
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_CapabilityConstraintsSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
  Orchestrator,
} from "../../src/protocol/gen/lp_rpc_pb.ts";
import {
  defineBatchPipeline,
  defineLivePipeline,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

const jobHeader = (capability: string, extra: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({ request: "{}", parameters: "{}", capability, timeout_seconds: 10, ...extra }),
  ).toString("base64");

describe("orchestrator offchain e2e", () => {
  const dir = mkdtempSync(join(tmpdir(), "orch-e2e-"));
  const aiModels = join(dir, "aiModels.json");
  let llm: RunningRunner;
  let reverse: RunningRunner;
  let live: RunningRunner;
  let streamer: RunningRunner;
  let updates: Record<string, unknown>[] = [];
  let orch: RunningOrchestrator;
  let gate: { release: () => void; wait: Promise<void> } | undefined;
  const traceIds: string[] = [];

  before(async () => {
    llm = await startRunner(
      defineBatchPipeline({
        name: "llm",
        run: async (input: { model_id: string; prompt: string }, ctx) => {
          traceIds.push(String(ctx.headers["x-trace-id"]));
          if (gate) await gate.wait;
          return { model: input.model_id, text: input.prompt.toUpperCase() };
        },
      }),
      {
        port: 0,
        gpuProbe: async () => [
          {
            index: "0",
            id: "GPU-test",
            name: "Test GPU",
            memoryTotal: 8 * 2 ** 30,
            memoryFree: 2 ** 30,
            major: 8,
            minor: 6,
            utilizationCompute: 0,
            utilizationMemory: 0,
          },
        ],
      },
    );
    reverse = await startRunner(
      defineBatchPipeline({
        name: "reverse",
        run: async function* (input: { text: string }) {
          for (const ch of [...input.text].reverse()) yield { ch };
        },
      }),
      { port: 0, token: "container-token" },
    );
    live = await startRunner(defineLivePipeline({ name: "noop-live", start: () => {} }), { port: 0 });
    streamer = await startRunner(
      defineLivePipeline({
        name: "byoc-stream",
        start: () => {},
        params: (p) => {
          updates.push(p);
        },
      }),
      { port: 0 },
    );
    writeFileSync(
      aiModels,
      JSON.stringify([
        { pipeline: "llm", model_id: "m1", url: llm.url, capacity: 1, warm: true },
        { pipeline: "live-video-to-video", model_id: "noop", url: live.url },
      ]),
    );
    orch = await startOrchestrator({
      port: 0,
      aiModelsPath: aiModels,
      orchSecret: "s3cret",
      dataDir: dir,
      health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
      reload: { debounceMs: 20, sighup: false },
      streamCheckIntervalMs: 100,
    });
  });

  after(async () => {
    await orch?.close();
    await Promise.all([llm?.close(), reverse?.close(), live?.close(), streamer?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("advertises the ready aiModels entries in GET /capabilities", async () => {
    const r = await call(orch, "/capabilities");
    assert.equal(r.status, 200);
    const caps = JSON.parse(r.body).capabilities as { capability: string; warm: boolean; capacity: number }[];
    assert.deepEqual(caps.map((c) => c.capability).sort(), ["live-video-to-video/noop", "llm/m1"]);
    assert.equal(JSON.parse(r.body).containers, undefined, "container URLs only for the operator");
    const op = await call(orch, "/capabilities", { headers: { authorization: "s3cret" } });
    assert.equal(JSON.parse(op.body).containers.length, 2);
  });

  test("native batch POST /llm routes by model_id; an unknown model is 503, bad JSON 400", async () => {
    const ok = await call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", prompt: "hi" }),
    });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { model: "m1", text: "HI" });
    assert.match(String(ok.headers["x-trace-id"]), /^[0-9a-f]{16}$/, "a trace id is made when none is given");
    assert.equal(traceIds.at(-1), ok.headers["x-trace-id"], "and sent on to the container");
    const traced = await call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json", "x-trace-id": "trace-abc" },
      body: JSON.stringify({ model_id: "m1", prompt: "t" }),
    });
    assert.equal(traced.headers["x-trace-id"], "trace-abc");
    assert.equal(traceIds.at(-1), "trace-abc");
    const unknown = await call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "nope", prompt: "x" }),
    });
    assert.equal(unknown.status, 503);
    assert.equal(JSON.parse(unknown.body).error.code, "NO_CAPACITY");
    const bad = await call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    assert.equal(bad.status, 400);
  });

  test("a full container answers 503 until its running job ends", async () => {
    let release = () => {};
    gate = { wait: new Promise<void>((r) => (release = r)), release: () => release() };
    const first = call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", prompt: "a" }),
    });
    await until("the first job to hold the slot", () => orch.registry.container(llm.url)?.inUse === 1);
    const second = await call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", prompt: "b" }),
    });
    assert.equal(second.status, 503);
    gate.release();
    gate = undefined;
    assert.equal((await first).status, 200);
    assert.equal(orch.registry.container(llm.url)?.inUse, 0);
  });

  test("BYOC: register (400 on a wrong secret, as go-livepeer), token, SSE job with the container token, unregister", async () => {
    const reg = {
      name: "reverse",
      url: reverse.url,
      capacity: 2,
      price_per_unit: 0,
      price_scaling: 1,
      token: "container-token",
    };
    const wrong = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "nope" },
      body: JSON.stringify(reg),
    });
    assert.equal(wrong.status, 400);
    const badBody = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s3cret" },
      body: JSON.stringify({ ...reg, capacity: 0 }),
    });
    assert.equal(badBody.status, 400);
    assert.match(badBody.body, /capacity/);
    const ok = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s3cret" },
      body: JSON.stringify(reg),
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "ok\n");
    await until("the BYOC container to be healthy", () =>
      orch.registry.advertised().some((a) => a.key === "byoc/reverse"),
    );
    const sender = Buffer.from(
      JSON.stringify({ addr: "0x0000000000000000000000000000000000000001", sig: "0x" }),
    ).toString("base64");
    const token = await call(orch, "/process/token", {
      headers: { "livepeer-eth-address": sender, "livepeer-capability": "reverse" },
    });
    assert.equal(token.status, 200, token.body);
    const t = JSON.parse(token.body);
    assert.equal(t.available_capacity, 2);
    assert.equal(t.service_addr, orch.serviceUri);
    assert.deepEqual(t.price, { pixelsPerUnit: 1 });
    assert.equal(t.ticket_params, undefined);

    const job = await call(orch, "/process/request/reverse", {
      method: "POST",
      headers: { livepeer: jobHeader("reverse"), "content-type": "application/json" },
      body: JSON.stringify({ text: "abc" }),
    });
    assert.equal(job.status, 200, job.body);
    assert.match(String(job.headers["content-type"]), /text\/event-stream/);
    assert.deepEqual(
      job.body
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6)),
      ['{"ch":"c"}', '{"ch":"b"}', '{"ch":"a"}', "[DONE]"],
    );

    const noTimeout = await call(orch, "/process/request/reverse", {
      method: "POST",
      headers: { livepeer: jobHeader("reverse", { timeout_seconds: 0 }) },
      body: "{}",
    });
    assert.equal(noTimeout.status, 400);
    assert.match(noTimeout.body, /timeout_seconds is required/);
    const unknownCap = await call(orch, "/process/request/x", {
      method: "POST",
      headers: { livepeer: jobHeader("missing") },
      body: "{}",
    });
    assert.equal(unknownCap.status, 503);
    const garbage = await call(orch, "/process/request/x", {
      method: "POST",
      headers: { livepeer: "%%%" },
      body: "",
    });
    assert.equal(garbage.status, 400);

    const un = await call(orch, "/capability/unregister", {
      method: "POST",
      headers: { authorization: "s3cret" },
      body: "reverse",
    });
    assert.equal(un.status, 200);
    assert.equal(orch.registry.get("byoc", "reverse"), undefined);
  });

  test("gRPC GetOrchestrator over TLS: service URI, AI capability bits and model constraints, auth token, prices", async () => {
    const transport = createGrpcTransport({ baseUrl: orch.url, nodeOptions: { ca: orch.cert } });
    const client = createClient(Orchestrator, transport);
    const info = await client.getOrchestrator({});
    assert.equal(info.transcoder, orch.serviceUri);
    assert.ok(info.capabilities);
    assert.ok(hasCapability(info.capabilities.bitstring, 33), "LLM bit");
    assert.ok(hasCapability(info.capabilities.bitstring, 35), "LV2V bit");
    assert.ok(hasCapability(info.capabilities.mandatories, 12), "AuthToken mandatory");
    const m1 = info.capabilities.constraints?.PerCapability[33]?.models.m1;
    assert.deepEqual([m1?.warm, m1?.capacity, m1?.capacityInUse], [true, 1, 0]);
    assert.equal(info.authToken?.token.length, 32);
    assert.ok((info.authToken?.expiration ?? 0n) > BigInt(Math.floor(Date.now() / 1000)));
    assert.equal(info.ticketParams, undefined, "offchain: no ticket params");
    const hw = info.hardware.find((h) => h.pipeline === "llm" && h.modelId === "m1");
    assert.equal(hw?.gpuInfo["0"]?.name, "Test GPU", "GPUs from the container's /hardware/info");
    assert.equal(hw?.gpuInfo["0"]?.memoryTotal, BigInt(8 * 2 ** 30));
    assert.deepEqual(
      info.capabilitiesPrices.map((p) => [p.capability, p.constraint, p.pricePerUnit]).sort(),
      [
        [33, "m1", 0n],
        [35, "noop", 0n],
      ],
    );
    // A request naming a capability gets that capability's price and no capabilities_prices.
    const caps = create(CapabilitiesSchema, {
      constraints: create(Capabilities_ConstraintsSchema, {
        PerCapability: {
          33: create(Capabilities_CapabilityConstraintsSchema, {
            models: { m1: create(Capabilities_CapabilityConstraints_ModelConstraintSchema, {}) },
          }),
        },
      }),
    });
    const priced = await client.getOrchestrator({ capabilities: caps });
    assert.equal(priced.priceInfo?.capability, 33);
    assert.equal(priced.capabilitiesPrices.length, 0);
    const pong = await client.ping({ value: new Uint8Array([7]) });
    assert.deepEqual([...pong.value], [7]);
  });

  test("live-video-to-video starts the container's stream on random trickle channels", async () => {
    const r = await call(orch, "/live-video-to-video", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "noop", params: {}, gateway_request_id: "g1", stream_id: "s1" }),
    });
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body);
    assert.match(body.manifest_id, /^[0-9a-f]{32}$/);
    assert.equal(body.publish_url, `${orch.serviceUri}/ai/trickle/${body.manifest_id}`);
    assert.equal(body.subscribe_url, `${body.publish_url}-out`);
    assert.equal(body.control_url, `${body.publish_url}-control`);
    assert.equal(orch.streamCount, 1);
    await until("the container's stream to run", () => live.session !== undefined);
    // A gateway's DELETE of the control channel ends the stream and frees the slot before the answer
    // reaches it (not at the next periodic check), so a new stream can start at once.
    const deleted = await call(orch, `/ai/trickle/${body.manifest_id}-control`, { method: "DELETE" });
    assert.equal(deleted.status, 200, deleted.body);
    assert.equal(orch.streamCount, 0);
    assert.equal(orch.registry.container(live.url)?.inUse, 0);
    const busy = await call(orch, "/live-video-to-video", { method: "POST", body: "[1]" });
    assert.equal(busy.status, 400);
  });

  test("BYOC stream: start creates the channels and starts the container, update and payment reach it, stop ends it", async () => {
    updates = [];
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s3cret" },
      body: JSON.stringify({ name: "streamer", url: streamer.url, capacity: 1 }),
    });
    assert.equal(reg.status, 200);
    await until("the stream container to be healthy", () =>
      orch.registry.advertised().some((a) => a.key === "byoc/streamer"),
    );
    const header = (extra: Record<string, unknown> = {}) =>
      jobHeader("streamer", { id: "st-1", request: '{"stream_id":"st-1"}', ...extra });
    const start = await call(orch, "/ai/stream/start", {
      method: "POST",
      headers: {
        livepeer: header({ parameters: '{"enable_data_output":true}' }),
        "content-type": "application/json",
      },
      body: JSON.stringify({ params: { prompt: "a" } }),
    });
    assert.equal(start.status, 200, start.body);
    const control = String(start.headers["x-control-url"]);
    assert.match(control, /\/ai\/trickle\/[0-9a-f]{32}-control$/);
    assert.match(String(start.headers["x-data-url"]), /-data$/);
    assert.equal(start.headers["x-publish-url"], undefined, "no video ingress asked");
    await until("the container's stream to run", () => streamer.session !== undefined);
    const dup = await call(orch, "/ai/stream/start", {
      method: "POST",
      headers: { livepeer: header() },
      body: "{}",
    });
    assert.equal(dup.status, 409);
    const upd = await call(orch, "/ai/stream/update", {
      method: "POST",
      headers: { livepeer: header(), "content-type": "application/json" },
      body: JSON.stringify({ prompt: "b" }),
    });
    assert.equal(upd.status, 200, upd.body);
    await until("the update to reach the pipeline", () => updates.some((u) => u.prompt === "b"));
    const pay = await call(orch, "/ai/stream/payment", {
      method: "POST",
      headers: { livepeer: header() },
      body: "",
    });
    assert.equal(pay.status, 200);
    const stop = await call(orch, "/ai/stream/stop", {
      method: "POST",
      headers: { livepeer: header() },
      body: "{}",
    });
    assert.equal(stop.status, 200, stop.body);
    assert.equal(orch.streamCount, 0);
    assert.equal(orch.trickle.getChannel(control.split("/").pop()!), undefined, "channels removed");
    const again = await call(orch, "/ai/stream/stop", {
      method: "POST",
      headers: { livepeer: header() },
      body: "{}",
    });
    assert.equal(again.status, 404);
  });

  test("health: a container in ERROR is withdrawn and restored when it recovers", async () => {
    llm.health.setError("GPU fell off");
    await until("withdrawal", () => !orch.registry.advertised().some((a) => a.key === "llm/m1"));
    const r = await call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", prompt: "x" }),
    });
    assert.equal(r.status, 503);
    llm.health.clearError(); // back to LOADING, as pytrickle
    llm.health.setStartupComplete();
    await until("restoration", () => orch.registry.advertised().some((a) => a.key === "llm/m1"));
    const metrics = await call(orch, "/metrics");
    assert.match(
      metrics.body,
      /tributary_orchestrator_container_health_transitions_total\{to="failed"\} [1-9]/,
    );
    assert.match(
      metrics.body,
      /tributary_orchestrator_jobs_total\{route="batch",pipeline="llm",model_id="m1",outcome="ok"\}/,
    );
  });

  test("hot reload: a changed aiModels.json is applied without a restart; an invalid one is ignored", async () => {
    writeFileSync(
      aiModels,
      JSON.stringify([
        { pipeline: "llm", model_id: "m1", url: llm.url, capacity: 1 },
        { pipeline: "llm", model_id: "m2", url: llm.url, capacity: 1 },
      ]),
    );
    await until("m2 to be advertised", () => orch.registry.advertised().some((a) => a.key === "llm/m2"));
    assert.equal(orch.registry.get("live-video-to-video", "noop"), undefined);
    writeFileSync(aiModels, "[{not json");
    await until("the invalid reload to be counted", async () =>
      /config_reloads_total\{result="invalid"\} [1-9]/.test((await call(orch, "/metrics")).body),
    );
    assert.ok(orch.registry.get("llm", "m2"), "previous configuration kept");
  });

  test("a reload that removes a busy container lets its running job finish, then forgets it", async () => {
    let release = () => {};
    gate = { wait: new Promise<void>((r) => (release = r)), release: () => release() };
    const running = call(orch, "/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", prompt: "still here" }),
    });
    await until("the job to hold the slot", () => orch.registry.container(llm.url)?.inUse === 1);
    writeFileSync(aiModels, "[]");
    await until("the reload", () => orch.registry.get("llm", "m1") === undefined);
    assert.equal(orch.registry.container(llm.url)?.referenced, false, "draining, not dropped");
    gate.release();
    gate = undefined;
    const done = await running;
    assert.equal(done.status, 200);
    assert.deepEqual(JSON.parse(done.body), { model: "m1", text: "STILL HERE" });
    assert.equal(orch.registry.container(llm.url), undefined, "forgotten once idle");
  });

  test("garbage on every route gets a 4xx/503 answer, never a 500 or a dropped connection", async () => {
    const paths = [
      "/capability/register",
      "/capability/unregister",
      "/process/token",
      "/process/request/x",
      "/ai/stream/start",
      "/ai/stream/stop",
      "/ai/stream/update",
      "/ai/stream/payment",
      "/live-video-to-video",
      "/llm",
      "/text-to-image",
      "/image-to-image",
      "/payment",
      "/nope",
    ];
    const bodies = ["", "{", "[]", "null", '{"model_id":5}', "\u0000\uffff", "x".repeat(70_000)];
    const headerSets: Record<string, string>[] = [
      {},
      { "content-type": "application/json", livepeer: "!!" },
      { "content-type": "multipart/form-data", authorization: "s3cret", "livepeer-eth-address": "e30=" },
      { livepeer: Buffer.from('{"timeout_seconds":1,"request":"{}","capability":"x"}').toString("base64") },
      { "livepeer-payment": "AAAA", "livepeer-segment": "AAAA", "content-type": "application/json" },
    ];
    for (const path of paths)
      for (const body of bodies)
        for (const headers of headerSets) {
          const r = await call(orch, path, { method: "POST", headers, body });
          assert.ok(
            (r.status >= 200 && r.status < 500) || r.status === 503,
            `${path} ${JSON.stringify(headers)} ${body.slice(0, 20)} → ${r.status} ${r.body.slice(0, 120)}`,
          );
        }
    assert.equal((await call(orch, "/health")).status, 200);
  });
});
