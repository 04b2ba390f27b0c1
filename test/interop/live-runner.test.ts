/**
 * PyPI livepeer-gateway 1.0.0's Live Runner API, both sides, against OUR orchestrator started
 * in-process offchain with `liveRunners` on: a Python runner registered with `register_runner`
 * (heartbeats, o2r session events) and a Python client (`discover_orchestrator_runners`,
 * `call_runner` single-shot, `reserve_session`, `call_runner` persistent with a JSON and an SSE answer,
 * the runner creating trickle channels with `create_trickle_channels` from the proxied request, then
 * `aclose()`). The Python side is test/interop/py/live_runner.py.
 *
 * Without the interop virtualenv the suite is skipped with the reason, except in CI (env `CI` set),
 * where it fails: CI must run `node scripts/interop-setup.ts`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { interopCache, type PeerLine, type PeerResult, spawnPeer } from "./peers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "py", "live_runner.py");
const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;
const SECRET = "interop-live-runner-secret";

function only(result: PeerResult, event: string): PeerLine {
  const found = result.lines.filter((l) => l.event === event);
  assert.equal(
    found.length,
    1,
    `expected one "${event}" line; lines: ${JSON.stringify(result.lines)}\nstderr: ${result.stderr.slice(-3000)}`,
  );
  return found[0] as PeerLine;
}

if (!existsSync(python) && !process.env.CI) {
  test("live runners vs livepeer-gateway", { skip: missing }, () => {});
} else {
  describe("live runners vs PyPI livepeer-gateway 1.0.0 (offchain)", () => {
    const dir = mkdtempSync(join(tmpdir(), "lr-lpgw-"));
    let orch: RunningOrchestrator;

    before(async () => {
      assert.ok(existsSync(python), missing);
      orch = await startOrchestrator({ port: 0, orchSecret: SECRET, dataDir: dir, liveRunners: {} });
    });
    after(async () => {
      await orch?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("register_runner + call_runner single-shot and persistent (JSON, SSE, trickle channels, stop)", async () => {
      const peer = spawnPeer(python, [SCRIPT, "--orch", orch.url, "--secret", SECRET], {
        timeoutMs: 60_000,
        env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
      });
      let result: PeerResult;
      try {
        result = await peer.done;
      } finally {
        await peer.kill();
      }
      const reg = only(result, "registered");
      assert.equal(reg.has_o2r, true);
      assert.equal(reg.ttl, 20);
      assert.equal(reg.interval, 5);
      const persistentId = String(reg.runner_id);
      const onceId = String(reg.single_shot_id);

      const disc = only(result, "discovery").runners as { url: string; app: string; mode: string }[];
      assert.deepEqual(disc.map((r) => [r.app, r.mode, r.url]).sort(), [
        ["interop/echo", "persistent", `${orch.serviceUri}/apps/${persistentId}/session`],
        ["interop/once", "single-shot", `${orch.serviceUri}/apps/${onceId}/app`],
      ]);

      const single = only(result, "single_shot").data as Record<string, unknown>;
      assert.deepEqual(
        [single.path, single.route, single.has_token, single.has_control],
        ["/echo", onceId, true, true],
      );
      assert.equal(JSON.parse(String(single.body)).q, "single");

      const reserved = only(result, "reserved");
      const sid = String(reserved.session_id);
      assert.equal(reserved.app_url, `${orch.serviceUri}/apps/${persistentId}/session/${sid}/app`);
      const persistent = only(result, "persistent").data as Record<string, unknown>;
      assert.deepEqual([persistent.route, persistent.session_id], [persistentId, sid]);
      assert.deepEqual(persistent.channels, [
        { name: "events", has_url: true, mime_type: "application/json" },
      ]);

      const sse = only(result, "sse");
      assert.equal(sse.status, 200);
      assert.equal(sse.content_type, "text/event-stream");
      assert.deepEqual(sse.data, [{ n: 0 }, { n: 1 }, { n: 2 }]);

      assert.equal(only(result, "stopped").released, true);
      assert.deepEqual(only(result, "o2r").events, [
        { event: "reserved", session: sid },
        { event: "released", session: sid },
      ]);
      only(result, "end");
      assert.equal(result.code, 0, result.stderr.slice(-3000));
      // the runners unregistered on close
      assert.equal(orch.runners?.registry.discovery().length, 0);
    });
  });
}
