/**
 * The runner's media path end to end over a real trickle server: synthetic H.264 + Opus MPEG-TS
 * (made in-process with node-av) is published into an input channel, the green-tint example is
 * started on it with `POST /stream/start`, and its output channel is decoded and checked.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pipeline from "../../examples/green-tint/pipeline.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import {
  type ChannelFactory,
  type RunningRunner,
  type SegmentSink,
  startRunner,
  TrickleChannels,
} from "../../src/runner/index.ts";
import type { StreamingSegmentSink } from "../../src/runner/media-loop.ts";
import { TricklePublisher } from "../../src/trickle/publisher.ts";
import { type RunningTrickleServer, startTrickleServer } from "../../src/trickle/server.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";

let trickle: RunningTrickleServer;
let runner: RunningRunner;
let base: string;
let input: Uint8Array[];

before(async () => {
  trickle = await startTrickleServer({ port: 0 });
  base = trickle.url.replace(/\/$/, "");
  runner = await startRunner(pipeline, { port: 0, session: { heartbeatIntervalMs: 300 } });
  await runner.loaded;
  // 8 s of 320×240 grey (100,100,100) at 30 fps with a tone: 4 segments of 2 s.
  input = await syntheticSegments({ width: 320, height: 240, fps: 30, seconds: 8, audio: true });
});

after(async () => {
  await runner?.close();
  await trickle?.close();
});

interface EventEnvelope {
  event: { type: string; source?: string; fps?: Record<string, number>; dimensions?: Record<string, number> };
  queue_event_type: string;
}

/** Creates the stream's channels (as the orchestrator does), starts it, and collects its events. */
async function startStream(
  id: string,
  params: Record<string, unknown>,
  opts: { createInput?: boolean } = {},
) {
  for (const [name, mime] of [
    [`${id}-out`, "video/mp2t"],
    [`${id}-control`, "application/json"],
    [`${id}-events`, "application/json"],
  ] as const)
    trickle.trickle.createChannel(name, mime);
  if (opts.createInput !== false) trickle.trickle.createChannel(id, "video/mp2t");
  const events: EventEnvelope[] = [];
  const eventsSub = new TrickleSubscriber(`${base}/${id}-events`, { start: 0 });
  const eventsDone = (async () => {
    for await (const s of eventsSub) {
      const e = JSON.parse(await s.text()) as EventEnvelope;
      events.push(e);
      if (e.event.type === "stream_stopped") return;
    }
  })();
  const r = await fetch(`${runner.url}/stream/start`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      gateway_request_id: id,
      subscribe_url: `${base}/${id}`,
      publish_url: `${base}/${id}-out`,
      control_url: `${base}/${id}-control`,
      events_url: `${base}/${id}-events`,
      params,
    }),
  });
  assert.equal(r.status, 200, await r.text());
  const stopped = async () => {
    await eventsDone;
    eventsSub.close();
    // The session reports IDLE once its stop has finished.
    for (let i = 0; i < 100 && runner.health.status !== "IDLE"; i++) await sleep(20);
  };
  return { events, stopped };
}

