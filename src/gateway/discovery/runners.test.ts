import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { postJson, startTinyRunner, type TinyRunner } from "../../../test/conformance/live-runner-kit.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../orchestrator/index.ts";
import { createOrchestratorHttp } from "../orch-http.ts";
import { RunnerDirectory } from "./runners.ts";

const dirs: string[] = [];
let withRunners: RunningOrchestrator;
let without: RunningOrchestrator;
let runner: TinyRunner;

before(async () => {
  runner = await startTinyRunner();
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), "gw-runners-"));
    dirs.push(d);
    return d;
  };
  withRunners = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s", liveRunners: {} });
  without = await startOrchestrator({ port: 0, dataDir: dataDir(), orchSecret: "s" });
  for (const body of [
    { runner_url: runner.url, app: "a/echo", runner_id: "e1", capacity: 2 },
    { runner_url: runner.url, app: "a/echo", runner_id: "e2", capacity: 1 },
    { runner_url: runner.url, app: "b/once", runner_id: "o1", mode: "single-shot" },
  ]) {
    const r = await postJson(`${withRunners.url}/runners/heartbeat`, body, { authorization: "s" });
    assert.equal(r.status, 200, r.text);
  }
});
after(async () => {
  await withRunners?.close();
  await without?.close();
  await runner?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("the directory lists each orchestrator's runners with state, capacity and price, and picks by free capacity", async () => {
  const http = createOrchestratorHttp();
  let urls = [withRunners.url, without.url, "https://127.0.0.1:1"];
  using dir = new RunnerDirectory({ http, orchestrators: () => urls, timeoutMs: 2000 });
  try {
    await dir.refresh();
    const states = Object.fromEntries(dir.listings().map((l) => [l.orchestrator, l.state]));
    assert.deepEqual(states, {
      [withRunners.url]: "ok",
      [without.url]: "disabled",
      "https://127.0.0.1:1": "unreachable",
    });
    const rows = dir.dashboard();
    assert.deepEqual(
      rows.map((r) => [r.app, r.route, r.mode, r.capacity, r.capacityAvailable]),
      [
        ["a/echo", "e1", "persistent", 2, 2],
        ["a/echo", "e2", "persistent", 1, 1],
        ["b/once", "o1", "single-shot", 1, 1],
      ],
    );
    assert.equal(rows[2]?.price, undefined, "offchain runners are free");
    assert.deepEqual(
      dir.candidates("a/echo").map((r) => r.route),
      ["e1", "e2"],
      "the most free capacity first",
    );
    // a reserved session takes e2's only slot: it is no longer a candidate
    assert.equal((await postJson(`${withRunners.url}/apps/e2/session`, {})).status, 200);
    await dir.refresh();
    assert.deepEqual(
      dir.candidates("a/echo").map((r) => r.route),
      ["e1"],
    );
    assert.deepEqual(
      dir.candidates("o1").map((r) => r.app),
      ["b/once"],
      "by route too",
    );
    // an orchestrator that goes away keeps its last runners, marked unreachable; one dropped from the pool goes
    urls = [withRunners.url];
    await dir.refresh();
    assert.deepEqual(
      dir.listings().map((l) => l.orchestrator),
      [withRunners.url],
    );
  } finally {
    http.close();
  }
});

test("prices are shown; a failed fetch keeps the last runners, marked unreachable", async () => {
  let answer: { status: number; body: unknown } | Error = {
    status: 200,
    body: [
      {
        address: "https://o",
        runners: [
          {
            url: "https://o/apps/p/session",
            app: "paid/app",
            capacity: 1,
            capacity_available: 1,
            price_info: { price: 1000, currency: "wei", unit: "seconds" },
          },
        ],
      },
    ],
  };
  const http = {
    async send() {
      if (answer instanceof Error) throw answer;
      const res = Readable.from([Buffer.from(JSON.stringify(answer.body))]) as unknown as IncomingMessage;
      res.statusCode = answer.status;
      return res;
    },
    close() {},
  };
  using dir = new RunnerDirectory({ http, orchestrators: () => ["https://o"] });
  await dir.refresh();
  assert.equal(dir.dashboard()[0]?.price, "1000 wei per seconds");
  answer = new Error("connect ECONNREFUSED");
  await dir.refresh();
  const [l] = dir.listings();
  assert.equal(l?.state, "unreachable");
  assert.match(l?.error ?? "", /ECONNREFUSED/);
  assert.equal(l?.runners.length, 1, "kept");
  assert.deepEqual(dir.candidates("paid/app"), [], "not a candidate while unreachable");
  answer = { status: 500, body: {} };
  await dir.refresh();
  assert.equal(dir.listings()[0]?.state, "unreachable");
});
