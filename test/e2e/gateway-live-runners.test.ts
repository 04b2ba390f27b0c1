/**
 * The gateway lists its orchestrators' live runners on the dashboard: with
 * `liveRunnerDiscoveryIntervalMs` it asks every pool orchestrator for `GET /discovery` and
 * `/dashboard/api/state` carries `runners` (app, route, mode, state, capacity); an orchestrator
 * without live runners adds none.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { postJson, startTinyRunner, type TinyRunner } from "../conformance/live-runner-kit.ts";
import { until } from "../until.ts";

const dirs: string[] = [];
let orch: RunningOrchestrator;
let plain: RunningOrchestrator;
let runner: TinyRunner;
let gw: RunningGateway;

before(async () => {
  runner = await startTinyRunner();
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), "gw-lr-"));
    dirs.push(d);
    return d;
  };
  orch = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s", liveRunners: {} });
  plain = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s" });
  const r = await postJson(
    `${orch.url}/runners/heartbeat`,
    { runner_url: runner.url, app: "demo/echo", runner_id: "echo-1", capacity: 3 },
    { authorization: "s" },
  );
  assert.equal(r.status, 200, r.text);
  gw = await startGateway({
    port: 0,
    discovery: { orchAddr: [orch.url, plain.url] },
    liveRunnerDiscoveryIntervalMs: 200,
  });
});
after(async () => {
  await gw?.close();
  await orch?.close();
  await plain?.close();
  await runner?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("the dashboard state lists the runners with state, capacity and mode; reservations show as used capacity", async () => {
  const state = async () =>
    (await (await fetch(`${gw.url}/dashboard/api/state`)).json()) as {
      runners?: {
        app: string;
        route: string;
        mode: string;
        state: string;
        capacity: number;
        capacityUsed: number;
      }[];
    };
  await until("runners on the dashboard", async () => ((await state()).runners ?? []).length > 0, 10_000);
  const [row, ...rest] = (await state()).runners ?? [];
  assert.deepEqual(rest, [], "the orchestrator without live runners adds none");
  assert.deepEqual(
    [row?.app, row?.route, row?.mode, row?.state, row?.capacity, row?.capacityUsed],
    ["demo/echo", "echo-1", "persistent", "ok", 3, 0],
  );
  assert.equal((await postJson(`${orch.url}/apps/echo-1/session`, {})).status, 200);
  await until(
    "the used capacity shows",
    async () => (await state()).runners?.[0]?.capacityUsed === 1,
    10_000,
  );
});
