import assert from "node:assert/strict";
import { createServer, get } from "node:http";
import { connect } from "node:net";
import { test } from "node:test";
import { closeServer, listen, openConnections, originOf } from "./listen.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("listen resolves the bound port and rejects when the port is taken", async () => {
  const a = createServer();
  const port = await listen(a, "127.0.0.1", 0);
  try {
    assert.ok(port > 0);
    const b = createServer();
    await assert.rejects(listen(b, "127.0.0.1", port), { code: "EADDRINUSE" });
  } finally {
    await closeServer(a);
  }
  assert.equal(originOf("http", "::1", 80), "http://[::1]:80");
  assert.equal(originOf("https", "127.0.0.1", 8935), "https://127.0.0.1:8935");
});

test("closeServer lets an answer in flight finish within the grace period, then destroys what is left", async () => {
  const server = createServer((req, res) => {
    if (req.url === "/slow") setTimeout(() => res.end("done"), 100);
    else res.write("never ends"); // a long-lived answer (an event stream, a trickle subscriber)
  });
  const port = await listen(server, "127.0.0.1", 0);
  const fetchText = (path: string) =>
    new Promise<string>((resolve) => {
      const req = get({ port, host: "127.0.0.1", path, agent: false }, (res) => {
        let t = "";
        res.on("data", (c) => {
          t += c;
        });
        res.on("end", () => resolve(t));
        res.on("error", () => resolve(`${t}|cut`));
      });
      req.on("error", () => resolve("error"));
    });
  const slow = fetchText("/slow");
  const forever = fetchText("/forever");
  // A connection that never sent a request (tracked from its TCP accept).
  const idle = connect(port, "127.0.0.1");
  const idleClosed = new Promise((r) => idle.on("close", r));
  idle.on("error", () => {});
  while (openConnections(server) < 3) await sleep(5);
  const started = performance.now();
  await closeServer(server, { graceMs: 400 });
  const took = performance.now() - started;
  assert.equal(await slow, "done", "the answer in flight finished");
  assert.equal(await forever, "never ends|cut", "the long answer was cut after the grace period");
  await idleClosed;
  assert.ok(took >= 350, `waited the grace period (${took} ms)`);
  await sleep(10); // the sockets' own close events follow the server's
  assert.equal(openConnections(server), 0);
});

test("closeServer without grace destroys long-lived connections at once; safe on a closed server", async () => {
  const server = createServer((_req, res) => {
    res.write("open");
  });
  const port = await listen(server, "127.0.0.1", 0);
  await new Promise<void>((resolve) => get({ port, host: "127.0.0.1", agent: false }, () => resolve()));
  const started = performance.now();
  await closeServer(server);
  assert.ok(performance.now() - started < 300);
  await closeServer(server); // not listening any more: resolves
});