test("green-tint over trickle: output is tinted and capped as asked, a params update applies mid-stream, heartbeats carry real fps", async () => {
  const stream = await startStream("gt", { width: 192, height: 144, max_framerate: 12, green: 80 });
  const outSub = new TrickleSubscriber(`${base}/gt-out`, { start: 0 });
  const out: Uint8Array[] = [];
  const outDone = (async () => {
    for await (const s of outSub) out.push(await s.bytes());
  })();
  await sleep(200); // let the runner's subscriber connect before the gateway-side publisher starts
  const pub = new TricklePublisher(`${base}/gt`, { mimeType: "video/mp2t" });
  for (const s of input.slice(0, 2)) {
    await pub.write(s);
    await sleep(100);
  }
  // A params update mid-stream applies to the frames after it.
  for (let i = 0; i < 250 && out.length === 0; i++) await sleep(20);
  const upd = await fetch(`${runner.url}/stream/params`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ green: 0 }),
  });
  assert.equal(upd.status, 200);
  for (const s of input.slice(2)) {
    await pub.write(s);
    await sleep(100);
  }
  await pub.close(); // the end of the input stops the stream
  await stream.stopped();
  outSub.close();
  await outDone;
  assert.equal(runner.health.status, "IDLE");

  const types = stream.events.map((e) => e.event.type);
  assert.ok(types.includes("receive_first_ingest_segment"), types.join());
  assert.ok(types.includes("send_first_processed_segment"), types.join());
  assert.equal(types.at(-1), "stream_stopped");
  const busy = stream.events.find(
    (e) => e.event.type === "heartbeat" && (e.event.fps?.ingress_video_fps ?? 0) > 0,
  );
  assert.ok(busy, "a heartbeat reported a non-zero ingress fps");
  // Under load the first busy heartbeat can come before the first encoded frame: any heartbeat counts.
  const egress = stream.events.some(
    (e) => e.event.type === "heartbeat" && (e.event.fps?.egress_video_fps ?? 0) > 0,
  );
  assert.ok(egress, "and a heartbeat reported a non-zero egress fps");

  assert.ok(out.length >= 3, `output segments: ${out.length}`);
  const decoded = await decodeSegments(out, 192, 144);
  assert.deepEqual(decoded.streams, { video: true, audio: true });
  const frames = decoded.video;
  const first = frames[0];
  assert.ok(first);
  const g = channelMean(first, 1);
  const r = channelMean(first, 0);
  assert.ok(g - r > 50, `green boosted by ~80 over red: g=${g.toFixed(1)} r=${r.toFixed(1)}`);
  const last = frames.at(-1);
  assert.ok(last);
  assert.ok(
    Math.abs(channelMean(last, 1) - channelMean(last, 0)) < 15,
    "after {green: 0} the frames are untinted",
  );
  // max_framerate 12: frames per second of output PTS (over contiguous stretches: a busy machine
  // may make the runner skip a whole input segment).
  const gaps = frames.slice(1).map((f, i) => (f.pts - (frames[i]?.pts ?? 0)) / 90000);
  const steady = gaps.filter((g) => g > 0 && g < 0.5);
  assert.ok(steady.length > 40, `enough frames: ${steady.length}`);
  const rate = steady.length / steady.reduce((a, b) => a + b, 0);
  assert.ok(rate > 10 && rate < 12.5, `output rate ${rate.toFixed(2)} fps (cap 12)`);
});

test("the runner encodes at the width and height params (cover-crop of a 4:3 input to 1:1)", async () => {
  const stream = await startStream("sz", { width: 96, height: 96, max_framerate: 10 });
  const outSub = new TrickleSubscriber(`${base}/sz-out`, { start: 0 });
  const out: Uint8Array[] = [];
  const outDone = (async () => {
    for await (const s of outSub) out.push(await s.bytes());
  })();
  await sleep(200);
  const pub = new TricklePublisher(`${base}/sz`, { mimeType: "video/mp2t" });
  for (const s of input.slice(0, 2)) await pub.write(s);
  await pub.close();
  await stream.stopped();
  outSub.close();
  await outDone;
  assert.ok(out.length > 0);
  // Probe the encoded size: decoding at a different size would rescale, so compare the stream info.
  const { Demuxer } = await import("node-av/api");
  const demuxer = await Demuxer.open(Buffer.concat(out), { format: "mpegts" } as never);
  try {
    const v = demuxer.video();
    assert.equal(v?.codecpar.width, 96);
    assert.equal(v?.codecpar.height, 96);
  } finally {
    await demuxer.close();
  }
});

test("a missing input channel (404) stops the stream cleanly: stream_stopped, health back to IDLE", async () => {
  const stream = await startStream("gone", { width: 64, height: 64 }, { createInput: false });
  await stream.stopped();
  assert.equal(stream.events.at(-1)?.event.type, "stream_stopped");
  assert.equal(runner.health.status, "IDLE");
  assert.equal(runner.session, undefined);
});

