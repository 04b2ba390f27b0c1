/**
 * A real PyPI pytrickle 0.1.6 container (test/interop/py/orch_pytrickle.py: a StreamServer whose
 * FrameProcessor paints the blue channel full) registers itself with OUR orchestrator, started
 * in-process offchain, through pytrickle's own `RegisterCapability` helper configured only by the
 * environment (ORCH_URL, ORCH_SECRET, CAPABILITY_*; docs/spec/container-contract.md#registration). Then a BYOC stream runs
 * through the orchestrator: `POST /ai/stream/start` with video ingress and egress, MPEG-TS segments
 * (node-av, src/media/synthetic.ts) published to `X-Publish-Url`, processed segments read
 * back from `X-Subscribe-Url` and decoded, `POST /ai/stream/stop`.
 *
 * Without the interop virtualenv the suite is skipped with the reason, except in CI (env `CI` set),
 * where it fails: CI must run `node scripts/interop-setup.ts`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { channelMean, decodeSegments, syntheticSegments } from "../../src/media/synthetic.ts";
import { looksLikeMpegTs } from "../../src/media/ts-check.ts";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { TricklePublisher, TrickleSubscriber } from "../../src/trickle/index.ts";
import { until as waitUntil } from "../until.ts";
import { interopCache, type PeerProcess, spawnPeer } from "./peers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "py", "orch_pytrickle.py");
const python = join(interopCache(), "venv", "bin", "python");
const missing = `no interop virtualenv at ${python}: run \`node scripts/interop-setup.ts\` (or \`npm run test:interop\`)`;
const SECRET = "pytrickle-secret";
const CAPABILITY = "pytrickle-blue";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function container(orch: RunningOrchestrator, port: number, secret: string, retries: number): PeerProcess {
  return spawnPeer(python, [SCRIPT, "--port", String(port), "--max-retries", String(retries)], {
    timeoutMs: 120_000,
    env: {
      PYTHONUNBUFFERED: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      ORCH_URL: orch.url,
      ORCH_SECRET: secret,
      CAPABILITY_NAME: CAPABILITY,
      CAPABILITY_DESCRIPTION: "interop: blue tint",
      CAPABILITY_URL: `http://127.0.0.1:${port}`,
      CAPABILITY_CAPACITY: "1",
      CAPABILITY_PRICE_PER_UNIT: "0",
      CAPABILITY_PRICE_SCALING: "1",
    },
  });
}

function post(
  orch: RunningOrchestrator,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${orch.url}${path}`,
      { method: "POST", headers, ca: orch.cert, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const jobHeader = (id: string) =>
  Buffer.from(
    JSON.stringify({
      id,
      request: "{}",
      parameters: JSON.stringify({ enable_video_ingress: true, enable_video_egress: true }),
      capability: CAPABILITY,
      timeout_seconds: 30,
    }),
  ).toString("base64");

const until = (what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> =>
  waitUntil(what, check, ms);

if (!existsSync(python) && !process.env.CI) {
  test("orchestrator vs pytrickle", { skip: missing }, () => {});
} else {
  describe("pytrickle 0.1.6 container registered with our orchestrator (offchain)", () => {
    const dir = mkdtempSync(join(tmpdir(), "orch-pytrickle-"));
    let orch: RunningOrchestrator;
    const peers: PeerProcess[] = [];

    before(async () => {
      assert.ok(existsSync(python), missing);
      orch = await startOrchestrator({
        port: 0,
        models: [],
        orchSecret: SECRET,
        dataDir: dir,
        health: { intervalMs: 200, timeoutMs: 1000, failureThreshold: 3 },
        reload: { sighup: false },
        streamCheckIntervalMs: 100,
      });
    });

    after(async () => {
      await Promise.all(peers.map((p) => p.kill()));
      await orch?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test("RegisterCapability with a wrong ORCH_SECRET fails and registers nothing", async () => {
      const peer = container(orch, await freePort(), "wrong-secret", 1);
      peers.push(peer);
      const reg = await peer.waitFor((l) => l.event === "registered", 60_000);
      assert.equal(reg.ok, false);
      assert.equal(orch.registry.get("byoc", CAPABILITY), undefined);
      await peer.kill();
    });

    test("registers through RegisterCapability (env only) and serves a BYOC stream: segments in, blue-tinted MPEG-TS out, stop", async () => {
      const port = await freePort();
      const peer = container(orch, port, SECRET, 3);
      peers.push(peer);
      const reg = await peer.waitFor((l) => l.event === "registered", 60_000);
      assert.equal(reg.ok, true, `registration: ${JSON.stringify(peer.lines)}`);
      assert.equal(reg.url, `http://127.0.0.1:${port}`);
      await until("the pytrickle capability to be advertised (ready)", () =>
        orch.registry.advertised().some((a) => a.key === `byoc/${CAPABILITY}`),
      );

      const start = await post(
        orch,
        "/ai/stream/start",
        { livepeer: jobHeader("interop-stream"), "content-type": "application/json" },
        JSON.stringify({ params: { width: 160, height: 96 } }),
      );
      assert.equal(start.status, 200, start.body);
      const publishUrl = String(start.headers["x-publish-url"]);
      const subscribeUrl = String(start.headers["x-subscribe-url"]);
      assert.match(publishUrl, /\/ai\/trickle\//);
      assert.match(subscribeUrl, /-out$/);
      assert.equal(orch.streamCount, 1);

      const input = await syntheticSegments({ width: 160, height: 96, fps: 15, seconds: 8 });
      const tls = { ca: orch.cert };
      const sub = new TrickleSubscriber(subscribeUrl, { tls, start: -1 });
      const pub = new TricklePublisher(publishUrl, { tls, mimeType: "video/MP2T" });
      const outputs: { mime: string | undefined; bytes: Uint8Array }[] = [];
      const reading = (async () => {
        while (outputs.length < 2) {
          const seg = await sub.next();
          if (seg === null) break;
          outputs.push({ mime: seg.mimeType, bytes: await seg.bytes() });
        }
      })();
      try {
        for (const s of input) {
          await pub.write(s);
          await new Promise((r) => setTimeout(r, 100));
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          reading,
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error("no output within 40 s")), 40_000);
          }),
        ]).finally(() => clearTimeout(timer));
      } finally {
        sub.close();
        await pub.close();
      }
      assert.equal(outputs.length, 2, "two processed segments came back");
      for (const o of outputs) {
        assert.equal(o.mime?.toLowerCase(), "video/mp2t");
        assert.ok(looksLikeMpegTs(o.bytes), "output is MPEG-TS");
      }
      const decoded = await decodeSegments(
        outputs.map((o) => o.bytes),
        160,
        96,
      );
      assert.equal(decoded.streams.video, true);
      const frame = decoded.video[Math.floor(decoded.video.length / 2)];
      assert.ok(frame, "decoded video frames");
      assert.ok(channelMean(frame, 2) > channelMean(frame, 0) + 60, "pytrickle's blue tint is applied");

      const stop = await post(orch, "/ai/stream/stop", { livepeer: jobHeader("interop-stream") }, "{}");
      assert.equal(stop.status, 200, stop.body);
      await until("the stream to be gone", () => orch.streamCount === 0);
    });
  });
}
