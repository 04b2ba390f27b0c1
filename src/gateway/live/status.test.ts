/**
 * The stream status JSON in go-livepeer's shape: the container's last status event as the base, our
 * fields kept, and go-livepeer's `orchestrator`, `whep_url`, `ingest_metrics` and `error`
 * (`{error_message, error_time}`); our client reads both error forms.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLiveStatus } from "../../client/live.ts";
import { silentLogger } from "../../node/logger.ts";
import { startTrace } from "../tracing.ts";
import { streamStatus } from "./routes.ts";
import { newStream, transition } from "./stream.ts";

const stream = () =>
  newStream(
    { id: "s1", kind: "byoc", modelId: "green-tint", params: {} },
    { key: "k", channel: "c" },
    startTrace(undefined),
    silentLogger(),
  );

test("before an orchestrator: our fields plus upstream's keys with empty values, no error", () => {
  const st = streamStatus(stream());
  assert.equal(st.stream_id, "s1");
  assert.equal(st.state, "starting");
  assert.equal(st.model_id, "green-tint");
  assert.equal(st.orchestrator, "");
  assert.equal(st.whep_url, "");
  assert.deepEqual(st.ingest_metrics, { stats: { segments_in: 0, bytes_in: 0, uptime_ms: st.uptime_ms } });
  assert.ok(!("error" in st));
  assert.equal(parseLiveStatus(st).orchestrator, undefined);
});

test("the runner's status event is the base; our fields win; a failure is {error_message, error_time}", () => {
  const s = stream();
  s.orchestrator = "https://o1:8935";
  s.stats.segmentsIn = 3;
  s.stats.bytesIn = 4096;
  s.runnerStatus = {
    type: "status",
    pipeline: "green-tint",
    inference_status: { fps: 29.9, last_params: { tint: 0.5 } },
    state: "ONLINE",
    stream_id: "from-runner",
  };
  assert.ok(transition(s, "started"));
  const running = streamStatus(s);
  assert.equal(running.type, "status");
  assert.deepEqual(running.inference_status, { fps: 29.9, last_params: { tint: 0.5 } });
  assert.equal(running.state, "running", "our state is kept");
  assert.equal(running.stream_id, "s1", "our stream id is kept");
  assert.equal(running.orchestrator, "https://o1:8935");
  assert.deepEqual(running.ingest_metrics, {
    stats: { segments_in: 3, bytes_in: 4096, uptime_ms: running.uptime_ms },
  });
  assert.ok(transition(s, "gaveUp"));
  s.error = "no orchestrator could take the stream";
  s.errorAt = 1_700_000_000_000;
  const failed = streamStatus(s);
  assert.deepEqual(failed.error, {
    error_message: "no orchestrator could take the stream",
    error_time: 1_700_000_000_000,
  });
  const parsed = parseLiveStatus(JSON.parse(JSON.stringify(failed)) as Record<string, unknown>);
  assert.equal(parsed.error, "no orchestrator could take the stream");
  assert.equal(parsed.orchestrator, "https://o1:8935");
  assert.equal(parsed.segmentsIn, 3);
  assert.equal(parseLiveStatus({ error: "plain" }).error, "plain", "older gateways' string form");
});
