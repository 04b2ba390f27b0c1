import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  EXPERIENCE_FILE,
  ExperienceHistory,
  latencyBin,
  latencyBinUpper,
  latencyQuantile,
  MAX_RECENT_FAILURES,
  MAX_SERIES_PER_MINUTE,
  OTHER_ORCHESTRATOR,
} from "./experience.ts";
import { fpsOf, type StreamStatus, StreamWatcher } from "./streams.ts";

const T0 = Date.UTC(2026, 11, 7, 6, 0, 0);
const A = "https://a.example:8935";
const B = "https://b.example:8935";

test("latency bins: each 25% wider; quantiles read the bin's upper bound", () => {
  assert.equal(latencyBin(0.5), 0);
  assert.equal(latencyBin(1), 0);
  for (const ms of [2, 10, 99, 1234, 60_000]) {
    const i = latencyBin(ms);
    assert.ok(1.25 ** i >= ms && 1.25 ** (i - 1) < ms, `${ms} ms in bin ${i}`);
    assert.ok(Math.abs(latencyBinUpper(i) - 1.25 ** i) <= 0.05);
  }
  const bins: Record<string, number> = {};
  for (let i = 1; i <= 100; i++) {
    const b = String(latencyBin(i * 10));
    bins[b] = (bins[b] ?? 0) + 1;
  }
  const p50 = latencyQuantile(bins, 0.5) as number;
  const p95 = latencyQuantile(bins, 0.95) as number;
  assert.ok(p50 >= 500 && p50 < 500 * 1.25, `p50 ${p50}`);
  assert.ok(p95 >= 950 && p95 < 950 * 1.25, `p95 ${p95}`);
  assert.equal(latencyQuantile({}, 0.5), undefined);
});

test("counts per capability and per orchestrator; busy and 4xx are not failures; failures in words", () => {
  let now = T0;
  const h = new ExperienceHistory({ now: () => now });
  const job = { kind: "job", capability: "byoc/echo" } as const;
  h.record({ ...job, orchestrator: A, outcome: "ok", latencyMs: 100 });
  h.record({ ...job, orchestrator: A, outcome: "ok", latencyMs: 300 });
  h.record({ ...job, orchestrator: A, outcome: "client_error", latencyMs: 5 });
  h.record({ ...job, orchestrator: B, outcome: "busy", error: "NO_CAPACITY" });
  h.record({
    ...job,
    orchestrator: B,
    outcome: "failed",
    error: 'HTTP 502: {"error":{"code":"RUNNER_FAILED","message":"container crashed"}}',
  });
  now += 61_000;
  h.record({ kind: "job", capability: "llm/m1", orchestrator: A, outcome: "ok", latencyMs: 50 });
  const v = h.view();
  const hour = v.spans.find((s) => s.name === "hour");
  assert.ok(hour);
  const echo = hour.capabilities.find((c) => c.key === "byoc/echo");
  assert.deepEqual(
    [echo?.count, echo?.ok, echo?.clientErrors, echo?.busy, echo?.failed, echo?.successRate],
    [5, 2, 1, 1, 1, 0.667],
  );
  assert.deepEqual(echo?.related, [A, B]);
  assert.ok((echo?.p50Ms as number) >= 100 && (echo?.p95Ms as number) >= 300);
  assert.equal(echo?.points.length, 60);
  assert.deepEqual(
    echo?.points.filter((p) => p.count > 0).map((p) => [p.at, p.count]),
    [[T0, 5]],
  );
  const a = hour.orchestrators.find((o) => o.key === A);
  assert.deepEqual([a?.count, a?.ok, a?.successRate, a?.related], [4, 3, 1, ["byoc/echo", "llm/m1"]]);
  const b = hour.orchestrators.find((o) => o.key === B);
  assert.deepEqual([b?.count, b?.failed, b?.successRate], [2, 1, 0]);
  assert.equal(b?.p50Ms, undefined, "no latency from failures");
  assert.deepEqual(
    v.recentFailures.map((f) => [f.orchestrator, f.cause]),
    [[B, "HTTP 502: RUNNER_FAILED: container crashed"]],
  );
  const day = v.spans.find((s) => s.name === "day");
  assert.equal(day?.capabilities.find((c) => c.key === "byoc/echo")?.points.length, 48);
});

