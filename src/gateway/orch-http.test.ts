import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { createSelfSignedCertificate } from "../node/server.ts";
import { createOrchestratorHttp, readText, STALE_SOCKET_WINDOW_MS } from "./orch-http.ts";

describe("gateway → orchestrator keep-alive: the stale-socket rule", () => {
  let server: Server;
  let url: string;
  const connections: Socket[] = [];
  /** What the orchestrator does with the second request on one connection. */
  let second: "answer" | "drop" | "fail-later" = "answer";
  let requestsRead = 0;
  const served = new WeakMap<Socket, number>();

  before(async () => {
    server = createServer(createSelfSignedCertificate(), (req: IncomingMessage, res: ServerResponse) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      req.resume();
      req.on("end", () => {
        requestsRead++;
        if (n > 1 && second === "drop") return void req.socket.destroy();
        if (n > 1 && second === "fail-later")
          return void setTimeout(() => req.socket.destroy(), STALE_SOCKET_WINDOW_MS + 150);
        res.end(`answer ${n}`);
      });
    });
    server.on("secureConnection", (s: Socket) => connections.push(s));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/process/request/x`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const post = async (http: ReturnType<typeof createOrchestratorHttp>) =>
    readText(await http.send(url, { body: Buffer.from("{}"), headersTimeoutMs: 5000 }));

  test("jobs share one connection; one the orchestrator dropped while idle is sent again on a new one", async () => {
    const http = createOrchestratorHttp();
    try {
      const before = connections.length;
      assert.equal(await post(http), "answer 1");
      assert.equal(await post(http), "answer 2");
      assert.equal(connections.length - before, 1, "kept alive");
      second = "drop";
      const read = requestsRead;
      assert.equal(await post(http), "answer 1", "answered on a new connection");
      assert.equal(connections.length - before, 2);
      assert.equal(requestsRead - read, 2, "the dropped request, then the one answered");
    } finally {
      second = "answer";
      http.close();
    }
  });

  test("a reset after the orchestrator worked on the request is not sent again", async () => {
    const http = createOrchestratorHttp();
    try {
      assert.equal(await post(http), "answer 1");
      second = "fail-later";
      const before = connections.length;
      const read = requestsRead;
      await assert.rejects(post(http), (err: Error & { code?: string }) => {
        assert.equal(err.code, "ORCHESTRATOR_UNREACHABLE");
        return true;
      });
      assert.equal(requestsRead - read, 1, "sent once");
      assert.equal(connections.length - before, 0);
    } finally {
      second = "answer";
      http.close();
    }
  });
});
