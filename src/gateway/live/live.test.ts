import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { silentLogger } from "../../node/logger.ts";
import { type RunningTrickleServer, startTrickleServer } from "../../trickle/server.ts";
import type { OrchestratorDescriptor, OrchestratorPool } from "../discovery/index.ts";
import type { OrchestratorHttp } from "../orch-http.ts";
import { type Selector, Suspender } from "../selection/index.ts";
import { startTrace } from "../tracing.ts";
import { createLive, type LiveManager, redactEventUrls } from "./index.ts";

// Two fake orchestrators whose start answers point at channels of a standalone trickle server.
// "a" never sends an event; "b" sends one every 50 ms.
let trickle: RunningTrickleServer;
let server: Server;
let base: string;
let live: LiveManager;
const suspender = new Suspender();
const starts: string[] = [];
let beat: NodeJS.Timeout | undefined;

const descriptor = (name: string) => ({ url: name, transcoder: name }) as unknown as OrchestratorDescriptor;

before(async () => {
  trickle = await startTrickleServer({ port: 0, autocreate: true });
  const t = trickle.url.replace(/\/$/, "");
  const http: OrchestratorHttp = {
    async send(url) {
      const name = new URL(url).hostname;
      starts.push(name);
      for (const ch of ["in", "out", "control", "events"])
        trickle.trickle.createChannel(`${name}-${ch}`, "application/json");
      if (name === "b") {
        let n = 0;
        beat = setInterval(() => {
          const ch = trickle.trickle.getChannel("b-events");
          if (ch) {
            const seg = ch.getForWrite(n).segment;
            ch.markWritten(n++);
            seg.buffer.write(Buffer.from('{"type":"heartbeat"}'));
            seg.close();
          }
        }, 50);
      }
      const body = JSON.stringify({
        publish_url: `${t}/${name}-in`,
        subscribe_url: `${t}/${name}-out`,
        control_url: `${t}/${name}-control`,
        events_url: `${t}/${name}-events`,
      });
      return Object.assign(Readable.from([Buffer.from(body)]), {
        statusCode: 200,
      }) as unknown as IncomingMessage;
    },
    close() {},
  };
  const pool = {
    current: async () => [descriptor("https://a"), descriptor("https://b")],
    refresh: async () => [descriptor("https://a"), descriptor("https://b")],
    recordSuccess() {},
    recordFailure() {},
  } as unknown as OrchestratorPool;
  const selector = {
    select: (all: OrchestratorDescriptor[], req: { exclude?: readonly string[] }) => ({
      ranked: all.filter((d) => !req.exclude?.includes(d.transcoder)).map((descriptor) => ({ descriptor })),
      rejected: [],
    }),
  } as unknown as Selector;
  live = createLive({
    pool,
    selector,
    suspender,
    http,
    logger: silentLogger(),
    signal: new AbortController().signal,
    eventTimeoutMs: 300,
    baseUrl: () => base,
    traceOf: () => ({ trace: startTrace(undefined), log: silentLogger() }),
  });
  server = createServer((req, res) => {
    live.handle(req, res, new URL(req.url ?? "/", "http://x").pathname).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  clearInterval(beat);
  await live.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await trickle.close();
});

test("a stream whose orchestrator sends no event for the timeout moves to the next one", async () => {
  const r = await fetch(`${base}/live/video-to-video`, {
    method: "POST",
    body: JSON.stringify({ model_id: "m" }),
  });
  assert.equal(r.status, 200);
  const s = (await r.json()) as { orchestrator: string; status_url: string };
  assert.equal(s.orchestrator, "https://a");
  let status: Record<string, unknown> = {};
  for (let i = 0; i < 200; i++) {
    status = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
    if (status.orchestrator === "https://b" && status.state === "running") break;
    await new Promise((res) => setTimeout(res, 25));
  }
  assert.equal(status.orchestrator, "https://b", JSON.stringify(status));
  assert.equal(status.swaps, 1);
  assert.ok(suspender.isSuspended("https://a"), "the silent orchestrator is suspended");
  // b keeps sending events: it stays.
  await new Promise((res) => setTimeout(res, 700));
  status = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
  assert.equal(status.orchestrator, "https://b");
  assert.equal(status.swaps, 1);
  assert.deepEqual(status.last_event, { type: "heartbeat" });
  assert.deepEqual(starts, ["a", "b"]);
});

test("a start refused for expired ticket params is retried on the same orchestrator", async () => {
  const tr = await startTrickleServer({ port: 0, autocreate: true });
  const t = tr.url.replace(/\/$/, "");
  const calls: string[] = [];
  const http: OrchestratorHttp = {
    async send(url) {
      calls.push(new URL(url).hostname);
      const first = calls.length === 1;
      const body = first
        ? "ticket params expired at L1 block 55 (now 58); fetch fresh ticket params"
        : JSON.stringify({
            publish_url: `${t}/c-in`,
            subscribe_url: `${t}/c-out`,
            control_url: `${t}/c-control`,
            events_url: `${t}/c-events`,
          });
      return Object.assign(Readable.from([Buffer.from(body)]), {
        statusCode: first ? 400 : 200,
        headers: {},
      }) as unknown as IncomingMessage;
    },
    close() {},
  };
  const only = [descriptor("https://c"), descriptor("https://d")];
  const pool = {
    current: async () => only,
    refresh: async () => only,
    recordSuccess() {},
    recordFailure() {},
  } as unknown as OrchestratorPool;
  const selector = {
    select: (all: OrchestratorDescriptor[], req: { exclude?: readonly string[] }) => ({
      ranked: all.filter((d) => !req.exclude?.includes(d.transcoder)).map((descriptor) => ({ descriptor })),
      rejected: [],
    }),
  } as unknown as Selector;
  const lm = createLive({
    pool,
    selector,
    suspender: new Suspender(),
    http,
    logger: silentLogger(),
    signal: new AbortController().signal,
    baseUrl: () => "http://gw",
    traceOf: () => ({ trace: startTrace(undefined), log: silentLogger() }),
  });
  const srv = createServer((req, res) => {
    lm.handle(req, res, new URL(req.url ?? "/", "http://x").pathname).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const r = await fetch(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/live/video-to-video`, {
      method: "POST",
      body: JSON.stringify({ model_id: "m" }),
    });
    const s = (await r.json()) as { orchestrator: string };
    assert.equal(r.status, 200, JSON.stringify(s));
    assert.equal(s.orchestrator, "https://c", "the same orchestrator, not the next one");
    assert.deepEqual(calls, ["c", "c"]);
  } finally {
    await lm.close();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
    await tr.close();
  }
});

test("container events shown in a stream's status carry no URL (trickle channel URLs are credentials)", () => {
  const event = {
    type: "heartbeat",
    subscribe_url: "https://orch:8935/ai/trickle/abc123-in",
    nested: { urls: ["http://x/y", "not a url"], fps: 30 },
  };
  assert.deepEqual(redactEventUrls(event), {
    type: "heartbeat",
    subscribe_url: "[redacted]",
    nested: { urls: ["[redacted]", "not a url"], fps: 30 },
  });
  assert.equal(redactEventUrls("https://orch/ai/trickle/secret-events"), "[redacted]");
});

test("a stream started and never fed is stopped after the idle timeout: its orchestrator's control channel closes (slot freed, payments stop)", async () => {
  const tr = await startTrickleServer({ port: 0, autocreate: true });
  const t = tr.url.replace(/\/$/, "");
  const http: OrchestratorHttp = {
    async send() {
      for (const ch of ["in", "out", "control", "events"])
        tr.trickle.createChannel(`e-${ch}`, "application/json");
      const body = JSON.stringify({
        publish_url: `${t}/e-in`,
        subscribe_url: `${t}/e-out`,
        control_url: `${t}/e-control`,
        events_url: `${t}/e-events`,
      });
      return Object.assign(Readable.from([Buffer.from(body)]), { statusCode: 200, headers: {} }) as never;
    },
    close() {},
  };
  const only = [descriptor("https://e")];
  const pool = {
    current: async () => only,
    refresh: async () => only,
    recordSuccess() {},
    recordFailure() {},
  } as unknown as OrchestratorPool;
  const selector = {
    select: (all: OrchestratorDescriptor[]) => ({
      ranked: all.map((descriptor) => ({ descriptor })),
      rejected: [],
    }),
  } as unknown as Selector;
  const lm = createLive({
    pool,
    selector,
    suspender: new Suspender(),
    http,
    logger: silentLogger(),
    signal: new AbortController().signal,
    idleTimeoutMs: 300,
    baseUrl: () => "http://gw",
    traceOf: () => ({ trace: startTrace(undefined), log: silentLogger() }),
  });
  const srv = createServer((req, res) => {
    lm.handle(req, res, new URL(req.url ?? "/", "http://x").pathname).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const r = await fetch(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/live/video-to-video`, {
      method: "POST",
      body: JSON.stringify({ model_id: "m" }),
    });
    assert.equal(r.status, 200);
    assert.equal(lm.count, 1);
    const started = Date.now();
    while (lm.count > 0 && Date.now() - started < 3000) await new Promise((res) => setTimeout(res, 25));
    assert.equal(lm.count, 0, "the idle stream was stopped");
    assert.ok(Date.now() - started >= 200, "not before the timeout");
    // The gateway's control publisher closed: the orchestrator ends the stream and frees its slot.
    while (tr.trickle.getChannel("e-control")?.closed === false && Date.now() - started < 5000)
      await new Promise((res) => setTimeout(res, 25));
    const control = tr.trickle.getChannel("e-control");
    assert.ok(control === undefined || control.closed, "the orchestrator's control channel is closed");
  } finally {
    await lm.close();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
    await tr.close();
  }
});

test("a live start every orchestrator refuses as busy (NO_CAPACITY) is a 503 ORCHESTRATORS_BUSY; nobody is suspended or counted failed", async () => {
  const busy = JSON.stringify({
    error: { code: "NO_CAPACITY", message: "No capacity available for capability x" },
  });
  const http: OrchestratorHttp = {
    async send() {
      return Object.assign(Readable.from([Buffer.from(busy)]), { statusCode: 503, headers: {} }) as never;
    },
    close() {},
  };
  const two = [descriptor("https://f"), descriptor("https://g")];
  const failures: string[] = [];
  const pool = {
    current: async () => two,
    refresh: async () => two,
    recordSuccess() {},
    recordFailure: (url: string) => failures.push(url),
  } as unknown as OrchestratorPool;
  const selector = {
    select: (all: OrchestratorDescriptor[], req: { exclude?: readonly string[] }) => ({
      ranked: all.filter((d) => !req.exclude?.includes(d.transcoder)).map((descriptor) => ({ descriptor })),
      rejected: [],
    }),
  } as unknown as Selector;
  const sus = new Suspender();
  const lm = createLive({
    pool,
    selector,
    suspender: sus,
    http,
    logger: silentLogger(),
    signal: new AbortController().signal,
    baseUrl: () => "http://gw",
    traceOf: () => ({ trace: startTrace(undefined), log: silentLogger() }),
  });
  const req = Object.assign(Readable.from([Buffer.from('{"model_id":"m"}')]), {
    method: "POST",
    url: "/live/video-to-video",
    headers: { "content-type": "application/json" },
  }) as unknown as IncomingMessage;
  try {
    await assert.rejects(lm.handle(req, {} as never, "/live/video-to-video"), (err: unknown) => {
      const e = err as {
        code?: string;
        status?: number;
        details?: { retryAfterSeconds?: number };
        message: string;
      };
      assert.deepEqual([e.code, e.status, e.details?.retryAfterSeconds], ["ORCHESTRATORS_BUSY", 503, 2]);
      assert.match(e.message, /^all 2 orchestrators offering live-video-to-video\/m are busy/);
      return true;
    });
    assert.deepEqual(failures, []);
    assert.deepEqual(sus.entries(), []);
  } finally {
    await lm.close();
  }
});
