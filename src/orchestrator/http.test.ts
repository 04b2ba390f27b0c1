import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ContainerAgents, callContainer, readResponse, STALE_SOCKET_WINDOW_MS } from "./http.ts";

describe("callContainer with keep-alive agents", () => {
  let server: Server;
  let url: string;
  const connections: Socket[] = [];
  /** When set, the server drops a reused connection without answering (a container closing an idle socket). */
  let dropReused = false;
  /** When set, the server reads a job on a reused connection, works on it this long, then drops it. */
  let failReusedAfterMs: number | undefined;
  /** Jobs the server read whole (a job it started). */
  let jobsRead = 0;
  const served = new WeakMap<Socket, number>();

  before(async () => {
    server = createServer((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      req.resume();
      req.on("end", () => {
        jobsRead++;
        if (dropReused && n > 1) {
          req.socket.destroy();
          return;
        }
        if (failReusedAfterMs !== undefined && n > 1) {
          setTimeout(() => req.socket.destroy(), failReusedAfterMs);
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
    } finally {
      dropReused = false;
      agents.destroy();
    }
  });

  test("a reset after the container started the job is not replayed: 502, the job ran once", async () => {
    const agents = new ContainerAgents();
    try {
      failReusedAfterMs = STALE_SOCKET_WINDOW_MS + 150;
      assert.equal(await post(agents), "answer 1");
      const connectionsBefore = connections.length;
      const readBefore = jobsRead;
      await assert.rejects(post(agents), (err: Error & { status?: number }) => {
        assert.match(err.message, /container did not answer/);
        assert.equal(err.status, 502);
        return true;
      });
      assert.equal(jobsRead - readBefore, 1, "the container got the job once");
      assert.equal(connections.length - connectionsBefore, 0, "no second connection");
    } finally {
      failReusedAfterMs = undefined;
      agents.destroy();
    }
  });

  test("a streamed body never goes on a pooled socket (it could not be sent again): its own connection", async () => {
    const agents = new ContainerAgents();
    try {
      dropReused = true; // a pooled socket would be dropped under it
      assert.equal(await post(agents), "answer 1");
      const before = connections.length;
      assert.equal(await post(agents, Readable.from([Buffer.from("hi")])), "answer 1");
      assert.equal(connections.length - before, 1, "a new connection for the stream");
    } finally {
      dropReused = false;
      agents.destroy();
    }
  });
});
