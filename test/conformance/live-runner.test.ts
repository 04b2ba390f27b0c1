/**
 * Live Runner API conformance: one test per endpoint of go-livepeer's HTTP reference table
 * (`doc/live-runner.md`), against our orchestrator started in-process, offchain, with a tiny Node
 * runner (live-runner-kit.ts) behind it. The registry's clock is a fake one here, so TTL withdrawal
 * is checked without waiting 20 s.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { until } from "../until.ts";
import {
  call,
  callH2,
  postJson,
  startTinyRunner,
  streamed,
  type TinyRunner,
  wsConnect,
} from "./live-runner-kit.ts";

const SECRET = "orch-secret-for-runners";

describe("Live Runner API (offchain)", () => {
  let orch: RunningOrchestrator;
  let runner: TinyRunner;
  const dir = mkdtempSync(join(tmpdir(), "lr-conf-"));
  let clock = 1_000_000;
  /** The registry's fake clock: moves only when a test moves it. */
  const now = (): number => clock;

  before(async () => {
    runner = await startTinyRunner();
    orch = await startOrchestrator({
      port: 0,
      orchSecret: SECRET,
      dataDir: dir,
      liveRunners: { now, operatorPort: 0, healthIntervalMs: 60_000, runnerAddr: undefined },
    });
  });
  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const o = (path: string): string => `${orch.url}${path}`;
  let seq = 0;
  /** Registers a dynamic runner (bootstrap heartbeat); returns the answer. */
  async function register(extra: Record<string, unknown> = {}) {
    const r = await postJson(
      o("/runners/heartbeat"),
      { runner_url: runner.url, app: "test/echo", capacity: 1, runner_id: `rt-${++seq}`, ...extra },
      { authorization: SECRET },
    );
    assert.equal(r.status, 200, r.text);
    return r.json() as {
      runner_id: string;
      heartbeat_secret: string;
      heartbeat_ttl: string;
      heartbeat_interval: string;
      orchestrator: string;
      o2r: { url: string; channel_name: string; mime_type: string };
      session_ids: string[];
    };
  }
  async function reserve(id: string) {
    const r = await call(o(`/apps/${id}/session`), { method: "POST" });
    assert.equal(r.status, 200, r.text);
    return r.json() as { session_id: string; app_url: string; control_url: string };
  }

  test("POST /registerLiveRunners (operator listener): validates whole, upserts by label, label routing", async () => {
    const op = orch.runners?.operatorUrl;
    assert.ok(op);
    const entry = {
      label: "echo-static",
      routing: "label",
      runner_url: runner.url,
      health_url: "/health",
      app: "test/static",
      capacity: 2,
    };
    const bad = await postJson(`${op}/registerLiveRunners`, { runners: [entry, { ...entry, label: "" }] });
    assert.equal(bad.status, 400);
    assert.match(bad.json().error.message, /runners\[1\]: label is required/);
    assert.equal(
      (await call(o("/apps/echo-static/session"), { method: "POST" })).status,
      404,
      "nothing registered",
    );
    const ok = await postJson(`${op}/registerLiveRunners`, { runners: [entry] });
    assert.equal(ok.status, 200, ok.text);
    const first = ok.json().runners[0];
    assert.equal(first.healthy, true);
    assert.deepEqual(
      [first.health_url, first.healthy_status_code, first.mode],
      [`${runner.url}/health`, 200, "persistent"],
    );
    const again = await postJson(`${op}/registerLiveRunners`, { runners: [{ ...entry, capacity: 3 }] });
    assert.equal(again.json().runners[0].runner_id, first.runner_id, "upsert keeps the id");
    assert.equal((await call(`${op}/registerLiveRunners`)).status, 405);
    // label routing: the public route is the label
    const s = await reserve("echo-static");
    assert.match(s.app_url, /\/apps\/echo-static\/session\//);
    const echo = await postJson(`${s.app_url}/hello`, {});
    assert.equal(echo.json().route, "echo-static");
    assert.equal((await call(`${s.control_url}/stop`, { method: "POST" })).status, 204);
  });

  test("POST /runners/heartbeat: bootstrap with the orchestrator secret, then the derived secret only", async () => {
    const wrong = await postJson(
      o("/runners/heartbeat"),
      { runner_url: runner.url, app: "a" },
      { authorization: "x" },
    );
    assert.equal(wrong.status, 401);
    const bad = await postJson(
      o("/runners/heartbeat"),
      { runner_url: "ftp://x", app: "a" },
      { authorization: SECRET },
    );
    assert.equal(bad.status, 400);
    const hb = await register();
    assert.equal(hb.heartbeat_interval, "5s");
    assert.equal(hb.heartbeat_ttl, "20s");
    assert.equal(hb.orchestrator, orch.serviceUri);
    assert.equal(hb.o2r.mime_type, "application/json");
    assert.ok(hb.o2r.url.includes("/ai/trickle/"));
    assert.deepEqual(hb.session_ids, []);
    const body = { runner_url: runner.url, app: "test/echo", runner_id: hb.runner_id };
    // the orchestrator secret no longer works for a known runner; the derived one does
    assert.equal((await postJson(o("/runners/heartbeat"), body, { authorization: SECRET })).status, 401);
    const s = await reserve(hb.runner_id);
    const beat = await postJson(o("/runners/heartbeat"), body, { authorization: hb.heartbeat_secret });
    assert.equal(beat.status, 200, beat.text);
    assert.deepEqual(beat.json().session_ids, [s.session_id]);
    assert.equal(beat.json().heartbeat_secret, undefined, "the secret is given once");
    // the o2r channel carried the reservation
    const seg = await call(`${hb.o2r.url}/0`);
    assert.equal(seg.status, 200);
    const msg = seg.json();
    assert.equal(msg.event, "reserved");
    assert.equal(msg.session, s.session_id);
  });

  test("heartbeat TTL: a silent runner is withdrawn within its TTL and its sessions released", async () => {
    const hb = await register();
    const s = await reserve(hb.runner_id);
    clock += 20_001;
    const d = (await call(o("/discovery"))).json();
    assert.ok(!d[0].runners.some((r: { url: string }) => r.url.includes(hb.runner_id)), "hidden at once");
    assert.equal((await postJson(`${s.app_url}/x`, {})).status, 404);
    assert.ok(orch.runners?.registry.sweep().includes(hb.runner_id));
    // its heartbeat secret now answers 401: livepeer-gateway re-bootstraps with the orchestrator secret
    const late = await postJson(
      o("/runners/heartbeat"),
      { runner_url: runner.url, app: "test/echo", runner_id: hb.runner_id },
      { authorization: hb.heartbeat_secret },
    );
    assert.equal(late.status, 401);
    const back = await register({ runner_id: hb.runner_id });
    assert.deepEqual(back.session_ids, [], "the old session was released");
  });

  test("POST /runners/{id}/unregister: 204 with the heartbeat secret, 401 without, 404 after", async () => {
    const hb = await register();
    assert.equal((await call(o(`/runners/${hb.runner_id}/unregister`), { method: "POST" })).status, 401);
    const ok = await call(o(`/runners/${hb.runner_id}/unregister`), {
      method: "POST",
      headers: { authorization: hb.heartbeat_secret },
    });
    assert.equal(ok.status, 204);
    const again = await call(o(`/runners/${hb.runner_id}/unregister`), {
      method: "POST",
      headers: { authorization: hb.heartbeat_secret },
    });
    assert.equal(again.status, 404);
  });

  test("GET /discovery: ready runners only, orchestrator URLs, capacity counts", async () => {
    const hb = await register({ capacity: 2, version: "1.2", metadata: '{"r":"eu"}', gpu: { name: "L4" } });
    await reserve(hb.runner_id);
    const notReady = await register({ status: "loading" });
    const d = (await call(o("/discovery"))).json();
    assert.equal(d.length, 1);
    assert.equal(d[0].address, orch.serviceUri);
    const mine = d[0].runners.find((r: { url: string }) => r.url.includes(hb.runner_id));
    assert.deepEqual(mine, {
      url: `${orch.serviceUri}/apps/${hb.runner_id}/session`,
      gpu: { name: "L4" },
      app: "test/echo",
      version: "1.2",
      metadata: '{"r":"eu"}',
      mode: "persistent",
      capacity: 2,
      capacity_used: 1,
      capacity_available: 1,
    });
    assert.ok(!JSON.stringify(d).includes(runner.url), "never the runner's own URL");
    assert.ok(!JSON.stringify(d).includes(notReady.runner_id), "a runner not ready is not listed");
  });

  test("POST /apps/{id}/session: session ids, 503 when full, 404 unknown", async () => {
    const hb = await register({ capacity: 1 });
    const s = await reserve(hb.runner_id);
    assert.equal(s.control_url, `${orch.serviceUri}/apps/${hb.runner_id}/session/${s.session_id}`);
    assert.equal(s.app_url, `${s.control_url}/app`);
    const full = await call(o(`/apps/${hb.runner_id}/session`), { method: "POST" });
    assert.equal(full.status, 503);
    assert.equal(full.json().error.code, "NO_CAPACITY");
    assert.equal((await call(o("/apps/nope/session"), { method: "POST" })).status, 404);
  });

  test("POST /apps/{id}/session/{sid}/stop: 204, frees the slot, the session's URLs answer 404", async () => {
    const hb = await register({ capacity: 1 });
    const s = await reserve(hb.runner_id);
    assert.equal((await call(`${s.control_url}/stop`, { method: "POST" })).status, 204);
    assert.equal((await postJson(`${s.app_url}/x`, {})).status, 404);
    await reserve(hb.runner_id);
  });

  test("POST /apps/{id}/session/{sid}/payment: 404 for no session; 501 until payments are done", async () => {
    const hb = await register();
    const s = await reserve(hb.runner_id);
    assert.equal((await call(`${s.control_url}x/payment`, { method: "POST" })).status, 404);
    assert.equal((await call(`${s.control_url}/payment`, { method: "POST" })).status, 501);
  });

  test("ANY /apps/{id}/session/{sid}/app/{path}: HTTP, SSE and WebSocket through the proxy", async () => {
    const hb = await register();
    const s = await reserve(hb.runner_id);
    const r = await call(`${s.app_url}/echo/deep?x=1&y=%20`, {
      method: "PUT",
      headers: { "x-custom": "kept", "livepeer-session-token": "forged", "content-type": "text/plain" },
      body: "payload",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers["x-runner"], "tiny");
    const e = r.json();
    assert.deepEqual(
      [e.method, e.path, e.query, e.body, e.custom, e.route, e.session_id],
      ["PUT", "/echo/deep", "?x=1&y=%20", "payload", "kept", hb.runner_id, s.session_id],
    );
    assert.equal(e.trace, r.headers["x-trace-id"], "the runner gets the request's trace id");
    assert.notEqual(e.token, "forged");
    assert.match(e.token, /^[0-9a-f]{64}$/);
    assert.equal(e.control, `${orch.serviceUri}/runner/${hb.runner_id}/session/${s.session_id}`);
    // SSE: the three events arrive apart, not in one buffered chunk
    const sse = await streamed(`${s.app_url}/sse`);
    assert.equal(sse.status, 200);
    const events = sse.chunks.filter((c) => c.text.includes("data:"));
    assert.ok(events.length >= 2, `events came in ${events.length} chunk(s)`);
    assert.ok((events.at(-1)?.at ?? 0) - (events[0]?.at ?? 0) >= 60, "streamed as written");
    assert.match(sse.chunks.map((c) => c.text).join(""), /data: \{"n":2\}/);
    // the same over HTTP/2 (what a Go client negotiates over TLS)
    const h2 = await callH2(`${s.app_url}/echo/h2?z=3`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"h":2}',
    });
    assert.equal(h2.status, 200, h2.text);
    assert.deepEqual(
      [JSON.parse(h2.text).path, JSON.parse(h2.text).query, JSON.parse(h2.text).body],
      ["/echo/h2", "?z=3", '{"h":2}'],
    );
    const h2sse = await callH2(`${s.app_url}/sse`);
    assert.equal(h2sse.headers["content-type"], "text/event-stream");
    assert.match(h2sse.text, /data: \{"n":2\}/);
    assert.ok(h2sse.chunks >= 2, "SSE events arrive as written over HTTP/2 too");
    // WebSocket
    const ws = await wsConnect(`${s.app_url}/ws`);
    assert.equal(ws.status, 101);
    ws.send("ping");
    assert.equal(await ws.next(), `echo:ping:${s.session_id}`);
    ws.close();
    // a released session cuts its open sockets
    const ws2 = await wsConnect(`${s.app_url}/ws`);
    await call(`${s.control_url}/stop`, { method: "POST" });
    const cut = await Promise.race([
      ws2.closed.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 2000)),
    ]);
    assert.equal(cut, true, "the session's WebSocket is closed with it");
    assert.equal((await wsConnect(`${s.app_url}/ws`)).status, 404);
  });

  test("ANY /apps/{id}/app/{path}: single-shot reserves for one request and releases after", async () => {
    const hb = await register({ mode: "single_shot", capacity: 1 });
    const d = (await call(o("/discovery"))).json();
    const mine = d[0].runners.find((r: { url: string }) => r.url.includes(hb.runner_id));
    assert.equal(mine.url, `${orch.serviceUri}/apps/${hb.runner_id}/app`);
    assert.equal(mine.mode, "single-shot");
    const r = await postJson(`${mine.url}/run?q=2`, { a: 1 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().path, "/run");
    assert.match(r.json().session_id, /^session_/);
    await until(
      "the single-shot session released",
      () => orch.runners?.registry.get(hb.runner_id)?.sessions.size === 0,
    );
    assert.equal((await postJson(`${mine.url}/run`, {})).status, 200, "the slot came back");
    const persistent = await register();
    assert.equal((await postJson(o(`/apps/${persistent.runner_id}/app/x`), {})).status, 400);
  });

  test("POST/DELETE /runner/{id}/session/{sid}/channels: ≤ 25, idempotent, token required", async () => {
    const hb = await register();
    const s = await reserve(hb.runner_id);
    const echo = (await postJson(`${s.app_url}/echo`, {})).json();
    const cb = `${echo.control}/channels`;
    const tok = { "livepeer-session-token": echo.token };
    assert.equal((await postJson(cb, { channels: [{ name: "in" }] })).status, 401);
    assert.equal(
      (await postJson(cb, { channels: [{ name: "in" }] }, { "livepeer-session-token": "x" })).status,
      401,
    );
    const made = await postJson(
      cb,
      { channels: [{ name: "in", mime_type: "video/MP2T" }, { name: "events" }] },
      tok,
    );
    assert.equal(made.status, 200, made.text);
    const [inCh, evCh] = made.json().channels;
    assert.equal(inCh.name, "in");
    assert.equal(inCh.mime_type, "video/MP2T");
    assert.equal(evCh.mime_type, "application/octet-stream");
    assert.ok(inCh.url.startsWith(`${orch.serviceUri}/ai/trickle/${s.session_id}-`));
    assert.ok(orch.trickle.getChannel(inCh.channel_name), "exists on our trickle server");
    const again = await postJson(cb, { channels: [{ name: "in" }] }, tok);
    assert.equal(again.json().channels[0].channel_name, inCh.channel_name, "idempotent");
    orch.trickle.deleteChannel(inCh.channel_name); // as the idle sweep would
    await postJson(cb, { channels: [{ name: "in" }] }, tok);
    assert.ok(orch.trickle.getChannel(inCh.channel_name), "made again after the idle sweep removed it");
    const many = Array.from({ length: 24 }, (_, i) => ({ name: `c${i}` }));
    assert.equal((await postJson(cb, { channels: many }, tok)).status, 400, "over 25 in the session");
    assert.equal((await postJson(cb, { channels: [{ name: "bad name" }] }, tok)).status, 400);
    const del = await call(cb, {
      method: "DELETE",
      headers: tok,
      body: JSON.stringify({ channels: ["in"] }),
    });
    assert.deepEqual(del.json(), { deleted: ["in"] });
    assert.equal(orch.trickle.getChannel(inCh.channel_name), undefined);
    const gone = await call(cb, {
      method: "DELETE",
      headers: tok,
      body: JSON.stringify({ channels: ["in"] }),
    });
    assert.equal(gone.status, 404);
    // released with the session
    await call(`${s.control_url}/stop`, { method: "POST" });
    assert.equal(orch.trickle.getChannel(evCh.channel_name), undefined);
  });

  test("POST /runner/{id}/session/{sid}/proxy and the generated proxy URL", async () => {
    const hb = await register();
    const s = await reserve(hb.runner_id);
    const echo = (await postJson(`${s.app_url}/echo`, {})).json();
    const tok = { "livepeer-session-token": echo.token };
    const cb = `${echo.control}/proxy`;
    const host = new URL(runner.url);
    for (const target of [
      "ftp://127.0.0.1/x",
      "http://evil.example/ui",
      `${runner.url}/ui#frag`,
      "relative/x",
    ])
      assert.equal((await postJson(cb, { target_url: target }, tok)).status, 400, target);
    assert.equal((await postJson(cb, { target_url: `${runner.url}/ui` })).status, 401);
    const p = await postJson(cb, { target_url: `http://${host.hostname}:${host.port}/ui` }, tok);
    assert.equal(p.status, 200, p.text);
    const { proxy_id, url } = p.json();
    assert.equal(url, `${orch.serviceUri}/run/${proxy_id}`);
    const via = await call(`${url}/status?v=1`);
    assert.equal(via.status, 200, via.text);
    assert.deepEqual(
      [via.json().path, via.json().query, via.json().session_id],
      ["/ui/status", "?v=1", s.session_id],
    );
    const ws = await wsConnect(`${url}/ws`);
    assert.equal(ws.status, 101);
    ws.close();
    await call(`${s.control_url}/stop`, { method: "POST" });
    assert.equal((await call(`${url}/status`)).status, 404, "gone with the session");
  });

  test("POST /runner/{id}/session/{sid}/stop: the runner releases its own session", async () => {
    const hb = await register();
    const s = await reserve(hb.runner_id);
    const echo = (await postJson(`${s.app_url}/echo`, {})).json();
    assert.equal((await call(`${echo.control}/stop`, { method: "POST" })).status, 401);
    const ok = await call(`${echo.control}/stop`, {
      method: "POST",
      headers: { "livepeer-session-token": echo.token },
    });
    assert.equal(ok.status, 204);
    assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 404);
  });
});
