import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startDevNetwork } from "./network.ts";

function getInsecure(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("offchain network in process: both capabilities ready at the orchestrator, a job through the gateway, temp data dir removed at stop", async () => {
  const events: string[] = [];
  const net = await startDevNetwork({
    offchain: true,
    orchestratorPort: 0,
    gatewayPort: 0,
    onEvent: (e) => events.push(`${e.type} ${e.name}`),
  });
  try {
    const s = net.summary;
    assert.equal(s.mode, "offchain");
    assert.equal(s.chain, undefined);
    assert.deepEqual(s.childPids, []);
    assert.ok(existsSync(s.dataDir));
    const caps = await getInsecure(`${s.orchestrator.url}/capabilities`, {
      authorization: s.orchestrator.secret,
    });
    assert.equal(caps.status, 200);
    assert.match(caps.body, /text-reverse/);
    assert.match(caps.body, /green-tint/);
    const res = await fetch(`${s.gateway!.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "abc" }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { text: "cba" });
  } finally {
    await net.stop();
  }
  assert.equal(existsSync(net.summary.dataDir), false);
  assert.deepEqual(
    events.filter((e) => e.startsWith("ready")),
    [
      "ready containers (text-reverse, green-tint)",
      "ready orchestrator (offchain)",
      "ready capabilities (byoc/text-reverse, live-video-to-video/green-tint)",
      "ready gateway + dashboard",
    ],
  );
});

test("a given data dir is kept at stop; without the gateway only the containers and the orchestrator run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dev-net-test-"));
  try {
    const net = await startDevNetwork({ offchain: true, orchestratorPort: 0, gateway: false, dataDir: dir });
    assert.equal(net.summary.gateway, undefined);
    assert.equal(net.summary.dataDir, dir);
    await net.stop();
    assert.ok(existsSync(join(dir, "orchestrator")), "the orchestrator kept its state in the data dir");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
