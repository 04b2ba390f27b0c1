/**
 * BYOC streams through the gateway, offchain: go-livepeer's gateway routes `/process/stream/start`,
 * `/process/stream/<id>/update|status|data|stop` relayed to the orchestrator's `/ai/stream/*`, in
 * front of a BYOC-registered live container (green-tint, which also echoes every params update on
 * its data channel). Video goes in and out through the gateway's trickle channels.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { scanMpegTs } from "../../src/client/mpegts.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { defineLivePipeline, type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { TricklePublisher, TrickleSubscriber } from "../../src/trickle/index.ts";
import { call } from "./orchestrator-helpers.ts";

/** The `Livepeer` header a client sends to start a BYOC stream. */
function jobHeader(capability: string, parameters: Record<string, unknown>): string {
  return Buffer.from(
    JSON.stringify({
      request: "{}",
      parameters: JSON.stringify(parameters),
      capability,
      timeout_seconds: 30,
    }),
  ).toString("base64");
}

interface StreamUrls {
  stream_id: string;
  whip_url: string;
  whep_url: string;
  update_url: string;
  status_url: string;
  data_url: string;
  stop_url: string;
  publish_url: string;
  subscribe_url: string;
  orchestrator: string;
}

describe("gateway BYOC streams", () => {
  const dirs: string[] = [];
  const runners: RunningRunner[] = [];
  const orchs: RunningOrchestrator[] = [];
  let gw: RunningGateway;
  let input: Uint8Array[];
  const orchOf = (url: string) => orchs.find((o) => o.url === url);

  before(async () => {
    input = await syntheticSegments({ width: 160, height: 120, fps: 15, seconds: 8, audio: true });
    for (let i = 0; i < 2; i++) {
      const runner = await startRunner(
        defineLivePipeline({
          name: "green-tint",
          start: greenTint.start,
          video: greenTint.video,
          params: async (p, ctx) => {
            await greenTint.params?.(p, ctx);
            ctx.sendData({ applied: p });
          },
        }),
        { port: 0, session: { heartbeatIntervalMs: 200 } },
      );
      runners.push(runner);
      await runner.loaded;
      const dir = mkdtempSync(join(tmpdir(), "gw-byoc-stream-"));
      dirs.push(dir);
      const orch = await startOrchestrator({
        port: 0,
        dataDir: dir,
        orchSecret: "s",
        health: { intervalMs: 100, failureThreshold: 1 },
        streamCheckIntervalMs: 100,
      });
      orchs.push(orch);
      const reg = await call(orch, "/capability/register", {
        method: "POST",
        headers: { authorization: "s" },
        body: JSON.stringify({ name: "tint-stream", url: runner.url, capacity: 1, price_per_unit: 0 }),
      });
      assert.equal(reg.status, 200, reg.body);
      for (let t = 0; t < 400 && !orch.registry.advertised().some((a) => a.modelId === "tint-stream"); t++)
        await sleep(25);
    }
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: orchs.map((o) => o.url) },
      liveEventTimeoutMs: 5000,
    });
  });

  after(async () => {
    await gw?.close();
    for (const o of orchs) await o.close();
    for (const r of runners) await r.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("bad starts are 4xx; unknown streams 404; WHIP needs the key and video ingress", async () => {
    const start = (headers: Record<string, string>, body: unknown) =>
      fetch(`${gw.url}/process/stream/start`, { method: "POST", headers, body: JSON.stringify(body) });
    assert.equal((await start({}, {})).status, 400, "no Livepeer header");
    const h = { livepeer: jobHeader("tint-stream", {}) };
    assert.equal((await start(h, { params: "{nope" })).status, 400, "params not JSON");
    assert.equal((await start(h, { stream_id: "a/b" })).status, 400, "stream id not a channel name");
    assert.equal((await start(h, { stream_name: "x-out" })).status, 400, "-out names are reserved");
    const none = await start({ livepeer: jobHeader("no-such-capability", {}) }, {});
    assert.equal(none.status, 503, await none.text());
    assert.equal((await fetch(`${gw.url}/process/stream/nope/status`)).status, 404);
    const r = await start(h, { stream_id: "plain" });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as StreamUrls;
    assert.equal(s.publish_url, "", "no video ingress asked");
    assert.equal(s.data_url, "");
    assert.equal(s.whip_url, "", "no WHIP without video ingress");
    assert.equal(
      (await fetch(`${gw.url}/process/stream/plain/whip`, { method: "POST" })).status,
      404,
      "no key",
    );
    const whip = s.status_url.replace("/status?", "/whip?");
    const sdp = { method: "POST", headers: { "content-type": "application/sdp" }, body: "v=0" };
    assert.equal((await fetch(whip, sdp)).status, 409, "no video ingress");
    const data = s.status_url.replace("/status?", "/data?");
    assert.equal((await fetch(data)).status, 503, "no data output asked");
    assert.equal((await fetch(s.stop_url, { method: "POST", body: "{}" })).status, 200);
    assert.equal((await fetch(s.status_url)).status, 404, "stopped streams are gone");
  });

  test("a BYOC stream: video in and out through the gateway, update echoed on the data SSE, status, stop", async () => {
    const r = await fetch(`${gw.url}/process/stream/start`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        livepeer: jobHeader("tint-stream", {
          enable_video_ingress: true,
          enable_video_egress: true,
          enable_data_output: true,
        }),
      },
      body: JSON.stringify({
        stream_name: "cam",
        params: JSON.stringify({ width: 160, height: 120, green: 80 }),
      }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as StreamUrls;
    assert.match(s.stream_id, /^cam-/);
    assert.equal(s.whip_url, s.status_url.replace("/status?", "/whip?"), "WHIP ingest of this stream");
    assert.equal(s.whep_url, s.status_url.replace("/status?", "/whep?"), "WHEP playback of this stream");
    for (const u of [s.publish_url, s.subscribe_url, s.update_url, s.status_url, s.data_url, s.stop_url])
      assert.ok(u.startsWith(gw.url), u);
    const orch = orchOf(s.orchestrator);
    assert.ok(orch, "served by one of ours");
    assert.equal(orch.streamCount, 1);

    // Data: server-sent events.
    const dataRes = await fetch(s.data_url);
    assert.equal(dataRes.status, 200);
    assert.match(String(dataRes.headers.get("content-type")), /text\/event-stream/);
    let sse = "";
    const sseDone = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of dataRes.body as unknown as AsyncIterable<Uint8Array>)
        sse += decoder.decode(chunk, { stream: true });
    })();

    const out: Uint8Array[] = [];
    const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
    const outDone = (async () => {
      for await (const seg of outSub) out.push(await seg.bytes());
    })();
    const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
    for (const seg of input) await pub.write(seg);
    for (let i = 0; i < 600 && out.length === 0; i++) await sleep(25);
    assert.ok(out.length > 0, "output arrived through the gateway");
    const frame = (await decodeSegments(out.slice(0, 1), 160, 120)).video[0];
    assert.ok(frame, "the output decodes");
    assert.ok(channelMean(frame, 1) - channelMean(frame, 0) > 50, "and is tinted green by the container");

    const upd = await fetch(s.update_url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ green: 10 }),
    });
    assert.equal(upd.status, 200, await upd.text());
    for (let i = 0; i < 400 && !sse.includes("applied"); i++) await sleep(25);
    assert.match(sse, /^data: .*applied.*green.*10/m, sse);

    const status = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
    assert.equal(status.kind, "byoc");
    assert.equal(status.model_id, "tint-stream");
    assert.equal(status.state, "running");
    assert.ok((status.segments_in as number) > 0 && (status.segments_out as number) > 0);
    assert.notEqual(status.last_event, null, "events from the container are seen");

    const stop = await fetch(s.stop_url, { method: "POST", body: "{}" });
    assert.equal(stop.status, 200, await stop.text());
    await sseDone;
    assert.match(sse, /event: end\ndata: \{"type":"stream_ended"\}/);
    await pub.close();
    outSub.close();
    await outDone;
    for (let i = 0; i < 200 && orch.streamCount > 0; i++) await sleep(25);
    assert.equal(orch.streamCount, 0, "stopped on the orchestrator too");
    assert.equal(gw.live.count, 0);
  });

  test("the end of a BYOC stream's input ends it normally: every frame comes back, output and data end, no move", async () => {
    const r = await fetch(`${gw.url}/process/stream/start`, {
      method: "POST",
      headers: {
        livepeer: jobHeader("tint-stream", {
          enable_video_ingress: true,
          enable_video_egress: true,
          enable_data_output: true,
        }),
      },
      body: JSON.stringify({ params: { width: 160, height: 120 } }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as StreamUrls;
    const frames = (segs: Uint8Array[]) => {
      let pid: number | undefined;
      let n = 0;
      for (const seg of segs) {
        const scan = scanMpegTs(seg, pid);
        pid = scan.videoPid;
        n += scan.videoFrames;
      }
      return n;
    };
    const dataRes = await fetch(s.data_url);
    assert.equal(dataRes.status, 200);
    const sseDone = dataRes.text();
    const out: Uint8Array[] = [];
    const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
    const outDone = (async () => {
      for await (const seg of outSub) out.push(await seg.bytes());
    })();
    const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
    // No faster than the container reads (see gateway-live.test.ts): input k once output k-2 is back.
    const waitOut = async (n: number) => {
      for (let i = 0; i < 2400 && out.length < n; i++) await sleep(25);
    };
    for (const [k, seg] of input.entries()) {
      await waitOut(k - 1);
      await pub.write(seg);
    }
    await waitOut(input.length - 1);
    await pub.close(); // the end of the input

    const guard = setTimeout(() => outSub.close(), 60_000); // turns a hang into a failure
    await outDone;
    clearTimeout(guard);
    assert.equal(frames(out), frames(input), "every input frame came back, the last segment too");
    assert.match(await sseDone, /event: end\ndata: \{"type":"stream_ended"\}/, "the data SSE ended");
    const st = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
    assert.equal(st.state, "ended", JSON.stringify(st));
    assert.equal(st.swaps, 0, "no move");
    const orch = orchOf(s.orchestrator);
    for (let i = 0; i < 400 && (orch?.streamCount ?? 0) > 0; i++) await sleep(25);
    assert.equal(orch?.streamCount, 0, "the orchestrator ended it too");
    assert.equal((await fetch(s.stop_url, { method: "POST", body: "{}" })).status, 200);
    assert.equal((await fetch(s.status_url)).status, 404);
    for (let i = 0; i < 400 && orchs.some((o) => o.registry.containers().some((c) => c.inUse > 0)); i++)
      await sleep(25);
  });

  test("the orchestrator serving a BYOC stream goes away: the stream moves, output keeps coming through the same URLs", async () => {
    const r = await fetch(`${gw.url}/process/stream/start`, {
      method: "POST",
      headers: {
        livepeer: jobHeader("tint-stream", { enable_video_ingress: true, enable_video_egress: true }),
      },
      body: JSON.stringify({ params: { width: 160, height: 120 } }),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const s = JSON.parse(text) as StreamUrls;
    const out: Uint8Array[] = [];
    const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
    const outDone = (async () => {
      for await (const seg of outSub) out.push(await seg.bytes());
    })();
    const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
    for (const seg of input.slice(0, 2)) await pub.write(seg);
    for (let i = 0; i < 600 && out.length === 0; i++) await sleep(25);
    assert.ok(out.length > 0, "output before the failure");

    await orchOf(s.orchestrator)?.close();
    let st: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) {
      st = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
      if (st.state === "running" && st.orchestrator !== s.orchestrator) break;
      await sleep(25);
    }
    assert.equal(st.state, "running", JSON.stringify(st));
    assert.notEqual(st.orchestrator, s.orchestrator);
    assert.equal(st.swaps, 1);
    const before = out.length;
    for (const seg of input.slice(2)) await pub.write(seg);
    for (let i = 0; i < 600 && out.length === before; i++) await sleep(25);
    assert.ok(out.length > before, "output flows again from the other orchestrator");
    assert.equal((await fetch(s.stop_url, { method: "POST", body: "{}" })).status, 200);
    await pub.close();
    outSub.close();
    await outDone;
  });
});
