/**
 * Gateway live video end to end, offchain, over the real media path: the client publishes synthetic
 * H.264/AAC MPEG-TS into the GATEWAY's trickle channel; the gateway relays it to an orchestrator
 * (`POST /live-video-to-video`), whose green-tint SDK container decodes, tints and re-encodes it; the
 * output comes back through the gateway's output channel. Then the serving orchestrator is closed and
 * the stream moves to the other one, with the client's URLs unchanged. The client's end of input
 * (closing its publisher) reaches the container, whose flushed output comes back whole and ends the
 * client's output subscription, without a move.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { scanMpegTs } from "../../src/client/mpegts.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { TricklePublisher, TrickleSubscriber } from "../../src/trickle/index.ts";
import { poll, until } from "../until.ts";

interface StartAnswer {
  stream_id: string;
  publish_url: string;
  subscribe_url: string;
  update_url: string;
  status_url: string;
  stop_url: string;
  orchestrator: string;
}

describe("gateway live e2e", () => {
  const dirs: string[] = [];
  const runners: RunningRunner[] = [];
  const orchs: RunningOrchestrator[] = [];
  let gw: RunningGateway;
  let input: Uint8Array[];

  before(async () => {
    input = await syntheticSegments({ width: 192, height: 144, fps: 15, seconds: 10, audio: true });
    for (let i = 0; i < 2; i++) {
      const runner = await startRunner(greenTint, { port: 0, session: { heartbeatIntervalMs: 200 } });
      runners.push(runner);
      await runner.loaded;
      const dir = mkdtempSync(join(tmpdir(), "gw-live-"));
      dirs.push(dir);
      const aiModels = join(dir, "aiModels.json");
      writeFileSync(
        aiModels,
        JSON.stringify([{ pipeline: "live-video-to-video", model_id: "green-tint", url: runner.url }]),
      );
      orchs.push(
        await startOrchestrator({
          port: 0,
          aiModelsPath: aiModels,
          dataDir: dir,
          health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
          reload: { sighup: false },
          streamCheckIntervalMs: 100,
        }),
      );
    }
    for (const o of orchs)
      await poll(() => o.registry.advertised().some((a) => a.modelId === "green-tint"), 5_000);
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: orchs.map((o) => o.url) },
      liveEventTimeoutMs: 2000,
    });
  });

  after(async () => {
    await gw?.close();
    for (const o of orchs) await o.close();
    for (const r of runners) await r.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("bad starts are 4xx; unknown streams 404", async () => {
    const noModel = await fetch(`${gw.url}/live/video-to-video`, { method: "POST", body: "{}" });
    assert.equal(noModel.status, 400);
    const badParams = await fetch(`${gw.url}/live/video-to-video`, {
      method: "POST",
      body: JSON.stringify({ model_id: "green-tint", params: "{nope" }),
    });
    assert.equal(badParams.status, 400);
    assert.equal((await fetch(`${gw.url}/live/video-to-video/nope/status`)).status, 404);
  });

  test("the end of the input reaches the container: every frame comes back, the output ends, nothing moves", async () => {
    const r = await fetch(`${gw.url}/live/video-to-video`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "green-tint", params: { width: 192, height: 144 } }),
    });
    assert.equal(r.status, 200);
    const s = (await r.json()) as StartAnswer;
    const count = (segs: Uint8Array[]) => {
      let pid: number | undefined;
      let frames = 0;
      for (const seg of segs) {
        const scan = scanMpegTs(seg, pid);
        pid = scan.videoPid;
        frames += scan.videoFrames;
      }
      return frames;
    };
    const framesIn = count(input);
    assert.ok(framesIn >= 140, `the input holds ${framesIn} frames`);

    const out: Uint8Array[] = [];
    const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
    let ended = false;
    const outDone = (async () => {
      for await (const seg of outSub) out.push(await seg.bytes());
      ended = true;
    })();
    const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
    // Published no faster than the container reads (as a live source does): input segment k goes
    // out once output k-2 is back, i.e. once the container has read input k-1 (a channel's end drops
    // segments nobody has started reading). The last output segment only comes with the end of input.
    const waitOut = (n: number) => poll(() => out.length >= n || ended, 60_000);
    for (const [k, seg] of input.entries()) {
      await waitOut(k - 1);
      await pub.write(seg);
    }
    await waitOut(input.length - 1);
    await pub.close(); // the end of the input

    // The output subscription must end by itself; the guard only turns a hang into a failure.
    const guard = setTimeout(() => outSub.close(), 60_000);
    await outDone;
    clearTimeout(guard);
    assert.ok(ended, "the client's output subscription ended after the input ended");
    assert.equal(count(out), framesIn, "every input frame came back");

    const status = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
    assert.equal(status.state, "ended", JSON.stringify(status));
    assert.equal(status.swaps, 0, "the stream was not moved");
    assert.equal(
      status.segments_in,
      input.length,
      "every input segment relayed, and no empty one at the end",
    );
    assert.equal(status.orchestrator, s.orchestrator);
    assert.equal(gw.live.count, 0, "an ended stream is not counted as running");
    const late = await fetch(s.update_url, { method: "POST", body: JSON.stringify({ green: 1 }) });
    assert.equal(late.status, 409, "an ended stream takes no more updates");
    const stop = await fetch(s.stop_url, { method: "POST" });
    assert.equal(stop.status, 200);
    assert.equal(((await stop.json()) as Record<string, unknown>).state, "ended");
    assert.equal((await fetch(s.status_url)).status, 404, "a stop forgets the ended stream");
    // The orchestrator frees the container once it sees the stream's control channel closed.
    await poll(() => orchs.every((o) => o.registry.containers().every((c) => c.inUse === 0)));
  });

  test("a live start returns gateway URLs; published segments come back tinted; update, status, move, stop", async () => {
    const r = await fetch(`${gw.url}/live/video-to-video`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_id: "green-tint", params: { width: 192, height: 144, green: 80 } }),
    });
    assert.equal(r.status, 200);
    const s = (await r.json()) as StartAnswer;
    assert.ok(s.publish_url.startsWith(`${gw.url}/live/trickle/`), s.publish_url);
    assert.ok(s.subscribe_url.startsWith(`${gw.url}/live/trickle/`), s.subscribe_url);
    const first = s.orchestrator;

    const out: Uint8Array[] = [];
    const outSub = new TrickleSubscriber(s.subscribe_url, { start: 0 });
    const outDone = (async () => {
      for await (const seg of outSub) out.push(await seg.bytes());
    })();
    const pub = new TricklePublisher(s.publish_url, { mimeType: "video/mp2t" });
    for (const seg of input.slice(0, 2)) await pub.write(seg);
    await until("output through the gateway", () => out.length > 0);
    const decoded = await decodeSegments(out.slice(0, 1), 192, 144);
    const frame = decoded.video[0];
    assert.ok(frame, "the output decodes");
    assert.ok(channelMean(frame, 1) - channelMean(frame, 0) > 50, "and is tinted green by the container");

    const upd = await fetch(s.update_url, { method: "POST", body: JSON.stringify({ green: 10 }) });
    assert.equal(upd.status, 200);
    const status = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
    assert.equal(status.state, "running");
    assert.equal(status.orchestrator, first);
    assert.notEqual(status.last_event, null, "events from the container are seen");

    // The serving orchestrator goes away: the stream moves to the other one, same client URLs.
    await orchs.find((o) => o.url === first)?.close();
    let moved: Record<string, unknown> = {};
    await poll(async () => {
      moved = (await (await fetch(s.status_url)).json()) as Record<string, unknown>;
      return moved.state === "running" && moved.orchestrator !== first;
    });
    assert.equal(moved.state, "running", JSON.stringify(moved));
    assert.notEqual(moved.orchestrator, first);
    assert.equal(moved.swaps, 1);
    const before = out.length;
    for (const seg of input.slice(2)) await pub.write(seg);
    await until("output to flow again from the new orchestrator", () => out.length > before);

    const stop = await fetch(s.stop_url, { method: "POST" });
    assert.equal(stop.status, 200);
    await pub.close();
    outSub.close();
    await outDone;
    assert.equal(gw.live.count, 0);
  });
});
