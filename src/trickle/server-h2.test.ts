import assert from "node:assert/strict";
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
} from "node:http2";
import { request as httpsRequest } from "node:https";
import { after, before, test } from "node:test";
import { createSelfSignedCertificate } from "../node/server.ts";
import { type RunningTrickleServer, startTrickleServer } from "./server.ts";

/** A self-signed certificate for 127.0.0.1 and localhost, made at test time (no key file is committed). */
const selfSigned = () => createSelfSignedCertificate();

let tls: { cert: string; key: string };
let s: RunningTrickleServer;
let session: ClientHttp2Session;

before(async () => {
  tls = selfSigned();
  s = await startTrickleServer({ port: 0, tls, autocreate: true, continueIntervalMs: 30 });
  session = connect(s.url, { ca: tls.cert });
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
});

after(async () => {
  session.close();
  await s.close();
});

interface H2Response {
  headers: IncomingHttpHeaders;
  body: string;
  informational: number[];
}

function h2(
  method: string,
  path: string,
  body?: string,
): { stream: ClientHttp2Stream; done: Promise<H2Response>; informational: number[] } {
  const stream = session.request({ ":method": method, ":path": path }, { endStream: body === undefined });
  const informational: number[] = [];
  stream.on("headers", (h) => informational.push(Number(h[":status"])));
  const done = new Promise<H2Response>((resolve, reject) => {
    let headers: IncomingHttpHeaders = {};
    const parts: Buffer[] = [];
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () => resolve({ headers, body: Buffer.concat(parts).toString(), informational }));
    stream.on("error", reject);
  });
  done.catch(() => {});
  if (body !== undefined && body !== "") stream.write(body);
  return { stream, done, informational };
}

test("HTTP/2 over TLS: publish and subscribe with the trickle headers", async () => {
  const pub = h2("POST", "/h2chan/0", "");
  pub.stream.end("over h2");
  const posted = await pub.done;
  assert.equal(posted.headers[":status"], 200);
  assert.equal(posted.headers["lp-trickle-seq"], "0");
  const got = await h2("GET", "/h2chan/0").done;
  assert.equal(got.headers[":status"], 200);
  assert.equal(got.body, "over h2");
  assert.equal(got.headers["lp-trickle-latest"], "1");
  const missing = await h2("GET", "/h2chan/9").done;
  assert.equal(missing.headers[":status"], 470);
});

test("HTTP/2: a waiting POST gets repeated 100 Continue; a subscriber reads it live", async () => {
  await h2("POST", "/live2", undefined).done;
  const sub = h2("GET", "/live2/0");
  const pub = h2("POST", "/live2/0", "");
  const deadline = Date.now() + 5000;
  while (pub.informational.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pub.informational.length >= 2, `got ${pub.informational.length} interim responses`);
  assert.ok(pub.informational.every((c) => c === 100));
  pub.stream.write("part1-");
  pub.stream.end("part2");
  assert.equal((await pub.done).headers[":status"], 200);
  assert.equal((await sub.done).body, "part1-part2");
});

test("HTTP/2: a preconnected POST released by channel delete gets 200 + Closed and its stream ends", async () => {
  await h2("POST", "/rel2", undefined).done;
  const pre = h2("POST", "/rel2/0", "");
  await new Promise((r) => setTimeout(r, 50));
  const del = await h2("DELETE", "/rel2").done;
  assert.equal(del.headers[":status"], 200);
  const released = await pre.done;
  assert.equal(released.headers[":status"], 200);
  assert.equal(released.headers["lp-trickle-closed"], "terminated");
  assert.equal(released.headers.connection, undefined, "no connection header on h2");
});

test("HTTP/1.1 still works on the TLS port (allowHTTP1)", async () => {
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(`${s.url}h1tls/0`, { method: "POST", ca: tls.cert, agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["lp-trickle-seq"], "0");
      res.resume();
      res.on("end", () => {
        const get = httpsRequest(`${s.url}h1tls/0`, { ca: tls.cert, agent: false }, (r2) => {
          const parts: Buffer[] = [];
          r2.on("data", (c: Buffer) => parts.push(c));
          r2.on("end", () => resolve(Buffer.concat(parts).toString()));
        });
        get.on("error", reject);
        get.end();
      });
    });
    req.on("error", reject);
    req.end("over h1 tls");
  });
  assert.equal(body, "over h1 tls");
});

test("HTTP/2: streams reset by the client mid-segment leave the server healthy", async () => {
  await h2("POST", "/reset2", undefined).done;
  const pub = h2("POST", "/reset2/0", "");
  pub.stream.write("partial");
  const sub = h2("GET", "/reset2/0");
  await new Promise<void>((resolve) => sub.stream.once("data", () => resolve()));
  sub.stream.close(constants.NGHTTP2_CANCEL);
  pub.stream.close(constants.NGHTTP2_CANCEL);
  await new Promise((r) => setTimeout(r, 50));
  const seg = s.trickle.getChannel("reset2")!.segmentAt(0)!;
  assert.equal(seg.buffer.length, 7);
  assert.equal((await h2("DELETE", "/reset2/0").done).headers[":status"], 200);
  const next = h2("POST", "/reset2/1", "");
  next.stream.end("after");
  assert.equal((await next.done).headers[":status"], 200);
  assert.equal((await h2("GET", "/reset2/1").done).body, "after");
});

test("HTTP/2: a whole connection dropping mid-POST and mid-GET leaves the server healthy", async () => {
  for (let i = 0; i < 3; i++) {
    const other = connect(s.url, { ca: tls.cert });
    other.on("error", () => {});
    const post = other.request({ ":method": "POST", ":path": `/drop2-${i}/0` }, { endStream: false });
    post.on("error", () => {});
    post.write("half");
    await new Promise((r) => setTimeout(r, 30));
    const get = other.request({ ":method": "GET", ":path": `/drop2-${i}/0` });
    get.on("error", () => {});
    await new Promise((resolve) => get.once("data", resolve));
    other.destroy();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await h2("DELETE", `/drop2-${i}/0`).done).headers[":status"], 200);
    assert.equal((await h2("GET", `/drop2-${i}/0`).done).body, "half");
  }
});

test("HTTP/2: a subscriber that stops reading loses its stream (CANCEL) after the stall timeout, not its session", async () => {
  await using stalling = await startTrickleServer({ port: 0, tls, autocreate: true, stallTimeoutMs: 300 });
  stalling.trickle.createChannel("slow");
  const segment = stalling.trickle.getChannel("slow")!.getForWrite(0).segment;
  segment.buffer.write(new Uint8Array(4 * 1024 * 1024).fill(7));
  segment.close();
  const reader = connect(stalling.url, { ca: tls.cert });
  try {
    const stream = reader.request({ ":method": "GET", ":path": "/slow/0" });
    stream.on("error", () => {});
    await new Promise((resolve) => stream.once("response", resolve));
    stream.pause(); // never read: the stream's flow-control window fills and the server's writes block
    await new Promise((resolve) => stream.once("close", resolve));
    assert.equal(stream.rstCode, constants.NGHTTP2_CANCEL);
    // The session is untouched: another request on it is answered.
    const next = reader.request({ ":method": "GET", ":path": "/slow/next" });
    const status = await new Promise((resolve) => next.once("response", (h) => resolve(h[":status"])));
    next.resume();
    assert.equal(status, 200);
  } finally {
    reader.close();
  }
});
