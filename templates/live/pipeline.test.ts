import assert from "node:assert/strict";
import { test } from "node:test";
import { BadRequestError, MemoryChannels, startRunner } from "tributary/runner";
import pipeline, { brighten, parseBrightness } from "./pipeline.ts";

test("brighten adds to every channel and clamps to 0..255", () => {
  const frame = {
    data: new Uint8Array([0, 100, 250]),
    width: 1,
    height: 1,
    pts: 0,
    timeBase: { num: 1, den: 90000 },
  };
  brighten(frame, 10);
  assert.deepEqual([...frame.data], [10, 110, 255]);
  brighten(frame, -20);
  assert.deepEqual([...frame.data], [0, 90, 235]);
});

test("the brightness param takes integers -255..255 and rejects the rest with 400", () => {
  assert.equal(parseBrightness("-255"), -255);
  assert.equal(parseBrightness(255), 255);
  for (const bad of [256, 1.5, "x", "", null, true])
    assert.throws(() => parseBrightness(bad), BadRequestError);
});

test("the runner streams processed video: start, params update, MPEG-TS output, stop", async (t) => {
  // In-memory channels stand in for the orchestrator's trickle channels. Without subscribe_url the
  // runner feeds `video` black frames (a generative stream), which are encoded and published.
  const channels = new MemoryChannels();
  const runner = await startRunner(pipeline, { port: 0, channels });
  t.after(() => runner.close());
  await runner.loaded;
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${runner.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  let r = await post("/stream/start", {
    gateway_request_id: "test-stream",
    publish_url: "mem://out",
    events_url: "mem://events",
    params: { width: 64, height: 64, max_framerate: 30, brightness: 10 },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(((await (await fetch(`${runner.url}/health`)).json()) as { status: string }).status, "OK");

  r = await post("/stream/params", { brightness: 999 });
  assert.equal(r.status, 400);
  r = await post("/stream/params", { brightness: 80 });
  assert.equal(r.status, 200);

  // The first output segment (about 2 s of video) is an MPEG-TS byte stream: 188-byte packets, 0x47 sync.
  const out = channels.channel("mem://out");
  await out.waitForSegments(1);
  const ts = out.segments[0] as Uint8Array;
  assert.ok(ts.length >= 188 && ts.length % 188 === 0, `segment of ${ts.length} bytes`);
  for (let i = 0; i < ts.length; i += 188) assert.equal(ts[i], 0x47);

  r = await post("/stream/stop", {});
  assert.equal(r.status, 200);
  // The events channel carries pytrickle's envelope: {"event": {...}, "queue_event_type": ...}.
  const events = channels.channel("mem://events").json() as { event: { type?: string } }[];
  const types = events.map((e) => e.event.type);
  assert.ok(types.includes("params_updated"), types.join());
  assert.ok(types.includes("stream_stopped"), types.join());
  assert.equal(((await (await fetch(`${runner.url}/health`)).json()) as { status: string }).status, "IDLE");
});
