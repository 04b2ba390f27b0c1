import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { type ProxyHop, proxyRequest, refuseUpgrade } from "./proxy.ts";

async function listenOn(t: { after: (fn: () => Promise<void>) => void }, server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** One request to `url`; the answer's status, headers and body (or the error that cut it). */
function call(
  url: string,
  method: string,
  headers: Record<string, string>,
  body = "",
  onData?: (chunk: string) => void,
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string; error?: Error }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let got = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        got += c;
        onData?.(c);
      });
      const done = (error?: Error) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: got, error });
      res.on("end", () => done());
      res.on("error", done);
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("proxyRequest forwards method, query, end-to-end headers and body; drops hop-by-hop and `drop` names; adds `add` last; passes the answer's status and end-to-end headers", async (t) => {
  const upstream = await listenOn(
    t,
    createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        res.writeHead(201, { "x-up": "1", "keep-alive": "timeout=5", "content-type": "application/json" });
        res.end(JSON.stringify({ method: req.method, url: req.url, raw: req.rawHeaders, body }));
      });
    }),
  );
  const statuses: number[] = [];
  const hop: ProxyHop = { drop: new Set(["x-private", "x-session"]), add: { "X-Session": "ours" } };
  const front = await listenOn(
    t,
    createServer((req, res) => {
      proxyRequest(req, res, new URL(`${upstream}/p?x=1`), hop, (err) => err).then((s) => statuses.push(s));
    }),
  );
  const answer = await call(
    front,
    "PUT",
    {
      "x-session": "theirs",
      "x-keep": "k",
      "x-private": "p",
      "proxy-authorization": "secret",
      te: "trailers",
    },
    "hello",
  );
  assert.equal(answer.status, 201);
  assert.equal(answer.headers["x-up"], "1");
  assert.equal(answer.headers["keep-alive"], undefined);
  const seen = JSON.parse(answer.body) as { method: string; url: string; raw: string[]; body: string };
  assert.equal(seen.method, "PUT");
  assert.equal(seen.url, "/p?x=1");
  assert.equal(seen.body, "hello");
  const names = seen.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  assert.ok(names.includes("x-keep"));
  for (const gone of ["x-private", "proxy-authorization", "te"]) assert.ok(!names.includes(gone), gone);
  assert.equal(names.filter((n) => n === "x-session").length, 1);
  assert.ok(names.indexOf("x-session") > names.indexOf("x-keep"), "added headers come after the client's");
  assert.equal(seen.raw[seen.raw.findIndex((n) => n.toLowerCase() === "x-session") + 1], "ours");
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(statuses, [201]);
});

test("proxyRequest: the hop's `ended` signal cuts an answer in flight; the promise resolves with its status", async (t) => {
  const upstream = await listenOn(
    t,
    createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: one\n\n"); // and never ends
    }),
  );
  const ended = new AbortController();
  let settled: Promise<number> | undefined;
  const front = await listenOn(
    t,
    createServer((req, res) => {
      settled = proxyRequest(req, res, new URL(upstream), { ended: ended.signal }, (err) => err);
    }),
  );
  const answer = await call(front, "GET", {}, "", () => ended.abort());
  assert.equal(answer.body, "data: one\n\n");
  assert.ok(answer.error, "the client's answer is cut");
  assert.equal(await settled, 200);
});

test("proxyRequest rejects with the caller's error when the upstream cannot be reached, before anything was written", async (t) => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const front = await listenOn(
    t,
    createServer((req, res) => {
      proxyRequest(
        req,
        res,
        new URL(`http://127.0.0.1:${port}/`),
        {},
        (err) => new Error(`unreachable: ${err.message}`),
      ).catch((err: Error) => {
        assert.equal(res.headersSent, false);
        res.writeHead(502).end(err.message);
      });
    }),
  );
  const answer = await call(front, "GET", {});
  assert.equal(answer.status, 502);
  assert.match(answer.body, /^unreachable: .*ECONNREFUSED/);
});

test("refuseUpgrade writes our JSON envelope as a plain HTTP/1.1 answer on the raw socket and closes it", async () => {
  const socket = new PassThrough();
  let raw = "";
  socket.on("data", (c) => {
    raw += c;
  });
  const ended = new Promise((r) => socket.on("end", r));
  refuseUpgrade(socket, 404, "NOT_FOUND", "no upgrade here");
  await ended;
  const body = JSON.stringify({ error: { code: "NOT_FOUND", message: "no upgrade here" } });
  assert.equal(
    raw,
    `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
});
