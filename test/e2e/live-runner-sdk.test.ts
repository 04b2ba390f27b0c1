/**
 * The SDK's live runner end to end with our orchestrator (in-process, offchain): the runner-sse
 * example registers itself by heartbeats, `/discovery` lists it, a session is reserved (the runner
 * hears of it on its o2r channel), an SSE call streams through the orchestrator's session proxy,
 * the runner creates a session trickle channel and a session proxy through the callbacks, an upgrade
 * reaches the app's upgrade hook with its session, a stop releases the session, an orchestrator restart is followed by a re-registration, and closing the
 * runner unregisters it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { app as sseApp } from "../../examples/runner-sse/runner.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import {
  defineRunnerApp,
  type RunningLiveRunner,
  type SessionEvent,
  startLiveRunner,
} from "../../src/runner/index.ts";
import { TricklePublisher } from "../../src/trickle/publisher.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import { call, postJson } from "../conformance/live-runner-kit.ts";
import { until } from "../until.ts";

const SECRET = "sdk-orch-secret";
const dir = mkdtempSync(join(tmpdir(), "lr-sdk-"));
let orch: RunningOrchestrator;
let runner: RunningLiveRunner;
const events: SessionEvent[] = [];

const liveRunners = { heartbeatIntervalMs: 100, heartbeatTtlMs: 2000, healthIntervalMs: 60_000 };

before(async () => {
  orch = await startOrchestrator({ port: 0, orchSecret: SECRET, dataDir: dir, liveRunners });
  runner = await startLiveRunner(
    { ...sseApp, onSession: (e) => void events.push(e) },
    { port: 0, orchUrl: orch.url, orchSecret: SECRET, heartbeat: { retryDelayMs: 50 } },
  );
  assert.equal(await runner.heartbeats?.registered, true);
});
after(async () => {
  await runner?.close();
  await orch?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function discover() {
  const r = await call(`${orch.url}/discovery`);
  assert.equal(r.status, 200, r.text);
  return (
    r.json() as { runners: { url: string; app: string; capacity: number; capacity_used: number }[] }[]
  )[0]?.runners;
}

test("the runner registers itself: /discovery lists its app with its capacity, at an orchestrator URL", async () => {
  const list = (await discover()) ?? [];
  const mine = list.find((r) => r.app === "example/tokens");
  assert.ok(mine, JSON.stringify(list));
  assert.equal(mine.capacity, 4);
  assert.ok(mine.url.startsWith(orch.url) && mine.url.endsWith("/session"), mine.url);
  assert.ok(!mine.url.includes(runner.url));
});

test("a reserved session reaches the runner (o2r), SSE tokens stream through the proxy, stop releases it", async () => {
  const id = runner.heartbeats?.runnerId ?? "";
  const r = await call(`${orch.url}/apps/${id}/session`, { method: "POST" });
  assert.equal(r.status, 200, r.text);
  const s = r.json() as { session_id: string; app_url: string; control_url: string };
  await until("o2r reserved", () => events.some((e) => e.event === "reserved" && e.session === s.session_id));
  assert.ok(runner.heartbeats?.sessions.has(s.session_id));

  const sse = await streamedPost(`${s.app_url}/generate`, { prompt: "one two three", delay_ms: 20 });
  assert.equal(sse.status, 200);
  assert.match(sse.contentType, /text\/event-stream/);
  assert.deepEqual(sse.events, ['{"token":"three"}', '{"token":"two"}', '{"token":"one"}', "[DONE]"]);
  assert.ok(sse.chunks >= 3, `tokens arrive as they are written (${sse.chunks} chunks)`);

  const bad = await postJson(`${s.app_url}/generate`, {});
  assert.equal(bad.status, 400);
  assert.equal(bad.json().error.code, "BAD_REQUEST");

  const stop = await call(`${s.control_url}/stop`, { method: "POST" });
  assert.equal(stop.status, 204);
  await until("o2r released", () => events.some((e) => e.event === "released" && e.session === s.session_id));
  assert.equal((await postJson(`${s.app_url}/generate`, { prompt: "x" })).status, 404);
});

test("the runner creates session trickle channels and a proxy through the session callbacks", async (t) => {
  // A second app on the same orchestrator: it creates channels and a proxy for each session.
  const publishers: TricklePublisher[] = [];
  t.after(async () => {
    for (const p of publishers) await p.close();
  });
  const helper = await startLiveRunner(
    defineRunnerApp({
      app: "example/callbacks",
      routes: {
        "POST /open": async (call) => {
          assert.ok(call.session);
          const channels = await call.session.createChannels([
            { name: "out", mime_type: "application/json" },
            { name: "in" },
          ]);
          const out = channels.find((c) => c.name === "out");
          assert.ok(out);
          // The runner writes on its internal URL; clients read the public one.
          const pub = new TricklePublisher(out.internal_url, {
            mimeType: "application/json",
            tls: { insecure: true },
          });
          await pub.write(Buffer.from('{"hello":"client"}'));
          publishers.push(pub); // closing it would delete the channel
          const proxy = await call.session.createProxy();
          return { channels, proxy };
        },
        "GET /via-proxy": (call) => ({ session: call.session?.id ?? null }),
        "POST /too-many": async (call) => {
          const names = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}` }));
          await call.session?.createChannels(names);
        },
      },
    }),
    { port: 0, orchUrl: orch.url, orchSecret: SECRET },
  );
  t.after(() => helper.close());
  await helper.heartbeats?.registered;
  const id = helper.heartbeats?.runnerId ?? "";
  const s = (await call(`${orch.url}/apps/${id}/session`, { method: "POST" })).json() as {
    session_id: string;
    app_url: string;
    control_url: string;
  };
  const r = await postJson(`${s.app_url}/open`, {});
  assert.equal(r.status, 200, r.text);
  const { channels, proxy } = r.json() as {
    channels: { name: string; url: string; internal_url: string; mime_type: string }[];
    proxy: { proxy_id: string; url: string };
  };
  assert.deepEqual(
    channels.map((c) => [c.name, c.mime_type]),
    [
      ["out", "application/json"],
      ["in", "application/octet-stream"],
    ],
  );
  const out = channels[0]?.url ?? "";
  assert.ok(out.startsWith(`${orch.url}/ai/trickle/${s.session_id}-`), "a public URL on the orchestrator");
  const sub = new TrickleSubscriber(out, { start: 0, tls: { insecure: true } });
  t.after(() => sub.close());
  const seg = await sub.next();
  assert.equal(new TextDecoder().decode(await seg?.bytes()), '{"hello":"client"}');

  const viaProxy = await call(`${proxy.url}/via-proxy`);
  assert.equal(viaProxy.status, 200, viaProxy.text);
  assert.deepEqual(viaProxy.json(), { session: s.session_id });

  const tooMany = await postJson(`${s.app_url}/too-many`, {});
  assert.equal(tooMany.status, 502);
  assert.equal(tooMany.json().error.code, "LIVE_RUNNER_CALLBACK_FAILED");
  assert.match(tooMany.json().error.message, /\(400\): .*25/);
  await call(`${s.control_url}/stop`, { method: "POST" });
});

test("an upgrade (WebSocket) through the session proxy reaches the app's upgrade hook with its session", async (t) => {
  const ws = await startLiveRunner(
    defineRunnerApp({
      app: "example/upgrade",
      routes: {},
      upgrade: (_req, socket, head, session) => {
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Session: ${session?.id ?? "none"}\r\n\r\n`,
        );
        if (head.length > 0) socket.write(head);
        socket.pipe(socket); // an echo of raw bytes is enough to show the tunnel
      },
    }),
    { port: 0, orchUrl: orch.url, orchSecret: SECRET },
  );
  t.after(() => ws.close());
  await ws.heartbeats?.registered;
  const s = (
    await call(`${orch.url}/apps/${ws.heartbeats?.runnerId}/session`, { method: "POST" })
  ).json() as {
    session_id: string;
    app_url: string;
    control_url: string;
  };
  const { request } = await import("node:https");
  const { status, session, echoed } = await new Promise<{ status: number; session: string; echoed: string }>(
    (resolve, reject) => {
      const req = request(`${s.app_url}/socket`, {
        rejectUnauthorized: false,
        agent: false,
        headers: {
          Connection: "Upgrade",
          Upgrade: "websocket",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13",
        },
      });
      req.on("upgrade", (res, socket) => {
        socket.once("data", (d: Buffer) => {
          resolve({
            status: res.statusCode ?? 0,
            session: String(res.headers["x-session"]),
            echoed: d.toString(),
          });
          socket.destroy();
        });
        socket.write("hello through the proxy");
      });
      req.on("response", (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on("error", reject);
      req.end();
    },
  );
  assert.deepEqual([status, session, echoed], [101, s.session_id, "hello through the proxy"]);
  await call(`${s.control_url}/stop`, { method: "POST" });
});

test("after an orchestrator restart the runner registers again; closing it unregisters", async () => {
  const port = new URL(orch.url).port;
  const before = runner.heartbeats?.stats.registrations ?? 0;
  await orch.close();
  orch = await startOrchestrator({ port: Number(port), orchSecret: SECRET, dataDir: dir, liveRunners });
  await until("re-registration", () => (runner.heartbeats?.stats.registrations ?? 0) > before, 15_000);
  await until("listed again", async () => ((await discover()) ?? []).some((r) => r.app === "example/tokens"));
  await runner.close();
  assert.ok(!((await discover()) ?? []).some((r) => r.app === "example/tokens"), "unregistered on close");
});

/** POSTs JSON and reads an SSE answer: the data lines and the number of chunks they came in. */
async function streamedPost(url: string, body: unknown) {
  const { request } = await import("node:https");
  return new Promise<{ status: number; contentType: string; events: string[]; chunks: number }>(
    (resolve, reject) => {
      const req = request(
        url,
        {
          method: "POST",
          rejectUnauthorized: false,
          agent: false,
          headers: { "content-type": "application/json" },
        },
        (res) => {
          let text = "";
          let chunks = 0;
          res.on("data", (c: Buffer) => {
            chunks++;
            text += c.toString("utf8");
          });
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              contentType: String(res.headers["content-type"] ?? ""),
              events: text
                .split("\n")
                .filter((l) => l.startsWith("data: "))
                .map((l) => l.slice(6)),
              chunks,
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(body));
    },
  );
}
