import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import { Socket } from "node:net";
import { test } from "node:test";
import { httpAgent, httpsAgent } from "./agents.ts";

test("httpAgent: each socket it opens has Nagle turned off, and keeps alive by default", async (t) => {
  const calls: { socket: Socket; on: boolean | undefined }[] = [];
  const original = Socket.prototype.setNoDelay;
  Socket.prototype.setNoDelay = function (this: Socket, on?: boolean) {
    calls.push({ socket: this, on });
    return original.call(this, on);
  };
  t.after(() => {
    Socket.prototype.setNoDelay = original;
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const agent = httpAgent();
  t.after(() => {
    agent.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const used = await new Promise<Socket>((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port, method: "POST", agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(r.socket as Socket));
    });
    r.on("error", reject);
    r.end("x");
  });
  // The client's own socket got setNoDelay(true) (the server side is not this agent's).
  assert.ok(calls.some((c) => c.socket === used && c.on === true));
  // `keepAlive` is a runtime property of Node's Agent that @types/node does not declare.
  const keepAlive = (a: object): unknown => (a as { keepAlive?: boolean }).keepAlive;
  assert.equal(keepAlive(agent), true);
  assert.equal(keepAlive(httpsAgent()), true);
  assert.equal(keepAlive(httpAgent({ keepAlive: false })), false);
});
