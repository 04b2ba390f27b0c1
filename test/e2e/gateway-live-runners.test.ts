/**
 * The gateway and its orchestrators' live runners (offchain): with `liveRunnerDiscoveryIntervalMs` it
 * asks every pool orchestrator for `GET /discovery`, `/dashboard/api/state` carries `runners` (app,
 * route, mode, state, capacity; an orchestrator without live runners adds none), and it holds
 * sessions for its users: reserved with failover, their HTTP, SSE and WebSocket traffic carried to
 * the orchestrator, stopped on request or when idle, and single-shot calls. The paid path is
 * test/e2e/gateway-live-runners-devnet.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jobRunner } from "../../src/cli/job-runner.ts";
import { type GatewayError, RunnerClient } from "../../src/client/index.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import {
  call,
  postJson,
  startTinyRunner,
  type TinyRunner,
  wsConnect,
} from "../conformance/live-runner-kit.ts";
import { until } from "../until.ts";

/** An answer's status and its body chunks as they arrived (plain HTTP). */
function streamed(url: string): Promise<{ status: number; chunks: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const chunks: string[] = [];
      res.on("data", (c: Buffer) => chunks.push(c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, chunks }));
    });
    req.on("error", reject);
    req.end();
  });
}

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

test("POST /apps/{app}/session on the gateway reserves on the first orchestrator that accepts and answers the gateway's URLs", async () => {
  const reserve = async () => {
    const r = await fetch(`${gw.url}/apps/demo%2Fpair/session`, { method: "POST" });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    return JSON.parse(text) as { session_id: string; app_url: string; control_url: string };
  };
  const free = async () => {
    const d = (await (await fetch(`${gw.url}/discovery`)).json()) as {
      runners: { app: string; capacity_available: number }[];
    }[];
    return d.flatMap((e) => e.runners).filter((r) => r.app === "demo/pair" && r.capacity_available === 1)
      .length;
  };
  await until(
    "both pair runners free again in the gateway's listing",
    async () => (await free()) === 2,
    10_000,
  );
  const a = await reserve();
  const b = await reserve();
  assert.ok(a.app_url.startsWith(`${gw.url}/apps/`) && b.control_url.startsWith(`${gw.url}/apps/`));
  assert.match(a.session_id, /^[0-9a-f]{32}$/, "the gateway's own id");
  const routes = await Promise.all(
    [a, b].map(async (s) => ((await postJson(`${s.app_url}/echo`, {})).json() as { route: string }).route),
  );
  assert.deepEqual(routes.sort(), ["pair-a", "pair-b"], "the full one failed over to the other orchestrator");
  const full = await fetch(`${gw.url}/apps/demo%2Fpair/session`, { method: "POST" });
  assert.equal(full.status, 503);
  assert.equal(((await full.json()) as { error: { code: string } }).error.code, "ORCHESTRATORS_BUSY");
  assert.equal(full.headers.get("retry-after"), "5");
  for (const s of [a, b])
    assert.equal((await fetch(`${s.control_url}/stop`, { method: "POST" })).status, 204);
  const none = await fetch(`${gw.url}/apps/nope/session`, { method: "POST" });
  assert.equal(((await none.json()) as { error: { code: string } }).error.code, "RUNNER_NOT_FOUND");
  assert.equal((await fetch(`${gw.url}/apps/demo%2Fpair/session`)).status, 404, "GET is not a reservation");
});

test("the gateway carries a session's traffic: HTTP with query and headers, SSE, WebSocket; stop releases it at the orchestrator", async () => {
  const r = await fetch(`${gw.url}/apps/demo%2Fecho/session`, { method: "POST" });
  const s = (await r.json()) as { session_id: string; app_url: string; control_url: string };
  const sessions = () => orch.runners?.registry.get("echo-1")?.sessions.size ?? 0;
  const before = sessions() - 1;
  assert.ok(before >= 0, "reserved on the orchestrator");
  const echo = await call(`${s.app_url}/echo?x=1`, {
    method: "PUT",
    headers: { "content-type": "text/plain", "x-custom": "c", "livepeer-session-token": "forged" },
    body: "hello",
  });
  assert.equal(echo.status, 200);
  const got = echo.json() as Record<string, string>;
  assert.deepEqual(
    [got.method, got.path, got.query, got.body, got.custom],
    ["PUT", "/echo", "?x=1", "hello", "c"],
  );
  assert.equal(got.route, "echo-1");
  assert.notEqual(got.token, "forged", "session headers are the orchestrator's");
  assert.notEqual(got.session_id, s.session_id, "the orchestrator's id stays behind the gateway");

  const sse = await streamed(`${s.app_url}/sse`);
  assert.equal(sse.status, 200);
  const events = sse.chunks.join("");
  assert.equal((events.match(/data: /g) ?? []).length, 3);
  assert.ok(sse.chunks.length >= 2, "events arrive as they are written, not in one piece");

  const ws = await wsConnect(`${s.app_url}/ws`);
  assert.equal(ws.status, 101);
  ws.send("hi");
  assert.match(await ws.next(), /^echo:hi:.+/);
  ws.close();

  const stop = await fetch(`${s.control_url}/stop`, { method: "POST" });
  assert.equal(stop.status, 204);
  await until("the orchestrator released it", async () => sessions() === before, 5000);
  const gone = await fetch(`${s.app_url}/echo`);
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { error: { code: string } }).error.code, "RUNNER_SESSION_NOT_FOUND");
  assert.equal((await fetch(`${s.control_url}/stop`, { method: "POST" })).status, 404);
  const unknownWs = await wsConnect(`${gw.url}/apps/demo%2Fecho/session/${"0".repeat(32)}/app/ws`);
  assert.equal(unknownWs.status, 404);
});

