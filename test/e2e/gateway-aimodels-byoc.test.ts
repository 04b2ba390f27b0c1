/**
 * An `aiModels.json` entry whose pipeline is none of go-livepeer's built-in AI pipelines
 * (`{"pipeline": "text-reverse", "model_id": "reverse-v1", "url": …}`) end to end, offchain: the
 * orchestrator advertises it as the BYOC capability `reverse-v1` (`capabilities_prices` entry
 * `{37, "reverse-v1"}`), our gateway routes `POST /text-reverse` with that model id to the container,
 * and the gateway dashboard lists it. A built-in pipeline in the same file stays native. Also: the
 * offchain orchestrator's `OrchestratorInfo.address` is 20 zero bytes, as go-livepeer's.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { onchainInfoPredicate } from "../../src/gateway/discovery/pool.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Orchestrator } from "../../src/protocol/gen/lp_rpc_pb.ts";
import { defineBatchPipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

describe("aiModels.json entries of pipelines that are not built in, through our gateway", () => {
  let dir: string;
  let reverse: RunningRunner;
  let llm: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  before(async () => {
    reverse = await startRunner(textReverse, { port: 0 });
    llm = await startRunner(
      defineBatchPipeline({ name: "llm", run: (i: { model_id: string }) => ({ model: i.model_id }) }),
      { port: 0 },
    );
    dir = mkdtempSync(join(tmpdir(), "aimodels-byoc-"));
    const aiModels = join(dir, "aiModels.json");
    writeFileSync(
      aiModels,
      JSON.stringify([
        { pipeline: "text-reverse", model_id: "reverse-v1", url: reverse.url, capacity: 2 },
        { pipeline: "llm", model_id: "m1", url: llm.url, warm: true },
      ]),
    );
    orch = await startOrchestrator({
      port: 0,
      aiModelsPath: aiModels,
      dataDir: dir,
      health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
      reload: { sighup: false },
    });
    await until("both entries advertised", () => orch.registry.advertised().length === 2);
    gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] } });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await Promise.all([reverse?.close(), llm?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("OrchestratorInfo prices it as BYOC {37, model_id}; the built-in pipeline keeps its bit and model", async () => {
    const transport = createGrpcTransport({ baseUrl: orch.url, nodeOptions: { ca: orch.cert } });
    const info = await createClient(Orchestrator, transport).getOrchestrator({});
    const byoc = info.capabilitiesPrices.filter((p) => p.capability === 37);
    assert.deepEqual(
      byoc.map((p) => p.constraint),
      ["reverse-v1"],
    );
    assert.ok(info.capabilitiesPrices.some((p) => p.capability === 33 && p.constraint === "m1"));
    assert.deepEqual(Object.keys(info.capabilities?.constraints?.PerCapability ?? {}), ["33"]);
    // Offchain, the address is 20 zero bytes as go-livepeer's offchain orchestrator sends (an empty
    // one makes a go-livepeer gateway with an empty -orchBlocklist drop it); our gateway still
    // discovers and uses it (the jobs below), and refuses it as an on-chain orchestrator.
    assert.deepEqual([...info.address], new Array(20).fill(0));
    assert.match(String(onchainInfoPredicate(info)), /zero orchestrator address/);
  });

  test("POST /text-reverse with model_id reverse-v1 reaches the container (body and X-Model-Id)", async () => {
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "reverse-v1", text: "abc" }),
    });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(await r.json(), { text: "cba" });
    assert.equal(r.headers.get("x-orchestrator-url"), orch.url);
    const h = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-model-id": "reverse-v1" },
      body: JSON.stringify({ text: "xyz" }),
    });
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { text: "zyx" });
  });

  test("another model id of the same pipeline is not offered", async () => {
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "reverse-v2", text: "abc" }),
    });
    assert.ok(r.status >= 400, `status ${r.status}`);
    await r.body?.cancel();
  });

  test("the built-in llm entry still runs on its native route", async () => {
    const r = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "m1", messages: [] }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { model: "m1" });
  });

  test("the gateway dashboard lists it as byoc/reverse-v1", async () => {
    await until("dashboard lists byoc/reverse-v1", async () => {
      const r = await fetch(`${gw.url}/dashboard/api/state`);
      const state = (await r.json()) as { capabilities: { key: string; providers: { url: string }[] }[] };
      const cap = state.capabilities.find((c) => c.key === "byoc/reverse-v1");
      return cap?.providers.some((p) => p.url === orch.url) === true;
    });
  });

  test("GET /capabilities on the orchestrator names the BYOC capability and its unit", async () => {
    const r = await call(orch, "/capabilities");
    assert.equal(r.status, 200);
    const json = JSON.parse(r.body) as { capabilities: Record<string, unknown>[] };
    const c = json.capabilities.find((x) => x.model_id === "reverse-v1");
    assert.equal(c?.capability_id, 37);
    assert.equal(c?.byoc_capability, "reverse-v1");
    assert.equal(c?.price_unit, "second");
  });
});
