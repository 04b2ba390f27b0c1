/**
 * PyPI livepeer-gateway 1.0.0's live runner CLIENT calling TRIBUTARY runners (the SDK's
 * `startLiveRunner`, registered by heartbeats) through our orchestrator, in-process, offchain:
 * discovery, `call_runner` single-shot (JSON, the session headers seen by our runner), and a
 * persistent session (`reserve_session`; JSON from a route that creates a session trickle channel
 * through the callbacks; SSE tokens with `stream=True`; `aclose()` releases it, which our runner hears
 * on its o2r channel). The Python side is test/interop/py/tributary_runner_client.py.
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
import { app as tokensApp } from "../../examples/runner-sse/runner.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import {
  defineRunnerApp,
  type RunningLiveRunner,
  type SessionEvent,
  startLiveRunner,
} from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { interopCache, type PeerLine, type PeerResult, spawnPeer } from "./peers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "py", "tributary_runner_client.py");
const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;
const SECRET = "interop-sdk-runner-secret";

function only(result: PeerResult, event: string): PeerLine {
  const found = result.lines.filter((l) => l.event === event);
  assert.equal(
    found.length,
    1,
    `expected one "${event}" line; lines: ${JSON.stringify(result.lines)}\nstderr: ${result.stderr.slice(-3000)}`,
  );
  return found[0] as PeerLine;
}

const onceApp = defineRunnerApp({
  app: "interop/once",
  mode: "single-shot",
  routes: {
    "POST /echo": async (call) => ({
      body: await call.json(),
      path: call.path,
      route: call.session?.route ?? "",
      session: call.session !== undefined,
    }),
  },
});

if (!existsSync(python) && !process.env.CI) {
  test("Tributary runners vs livepeer-gateway's client", { skip: missing }, () => {});
} else {
  describe("Tributary runners vs PyPI livepeer-gateway 1.0.0's client (offchain)", () => {
    const dir = mkdtempSync(join(tmpdir(), "lr-sdk-lpgw-"));
    let orch: RunningOrchestrator;
    let tokens: RunningLiveRunner;
    let once: RunningLiveRunner;
    const events: SessionEvent[] = [];

    before(async () => {
      assert.ok(existsSync(python), missing);
      orch = await startOrchestrator({ port: 0, orchSecret: SECRET, dataDir: dir, liveRunners: {} });
      const reg = { port: 0, orchUrl: orch.url, orchSecret: SECRET };
      tokens = await startLiveRunner({ ...tokensApp, onSession: (e) => void events.push(e) }, reg);
      once = await startLiveRunner(onceApp, reg);
      assert.equal(await tokens.heartbeats?.registered, true);
      assert.equal(await once.heartbeats?.registered, true);
    });
    after(async () => {
      await tokens?.close();
      await once?.close();
      await orch?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("discovery, call_runner single-shot and persistent (JSON, session channel, SSE), stop", async () => {
      const peer = spawnPeer(python, [SCRIPT, "--orch", orch.url], {
        timeoutMs: 60_000,
        env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
      });
      let result: PeerResult;
      try {
        result = await peer.done;
      } finally {
        await peer.kill();
      }
      const tokensId = tokens.heartbeats?.runnerId ?? "";
      const onceId = once.heartbeats?.runnerId ?? "";
      const disc = only(result, "discovery").runners as { url: string; app: string; mode: string }[];
      assert.deepEqual(disc.map((r) => [r.app, r.mode, r.url]).sort(), [
        ["example/tokens", "persistent", `${orch.serviceUri}/apps/${tokensId}/session`],
        ["interop/once", "single-shot", `${orch.serviceUri}/apps/${onceId}/app`],
      ]);

      assert.deepEqual(only(result, "single_shot").data, {
        body: { q: "single" },
        path: "/echo",
        route: onceId,
        session: true,
      });

      const sid = String(only(result, "reserved").session_id);
      const notes = only(result, "notes").data as { session_id: string; notes_url: string };
      assert.equal(notes.session_id, sid);
      assert.ok(notes.notes_url.startsWith(`${orch.serviceUri}/ai/trickle/${sid}-`), notes.notes_url);

      const sse = only(result, "sse");
      assert.equal(sse.status, 200);
      assert.equal(sse.content_type, "text/event-stream");
      assert.deepEqual(sse.data, ['{"token":"gamma"}', '{"token":"beta"}', '{"token":"alpha"}', "[DONE]"]);

      assert.equal(only(result, "stopped").released, true);
      only(result, "end");
      assert.equal(result.code, 0, result.stderr.slice(-3000));
      await until("o2r released", () => events.some((e) => e.event === "released" && e.session === sid));
      assert.ok(events.some((e) => e.event === "reserved" && e.session === sid));
    });
  });
}
