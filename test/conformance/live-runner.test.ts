/**
 * Live Runner API conformance: one test per endpoint of go-livepeer's HTTP reference table, as our
 * own words give it in docs/spec/live-runner.md#http-reference, against our orchestrator started
 * in-process, offchain, with a tiny Node runner (live-runner-kit.ts) behind it, and the paid statuses
 * against a priced orchestrator (a payment gate over an in-memory recipient, no chain). The registry's
 * clock is a fake one offchain, so TTL withdrawal is checked without waiting 20 s.
 *
 * Each test is declared with {@link endpoint} under the endpoint it covers, and checks statuses with
 * `got(answer, status)`, which records them. The last test reads the reference table and fails when an
 * endpoint has no test or one of its statuses was neither produced here nor listed in {@link ELSEWHERE}
 * (tested in another file, or answered otherwise on purpose); it prints the endpoint → test table.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { privateKeyToAccount } from "viem/accounts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import { Rat } from "../../src/payments/rational.ts";
import { Sender } from "../../src/payments/sender.ts";
import { startSigner } from "../../src/signer/signer.ts";
import { inMemoryRecipient, senders, time } from "../e2e/orchestrator-helpers.ts";
import { until } from "../until.ts";
import {
  call,
  callH2,
  postJson,
  type RunnerChallenge,
  runnerPayment,
  startTinyRunner,
  streamed,
  type TinyRunner,
  wsConnect,
} from "./live-runner-kit.ts";

const SECRET = "orch-secret-for-runners";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The endpoints of docs/spec/live-runner.md#http-reference and their statuses. */
function referenceTable(): Map<string, number[]> {
  const page = readFileSync(join(ROOT, "docs/spec/live-runner.md"), "utf8");
  const section = page.split(/^## /m).find((s) => s.startsWith("HTTP reference\n")) ?? "";
  const out = new Map<string, number[]>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const key = /^`([^`]+)`$/.exec(cells[1] ?? "")?.[1];
    if (key === undefined) continue;
    out.set(
      key,
      [...(cells.at(-2) ?? "").matchAll(/\b[1-5]\d\d\b/g)].map((m) => Number(m[0])),
    );
  }
  return out;
}

/**
 * Statuses of the reference that no test here produces: the file that tests them, or why we answer
 * otherwise (docs/spec/live-runner.md#where-we-differ). A file named here must exist and mention the
 * status.
 */
const ELSEWHERE: Record<string, Record<number, { file?: string; why: string }>> = {
  "POST /registerLiveRunners": {
    404: { why: "differs: without live runners there is no operator listener at all" },
  },
  "POST /apps/{runner_id}/session/{session_id}/payment": {
    409: {
      file: "test/e2e/live-runner-payments.test.ts",
      why: "a fixed-price session's top-up (FIXED_PRICE_SESSION)",
    },
  },
};

/** Statuses produced by the tests here, per endpoint, and the tests per endpoint. */
const seen = new Map<string, Set<number>>();
const testsOf = new Map<string, string[]>();

/** An answer's status is `status` (recorded for the endpoint under test). */
type Got = (answer: { status: number; text?: string }, status: number, message?: string) => void;

/** A test of `key` (an endpoint of the reference): `got` asserts a status and records it. */
function endpoint(key: string, title: string, fn: (got: Got) => Promise<void>): void {
  testsOf.set(key, [...(testsOf.get(key) ?? []), title]);
  const got: Got = (answer, status, message) => {
    assert.equal(answer.status, status, message ?? answer.text);
    const set = seen.get(key) ?? new Set<number>();
    set.add(status);
    seen.set(key, set);
  };
  test(`${key}: ${title}`, () => fn(got));
}

/** A URL nothing listens on. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe("Live Runner API (offchain)", () => {
  let orch: RunningOrchestrator;
  /** Without live runners, and with live runners but no orchestrator secret (no dynamic runners). */
  let bare: RunningOrchestrator;
  let noSecret: RunningOrchestrator;
  let runner: TinyRunner;
  /** A static runner routed by its id (registered by the heartbeat test, refused by unregister). */
  let staticId = "";
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
    bare = await startOrchestrator({ port: 0, dataDir: join(dir, "bare") });
    noSecret = await startOrchestrator({ port: 0, dataDir: join(dir, "no-secret"), liveRunners: {} });
  });
  after(async () => {
    await noSecret?.close();
    await bare?.close();
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

  endpoint(
    "POST /registerLiveRunners",
    "validates the whole batch, upserts by label, label routing, 405 for another method",
    async (got) => {
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
      got(bad, 400);
      assert.match(bad.json().error.message, /runners\[1\]: label is required/);
      assert.equal(
        (await call(o("/apps/echo-static/session"), { method: "POST" })).status,
        404,
        "nothing registered",
      );
      const ok = await postJson(`${op}/registerLiveRunners`, { runners: [entry] });
      got(ok, 200);
      const first = ok.json().runners[0];
      assert.equal(first.healthy, true);
      assert.deepEqual(
        [first.health_url, first.healthy_status_code, first.mode],
        [`${runner.url}/health`, 200, "persistent"],
      );
      const again = await postJson(`${op}/registerLiveRunners`, { runners: [{ ...entry, capacity: 3 }] });
      assert.equal(again.json().runners[0].runner_id, first.runner_id, "upsert keeps the id");
      got(await call(`${op}/registerLiveRunners`), 405);
      assert.equal((await call(`${op}/other`, { method: "POST" })).status, 404, "one route only");
      // label routing: the public route is the label
      const s = await reserve("echo-static");
      assert.match(s.app_url, /\/apps\/echo-static\/session\//);
      const echo = await postJson(`${s.app_url}/hello`, {});
      assert.equal(echo.json().route, "echo-static");
      assert.equal((await call(`${s.control_url}/stop`, { method: "POST" })).status, 204);
    },
  );

  endpoint(
    "POST /runners/heartbeat",
    "bootstrap with the orchestrator secret, then the derived secret only",
    async (got) => {
      got(
        await postJson(o("/runners/heartbeat"), { runner_url: runner.url, app: "a" }, { authorization: "x" }),
        401,
      );
      got(
        await postJson(
          o("/runners/heartbeat"),
          { runner_url: "ftp://x", app: "a" },
          { authorization: SECRET },
        ),
        400,
      );
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
      got(beat, 200);
      assert.deepEqual(beat.json().session_ids, [s.session_id]);
      assert.equal(beat.json().heartbeat_secret, undefined, "the secret is given once");
      // the o2r channel carried the reservation
      const seg = await call(`${hb.o2r.url}/0`);
      assert.equal(seg.status, 200);
      const msg = seg.json();
      assert.equal(msg.event, "reserved");
      assert.equal(msg.session, s.session_id);
    },
  );

  endpoint(
    "POST /runners/heartbeat",
    "404 when dynamic registration is off (no orchestrator secret); 400 for a static runner's id",
    async (got) => {
      const body = { runner_url: runner.url, app: "test/echo" };
      const off = await postJson(`${noSecret.url}/runners/heartbeat`, body, { authorization: SECRET });
      got(off, 404);
      assert.match(off.json().error.message, /dynamic live runner registration is disabled/);
      const op = orch.runners?.operatorUrl;
      const reg = await postJson(`${op}/registerLiveRunners`, {
        runners: [
          { label: "static-by-id", runner_url: runner.url, health_url: "/health", app: "test/static" },
        ],
      });
      assert.equal(reg.status, 200, reg.text);
      staticId = reg.json().runners[0].runner_id;
      const stat = await postJson(
        o("/runners/heartbeat"),
        { ...body, runner_id: staticId },
        { authorization: SECRET },
      );
      got(stat, 400);
      assert.match(stat.json().error.message, /static runner cannot heartbeat/);
    },
  );

  endpoint(
    "POST /runners/heartbeat",
    "TTL: a silent runner is withdrawn within its TTL and its sessions released",
    async () => {
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
    },
  );

  endpoint(
    "POST /runners/{runner_id}/unregister",
    "204 with the heartbeat secret, 401 without, 404 after, 400 for a static runner",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      got(await call(o(`/runners/${hb.runner_id}/unregister`), { method: "POST" }), 401);
      const auth = { authorization: hb.heartbeat_secret };
      got(await call(o(`/runners/${hb.runner_id}/unregister`), { method: "POST", headers: auth }), 204);
      assert.equal((await postJson(`${s.app_url}/x`, {})).status, 404, "its session went with it");
      got(await call(o(`/runners/${hb.runner_id}/unregister`), { method: "POST", headers: auth }), 404);
      const stat = await call(o(`/runners/${staticId}/unregister`), { method: "POST", headers: auth });
      got(stat, 400);
      assert.match(stat.json().error.message, /static runner/);
    },
  );

  endpoint(
    "GET /discover-orchestrators",
    "our remote signer lists our orchestrator (an unpriced runner is not listed, as upstream); 503 with discovery off",
    async (got) => {
      const key = `0x${"45".repeat(32)}` as const;
      await using off = await startSigner({
        network: "offchain",
        port: 0,
        dataDir: join(dir, "signer-off"),
        privateKey: key,
      });
      const refused = await call(`${off.url}/discover-orchestrators`);
      got(refused, 503);
      assert.equal(refused.json().error.code, "SIGNER_NO_DISCOVERY");
      await using on = await startSigner({
        network: "offchain",
        port: 0,
        dataDir: join(dir, "signer-on"),
        privateKey: key,
        discovery: { orchAddr: [orch.url] },
      });
      let answer = refused;
      await until("the signer discovered the orchestrator", async () => {
        answer = await call(`${on.url}/discover-orchestrators`);
        return answer.status === 200;
      });
      got(answer, 200);
      const list = answer.json();
      assert.equal(list.length, 1);
      assert.equal(list[0].address, orch.url);
      assert.equal(list[0].runners, undefined, "an offchain orchestrator's runners have no price");
    },
  );

  endpoint("GET /discovery", "ready runners only, orchestrator URLs, capacity counts", async (got) => {
    const hb = await register({ capacity: 2, version: "1.2", metadata: '{"r":"eu"}', gpu: { name: "L4" } });
    await reserve(hb.runner_id);
    const notReady = await register({ status: "loading" });
    const answer = await call(o("/discovery"));
    got(answer, 200);
    const d = answer.json();
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
    const off = await call(`${bare.url}/discovery`);
    got(off, 404);
    assert.equal(off.json().error.code, "LIVE_RUNNERS_DISABLED");
  });

  endpoint(
    "POST /apps/{runner_id}/session",
    "session ids, 503 when full, 404 unknown, 400 for a single-shot runner",
    async (got) => {
      const hb = await register({ capacity: 1 });
      const r = await call(o(`/apps/${hb.runner_id}/session`), { method: "POST" });
      got(r, 200);
      const s = r.json();
      assert.match(s.session_id, /^session_/);
      assert.equal(s.control_url, `${orch.serviceUri}/apps/${hb.runner_id}/session/${s.session_id}`);
      assert.equal(s.app_url, `${s.control_url}/app`);
      const full = await call(o(`/apps/${hb.runner_id}/session`), { method: "POST" });
      got(full, 503);
      assert.equal(full.json().error.code, "NO_CAPACITY");
      got(await call(o("/apps/nope/session"), { method: "POST" }), 404);
      const once = await register({ mode: "single-shot" });
      const refused = await call(o(`/apps/${once.runner_id}/session`), { method: "POST" });
      got(refused, 400);
      assert.match(refused.json().error.message, /only persistent runners have sessions/);
    },
  );

  endpoint(
    "POST /apps/{runner_id}/session",
    "proxy: true gives the session a generated proxy URL as app_url; control_url stays",
    async () => {
      const hb = await register({ proxy: true });
      const s = await reserve(hb.runner_id);
      assert.match(s.app_url, new RegExp(`^${orch.serviceUri}/run/[^/]+$`));
      assert.equal(s.control_url, `${orch.serviceUri}/apps/${hb.runner_id}/session/${s.session_id}`);
      const via = await postJson(`${s.app_url}/echo/p?k=v`, { a: 1 });
      assert.equal(via.status, 200, via.text);
      assert.deepEqual(
        [via.json().path, via.json().query, via.json().session_id],
        ["/echo/p", "?k=v", s.session_id],
      );
      assert.equal((await call(`${s.control_url}/stop`, { method: "POST" })).status, 204);
      assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 404, "gone with the session");
    },
  );

  endpoint(
    "POST /apps/{runner_id}/session/{session_id}/stop",
    "204, frees the slot, the session's URLs answer 404; 404 for an unknown runner",
    async (got) => {
      const hb = await register({ capacity: 1 });
      const s = await reserve(hb.runner_id);
      got(await call(`${s.control_url}/stop`, { method: "POST" }), 204);
      assert.equal((await postJson(`${s.app_url}/x`, {})).status, 404);
      await reserve(hb.runner_id);
      got(await call(o(`/apps/nope/session/${s.session_id}/stop`), { method: "POST" }), 404);
    },
  );

  endpoint(
    "POST /apps/{runner_id}/session/{session_id}/payment",
    "404 for no session; 501 offchain (sessions are free)",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      got(await call(`${s.control_url}x/payment`, { method: "POST" }), 404);
      const free = await call(`${s.control_url}/payment`, { method: "POST" });
      assert.equal(free.status, 501);
      assert.equal(free.json().error.code, "NOT_IMPLEMENTED");
    },
  );

  endpoint(
    "ANY /apps/{runner_id}/session/{session_id}/app/{path…}",
    "HTTP, SSE and WebSocket through the proxy",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      const r = await call(`${s.app_url}/echo/deep?x=1&y=%20`, {
        method: "PUT",
        headers: { "x-custom": "kept", "livepeer-session-token": "forged", "content-type": "text/plain" },
        body: "payload",
      });
      got(r, 200);
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
      got(await wsConnect(`${s.app_url}/ws`), 404);
      got(await postJson(`${s.app_url}/echo`, {}), 404);
    },
  );

  endpoint(
    "ANY /apps/{runner_id}/session/{session_id}/app/{path…}",
    "502 when the runner cannot be reached; the runner's own status passes through",
    async (got) => {
      const dead = await register({ runner_url: await deadUrl() });
      const s = await reserve(dead.runner_id);
      const r = await postJson(`${s.app_url}/echo`, {});
      got(r, 502);
      assert.equal(r.json().error.code, "CONTAINER_UNAVAILABLE");
      const live = await reserve((await register()).runner_id);
      runner.healthStatus = 418;
      try {
        got(await call(`${live.app_url}/health`), 418);
      } finally {
        runner.healthStatus = 200;
      }
    },
  );

  endpoint(
    "ANY /apps/{runner_id}/app/{path…}",
    "single-shot reserves for one request and releases after; 400 persistent; 404 unknown",
    async (got) => {
      const hb = await register({ mode: "single_shot", capacity: 1 });
      const d = (await call(o("/discovery"))).json();
      const mine = d[0].runners.find((r: { url: string }) => r.url.includes(hb.runner_id));
      assert.equal(mine.url, `${orch.serviceUri}/apps/${hb.runner_id}/app`);
      assert.equal(mine.mode, "single-shot");
      const r = await postJson(`${mine.url}/run?q=2`, { a: 1 });
      got(r, 200);
      assert.equal(r.json().path, "/run");
      assert.match(r.json().session_id, /^session_/);
      await until(
        "the single-shot session released",
        () => orch.runners?.registry.get(hb.runner_id)?.sessions.size === 0,
      );
      assert.equal((await postJson(`${mine.url}/run`, {})).status, 200, "the slot came back");
      const persistent = await register();
      got(await postJson(o(`/apps/${persistent.runner_id}/app/x`), {}), 400);
      got(await postJson(o("/apps/nope/app/x"), {}), 404);
    },
  );

  endpoint(
    "ANY /apps/{runner_id}/app/{path…}",
    "503 while its one slot is taken by a call in flight; 502 when the runner cannot be reached",
    async (got) => {
      const hb = await register({ mode: "single-shot", capacity: 1 });
      const url = o(`/apps/${hb.runner_id}/app`);
      const long = streamed(`${url}/sse`); // three events 50 ms apart hold the slot
      await until("the slot taken", () => orch.runners?.registry.get(hb.runner_id)?.sessions.size === 1);
      const busy = await postJson(`${url}/x`, {});
      got(busy, 503);
      assert.equal(busy.json().error.code, "NO_CAPACITY");
      assert.equal((await long).status, 200);
      const dead = await register({ mode: "single-shot", runner_url: await deadUrl() });
      got(await postJson(o(`/apps/${dead.runner_id}/app/x`), {}), 502);
      await until(
        "released after the failure",
        () => orch.runners?.registry.get(dead.runner_id)?.sessions.size === 0,
      );
    },
  );

  endpoint(
    "POST /runner/{runner_id}/session/{session_id}/channels",
    "≤ 25, idempotent, made again after the idle sweep, token required, 404 for no session",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      const echo = (await postJson(`${s.app_url}/echo`, {})).json();
      const cb = `${echo.control}/channels`;
      const tok = { "livepeer-session-token": echo.token };
      got(await postJson(cb, { channels: [{ name: "in" }] }), 401);
      got(await postJson(cb, { channels: [{ name: "in" }] }, { "livepeer-session-token": "x" }), 401);
      const made = await postJson(
        cb,
        { channels: [{ name: "in", mime_type: "video/MP2T" }, { name: "events" }] },
        tok,
      );
      got(made, 200);
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
      got(await postJson(cb, { channels: many }, tok), 400, "over 25 in the session");
      got(await postJson(cb, { channels: [{ name: "bad name" }] }, tok), 400);
      got(await postJson(cb, { channels: [] }, tok), 400, "channels is required");
      got(await postJson(`${echo.control}x/channels`, { channels: [{ name: "in" }] }, tok), 404);
      // released with the session
      await call(`${s.control_url}/stop`, { method: "POST" });
      assert.equal(orch.trickle.getChannel(evCh.channel_name), undefined);
      assert.equal(orch.trickle.getChannel(inCh.channel_name), undefined);
    },
  );

  endpoint(
    "DELETE /runner/{runner_id}/session/{session_id}/channels",
    "deletes named channels; 404 for an unknown name; 400 for an empty list; token required",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      const echo = (await postJson(`${s.app_url}/echo`, {})).json();
      const cb = `${echo.control}/channels`;
      const tok = { "livepeer-session-token": echo.token, "content-type": "application/json" };
      const made = await postJson(cb, { channels: [{ name: "in" }, { name: "out" }] }, tok);
      const [inCh, outCh] = made.json().channels;
      const del = (headers: Record<string, string>, channels: unknown) =>
        call(cb, { method: "DELETE", headers, body: JSON.stringify({ channels }) });
      got(await del({ "content-type": "application/json" }, ["in"]), 401);
      got(await del(tok, []), 400);
      const ok = await del(tok, ["in"]);
      got(ok, 200);
      assert.deepEqual(ok.json(), { deleted: ["in"] });
      assert.equal(orch.trickle.getChannel(inCh.channel_name), undefined);
      got(await del(tok, ["in"]), 404);
      assert.ok(orch.trickle.getChannel(outCh.channel_name), "the other one stays");
      await call(`${s.control_url}/stop`, { method: "POST" });
      got(await del(tok, ["out"]), 404, "no session any more");
    },
  );

  endpoint(
    "POST /runner/{runner_id}/session/{session_id}/proxy",
    "target-URL restrictions, token required, 404 for no session",
    async (got) => {
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
        got(await postJson(cb, { target_url: target }, tok), 400, target);
      got(await postJson(cb, { target_url: `${runner.url}/ui` }), 401);
      const p = await postJson(cb, { target_url: `http://${host.hostname}:${host.port}/ui` }, tok);
      got(p, 200);
      const { proxy_id, url } = p.json();
      assert.equal(url, `${orch.serviceUri}/run/${proxy_id}`);
      const plain = await postJson(cb, {}, tok);
      assert.equal(plain.status, 200, "no target: the app's own URL");
      assert.equal((await call(`${plain.json().url}/echo/x`)).json().path, "/echo/x");
      got(await postJson(`${echo.control}x/proxy`, {}, tok), 404);
      await call(`${s.control_url}/stop`, { method: "POST" });
      assert.equal((await call(`${url}/status`)).status, 404, "gone with the session");
    },
  );

  endpoint(
    "POST /runner/{runner_id}/session/{session_id}/stop",
    "the runner releases its own session; token required; 404 after",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      const echo = (await postJson(`${s.app_url}/echo`, {})).json();
      got(await call(`${echo.control}/stop`, { method: "POST" }), 401);
      const tok = { "livepeer-session-token": echo.token };
      got(await call(`${echo.control}/stop`, { method: "POST", headers: tok }), 204);
      assert.equal((await postJson(`${s.app_url}/echo`, {})).status, 404);
      got(await call(`${echo.control}/stop`, { method: "POST", headers: tok }), 404);
    },
  );

  endpoint(
    "ANY {proxy URL}/{path…}",
    "a session's proxy (HTTP, WebSocket, query kept), 404 unknown or released, 502 unreachable target",
    async (got) => {
      const hb = await register();
      const s = await reserve(hb.runner_id);
      const echo = (await postJson(`${s.app_url}/echo`, {})).json();
      const tok = { "livepeer-session-token": echo.token };
      const host = new URL(runner.url);
      const { url } = (
        await postJson(
          `${echo.control}/proxy`,
          { target_url: `http://${host.hostname}:${host.port}/ui` },
          tok,
        )
      ).json();
      const via = await call(`${url}/status?v=1`);
      got(via, 200);
      assert.deepEqual(
        [via.json().path, via.json().query, via.json().session_id, via.json().route],
        ["/ui/status", "?v=1", s.session_id, hb.runner_id],
      );
      const ws = await wsConnect(`${url}/ws`);
      assert.equal(ws.status, 101);
      ws.send("hi");
      assert.equal(await ws.next(), `echo:hi:${s.session_id}`);
      ws.close();
      const deadTarget = new URL(await deadUrl());
      const dead = (await postJson(`${echo.control}/proxy`, { target_url: deadTarget.href }, tok)).json();
      got(await call(`${dead.url}/x`), 502);
      got(await call(o("/run/no-such-proxy/x")), 404);
      await call(`${s.control_url}/stop`, { method: "POST" });
      got(await call(`${url}/status`), 404, "gone with the session");
    },
  );

  endpoint(
    "ANY {proxy URL}/{path…}",
    "a single-shot runner with proxy: true is discovered and called at the proxy URL of its route",
    async (got) => {
      const hb = await register({ mode: "single-shot", proxy: true, capacity: 1 });
      const d = (await call(o("/discovery"))).json();
      const mine = d[0].runners.find((r: { url: string }) => r.url.endsWith(`/run/${hb.runner_id}`));
      assert.ok(mine, "discovery gives the proxy URL of the route");
      assert.equal(mine.url, `${orch.serviceUri}/run/${hb.runner_id}`);
      const r = await postJson(`${mine.url}/gen?x=1`, { p: 1 });
      got(r, 200);
      assert.deepEqual([r.json().path, r.json().query, r.json().route], ["/gen", "?x=1", hb.runner_id]);
      assert.match(r.json().session_id, /^session_/);
      await until(
        "released after the call",
        () => orch.runners?.registry.get(hb.runner_id)?.sessions.size === 0,
      );
      const ws = await wsConnect(`${mine.url}/ws`);
      assert.equal(ws.status, 101);
      ws.send("once");
      assert.match(await ws.next(), /^echo:once:session_/);
      ws.close();
    },
  );
});

