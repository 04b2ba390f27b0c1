/**
 * `containerKeepAlive` (default on): the orchestrator keeps its connections to a container open
 * between jobs and closes them when it closes. The container is a plain node:http server so that its TCP
 * connections can be counted.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { encodeJobHeader, newJobRequest } from "../../src/protocol/job-header.ts";
import { call } from "./orchestrator-helpers.ts";

describe("orchestrator → container keep-alive", () => {
  const dir = mkdtempSync(join(tmpdir(), "orch-ka-"));
  let container: Server;
  const sockets: Socket[] = [];
  const orchestrators: RunningOrchestrator[] = [];

  before(async () => {
    container = createServer((req, res) => {
      if (req.url === "/health") return void res.end('{"status":"OK"}');
      req.resume();
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.end('{"ok":true}');
      });
    });
    container.on("connection", (s: Socket) => sockets.push(s));
    container.listen(0, "127.0.0.1");
    await once(container, "listening");
  });
  after(async () => {
    for (const o of orchestrators) await o.close();
    container.closeAllConnections();
    container.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function orchestratorWith(containerKeepAlive: boolean | undefined): Promise<RunningOrchestrator> {
    const orch = await startOrchestrator({
      port: 0,
      orchSecret: "s",
      dataDir: join(dir, String(containerKeepAlive)),
      ...(containerKeepAlive === undefined ? {} : { containerKeepAlive }),
      health: { intervalMs: 60_000 },
      reload: { sighup: false },
    });
    orchestrators.push(orch);
    const url = `http://127.0.0.1:${(container.address() as AddressInfo).port}`;
    const reg = await call(orch, "/capability/register", {
      method: "POST",
      headers: { authorization: "s" },
      body: JSON.stringify({ name: "echo", url, capacity: 4, price_per_unit: 0 }),
    });
    assert.equal(reg.status, 200, reg.body);
    return orch;
  }

  /** BYOC jobs in sequence; the number of new container connections they opened. */
  async function jobs(orch: RunningOrchestrator, n: number): Promise<number> {
    const header = encodeJobHeader(newJobRequest({ capability: "echo", timeoutSeconds: 10 }));
    // the health poll that makes the container ready opens its own connection: count from here
    for (let i = 0; i < 50 && !(await call(orch, "/capabilities")).body.includes("echo"); i++)
      await new Promise((r) => setTimeout(r, 50));
    const before = sockets.length;
    for (let i = 0; i < n; i++) {
      const r = await call(orch, "/process/request/echo", {
        method: "POST",
        headers: { livepeer: header, "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(r.status, 200, r.body);
    }
    return sockets.length - before;
  }

  test("with containerKeepAlive, sequential jobs share one connection, closed with the orchestrator", async () => {
    const orch = await orchestratorWith(true);
    assert.equal(await jobs(orch, 5), 1);
    const socket = sockets.at(-1) as Socket;
    assert.equal(socket.destroyed, false, "kept open between jobs");
    await orch.close();
    if (!socket.destroyed) await once(socket, "close");
  });

  test("by default, sequential jobs share one connection", async () => {
    const orch = await orchestratorWith(undefined);
    assert.equal(await jobs(orch, 4), 1);
  });

  test("with containerKeepAlive false, each job opens its own connection", async () => {
    const orch = await orchestratorWith(false);
    assert.equal(await jobs(orch, 3), 3);
  });
});
