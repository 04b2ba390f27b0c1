import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { startLiveRunner } from "../../src/runner/index.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import { call, postJson } from "../../test/conformance/live-runner-kit.ts";
import { until } from "../../test/until.ts";
import { app, streams } from "./runner.ts";

test("live video over session channels: the runner publishes tinted MPEG-TS on the session's out channel; a stop ends it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "runner-live-"));
  const orch = await startOrchestrator({ port: 0, orchSecret: "s", dataDir: dir, liveRunners: {} });
  t.after(async () => {
    await orch.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const runner = await startLiveRunner(app, { port: 0, orchUrl: orch.url, orchSecret: "s" });
  t.after(() => runner.close());
  await runner.heartbeats?.registered;
  const id = runner.heartbeats?.runnerId ?? "";
  const s = (await call(`${orch.url}/apps/${id}/session`, { method: "POST" })).json() as {
    session_id: string;
    app_url: string;
    control_url: string;
  };
  const direct = await postJson(`${runner.url}/start`, {});
  assert.equal(direct.status, 400, "needs a session");

  // Generated input (black frames) keeps the test free of an encoder on the client side.
  const r = await postJson(`${s.app_url}/start`, {
    input: false,
    params: { width: 64, height: 64, max_framerate: 30, green: 200 },
  });
  assert.equal(r.status, 200, r.text);
  const urls = r.json() as { subscribe_url: string; control_url: string; events_url: string };
  for (const u of [urls.subscribe_url, urls.control_url, urls.events_url])
    assert.ok(u.startsWith(`${orch.url}/ai/trickle/${s.session_id}-`), u);
  assert.equal((await postJson(`${s.app_url}/start`, {})).status, 400, "one stream per session");

  const sub = new TrickleSubscriber(urls.subscribe_url, { start: 0, tls: { insecure: true } });
  t.after(() => sub.close());
  const seg = await sub.next();
  const bytes = (await seg?.bytes()) ?? new Uint8Array();
  assert.ok(bytes.length >= 188 && bytes.length % 188 === 0, `segment of ${bytes.length} bytes`);
  for (let i = 0; i < bytes.length; i += 188) assert.equal(bytes[i], 0x47);
  assert.ok(streams.has(s.session_id));

  // The orchestrator's stop releases the session; the runner hears it on o2r and stops the stream.
  assert.equal((await call(`${s.control_url}/stop`, { method: "POST" })).status, 204);
  await until("the stream stopped", () => !streams.has(s.session_id));
});