describe("Live Runner API (paid node)", () => {
  const ORCH = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
  const payer = privateKeyToAccount(`0x${"44".repeat(32)}`);
  const dir = mkdtempSync(join(tmpdir(), "lr-conf-paid-"));
  let orch: RunningOrchestrator;
  let runner: TinyRunner;
  let sender: Sender;
  const sessions = new Map<string, string>();
  const pay = (challenge: RunnerChallenge, tickets: number, manifest?: string) =>
    runnerPayment(sender, payer, sessions, challenge, tickets, manifest);

  before(async () => {
    runner = await startTinyRunner();
    let seed = 0;
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: SECRET,
      network: "devnet",
      address: ORCH,
      payments: new PaymentGate({
        recipient: inMemoryRecipient(ORCH, 1000n, (n) => new Uint8Array(n).fill(++seed)),
        balances: new Balances(),
        enqueueWinner: () => {},
      }),
      liveRunners: {},
    });
    sender = new Sender({ signer: payer, time, senders });
    const hb = await postJson(
      `${orch.url}/runners/heartbeat`,
      {
        runner_url: runner.url,
        app: "paid/echo",
        runner_id: "paid",
        capacity: 4,
        price_info: { price: 1000, currency: "wei", unit: "seconds" },
      },
      { authorization: SECRET },
    );
    assert.equal(hb.status, 200, hb.text);
  });
  after(async () => {
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh 402 challenge for the payer. */
  async function challenge(): Promise<RunnerChallenge> {
    const r = await call(`${orch.url}/apps/paid/session`, {
      method: "POST",
      headers: { "livepeer-payer-address": payer.address },
    });
    assert.equal(r.status, 402, r.text);
    return r.json();
  }

  endpoint(
    "POST /apps/{runner_id}/session",
    "a priced runner: 402 challenge, 200 paid, 409 when the paid manifest is already a session",
    async (got) => {
      got(await call(`${orch.url}/apps/paid/session`, { method: "POST" }), 402, "no payer, no payment");
      const c = await challenge();
      assert.ok(c.payment_params.length > 0 && c.manifest_id.length > 0);
      const paid = await call(`${orch.url}/apps/paid/session`, { method: "POST", headers: await pay(c, 2) });
      got(paid, 200);
      assert.equal(paid.json().session_id, c.manifest_id, "the session id is the payment's manifest id");
      const twice = await call(`${orch.url}/apps/paid/session`, {
        method: "POST",
        headers: await pay(c, 1),
      });
      got(twice, 409);
      assert.equal(twice.json().error.code, "RUNNER_SESSION_EXISTS");
      await call(`${paid.json().control_url}/stop`, { method: "POST" });
    },
  );

  endpoint(
    "GET /discover-orchestrators",
    "our remote signer merges a priced orchestrator's runners (discovery record fields, app among the capabilities, ?caps= by app); one above --max-price-per-unit is left out",
    async (got) => {
      const key = `0x${"46".repeat(32)}` as const;
      const signerAt = (name: string, maxPricePerUnit?: Rat) =>
        startSigner({
          network: "offchain",
          port: 0,
          dataDir: join(dir, name),
          privateKey: key,
          discovery: { orchAddr: [orch.url] },
          ...(maxPricePerUnit ? { maxPricePerUnit } : {}),
        });
      await using signer = await signerAt("signer-runners");
      let answer = await call(`${signer.url}/discover-orchestrators?caps=paid/echo`);
      await until(
        () => `the signer listed the priced runner (last: ${answer.status} ${answer.text})`,
        async () => {
          answer = await call(`${signer.url}/discover-orchestrators?caps=paid/echo`);
          return answer.status === 200 && answer.json().length === 1;
        },
      );
      got(answer, 200);
      const [entry] = answer.json();
      assert.equal(entry.address, orch.url);
      assert.ok(entry.capabilities.includes("paid/echo"));
      assert.equal(entry.runners.length, 1);
      const r = entry.runners[0];
      assert.equal(r.app, "paid/echo");
      assert.equal(r.url, `${orch.serviceUri}/apps/paid/session`);
      assert.deepEqual(r.price_info, { price: 1000, currency: "wei", unit: "seconds" });
      assert.equal(r.capacity, 4);
      assert.deepEqual(
        Object.keys(r).filter(
          (k) =>
            ![
              "url",
              "gpu",
              "app",
              "version",
              "metadata",
              "mode",
              "capacity",
              "capacity_used",
              "capacity_available",
              "price_info",
            ].includes(k),
        ),
        [],
      );
      await using cheap = await signerAt("signer-cheap", Rat.parse("999"));
      let capped = await call(`${cheap.url}/discover-orchestrators`);
      await until("the capped signer answered", async () => {
        capped = await call(`${cheap.url}/discover-orchestrators`);
        return capped.status === 200 && capped.json().length === 1;
      });
      assert.equal(capped.json()[0].runners, undefined, "1000 wei/s is above a 999 cap");
    },
  );

  endpoint(
    "POST /apps/{runner_id}/session/{session_id}/payment",
    "top-up 200 (PaymentResult), 403 manifest not the session, 400 a replayed payment, 404 after stop",
    async (got) => {
      const c = await challenge();
      const s = (
        await call(`${orch.url}/apps/paid/session`, { method: "POST", headers: await pay(c, 2) })
      ).json();
      const topUp = await pay(c, 1);
      const ok = await call(`${s.control_url}/payment`, { method: "POST", headers: topUp });
      got(ok, 200);
      assert.equal(ok.headers["content-type"], "application/octet-stream");
      got(await call(`${s.control_url}/payment`, { method: "POST", headers: await pay(c, 1, "x") }), 403);
      const replay = await call(`${s.control_url}/payment`, { method: "POST", headers: topUp });
      got(replay, 400, "the same tickets again");
      await call(`${s.control_url}/stop`, { method: "POST" });
      got(await call(`${s.control_url}/payment`, { method: "POST", headers: await pay(c, 1) }), 404);
    },
  );
});