test("restart keeps history: written atomically, loaded on start, old minutes dropped", () => {
  const dir = mkdtempSync(join(tmpdir(), "experience-"));
  try {
    const file = join(dir, "sub", EXPERIENCE_FILE);
    let now = T0;
    const first = new ExperienceHistory({ file, now: () => now, persistIntervalMs: 60_000 });
    first.record({ kind: "job", capability: "byoc/echo", orchestrator: A, outcome: "ok", latencyMs: 40 });
    first.record({ kind: "stream", capability: "byoc/s", orchestrator: B, outcome: "failed", error: "gone" });
    assert.equal(existsSync(file), false, "not written before the period or close");
    first.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, "sub")), [EXPERIENCE_FILE], "no temp file left");

    now += 10 * 60_000;
    const second = new ExperienceHistory({ file, now: () => now });
    const v = second.view();
    const echo = v.spans[0]?.capabilities.find((c) => c.key === "byoc/echo");
    assert.deepEqual([echo?.count, echo?.ok], [1, 1]);
    assert.equal(v.since, T0);
    assert.deepEqual(
      v.recentFailures.map((f) => [f.kind, f.capability, f.cause]),
      [["stream", "byoc/s", "gone"]],
    );
    second.close();

    now += 25 * 60 * 60_000;
    const third = new ExperienceHistory({ file, now: () => now });
    assert.deepEqual(third.view().spans[1]?.capabilities, [], "minutes past 24 h are dropped");
    third.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an unreadable history file starts an empty one and says why", () => {
  const dir = mkdtempSync(join(tmpdir(), "experience-"));
  try {
    const file = join(dir, EXPERIENCE_FILE);
    writeFileSync(file, "{not json");
    const problems: string[] = [];
    const h = new ExperienceHistory({ file, onError: (_e, m) => problems.push(m) });
    assert.equal(h.view().since, undefined);
    assert.match(problems[0] ?? "", /unreadable; starting an empty one/);
    h.record({ kind: "job", capability: "x/y", orchestrator: A, outcome: "ok" });
    h.close();
    assert.equal(JSON.parse(readFileSync(file, "utf8")).version, 1, "replaced by a good one");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bounded: series per minute fold into (other), failures are capped", () => {
  const h = new ExperienceHistory({ now: () => T0 });
  for (let i = 0; i < MAX_SERIES_PER_MINUTE + 10; i++)
    h.record({ kind: "job", capability: "byoc/echo", orchestrator: `https://o${i}:1`, outcome: "failed" });
  const orchs = h.view().spans[0]?.orchestrators ?? [];
  assert.equal(orchs.length, MAX_SERIES_PER_MINUTE + 1);
  assert.equal(orchs.find((o) => o.key === OTHER_ORCHESTRATOR)?.count, 10);
  assert.equal(h.failures().length, MAX_RECENT_FAILURES);
});

test("streams: counted once when running on an orchestrator, again when moved, once when failed", () => {
  const h = new ExperienceHistory({ now: () => T0 });
  const w = new StreamWatcher(h);
  const s = (state: string, orchestrator?: string, extra: Partial<StreamStatus> = {}): StreamStatus => ({
    stream_id: "s1",
    kind: "live",
    model_id: "noop",
    state,
    orchestrator,
    uptime_ms: 1000,
    last_output_latency_ms: 120,
    fps: { fps_in: 30, fps_out: 29.96, note: "x" },
    paid_wei: "42",
    ...extra,
  });
  assert.deepEqual(w.observe([s("starting")]).length, 1);
  const shown = w.observe([s("running", A)]);
  assert.deepEqual(shown[0], {
    id: "s1",
    kind: "live",
    capability: "live-video-to-video/noop",
    orchestrator: A,
    state: "running",
    uptimeMs: 1000,
    fps: { fps_in: 30, fps_out: 30 },
    latencyMs: 120,
    paidWei: "42",
  });
  w.observe([s("running", A)]);
  w.observe([s("moving", A)]);
  w.observe([s("running", B)]);
  assert.deepEqual(w.observe([s("failed", B, { error: "no orchestrator took the stream" })]), []);
  w.observe([s("failed", B, { error: "no orchestrator took the stream" })]);
  const caps = h.view().spans[0]?.capabilities ?? [];
  const c = caps.find((x) => x.kind === "stream" && x.key === "live-video-to-video/noop");
  assert.deepEqual([c?.count, c?.ok, c?.failed], [3, 2, 1]);
  assert.equal(h.failures()[0]?.cause, "no orchestrator took the stream");
  assert.deepEqual(fpsOf(24), { fps: 24 });
  assert.deepEqual(fpsOf("x"), {});
});
