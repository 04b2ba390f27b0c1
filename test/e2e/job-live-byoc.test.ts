/**
 * `tributary job live` drives BYOC streams end to end, offchain: a live container registered as a
 * BYOC capability (what `tributary init --template live` makes) is reached through the gateway's
 * `POST /process/stream/start` and its keyed URLs — with `--byoc`, and without it when the gateway
 * offers the name only as BYOC (detected from its dashboard state). The output comes back tinted.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import greenTint from "../../examples/green-tint/pipeline.ts";
import { type JobIo, jobLive } from "../../src/cli/job.ts";
import { detectLiveKind } from "../../src/client/live.ts";
import { probeVideo } from "../../src/client/media.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { call } from "./orchestrator-helpers.ts";

function captureIo(): JobIo & { err: () => string } {
  let err = "";
  return {
    stdout: { isTTY: false, write: () => true },
    stderr: { isTTY: false, write: (c: string) => (err += c) },
    err: () => err,
  };
}

describe("tributary job live on a BYOC stream", () => {
  let dir: string;
  let runner: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "job-live-byoc-"));
    runner = await startRunner(greenTint, { port: 0 });
    await runner.loaded;
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      health: { intervalMs: 100, failureThreshold: 1 },
      reload: { sighup: false },
    });
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s" },
      body: JSON.stringify({ name: "my-tint", url: runner.url, capacity: 1, price_per_unit: 0 }),
    });
    assert.equal(reg.status, 200, reg.body);
    await until("my-tint advertised", () => orch.registry.advertised().some((a) => a.modelId === "my-tint"));
    gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] } });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the gateway's offers tell a BYOC capability from a native live model", async () => {
    await until(
      "the dashboard lists byoc/my-tint",
      async () => (await detectLiveKind(gw.url, "my-tint")) === "byoc",
    );
    assert.equal(await detectLiveKind(gw.url, "green-tint"), "live", "not offered: the native route answers");
    assert.equal(await detectLiveKind("http://127.0.0.1:9", "my-tint"), "live", "no gateway: native");
  });

  for (const byoc of [true, false]) {
    test(`job live ${byoc ? "--byoc" : "(detected)"} --model my-tint streams through the BYOC capability`, async () => {
      const output = join(dir, `out-${byoc}.mp4`);
      const io = captureIo();
      const code = await jobLive(
        {
          gateway: gw.url,
          model: "my-tint",
          ...(byoc ? { byoc: true } : {}),
          testsrc: true,
          size: { width: 128, height: 96 },
          fps: 12,
          duration: 3000,
          segment: 1,
          params: { width: 128, height: 96, green: 100 },
          output,
          statsInterval: 1,
        },
        io,
      );
      assert.equal(code, 0, io.err());
      assert.match(io.err(), /live: BYOC stream \S+ on https:\/\/127\.0\.0\.1:\d+/);
      assert.match(io.err(), /wrote .*out-(true|false)\.mp4/);
      const probe = await probeVideo(output);
      assert.ok(probe.frames >= 24, `${probe.frames} of 36 frames came back`);
      assert.deepEqual([probe.width, probe.height], [128, 96]);
      const [r, g, b] = probe.meanRgb;
      assert.ok(g - r > 40 && g - b > 40, `green-tinted: mean rgb ${probe.meanRgb.join(",")}`);
      await until("the container's slot is free again", () => orch.registry.advertised()[0]?.inUse === 0);
    });
  }
});