test("garbage bytes on the input produce an error event, not a crash; the stream stops", async () => {
  const stream = await startStream("junk", { width: 64, height: 64 });
  await sleep(200);
  const pub = new TricklePublisher(`${base}/junk`, { mimeType: "video/mp2t" });
  for (let i = 0; i < 3; i++) await pub.write(new Uint8Array(20_000).fill(0x5a + i));
  // The error is reported while the input is still open (the segments are checked before the demuxer).
  for (let i = 0; i < 250 && !stream.events.some((e) => e.event.type === "error"); i++) await sleep(20);
  assert.ok(runner.session, "the stream is still running");
  assert.ok(stream.events.some((e) => e.event.type === "error"));
  await pub.close();
  await stream.stopped();
  const errors = stream.events.filter((e) => e.event.type === "error");
  assert.ok(errors.length >= 1, "an error event was sent");

  assert.equal(errors[0]?.event.source, "decoder");
  assert.equal(stream.events.at(-1)?.event.type, "stream_stopped");
  assert.equal(runner.health.status, "IDLE");
  // The runner still serves.
  assert.equal((await fetch(`${runner.url}/health`)).status, 200);
});

test("a streaming trickle sink (each output segment posted chunk by chunk) carries a decodable, tinted output", async (t) => {
  // What TrickleChannels.publish would add for media: begin() = the publisher's next segment.
  const plain = new TrickleChannels();
  const streamingChannels: ChannelFactory = {
    subscribe: (url) => plain.subscribe(url),
    publish: (url, contentType): SegmentSink => {
      if (contentType !== "video/mp2t") return plain.publish(url, contentType);
      const pub = new TricklePublisher(url, { mimeType: contentType });
      const sink: StreamingSegmentSink = {
        write: async (body) => {
          await pub.write(body);
        },
        close: () => pub.close(),
        begin: async () => {
          const w = await pub.next();
          return {
            write: (chunk) => w.write(chunk),
            end: async () => {
              await w.end();
            },
          };
        },
      };
      return sink;
    },
  };
  const own = await startRunner(pipeline, { port: 0, channels: streamingChannels });
  t.after(() => own.close());
  await own.loaded;
  const id = "st";
  for (const [name, mime] of [
    [id, "video/mp2t"],
    [`${id}-out`, "video/mp2t"],
    [`${id}-control`, "application/json"],
    [`${id}-events`, "application/json"],
  ] as const)
    trickle.trickle.createChannel(name, mime);
  const outSub = new TrickleSubscriber(`${base}/${id}-out`, { start: 0 });
  const out: Uint8Array[] = [];
  const outDone = (async () => {
    for await (const s of outSub) out.push(await s.bytes());
  })();
  const r = await fetch(`${own.url}/stream/start`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      gateway_request_id: id,
      subscribe_url: `${base}/${id}`,
      publish_url: `${base}/${id}-out`,
      control_url: `${base}/${id}-control`,
      events_url: `${base}/${id}-events`,
      params: { width: 128, height: 96, max_framerate: 15, green: 100 },
    }),
  });
  assert.equal(r.status, 200);
  await sleep(200);
  const pub = new TricklePublisher(`${base}/${id}`, { mimeType: "video/mp2t" });
  for (const s of input) {
    await pub.write(s);
    await sleep(50);
  }
  await pub.close();
  for (let i = 0; i < 250 && own.health.status !== "IDLE"; i++) await sleep(20);
  assert.equal(own.health.status, "IDLE");
  outSub.close();
  await outDone;
  assert.ok(out.length >= 3, `output segments: ${out.length}`);
  const d = await decodeSegments(out, 128, 96);
  assert.ok(d.video.length > 60, `frames: ${d.video.length}`);
  const f = d.video[0];
  assert.ok(f && channelMean(f, 1) - channelMean(f, 0) > 60, "tinted");
});
