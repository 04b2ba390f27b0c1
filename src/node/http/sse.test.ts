import assert from "node:assert/strict";
import { createServer, get, type IncomingMessage } from "node:http";
import { test } from "node:test";
import { closeServer, listen } from "./listen.ts";
import { SseWriter, sseEvent } from "./sse.ts";

test("sseEvent frames id, event and data; objects as one JSON line, strings line by line", () => {
  assert.equal(sseEvent({ data: { a: "x\ny" } }), 'data: {"a":"x\\ny"}\n\n');
  assert.equal(
    sseEvent({ event: "balance", id: 7, data: "one\ntwo" }),
    "id: 7\nevent: balance\ndata: one\ndata: two\n\n",
  );
  assert.equal(sseEvent({ data: "[DONE]" }), "data: [DONE]\n\n");
});

test("SseWriter writes the head, events as they come, and ends when the client goes away", async () => {
  let writer: SseWriter | undefined;
  let ready: () => void = () => {};
  const started = new Promise<void>((r) => {
    ready = r;
  });
  const server = createServer((_req, res) => {
    writer = new SseWriter(res, { retryMs: 2000, headers: { "cache-control": "no-store" } });
    writer.send({ event: "state", id: 1, data: { n: 1 } });
    ready();
  });
  const port = await listen(server, "127.0.0.1", 0);
  try {
    const res = await new Promise<IncomingMessage>((resolve) => get({ port, host: "127.0.0.1" }, resolve));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], "text/event-stream");
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.headers["x-accel-buffering"], "no");
    await started;
    let text = "";
    res.setEncoding("utf8");
    const until = (s: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (text.includes(s)) {
            res.off("data", check);
            resolve();
          }
        };
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("data", check);
        check();
      });
    await until('data: {"n":1}');
    assert.equal(text, 'retry: 2000\n\nid: 1\nevent: state\ndata: {"n":1}\n\n');
    const w = writer!;
    assert.equal(w.closed, false);
    assert.equal(w.json([1, 2]), true);
    await until("data: [1,2]\n\n");
    // The client leaves: the writer's signal aborts and later writes are dropped.
    res.destroy();
    await new Promise<void>((resolve) => w.signal.addEventListener("abort", () => resolve(), { once: true }));
    assert.equal(w.closed, true);
    assert.equal(w.json("late"), false);
    await w.drained(); // resolves at once on a closed stream
  } finally {
    await closeServer(server);
  }
});

test("SseWriter.end sends the last text and ends the response once", async () => {
  const server = createServer((_req, res) => {
    const w = new SseWriter(res);
    w.json("x");
    w.end(sseEvent({ data: "[DONE]" }));
    w.end("ignored");
    assert.equal(w.closed, true);
  });
  const port = await listen(server, "127.0.0.1", 0);
  try {
    const text = await new Promise<string>((resolve) =>
      get({ port, host: "127.0.0.1" }, (res) => {
        let t = "";
        res.on("data", (c) => {
          t += c;
        });
        res.on("end", () => resolve(t));
      }),
    );
    assert.equal(text, 'data: "x"\n\ndata: [DONE]\n\n');
  } finally {
    await closeServer(server);
  }
});
