import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type DevNetwork, GREEN_TINT_MODEL, startDevNetwork } from "../dev/network.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../media/synthetic.ts";
import { GatewayError, LiveSession, parseLiveStatus, parseSse, runJob } from "./index.ts";

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test("parseSse joins data lines, keeps event names, skips comments, stops at [DONE], handles split CRLF", async () => {
  const events = await collect(
    parseSse(
      chunks(
        ": hi\r",
        '\ndata: {"a":1}\r\n\r\nevent: error\ndata: x\n',
        "data: y\n\n",
        "data: [DONE]\n\ndata: after\n\n",
      ),
    ),
  );
  assert.deepEqual(events, [
    { event: "message", data: '{"a":1}' },
    { event: "error", data: "x\ny" },
  ]);
});

test("parseLiveStatus types the known fields and reads optional live statistics where present", () => {
  const s = parseLiveStatus({
    stream_id: "a",
    state: "running",
    orchestrator: "https://o",
    swaps: 0,
    payments: 2,
  });
  assert.equal(s.state, "running");
  assert.equal(s.payments, 2);
  assert.equal(s.fps, undefined);
  assert.equal(s.paidWei, undefined);
  const t = parseLiveStatus({
    stream_id: "a",
    state: "running",
    stats: { fps: 23.5, latency_seconds: 1.5, segments: { in: 4, out: 2 }, paid_wei: "1000" },
  });
  assert.equal(t.fps, 23.5);
  const u = parseLiveStatus({
    stream_id: "a",
    state: "running",
    segments_in: 3,
    segments_out: 1,
    last_output_latency_ms: 201,
    fps: { ingress_video_fps: 24, egress_video_fps: 23 },
    tickets_sent: 4,
    paid_wei: "123456789012345678901",
  });
  assert.deepEqual(
    [u.segmentsIn, u.segmentsOut, u.latencyMs, u.fps, u.ticketsSent, u.paidWei],
    [3, 1, 201, 23, 4, 123456789012345678901n],
  );
  assert.equal(t.latencyMs, 1500);
  assert.equal(t.segmentsIn, 4);
  assert.equal(t.segmentsOut, 2);
  assert.equal(t.paidWei, 1000n);
});

test("a plain-text error (go-livepeer's habit) and pytrickle's {status,message} become GatewayErrors too", async () => {
  const server = createServer((req, res) => {
    if (req.url === "/plain") {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end("Could not verify job creds\n");
    } else {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "error", message: "pipeline broke" }));
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await assert.rejects(runJob(url, "plain", { json: {} }), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.httpStatus, 400);
      assert.equal(err.code, "HTTP_400");
      assert.match(err.message, /400 HTTP_400: Could not verify job creds$/);
      return true;
    });
    await assert.rejects(runJob(url, "py", { model: "m", json: {} }), {
      httpStatus: 500,
      message: "job py (model m): 500 HTTP_500: pipeline broke",
    });
    await assert.rejects(runJob(url, "../etc", {}), { code: "BAD_PIPELINE" });
  } finally {
    server.close();
  }
});

describe("client against an offchain dev network", () => {
  let net: DevNetwork;
  let gw: string;
  before(async () => {
    net = await startDevNetwork({ offchain: true, orchestratorPort: 0, gatewayPort: 0 });
    gw = net.summary.gateway!.url;
  });
  after(async () => {
    await net?.stop();
  });

  test("runJob returns the container's JSON answer and who served it", async () => {
    const r = await runJob(gw, "text-reverse", { json: { text: "abc" } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { text: "cba" });
    assert.ok(r.orchestrator?.startsWith("https://"), String(r.orchestrator));
  });

  test("runJob turns a gateway error envelope into a GatewayError with its code and status", async () => {
    await assert.rejects(runJob(gw, "no-such-capability", { json: {} }), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.ok(err.httpStatus >= 400, String(err.httpStatus));
      assert.match(err.message, /no-such-capability/);
      return true;
    });
  });

  test("runJob reports an unreachable gateway as GATEWAY_UNREACHABLE", async () => {
    await assert.rejects(runJob("http://127.0.0.1:1", "text-reverse", { json: {} }), {
      code: "GATEWAY_UNREACHABLE",
    });
  });

  test("LiveSession: start, publish segments, read tinted output, update, status, stop", async () => {
    const input = await syntheticSegments({ width: 128, height: 96, fps: 12, seconds: 4 });
    await using live = await LiveSession.start(gw, {
      model: GREEN_TINT_MODEL,
      params: { width: 128, height: 96, green: 90 },
    });
    assert.ok(live.info.publishUrl.startsWith(gw));
    const out: Uint8Array[] = [];
    const reading = (async () => {
      for await (const seg of live.output()) out.push(seg);
    })();
    for (const seg of input) await live.publish(seg);
    for (let i = 0; i < 600 && out.length === 0; i++) await sleep(25);
    assert.ok(out.length > 0, "output came back through the gateway");
    const frame = (await decodeSegments(out.slice(0, 1), 128, 96)).video[0];
    assert.ok(frame, "the output decodes");
    assert.ok(channelMean(frame, 1) - channelMean(frame, 0) > 50, "tinted green");
    await live.update({ green: 5 });
    const st = await live.status();
    assert.equal(st.streamId, live.info.streamId);
    assert.equal(st.state, "running");
    const last = await live.stop();
    assert.equal(last?.streamId, live.info.streamId);
    await reading;
    await assert.rejects(live.status(), { httpStatus: 404 });
  });

  test("LiveSession.start with an unknown model rejects with the gateway's error", async () => {
    await assert.rejects(LiveSession.start(gw, { model: "no-such-model" }), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.ok(err.httpStatus >= 400);
      return true;
    });
  });
});
