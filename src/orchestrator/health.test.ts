import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { parseAiModels } from "./config.ts";
import { HealthMonitor, pollHealth } from "./health.ts";
import { CapabilityRegistry, type ContainerHealth } from "./registry.ts";

async function fakeContainer(): Promise<{
  url: string;
  set(status: number, body: string): void;
  server: Server;
}> {
  let answer = { status: 200, body: '{"status":"LOADING"}' };
  const server = createServer((req, res) => {
    if (req.url !== "/health") {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (status, body) => {
      answer = { status, body };
    },
    server,
  };
}

test("pollHealth classifies ok/OK/IDLE, LOADING, ERROR, non-200 and no answer", async () => {
  const c = await fakeContainer();
  try {
    const cases: [number, string, string][] = [
      [200, '{"status":"ok"}', "ready"],
      [200, '{"status":"OK"}', "ready"],
      [200, '{"status":"IDLE"}', "ready"],
      [200, '{"status":"LOADING"}', "loading"],
      [200, '{"status":"ERROR"}', "error"],
      [200, "not json", "unreachable"],
      [503, '{"status":"OK"}', "unreachable"],
    ];
    for (const [status, body, want] of cases) {
      c.set(status, body);
      assert.equal(await pollHealth(c.url, undefined, 2000), want, body);
    }
  } finally {
    await new Promise((r) => c.server.close(r));
  }
  assert.equal(await pollHealth(c.url, undefined, 2000), "unreachable");
});

test("containers are advertised when ready, withdrawn after the failure threshold, and restored", async () => {
  const c = await fakeContainer();
  const registry = new CapabilityRegistry();
  const transitions: string[] = [];
  registry.on("health", (_u, from: ContainerHealth, to: ContainerHealth) =>
    transitions.push(`${from}->${to}`),
  );
  registry.setConfigModels(parseAiModels(JSON.stringify([{ pipeline: "llm", model_id: "m", url: c.url }])));
  await using monitor = new HealthMonitor(registry, {
    intervalMs: 60_000,
    timeoutMs: 1000,
    failureThreshold: 2,
  });
  try {
    await monitor.start();
    assert.equal(registry.advertised().length, 0, "LOADING is not advertised");
    c.set(200, '{"status":"IDLE"}');
    await monitor.checkAll();
    assert.equal(registry.advertised().length, 1);
    c.set(500, "oops");
    await monitor.checkAll();
    assert.equal(registry.advertised().length, 1, "one failure is below the threshold");
    await monitor.checkAll();
    assert.equal(registry.advertised().length, 0, "withdrawn after 2 failures");
    c.set(200, '{"status":"ok"}');
    await monitor.checkAll();
    assert.equal(registry.advertised().length, 1, "restored");
    c.set(200, '{"status":"ERROR"}');
    await monitor.checkAll();
    assert.equal(registry.advertised().length, 0, "ERROR withdraws at once");
    assert.deepEqual(transitions, [
      "unknown->loading",
      "loading->ready",
      "ready->failed",
      "failed->ready",
      "ready->failed",
    ]);
  } finally {
    await new Promise((r) => c.server.close(r));
  }
});
