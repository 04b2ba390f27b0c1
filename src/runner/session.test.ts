import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryChannels } from "./memory-channels.ts";
import { defineLivePipeline, type StreamContext } from "./pipeline.ts";
import { ParamsUpdateFailedError, StreamSession, StreamStartFailedError } from "./session.ts";

const URLS = {
  control_url: "mem://s-control",
  events_url: "mem://s-events",
  data_url: "mem://s-data",
};

interface Event {
  event: Record<string, unknown>;
  queue_event_type: string;
}

function events(ch: MemoryChannels): Event[] {
  return ch.channel(URLS.events_url).json() as Event[];
}

test("a session sends a heartbeat at once, with urls, dimensions and fps, then periodically", async () => {
  const ch = new MemoryChannels();
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({}),
    request: { gateway_request_id: "s1", params: { width: 640, height: 360 }, ...URLS },
    channels: ch,
    heartbeatIntervalMs: 5,
  });
  await ch.channel(URLS.events_url).waitForSegments(3);
  await s.stop();
  const hb = events(ch).filter((e) => e.event.type === "heartbeat");
  assert.ok(hb.length >= 3);
  const first = hb[0]!;
  assert.equal(first.queue_event_type, "stream_heartbeat");
  assert.deepEqual(first.event.dimensions, { width: 640, height: 360 });
  assert.deepEqual(first.event.fps, {
    ingress_video_fps: 0,
    ingress_audio_fps: 0,
    egress_video_fps: 0,
    egress_audio_fps: 0,
  });
  assert.deepEqual(first.event.urls, {
    subscribe: null,
    publish: null,
    control: URLS.control_url,
    events: URLS.events_url,
    data: URLS.data_url,
  });
  assert.equal(typeof first.event.timestamp, "number");
  const last = events(ch).at(-1)!;
  assert.equal(last.event.type, "stream_stopped");
  assert.equal(last.queue_event_type, "ai_stream_events");
  assert.equal(ch.channel(URLS.events_url).closed, true);
});

test("control messages apply params, keepalives are ignored, and params_updated goes out once per update", async () => {
  const ch = new MemoryChannels();
  const seen: Record<string, unknown>[] = [];
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({ params: (p) => void seen.push(p) }),
    request: { gateway_request_id: "s2", params: { prompt: "a" }, ...URLS },
    channels: ch,
  });
  const control = ch.channel(URLS.control_url);
  control.push('{"keep":"alive"}');
  control.push("not json");
  control.push('{"prompt":"b"}');
  await ch.channel(URLS.events_url).waitForSegments(2); // heartbeat + params_updated
  assert.deepEqual(seen, [{ prompt: "b" }]);
  assert.deepEqual(s.params, { prompt: "b" });
  assert.equal(s.stats.controlMessages, 1);
  const updates = events(ch).filter((e) => e.event.type === "params_updated");
  assert.equal(updates.length, 1);
  assert.deepEqual(updates[0]!.event.params, { prompt: "b" });
  await s.stop();
});

test("a failing params handler rejects the update, is counted and reported as an error event", async () => {
  const ch = new MemoryChannels();
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({
      params: (p) => {
        if (p.bad) throw new Error("bad param");
      },
    }),
    request: { gateway_request_id: "s3", params: {}, ...URLS },
    channels: ch,
  });
  await assert.rejects(s.updateParams({ bad: true }), ParamsUpdateFailedError);
  assert.equal(s.running, true);
  assert.equal(s.stats.userErrors, 1);
  await s.updateParams({ good: 1 });
  assert.deepEqual(s.params, { good: 1 });
  await s.stop();
  const err = events(ch).find((e) => e.event.type === "error");
  assert.ok(err);
  assert.equal(err.event.message, "bad param");
  assert.equal(err.event.source, "params");
});

test("sendData batches items into one JSON-array line per interval and sends [] keepalives", async () => {
  const ch = new MemoryChannels();
  let ctx: StreamContext | undefined;
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({
      start: (_p, c) => {
        ctx = c;
      },
    }),
    request: { gateway_request_id: "s4", params: {}, ...URLS },
    channels: ch,
    dataIntervalMs: 20,
    dataKeepaliveMs: 1,
  });
  assert.ok(ctx);
  assert.equal(ctx.sendData("one"), true);
  assert.equal(ctx.sendData({ two: 2 }), true);
  const data = ch.channel(URLS.data_url);
  await data.waitForSegments(2);
  await s.stop();
  assert.equal(data.contentType, "application/jsonl");
  const texts = data.texts();
  assert.equal(texts[0], '["one","{\\"two\\":2}"]\n');
  assert.ok(texts.slice(1).includes("[]\n"));
  assert.equal(ctx.sendData("late"), false);
});

