import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LocalSubscriber } from "../../trickle/local.ts";
import { TrickleServer } from "../../trickle/server.ts";
import { checkStaticRunners } from "./health.ts";
import { heartbeat } from "./heartbeat.ts";
import { LiveRunners } from "./service.ts";

const entry = (label: string, runner_url = "http://127.0.0.1:1") => ({
  label,
  routing: "label",
  runner_url,
  health_url: "/health",
  app: "x/y",
});

test("runners.json is loaded at start and hot reloaded; an invalid version keeps the previous one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "runners-svc-"));
  const path = join(dir, "runners.json");
  writeFileSync(path, JSON.stringify({ runners: [entry("a")] }));
  const trickle = new TrickleServer({ basePath: "/ai/trickle/", autocreate: false });
  const health = new Map<string, number>([["http://127.0.0.1:1/health", 200]]);
  const lr = new LiveRunners(
    trickle,
    "/ai/trickle/",
    { configPath: path, probe: async (u) => health.get(u), reload: { debounceMs: 20, sighup: false } },
    "s",
    false,
  );
  try {
    await lr.start("https://o:1");
    assert.deepEqual(
      lr.registry.discovery().map((r) => r.route),
      ["a"],
    );
    writeFileSync(path, JSON.stringify({ runners: [entry("b")] }));
    for (let i = 0; i < 200 && lr.registry.get("b") === undefined; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(lr.registry.get("b"), "reloaded");
    assert.equal(lr.registry.get("a"), undefined, "removed from the file");
    writeFileSync(path, JSON.stringify({ runners: [{ label: "" }] }));
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(lr.registry.get("b"), "an invalid file keeps the previous configuration");
    // health: one bad answer hides it, the next good one brings it back
    health.set("http://127.0.0.1:1/health", 503);
    await checkStaticRunners(lr.registry, async (u) => health.get(u));
    assert.equal(lr.registry.discovery().length, 0);
    health.set("http://127.0.0.1:1/health", 200);
    await checkStaticRunners(lr.registry, async (u) => health.get(u));
    assert.equal(lr.registry.discovery().length, 1);
  } finally {
    await lr.close();
    await trickle.close();
  }
});

test("o2r: reserved and released events reach the runner's channel; the channel closes with the runner", async () => {
  const trickle = new TrickleServer({ basePath: "/ai/trickle/", autocreate: false });
  const lr = new LiveRunners(
    trickle,
    "/ai/trickle/",
    { runnerAddr: "http://orch.internal:8935" },
    "s",
    false,
  );
  try {
    await lr.start("https://public:8935");
    const hb = heartbeat(
      {
        registry: lr.registry,
        secret: "s",
        paid: false,
        runnerFacingUrl: () => lr.runnerFacingUrl(),
        openO2r: (r) => lr.openO2r(r),
      },
      { runner_url: "http://127.0.0.1:9", app: "x/y", runner_id: "dyn" },
      "s",
    );
    assert.equal(hb.orchestrator, "http://orch.internal:8935");
    const name = String(hb.o2r?.channel_name);
    assert.match(name, /^dyn-[0-9a-f]{16}-o2r$/);
    assert.equal(hb.o2r?.url, `http://orch.internal:8935/ai/trickle/${name}`);
    const sub = new LocalSubscriber(trickle, name, { start: 0 });
    const { runner, session } = lr.registry.reserve("dyn");
    assert.equal(
      lr.sessionControl(runner, session.id),
      `http://orch.internal:8935/runner/dyn/session/${session.id}`,
    );
    lr.registry.release(runner, session.id);
    const first = JSON.parse(await sub.read().text());
    const second = JSON.parse(await sub.read().text());
    assert.deepEqual([first.event, first.session], ["reserved", session.id]);
    assert.deepEqual([second.event, second.session], ["released", session.id]);
    assert.ok(!Number.isNaN(Date.parse(first.timestamp)));
    lr.registry.remove(runner, "test");
    assert.equal(trickle.getChannel(name), undefined);
  } finally {
    await lr.close();
    await trickle.close();
  }
});
