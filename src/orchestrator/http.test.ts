import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ContainerAgents, callContainer, readResponse } from "./http.ts";

describe("callContainer with keep-alive agents", () => {
  let server: Server;
  let url: string;
  const connections: Socket[] = [];
  /** When set, the server drops a reused connection without answering (a container closing an idle socket). */
  let dropReused = false;
  const served = new WeakMap<Socket, number>();

  before(async () => {
    server = createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      req.resume();
      req.on("end", () => {
        if (dropReused && n > 1) {
          req.socket.destroy();
          return;
        }
        res.end(`answer ${n}`);
      });
    });
    server.on("connection", (s: Socket) => connections.push(s));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const post = async (agents: ContainerAgents | undefined, body: Buffer | Readable = Buffer.from("hi")) =>
    (await readResponse(await callContainer({ url, body, timeoutMs: 10_000, agents }))).toString();

  test("sequential calls reuse one connection; destroy() closes it", async () => {
    const agents = new ContainerAgents();
    const before = connections.length;
    assert.equal(await post(agents), "answer 1");
    assert.equal(await post(agents), "answer 2");
    assert.equal(await post(agents), "answer 3");
    assert.equal(connections.length - before, 1, "one TCP connection for three calls");
    const socket = connections.at(-1) as Socket;
    agents.destroy();
    if (!socket.destroyed) await once(socket, "close");
  });

  test("without agents every call opens its own connection", async () => {
    const before = connections.length;
    assert.equal(await post(undefined), "answer 1");
    assert.equal(await post(undefined), "answer 1");
    assert.equal(connections.length - before, 2);
  });

  test("a pooled connection the container dropped is retried once on a new one (replayable body only)", async () => {
    const agents = new ContainerAgents();
    try {
      dropReused = true;
      assert.equal(await post(agents), "answer 1");
      const before = connections.length;
      assert.equal(await post(agents), "answer 1", "answered on a fresh connection");
      assert.equal(connections.length - before, 1);
      // a streamed body cannot be sent twice: the error reaches the caller
      await assert.rejects(post(agents, Readable.from([Buffer.from("hi")])), /container did not answer/);
    } finally {
      dropReused = false;
      agents.destroy();
    }
  });
});
