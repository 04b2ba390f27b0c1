/**
 * The gateway lists its orchestrators' live runners on the dashboard: with
 * `liveRunnerDiscoveryIntervalMs` it asks every pool orchestrator for `GET /discovery` and
 * `/dashboard/api/state` carries `runners` (app, route, mode, state, capacity); an orchestrator
 * without live runners adds none.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jobRunner } from "../../src/cli/job-runner.ts";
import { type GatewayError, RunnerClient } from "../../src/client/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { postJson, startTinyRunner, type TinyRunner } from "../conformance/live-runner-kit.ts";
import { until } from "../until.ts";

const dirs: string[] = [];
let orch: RunningOrchestrator;
let orch2: RunningOrchestrator;
let plain: RunningOrchestrator;
let runner: TinyRunner;
let gw: RunningGateway;

before(async () => {
  runner = await startTinyRunner();
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), "gw-lr-"));
    dirs.push(d);
    return d;
  };
  orch = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s", liveRunners: {} });
  orch2 = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s", liveRunners: {} });
  plain = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s" });
  for (const [o, body] of [
    [orch, { runner_url: runner.url, app: "demo/echo", runner_id: "echo-1", capacity: 3 }],
    [orch2, { runner_url: runner.url, app: "demo/pair", runner_id: "pair-b", capacity: 1 }],
    [orch, { runner_url: runner.url, app: "demo/pair", runner_id: "pair-a", capacity: 1 }],
  ] as const) {
    const r = await postJson(`${o.url}/runners/heartbeat`, body, { authorization: "s" });
    assert.equal(r.status, 200, r.text);
  }
  gw = await startGateway({
    port: 0,
    discovery: { orchAddr: [orch.url, orch2.url, plain.url] },
    liveRunnerDiscoveryIntervalMs: 200,
  });
});
after(async () => {
  await gw?.close();
  await orch?.close();
  await orch2?.close();
  await plain?.close();
  await runner?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("the dashboard state lists the runners with state, capacity and mode; reservations show as used capacity", async () => {
  const state = async () =>
    (await (await fetch(`${gw.url}/dashboard/api/state`)).json()) as {
      runners?: {
        app: string;
        route: string;
        mode: string;
        state: string;
        capacity: number;
        capacityUsed: number;
      }[];
    };
  await until("runners on the dashboard", async () => ((await state()).runners ?? []).length === 3, 10_000);
  const rows = (await state()).runners ?? [];
  assert.deepEqual(
    rows.map((r) => r.route).sort(),
    ["echo-1", "pair-a", "pair-b"],
    "by app, from both orchestrators; the one without live runners adds none",
  );
  const row = rows[0];
  assert.deepEqual(
    [row?.app, row?.route, row?.mode, row?.state, row?.capacity, row?.capacityUsed],
    ["demo/echo", "echo-1", "persistent", "ok", 3, 0],
  );
  assert.equal((await postJson(`${orch.url}/apps/echo-1/session`, {})).status, 200);
  await until(
    "the used capacity shows",
    async () => (await state()).runners?.[0]?.capacityUsed === 1,
    10_000,
  );
});

test("GET /discovery on the gateway: every orchestrator's runners; the client fails over from a full one", async () => {
  const d = (await (await fetch(`${gw.url}/discovery`)).json()) as {
    address: string;
    runners: { url: string }[];
  }[];
  assert.deepEqual(d.map((e) => e.address).sort(), [orch.url, orch2.url].sort());
  assert.ok(
    d.every((e) => e.runners.every((r) => r.url.startsWith(e.address))),
    "runner URLs are the orchestrators'",
  );
  await using client = new RunnerClient();
  const first = await client.reserveAny(gw.url, "demo/pair");
  // The gateway's listing still shows both free: the full one answers 503 and the client goes on.
  const second = await client.reserveAny(gw.url, "demo/pair");
  const hosts = [first.appUrl, second.appUrl].map((u) => new URL(u).origin).sort();
  assert.deepEqual(
    hosts,
    [new URL(orch.url).origin, new URL(orch2.url).origin].sort(),
    "one session on each",
  );
  await assert.rejects(client.reserveAny(gw.url, "demo/pair"), (e: GatewayError) => e.httpStatus === 503);
  await first.stop();
  await second.stop();
  const cli: string[] = [];
  const code = await jobRunner(
    "demo/pair",
    { orch: gw.url, path: "/echo", json: {} },
    { stdout: { write: (c) => cli.push(String(c)) }, stderr: { write: (c) => cli.push(c) } },
  );
  assert.equal(code, 0, cli.join(""));
  assert.equal(JSON.parse(cli.join("")).method, "POST", "tributary job runner --orch <gateway>");
});

test("POST /apps/{app}/session on the gateway reserves on the first orchestrator that accepts", async () => {
  await using client = new RunnerClient();
  const a = await client.reserve(gw.url, "demo/pair");
  const b = await client.reserve(gw.url, "demo/pair");
  assert.notEqual(
    new URL(a.appUrl).origin,
    new URL(b.appUrl).origin,
    "the full one failed over to the other",
  );
  assert.equal(
    (await a.fetch("/echo", { json: {} })).status,
    200,
    "the client calls the orchestrator's app_url",
  );
  const full = await fetch(`${gw.url}/apps/demo%2Fpair/session`, { method: "POST" });
  assert.equal(full.status, 503);
  assert.equal(((await full.json()) as { error: { code: string } }).error.code, "ORCHESTRATORS_BUSY");
  assert.equal(full.headers.get("retry-after"), "5");
  await a.stop();
  await b.stop();
  const none = await fetch(`${gw.url}/apps/nope/session`, { method: "POST" });
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, "RUNNER_NOT_FOUND");
  assert.equal((await fetch(`${gw.url}/apps/demo%2Fpair/session`)).status, 404, "GET is not a reservation");
});
