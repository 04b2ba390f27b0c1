import assert from "node:assert/strict";
import { test } from "node:test";
import { TricklePublisher } from "../trickle/publisher.ts";
import { startTrickleServer } from "../trickle/server.ts";
import { TrickleSubscriber } from "../trickle/subscriber.ts";
import { defineLivePipeline } from "./pipeline.ts";
import { StreamSession } from "./session.ts";
import { TrickleChannels } from "./trickle-channels.ts";

test("a stream session talks over real trickle channels: control in, events and data out", async (t) => {
  const trickle = await startTrickleServer({ port: 0 });
  t.after(() => trickle.close());
  const base = trickle.url.replace(/\/$/, "");
  // The orchestrator creates a stream's channels before it calls /stream/start.
  trickle.trickle.createChannel("s-control", "application/json");
  trickle.trickle.createChannel("s-events", "application/json");
  trickle.trickle.createChannel("s-data", "application/jsonl");
  const urls = {
    control_url: `${base}/s-control`,
    events_url: `${base}/s-events`,
    data_url: `${base}/s-data`,
  };
  const seen: Record<string, unknown>[] = [];
  const eventsSub = new TrickleSubscriber(urls.events_url, { start: 0 });
  const dataSub = new TrickleSubscriber(urls.data_url, { start: 0 });
  const control = new TricklePublisher(urls.control_url, { mimeType: "application/json" });
  t.after(async () => {
    eventsSub.close();
    dataSub.close();
    await control.close();
  });
  await control.write(new TextEncoder().encode('{"keep":"alive"}'));
  const session = await StreamSession.start({
    pipeline: defineLivePipeline({
      params: (p) => {
        seen.push(p);
      },
    }),
    request: { gateway_request_id: "t1", params: {}, ...urls },
    channels: new TrickleChannels(),
    dataIntervalMs: 10,
  });
  t.after(() => session.stop());
  const first = JSON.parse(await (await eventsSub.next())!.text());
  assert.equal(first.event.type, "heartbeat");
  assert.equal(first.queue_event_type, "stream_heartbeat");
  await control.write(new TextEncoder().encode('{"prompt":"hello"}'));
  const updated = JSON.parse(await (await eventsSub.next())!.text());
  assert.equal(updated.event.type, "params_updated");
  assert.deepEqual(seen, [{ prompt: "hello" }]);
  session.sendData({ label: "cat" });
  const data = await (await dataSub.next())!.text();
  assert.equal(data, '["{\\"label\\":\\"cat\\"}"]\n');
  await session.stop();
  const stopped = JSON.parse(await (await eventsSub.next())!.text());
  assert.equal(stopped.event.type, "stream_stopped");
});
