/**
 * PyPI livepeer-gateway 1.0.0 (its public API: `get_orch_info`, `submit_byoc_job`, `start_lv2v`,
 * `TricklePublisher`, `MediaOutput`) against OUR orchestrator started in-process offchain, in front of
 * real SDK containers: examples/text-reverse (BYOC batch, registered through `/capability/register`)
 * and examples/green-tint (live-video-to-video, an aiModels.json entry). The Python side is
 * test/interop/py/orch_gateway.py.
 *
 * Checks what the Python client needs offchain: an auth token in OrchestratorInfo, every channel
 * existing before the start reply (`GET {channel}/next` answers 200), `manifest_id` in the start reply,
 * output segments labelled video/mp2t, and MPEG-TS with (tinted) video coming back.
 *
 * Without the interop virtualenv the suite is skipped with the reason, except in CI (env `CI` set),
 * where it fails: CI must run `node scripts/interop-setup.ts`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import greenTint from "../../examples/green-tint/pipeline.ts";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { looksLikeMpegTs } from "../../src/media/ts-check.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { hasCapabilityBit } from "../../src/protocol/capabilities.ts";
import { type RunningRunner, startRunner } from "../../src/runner/index.ts";
import { until } from "../until.ts";
import { interopCache, type PeerLine, type PeerResult, spawnPeer } from "./peers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "py", "orch_gateway.py");
const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;

/** Runs orch_gateway.py to completion; kills it on timeout. */
async function gateway(args: string[], timeoutMs = 45_000): Promise<PeerResult> {
  const peer = spawnPeer(python, [SCRIPT, ...args], {
    timeoutMs,
    env: { PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
  });
  try {
    return await peer.done;
  } finally {
    await peer.kill();
  }
}

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
  test("orchestrator vs livepeer-gateway", { skip: missing }, () => {});
} else {
  describe("orchestrator vs PyPI livepeer-gateway 1.0.0 (offchain)", () => {
    const dir = mkdtempSync(join(tmpdir(), "orch-lpgw-"));
    let reverse: RunningRunner;
    let tint: RunningRunner;
    let orch: RunningOrchestrator;

    before(async () => {
      assert.ok(existsSync(python), missing);
      reverse = await startRunner(textReverse, { port: 0 });
      tint = await startRunner(greenTint, { port: 0 });
      const aiModels = join(dir, "aiModels.json");
      writeFileSync(
        aiModels,
        JSON.stringify([
          { pipeline: "live-video-to-video", model_id: "green-tint", url: tint.url, warm: true },
        ]),
      );
      orch = await startOrchestrator({
        port: 0,
        aiModelsPath: aiModels,
        orchSecret: "interop-secret",
        dataDir: dir,
        health: { intervalMs: 100, timeoutMs: 1000, failureThreshold: 1 },
        reload: { sighup: false },
        streamCheckIntervalMs: 100,
      });
      await until("the LV2V container to be advertised", () =>
        orch.registry.advertised().some((a) => a.key === "live-video-to-video/green-tint"),
      );
    });

    after(async () => {
      await orch?.close();
      await Promise.all([reverse?.close(), tint?.close()]);
      rmSync(dir, { recursive: true, force: true });
    });

    test("get_orch_info over gRPC/TLS (trust on first use) sees the auth token, the LV2V model and no ticket params", async () => {
      const r = await gateway(["info", "--orch", orch.url]);
      const info = only(r, "info");
      assert.equal(info.transcoder, orch.serviceUri);
      assert.equal(info.has_auth_token, true, "offchain start_lv2v needs OrchestratorInfo.auth_token");
      assert.equal(info.auth_token_bytes, 32);
      assert.ok(String(info.auth_token_session).length > 0, "auth token carries a session id");
      assert.ok(Number(info.auth_token_expiration) > Date.now() / 1000);
      assert.equal(info.has_ticket_params, false, "offchain: no ticket params");
      assert.ok(hasCapabilityBit((info.bitstring as number[]).map(BigInt), 35), "LV2V capability bit");
      assert.deepEqual(info.lv2v_models, { "green-tint": { warm: true, capacity: 1 } });
      assert.equal(r.code, 0, r.stderr);
    });

    test("submit_byoc_job runs a text-reverse job registered through /capability/register and returns its answer", async (t) => {
      const reg = await fetchTls(orch, "/capability/register", {
        method: "POST",
        headers: { authorization: "interop-secret", "content-type": "application/json" },
        body: JSON.stringify({ name: "text-reverse", url: reverse.url, capacity: 1, price_per_unit: 0 }),
      });
      assert.equal(reg.status, 200, reg.body);
      await until("the BYOC capability to be usable", () =>
        orch.registry.advertised().some((a) => a.key === "byoc/text-reverse"),
      );
      const r = await gateway([
        "byoc",
        "--orch",
        orch.url,
        "--capability",
        "text-reverse",
        "--payload",
        JSON.stringify({ text: "héllo 👋 orchestrator" }),
      ]);
      const job = only(r, "byoc");
      assert.equal(job.status, 200);
      assert.deepEqual(job.data, { text: "rotartsehcro 👋 olléh" });
      assert.match(String(job.content_type), /^application\/json/);
      t.diagnostic(`response header names as the SDK sees them: ${JSON.stringify(job.header_names)}`);
      assert.equal(r.code, 0, r.stderr);
    });

    test("start_lv2v: channels exist at the reply, segments published through the SDK come back tinted as video/mp2t MPEG-TS, stop frees the slot", async () => {
      const inDir = join(dir, "in");
      const outDir = join(dir, "out");
      mkdirSync(inDir);
      const segments = await syntheticSegments({ width: 160, height: 96, fps: 15, seconds: 6 });
      assert.ok(segments.length >= 3, `synthetic input has ${segments.length} segments`);
      for (const [i, s] of segments.entries())
        writeFileSync(join(inDir, `${String(i).padStart(3, "0")}.ts`), s);

      const r = await gateway([
        "lv2v",
        "--orch",
        orch.url,
        "--model",
        "green-tint",
        "--in-dir",
        inDir,
        "--out-dir",
        outDir,
        "--want",
        "2",
      ]);
      const detail = `lines: ${JSON.stringify(r.lines)}\nstderr: ${r.stderr.slice(-3000)}`;
      const started = only(r, "started");
      assert.match(String(started.manifest_id), /^[0-9a-f]{32}$/, "manifest_id in the start reply");
      for (const k of ["publish_url", "subscribe_url", "control_url", "events_url", "manifest_id"])
        assert.ok((started.keys as string[]).includes(k), `start reply has ${k}`);
      assert.equal(only(r, "payment").ok, true, `offchain POST /payment from the SDK; ${detail}`);
      const probes = r.lines.filter((l) => l.event === "probe");
      assert.deepEqual(
        probes.map((p) => [p.channel, p.status]),
        [
          ["publish_url", 200],
          ["subscribe_url", 200],
          ["control_url", 200],
          ["events_url", 200],
        ],
        `GET {channel}/next right after the reply; ${detail}`,
      );
      assert.equal(r.lines.filter((l) => l.event === "published").length, segments.length, detail);
      const outputs = r.lines.filter((l) => l.event === "output");
      assert.equal(outputs.length, 2, detail);
      for (const o of outputs) assert.equal(String(o.content_type).toLowerCase(), "video/mp2t");
      assert.equal(only(r, "output_stats").content_type_errors, 0);
      assert.equal(r.code, 0, detail);

      const outBytes = outputs.map((o) => new Uint8Array(readFileSync(String(o.path))));
      for (const b of outBytes) assert.ok(looksLikeMpegTs(b), "output segment is MPEG-TS");
      const decoded = await decodeSegments(outBytes, 160, 96);
      assert.equal(decoded.streams.video, true, "output carries a video stream");
      assert.ok(decoded.video.length >= 15, `decoded ${decoded.video.length} frames`);
      const frame = decoded.video[Math.floor(decoded.video.length / 2)];
      assert.ok(frame);
      assert.ok(channelMean(frame, 1) > channelMean(frame, 0) + 40, "green-tint (green 80) was applied");

      await until("the stream to stop after the client closed its channels", () => orch.streamCount === 0);
    });
  });
}

/** HTTPS request to the orchestrator, trusting its generated certificate. */
async function fetchTls(
  orch: RunningOrchestrator,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(
      `${orch.url}${path}`,
      { method: init.method ?? "GET", headers: init.headers, ca: orch.cert, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}