test("tributary/client's RunnerClient works against the gateway's session URLs unchanged (HTTP, SSE, WebSocket, stop)", async () => {
  await using client = new RunnerClient();
  const s = await client.reserve(gw.url, "demo/echo");
  assert.ok(s.appUrl.startsWith(gw.url));
  assert.equal(
    ((await (await s.fetch("/echo", { json: { a: 1 } })).json()) as { body: string }).body,
    '{"a":1}',
  );
  const events: unknown[] = [];
  for await (const e of s.events("/sse")) events.push(JSON.parse(e.data));
  assert.deepEqual(events, [{ n: 0 }, { n: 1 }, { n: 2 }]);
  const ws = await s.websocket("/ws");
  ws.send("x");
  const first = await ws.messages().next();
  assert.match(String(first.value?.text), /^echo:x:/);
  await ws.close();
  await s.stop();
  assert.equal((await fetch(`${s.appUrl}/echo`)).status, 404, "stopped at the gateway");
});

test("a session with no call in flight for the idle timeout is stopped at the orchestrator; at most maxSessions are held", async () => {
  await using idleGw = await startGateway({
    port: 0,
    discovery: { orchAddr: [orch.url] },
    liveRunnerDiscoveryIntervalMs: 200,
    liveRunnerSessions: { idleTimeoutMs: 400, maxSessions: 1 },
  });
  const sessions = () => orch.runners?.registry.get("echo-1")?.sessions.size ?? 0;
  const before = sessions();
  await until(
    "the runners listed",
    async () =>
      (await fetch(`${idleGw.url}/discovery`)).status === 200 &&
      ((await (await fetch(`${idleGw.url}/discovery`)).json()) as unknown[]).length > 0,
    10_000,
  );
  const r = await fetch(`${idleGw.url}/apps/echo-1/session`, { method: "POST" });
  const s = (await r.json()) as { app_url: string };
  assert.equal(sessions(), before + 1);
  const second = await fetch(`${idleGw.url}/apps/echo-1/session`, { method: "POST" });
  assert.equal(second.status, 503, "--max-live-runner-sessions 1");
  assert.equal(((await second.json()) as { error: { code: string } }).error.code, "RUNNER_SESSIONS_FULL");
  // An SSE answer of 150 ms keeps it busy; then nothing: stopped 400 ms later.
  assert.equal((await streamed(`${s.app_url}/sse`)).status, 200);
  await until("the idle session stopped", async () => sessions() === before, 5000);
  assert.equal((await fetch(`${s.app_url}/echo`)).status, 404);
});

test("single-shot runners through the gateway: ANY /apps/{app}/app/{path}", async () => {
  const reg = await postJson(
    `${orch2.url}/runners/heartbeat`,
    { runner_url: runner.url, app: "demo/once", runner_id: "once-1", mode: "single-shot", capacity: 2 },
    { authorization: "s" },
  );
  assert.equal(reg.status, 200, reg.text);
  await until(
    "the single-shot runner listed",
    async () => (await (await fetch(`${gw.url}/discovery`)).text()).includes("once-1"),
    10_000,
  );
  const a = await call(`${gw.url}/apps/demo%2Fonce/app/echo?q=2`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ one: 1 }),
  });
  assert.equal(a.status, 200, a.text);
  const got = a.json() as Record<string, string>;
  assert.deepEqual([got.path, got.query, got.body, got.route], ["/echo", "?q=2", '{"one":1}', "once-1"]);
  assert.equal(orch2.runners?.registry.get("once-1")?.sessions.size, 0, "released after the call");
  assert.equal((await fetch(`${gw.url}/apps/nothing/app/x`)).status, 404);
});