test("queued data is flushed when the stream stops", async () => {
  const ch = new MemoryChannels();
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({}),
    request: { gateway_request_id: "s5", params: {}, ...URLS },
    channels: ch,
    dataIntervalMs: 60_000,
  });
  s.sendData("x");
  await s.stop();
  assert.deepEqual(ch.channel(URLS.data_url).texts(), ['["x"]\n']);
});

test("a failing start handler rejects the start and closes the channels", async () => {
  const ch = new MemoryChannels();
  let stopped = false;
  await assert.rejects(
    StreamSession.start({
      pipeline: defineLivePipeline({
        start: () => {
          throw new Error("no model");
        },
        stop: () => {
          stopped = true;
        },
      }),
      request: { gateway_request_id: "s6", params: {}, ...URLS },
      channels: ch,
    }),
    (err: unknown) => err instanceof StreamStartFailedError && /no model/.test(err.message),
  );
  assert.equal(stopped, false);
  assert.equal(ch.channel(URLS.events_url).closed, true);
  assert.equal(ch.channel(URLS.data_url).closed, true);
});

test("custom events use the given topic; write failures are counted, never thrown", async () => {
  const ch = new MemoryChannels();
  let ctx: StreamContext | undefined;
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({
      start: (_p, c) => {
        ctx = c;
      },
    }),
    request: { gateway_request_id: "s7", params: {}, ...URLS },
    channels: ch,
  });
  assert.equal(await ctx!.sendEvent({ type: "detections", n: 3 }), true);
  assert.equal(await ctx!.sendEvent({ type: "x" }, "my_topic"), true);
  const custom = events(ch).filter((e) => e.event.type === "detections" || e.event.type === "x");
  assert.deepEqual(
    custom.map((e) => e.queue_event_type),
    ["custom_monitoring_event", "my_topic"],
  );
  ch.failWrites = new Error("gone");
  assert.equal(await ctx!.sendEvent({ type: "y" }), false);
  assert.ok(s.stats.eventErrors >= 1);
  await s.stop();
  await s.stop();
  assert.equal(s.running, false);
});

test("the stop handler and the abort signal run once on stop, and user stop errors are swallowed", async () => {
  let stops = 0;
  let signal: AbortSignal | undefined;
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({
      start: (_p, c) => {
        signal = c.signal;
      },
      stop: () => {
        stops++;
        throw new Error("stop failed");
      },
    }),
    request: { gateway_request_id: "s8", params: {} },
  });
  await Promise.all([s.stop(), s.stop()]);
  assert.equal(stops, 1);
  assert.equal(signal?.aborted, true);
  assert.equal(s.stats.userErrors, 1);
});

test("the end of the control channel stops the stream", async () => {
  const ch = new MemoryChannels();
  let stopped: (s: StreamSession) => void = () => {};
  const stoppedBy = new Promise<StreamSession>((resolve) => {
    stopped = resolve;
  });
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({}),
    request: { gateway_request_id: "s9", params: {}, ...URLS },
    channels: ch,
    onStopped: (x) => stopped(x),
  });
  ch.channel(URLS.control_url).push('{"prompt":"last"}');
  ch.channel(URLS.control_url).end();
  assert.equal(await stoppedBy, s);
  assert.equal(s.running, false);
  assert.deepEqual(s.params, { prompt: "last" });
  assert.equal(events(ch).at(-1)?.event.type, "stream_stopped");
});

test("an update that has not started when the stream stops is refused; the params handler never runs after stop", async () => {
  const calls: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let began: () => void = () => {};
  const firstBegan = new Promise<void>((resolve) => {
    began = resolve;
  });
  const s = await StreamSession.start({
    pipeline: defineLivePipeline({
      params: async (p) => {
        calls.push(`params ${p.n}`);
        if (p.n === 1) {
          began();
          await gate;
        }
      },
      stop: () => {
        calls.push("stop");
      },
    }),
    request: { gateway_request_id: "s10", params: {} },
  });
  const first = s.updateParams({ n: 1 });
  const second = s.updateParams({ n: 2 });
  await firstBegan;
  const stopping = s.stop();
  release();
  await first;
  await assert.rejects(second, /stopping/);
  await stopping;
  assert.deepEqual(calls, ["params 1", "stop"]);
  assert.equal(s.stats.userErrors, 0);
});