describe("Live Runner API reference", () => {
  test("every endpoint of docs/spec/live-runner.md#http-reference has a test here, with each status", (t) => {
    const reference = referenceTable();
    assert.ok(reference.size >= 15, `the reference table has ${reference.size} rows`);
    const rows: string[] = [];
    const missing: string[] = [];
    for (const [key, statuses] of reference) {
      const tests = testsOf.get(key) ?? [];
      const elsewhere = ELSEWHERE[key] ?? {};
      if (tests.length === 0 && Object.keys(elsewhere).length === 0) missing.push(`${key}: no test`);
      for (const status of statuses) {
        const other = elsewhere[status];
        if (seen.get(key)?.has(status)) continue;
        if (other === undefined) missing.push(`${key}: ${status} not produced by any test here`);
        else if (
          other.file !== undefined &&
          (!existsSync(join(ROOT, other.file)) ||
            !readFileSync(join(ROOT, other.file), "utf8").includes(String(status)))
        )
          missing.push(`${key}: ${status} said to be tested in ${other.file}, which does not mention it`);
      }
      const here = [...(seen.get(key) ?? [])].sort().join(", ");
      const notHere = Object.entries(elsewhere)
        .map(([s, w]) => `${s} ${w.file ?? w.why}`)
        .join("; ");
      rows.push(`| ${key} | ${tests.length} | ${here} | ${notHere} |`);
    }
    for (const key of testsOf.keys())
      if (!reference.has(key)) missing.push(`${key}: tested here but not in the reference table`);
    t.diagnostic(
      `\n| endpoint | tests | statuses seen here | elsewhere or differing |\n|---|---|---|---|\n${rows.join("\n")}`,
    );
    assert.deepEqual(missing, []);
  });
});
