import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { test } from "node:test";
import { BadRequestError, TributaryError } from "../node/errors.ts";
import { LocalPublisher } from "./local.ts";
import {
  startTrickleServer,
  TrickleRequestError,
  TrickleServer,
  type TrickleServerOptions,
} from "./server.ts";
import { eventually, openGet, openPost, request, sleep } from "./test-util.ts";

async function serve(options: TrickleServerOptions = {}) {
  return startTrickleServer({ port: 0, ...options });
}

test("Close: 404 before create, segments round-trip with Latest, EOS after close, 404 after", async () => {
  await using s = await serve();
  const ch = `${s.url}testest`;
  const early = await request(`${ch}/0`, { method: "POST", body: "first post" });
  assert.equal(early.status, 404);
  assert.equal(early.body, "Stream not found\n");
  assert.equal(early.headers.connection, "close");

  new LocalPublisher(s.trickle, "testest", "text/plain").createChannel();
  for (const [i, text] of ["first", "second"].entries()) {
    const r = await request(`${ch}/${i}`, { method: "POST", body: text });
    assert.equal(r.status, 200);
    assert.equal(r.headers["lp-trickle-seq"], String(i));
  }
  for (const [i, text] of ["first", "second"].entries()) {
    const r = await request(`${ch}/${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.body, text);
    assert.equal(r.headers["lp-trickle-seq"], String(i));
    assert.equal(r.headers["lp-trickle-latest"], "2");
    assert.equal(r.headers["content-type"], "text/plain");
  }
  // a subscriber and a preconnected publisher wait on seq 2
  const sub = openGet(`${ch}/2`);
  const pre = openPost(`${ch}/2`);
  await eventually(() => s.trickle.getChannel("testest")!.segmentAt(2) !== undefined);
  await sleep(20);
  const del = await request(ch, { method: "DELETE" });
  assert.equal(del.status, 200);

  const subHead = await sub.head;
  assert.equal(subHead.status, 200);
  assert.equal(subHead.headers["lp-trickle-closed"], "terminated");
  assert.equal(await sub.body, "");
  const released = await pre.response;
  assert.equal(released.status, 200);
  assert.equal(released.headers["lp-trickle-closed"], "terminated");
  assert.equal(released.headers["lp-trickle-seq"], "2");
  assert.equal(released.headers.connection, "close");
  pre.abort();

  assert.equal((await request(`${ch}/3`)).status, 404);
  assert.equal((await request(`${ch}/3`, { method: "POST", body: "bad post" })).status, 404);
});

test("HTTPCreateContract: create and publish need autocreate", async () => {
  {
    await using s = await serve({ autocreate: false });
    assert.equal((await request(`${s.url}missing`, { method: "POST" })).status, 404);
    assert.equal((await request(`${s.url}missing/0`, { method: "POST", body: "hello" })).status, 404);
    assert.deepEqual(s.trickle.channelNames(), []);
  }
  {
    await using s = await serve({ autocreate: true });
    const created = await request(`${s.url}created`, {
      method: "POST",
      headers: { "expect-content": "video/MP2T" },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body, "");
    assert.equal(s.trickle.getChannel("created")?.mimeType, "video/MP2T");
    const again = await request(`${s.url}created`, { method: "POST" });
    assert.equal(again.status, 200, "creating an existing channel is fine");
    const pub = await request(`${s.url}published/0`, {
      method: "POST",
      body: "hello",
      headers: { "content-type": "application/json" },
    });
    assert.equal(pub.status, 200);
    const got = await request(`${s.url}published/0`);
    assert.equal(got.headers["content-type"], "application/json", "POST autocreate takes Content-Type");
  }
});

test("existing channel answers create with 200 even without autocreate", async () => {
  await using s = await serve();
  s.trickle.createChannel("there");
  assert.equal((await request(`${s.url}there`, { method: "POST" })).status, 200);
});

test("BeforeCreate runs before creation; a 4xx refusal or a generic error blocks it", async () => {
  const calls: string[] = [];
  await using s = await serve({
    autocreate: true,
    beforeCreate: async (name, req) => {
      calls.push(`${name}:${req.headers["expect-content"]}`);
      assert.equal(server().getChannel(name), undefined, "hook runs before the channel exists");
      if (name === "blocked") throw new TrickleRequestError(403, "nope");
      if (name === "weird") throw new TrickleRequestError(502, "odd status");
      if (name === "bad") throw new BadRequestError("bad name for this node");
      if (name === "errored") throw new Error("boom");
    },
  });
  const server = () => s.trickle;
  const ok = await request(`${s.url}created`, {
    method: "POST",
    headers: { "expect-content": "text/plain" },
  });
  assert.equal(ok.status, 200);
  assert.deepEqual(calls, ["created:text/plain"]);
  assert.equal((await request(`${s.url}created/next`)).status, 200);

  const blocked = await request(`${s.url}blocked`, { method: "POST" });
  assert.equal(blocked.status, 403);
  assert.equal(blocked.body, "nope\n");
  assert.equal(
    (await request(`${s.url}weird`, { method: "POST" })).status,
    400,
    "non-4xx RequestError → 400",
  );
  assert.equal((await request(`${s.url}bad`, { method: "POST" })).status, 400);
  const errored = await request(`${s.url}errored`, { method: "POST" });
  assert.equal(errored.status, 500);
  assert.doesNotMatch(errored.body, /boom/, "internal error text is not leaked");
  for (const name of ["blocked", "weird", "bad", "errored"]) {
    assert.equal((await request(`${s.url}${name}/next`)).status, 404, name);
  }
});

test("BeforeDelete runs before deletion; refusals leave the channel in place", async () => {
  await using s = await serve({
    beforeDelete: (name) => {
      assert.ok(s.trickle.getChannel(name), "hook runs while the channel exists");
      if (name === "blocked-delete") throw new TrickleRequestError(401, "nope");
      if (name === "errored-delete") throw new TributaryError("X", "boom", { status: 503 });
    },
  });
  for (const n of ["deleted", "blocked-delete", "errored-delete"]) s.trickle.createChannel(n, "text/plain");
  assert.equal((await request(`${s.url}deleted`, { method: "DELETE" })).status, 200);
  assert.equal((await request(`${s.url}deleted/next`)).status, 404);
  assert.equal((await request(`${s.url}blocked-delete`, { method: "DELETE" })).status, 401);
  assert.equal((await request(`${s.url}blocked-delete/next`)).status, 200);
  assert.equal((await request(`${s.url}errored-delete`, { method: "DELETE" })).status, 500);
  assert.equal((await request(`${s.url}errored-delete/next`)).status, 200);
});

test("Delete: deleting closes the channel, later requests get 404; unknown channel → 400 Invalid stream", async () => {
  await using s = await serve({ autocreate: true });
  assert.equal((await request(`${s.url}delete-test`, { method: "POST" })).status, 200);
  assert.equal((await request(`${s.url}delete-test`, { method: "DELETE" })).status, 200);
  assert.equal((await request(`${s.url}delete-test/0`)).status, 404);
  const again = await request(`${s.url}delete-test`, { method: "DELETE" });
  assert.equal(again.status, 400);
  assert.equal(again.body, "Invalid stream\n");
});

test("Reset: a second POST to the same seq appends (HelloGoodbyWorld)", async () => {
  await using s = await serve();
  s.trickle.createChannel("testest", "text/plain");
  const ch = `${s.url}testest`;
  const first = openPost(`${ch}/0`);
  await first.write("Hello");
  const sub = openGet(`${ch}/0`);
  assert.equal(await sub.waitFor(5), "Hello");
  const second = openPost(`${ch}/0`);
  await second.write("GoodbyWorld");
  const secondRes = await second.end();
  assert.equal(secondRes.status, 200);
  assert.equal(await sub.waitFor(16), "HelloGoodbyWorld");
  await first.end();
  assert.equal(await sub.body, "HelloGoodbyWorld");
  assert.equal((await request(`${ch}/0`)).body, "HelloGoodbyWorld");
});

test("PublisherReset: reset unblocks a blocked subscriber, keeps partial bytes, writes at nextWrite", async () => {
  await using s = await serve();
  s.trickle.createChannel("testest", "text/plain");
  const ch = `${s.url}testest`;
  const old = openPost(`${ch}/0`);
  await old.write("Hello");
  const sub = openGet(`${ch}/0`);
  assert.equal(await sub.waitFor(5), "Hello");

  const reset = await request(`${ch}/-1`, {
    method: "POST",
    body: "after-reset",
    headers: { "lp-trickle-reset": "1", "content-type": "text/plain" },
  });
  assert.equal(reset.status, 200);
  assert.equal(reset.headers["lp-trickle-seq"], "1", "POST /-1 echoes the resolved seq");
  assert.equal(await sub.body, "Hello", "the blocked subscriber is released");

  assert.equal((await request(`${ch}/0`)).body, "Hello", "partial bytes stay readable");
  assert.equal((await request(`${ch}/1`)).body, "after-reset");
  await old.write("late-bytes");
  assert.equal((await old.end()).status, 200, "the old writer can still finish");
});

test("EmptySegment: a 0-byte POST gives 200 with Seq 0, Latest 1 and an empty body", async () => {
  await using s = await serve();
  s.trickle.createChannel("testest", "text/plain");
  const ch = `${s.url}testest`;
  const post = await request(`${ch}/0`, { method: "POST", body: "" });
  assert.equal(post.status, 200);
  assert.equal(post.headers["lp-trickle-seq"], "0");
  assert.equal(post.headers.connection, "close");
  const r = await request(`${ch}/0`);
  assert.equal(r.status, 200);
  assert.equal(r.headers["lp-trickle-seq"], "0");
  assert.equal(r.headers["lp-trickle-latest"], "1");
  assert.equal(r.headers["lp-trickle-closed"], undefined);
  assert.equal(r.body, "");
});

test("IdleSweep: an idle channel is swept and then answers 404; _-prefixed channels are exempt", async () => {
  await using s = await serve({ idleTimeoutMs: 1, sweepIntervalMs: 10 });
  s.trickle.createChannel("testest", "text/plain");
  s.trickle.createChannel("_internal", "text/plain");
  await eventually(async () => (await request(`${s.url}testest/-1`)).status === 404);
  assert.equal((await request(`${s.url}_internal/next`)).status, 200);
});

test("sequence numbers: -1 waits for the next segment, -2 serves the current one from byte 0", async () => {
  await using s = await serve();
  s.trickle.createChannel("seq", "video/MP2T");
  const ch = `${s.url}seq`;
  assert.equal((await request(`${ch}/next`)).body, "0");

  const next = openGet(`${ch}/-1`);
  const pub = openPost(`${ch}/0`);
  await sleep(20);
  assert.equal((await request(`${ch}/next`)).body, "0", "nextWrite does not move before the first byte");
  await pub.write("key");
  const head = await next.head;
  assert.equal(head.headers["lp-trickle-seq"], "0");
  assert.equal(head.headers["lp-trickle-latest"], undefined, "omitted when idx == latest... ");
  const nextRes = await request(`${ch}/next`);
  assert.equal(nextRes.body, "1", "nextWrite advances on the first byte");
  assert.equal(nextRes.headers["lp-trickle-latest"], "1");

  const current = openGet(`${ch}/-2`);
  assert.equal(await current.waitFor(3), "key", "-2 starts from byte 0 of the in-progress segment");
  await pub.write("frame");
  assert.equal(await current.waitFor(8), "keyframe", "then gets live chunks");
  await pub.end();
  assert.equal(await current.body, "keyframe");
  assert.equal(await next.body, "keyframe");
  assert.equal((await current.head).headers["lp-trickle-latest"], "1");
});

test("Latest is omitted on a successful GET when idx == nextWrite", async () => {
  await using s = await serve();
  s.trickle.createChannel("lat", "text/plain");
  const ch = `${s.url}lat`;
  await request(`${ch}/0`, { method: "POST", body: "a" });
  const waiting = openGet(`${ch}/1`);
  await sleep(20);
  await request(`${ch}/1`, { method: "POST", body: "b" });
  const head = await waiting.head;
  assert.equal(head.headers["lp-trickle-seq"], "1");
  assert.equal(head.headers["lp-trickle-latest"], undefined);
  assert.equal(await waiting.body, "b");
});

test("precreate grace covers nextWrite and (nextWrite 0, idx 1); anything else is 470", async () => {
  await using s = await serve();
  s.trickle.createChannel("grace", "text/plain");
  const ch = `${s.url}grace`;
  const one = openGet(`${ch}/1`);
  await eventually(() => s.trickle.getChannel("grace")!.segmentAt(1) !== undefined);
  const far = await request(`${ch}/2`);
  assert.equal(far.status, 470);
  assert.equal(far.headers["lp-trickle-latest"], "0");
  assert.equal(far.headers["lp-trickle-seq"], "2");
  assert.equal(far.body, "Entry not found");
  await request(`${ch}/0`, { method: "POST", body: "zero" });
  await request(`${ch}/1`, { method: "POST", body: "one" });
  assert.equal(await one.body, "one");
});

test("ring of 5: older segments are evicted (470 with Latest) and their memory released", async () => {
  await using s = await serve();
  s.trickle.createChannel("ring", "text/plain");
  const ch = `${s.url}ring`;
  const seg0 = () => s.trickle.getChannel("ring")!.segmentAt(0);
  await request(`${ch}/0`, { method: "POST", body: "x".repeat(1000) });
  const first = seg0()!;
  for (let i = 1; i <= 5; i++) await request(`${ch}/${i}`, { method: "POST", body: `seg ${i}` });
  assert.equal(seg0(), undefined);
  assert.ok(first.buffer.closed && first.buffer.released);
  assert.equal(first.buffer.length, 0, "evicted bytes are dropped");
  const gone = await request(`${ch}/0`);
  assert.equal(gone.status, 470);
  assert.equal(gone.headers["lp-trickle-latest"], "6");
  assert.equal((await request(`${ch}/1`)).body, "seg 1");
  assert.equal(s.trickle.getChannel("ring")!.segments().length, 5);
});

test("ring size is configurable", async () => {
  await using s = await serve({ ringSize: 2 });
  s.trickle.createChannel("r2", "text/plain");
  for (let i = 0; i < 3; i++) await request(`${s.url}r2/${i}`, { method: "POST", body: `s${i}` });
  assert.equal((await request(`${s.url}r2/0`)).status, 470);
  assert.equal((await request(`${s.url}r2/1`)).body, "s1");
});

test("a preconnected POST gets repeated 100 Continue keepalives until its first byte", async () => {
  await using s = await serve({ continueIntervalMs: 30 });
  s.trickle.createChannel("ka", "text/plain");
  const post = openPost(`${s.url}ka/0`);
  await eventually(() => post.informational.length >= 3);
  await post.write("data");
  await sleep(100);
  const count = post.informational.length;
  const res = await post.end();
  assert.equal(res.status, 200);
  assert.ok(post.informational.every((c) => c === 100));
  assert.ok(res.informational.length <= count + 1, "keepalives stop after the first byte");
  assert.equal((await request(`${s.url}ka/0`)).body, "data");
});

test("PreconnectOnEmpty: DELETE of a waiting segment releases its POST as a 0-byte write and advances the seq", async () => {
  await using s = await serve();
  s.trickle.createChannel("pe", "text/plain");
  const ch = `${s.url}pe`;
  await request(`${ch}/0`, { method: "POST", body: "hello" });
  const pre = openPost(`${ch}/1`);
  const sub = openGet(`${ch}/1`);
  await eventually(() => s.trickle.getChannel("pe")!.segmentAt(1) !== undefined);
  await sleep(20);
  const del = await request(`${ch}/1`, { method: "DELETE" });
  assert.equal(del.status, 200);
  const released = await pre.response;
  pre.abort();
  assert.equal(released.status, 200);
  assert.equal(released.headers["lp-trickle-seq"], "1");
  assert.equal(released.headers["lp-trickle-closed"], undefined);
  assert.equal(released.headers.connection, "close");
  const subHead = await sub.head;
  assert.equal(subHead.headers["lp-trickle-seq"], "1");
  assert.equal(subHead.headers["lp-trickle-latest"], "2");
  assert.equal(await sub.body, "");
  assert.equal((await request(`${ch}/next`)).body, "2");
});

test("DELETE of a segment: bad idx → 400 Invalid idx, other idx in the slot → 400 Nonexistent segment", async () => {
  await using s = await serve();
  s.trickle.createChannel("ds", "text/plain");
  const ch = `${s.url}ds`;
  for (const bad of ["-1", "-7", "abc", "1.5"]) {
    const r = await request(`${ch}/${bad}`, { method: "DELETE" });
    assert.equal(r.status, 400, bad);
    assert.equal(r.body, "Invalid idx\n");
  }
  const none = await request(`${ch}/3`, { method: "DELETE" });
  assert.equal(none.status, 400);
  assert.equal(none.body, "Nonexistent segment\n");
  assert.equal((await request(`${s.url}nochan/0`, { method: "DELETE" })).status, 404);
});

test("bad input gets clear 4xx answers and never crashes the server", async () => {
  await using s = await serve({ autocreate: true });
  s.trickle.createChannel("ok", "text/plain");
  for (const [method, path, status, body] of [
    ["GET", "ok/abc", 400, "Invalid idx\n"],
    ["GET", "ok/-3", 400, "Invalid idx\n"],
    ["POST", "ok/-2", 400, "Invalid idx\n"],
    ["POST", "ok/1e3", 400, "Invalid idx\n"],
    ["GET", "missing/0", 404, "Stream not found\n"],
    ["GET", "missing/next", 404, "Stream not found\n"],
    ["GET", "ok", 405, "Method Not Allowed\n"],
    ["PUT", "ok/0", 405, "Method Not Allowed\n"],
    ["GET", "ok/0/extra", 404, "404 page not found\n"],
    ["GET", "", 404, "404 page not found\n"],
    ["GET", "bad%2Fname/0", 400, undefined],
    ["GET", "bad%ZZ/0", 400, undefined],
    ["GET", "..", 404, undefined],
    ["POST", `${"a".repeat(257)}/0`, 400, undefined],
    ["POST", "sp%20ace/0", 400, undefined],
  ] as const) {
    const r = await request(`${s.url}${path}`, { method, body: method === "POST" ? "x" : undefined });
    assert.equal(r.status, status, `${method} ${path}`);
    if (body !== undefined) assert.equal(r.body, body, `${method} ${path}`);
    if (status === 400 && body === undefined) assert.match(r.body, /Invalid channel name/);
  }
  assert.deepEqual(s.trickle.channelNames(), ["ok"], "nothing was created by bad requests");
  assert.equal((await request(`${s.url}ok/0`, { method: "POST", body: "still fine" })).status, 200);
});

test("segments larger than maxSegmentBytes are cut with 413", async () => {
  await using s = await serve({ maxSegmentBytes: 1000 });
  s.trickle.createChannel("big", "text/plain");
  const r = await request(`${s.url}big/0`, { method: "POST", body: Buffer.alloc(5000, 1) }).catch(
    () => undefined,
  );
  if (r !== undefined) assert.equal(r.status, 413);
  const seg = s.trickle.getChannel("big")!.segmentAt(0)!;
  assert.ok(seg.buffer.closed);
  assert.ok(seg.buffer.length <= 1000);
  assert.equal((await request(`${s.url}big/1`, { method: "POST", body: "small" })).status, 200);
});

test("a publisher disconnecting mid-segment does not crash; its segment stays open until DELETE", async () => {
  await using s = await serve();
  s.trickle.createChannel("drop", "text/plain");
  const ch = `${s.url}drop`;
  const pub = openPost(`${ch}/0`);
  await pub.write("partial");
  const sub = openGet(`${ch}/0`);
  assert.equal(await sub.waitFor(7), "partial");
  pub.abort();
  await sleep(50);
  assert.equal(s.trickle.getChannel("drop")!.segmentAt(0)!.buffer.closed, false, "left open as upstream");
  assert.equal((await request(`${ch}/0`, { method: "DELETE" })).status, 200);
  assert.equal(await sub.body, "partial");
  assert.equal((await request(`${ch}/1`, { method: "POST", body: "next" })).status, 200);
});

test("a subscriber disconnecting mid-segment does not disturb the others", async () => {
  await using s = await serve();
  s.trickle.createChannel("subdrop", "text/plain");
  const ch = `${s.url}subdrop`;
  const pub = openPost(`${ch}/0`);
  await pub.write("abc");
  const a = openGet(`${ch}/0`);
  const b = openGet(`${ch}/0`);
  await a.waitFor(3);
  await b.waitFor(3);
  a.abort();
  await sleep(20);
  await pub.write("def");
  await pub.end();
  assert.equal(await b.body, "abcdef");
});

test("subscribers get the buffered prefix at once, then live chunks as they are written", async () => {
  await using s = await serve();
  s.trickle.createChannel("live", "application/octet-stream");
  const ch = `${s.url}live`;
  const pub = openPost(`${ch}/0`);
  await pub.write("prefix-");
  await eventually(() => (s.trickle.getChannel("live")?.bytes ?? 0) === 7);
  const late = openGet(`${ch}/0`);
  assert.equal(await late.waitFor(7), "prefix-");
  for (const part of ["one-", "two-", "three"]) {
    await pub.write(part);
    await late.waitFor(7 + part.length);
  }
  await pub.end();
  assert.equal(await late.body, "prefix-one-two-three");
});

test("changefeed announces added and removed channels on _changes", async () => {
  await using s = await serve({ autocreate: true, changefeed: true });
  assert.equal((await request(`${s.url}_changes/0`)).body, '{"added":["_changes"]}');
  const waiting = openGet(`${s.url}_changes/1`);
  await request(`${s.url}alpha`, { method: "POST" });
  assert.equal(await waiting.body, '{"added":["alpha"]}');
  await request(`${s.url}alpha`, { method: "DELETE" });
  const removed = await request(`${s.url}_changes/2`);
  assert.equal(removed.body, '{"removed":["alpha"]}');
  assert.equal(removed.headers["content-type"], "application/json");
  for (const [method, path] of [
    ["POST", "_changes/3"],
    ["POST", "_changes/-1"],
    ["DELETE", "_changes"],
    ["DELETE", "_changes/2"],
  ] as const) {
    const r = await request(`${s.url}${path}`, {
      method,
      body: method === "POST" ? '{"added":["fake"]}' : undefined,
    });
    assert.equal(r.status, 403, `${method} ${path}: HTTP clients cannot write the changefeed`);
  }
  assert.equal((await request(`${s.url}_changes/next`)).body, "3");
});

test("an AbortSignal closes the standalone server and its channels", async () => {
  const ac = new AbortController();
  const s = await serve({ signal: ac.signal });
  s.trickle.createChannel("sig", "text/plain");
  const waiting = openGet(`${s.url}sig/0`);
  await eventually(() => s.trickle.getChannel("sig")!.segmentAt(0) !== undefined);
  ac.abort();
  assert.equal((await waiting.head).headers["lp-trickle-closed"], "terminated");
  await eventually(() => !s.server.listening);
  assert.ok(s.trickle.closed);
});

test("close() wakes subscribers and preconnected publishers, then refuses new channels", async () => {
  const s = await serve({ autocreate: true });
  s.trickle.createChannel("c", "text/plain");
  const sub = openGet(`${s.url}c/-1`);
  const pre = openPost(`${s.url}c/0`);
  await eventually(() => s.trickle.getChannel("c")!.segmentAt(0) !== undefined);
  await sleep(20);
  await s.trickle.close();
  const head = await sub.head;
  assert.equal(head.headers["lp-trickle-closed"], "terminated");
  assert.equal((await pre.response).headers["lp-trickle-closed"], "terminated");
  pre.abort();
  assert.equal((await request(`${s.url}d/0`, { method: "POST", body: "x" })).status, 404);
  await s.close();
  await s.close();
});

test("handle() answers only under its base path, so a host server can mount it", async () => {
  const trickle = new TrickleServer({ basePath: "/ai/trickle", autocreate: true });
  const host = createServer((req, res) => {
    if (trickle.handle(req, res)) return;
    res.statusCode = 418;
    res.end("host");
  });
  await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
  try {
    assert.equal(trickle.basePath, "/ai/trickle/");
    assert.equal((await request(`${base}/ai/trickle/m1/0`, { method: "POST", body: "hi" })).status, 200);
    assert.equal((await request(`${base}/ai/trickle/m1/0?x=1`)).body, "hi");
    assert.equal((await request(`${base}/other`)).status, 418);
    assert.equal((await request(`${base}/ai/trickle`)).status, 418);
  } finally {
    await trickle.close();
    host.closeAllConnections();
    await new Promise((r) => host.close(r));
  }
});

test("a channel name must be a single sane path segment", async () => {
  const { channelNameProblem } = await import("./server.ts");
  for (const ok of ["abc", "a1b2-out", "_changes", "f00d-1-in", "runner-0123456789abcdef-events", "a.b~c"]) {
    assert.equal(channelNameProblem(ok), undefined, ok);
  }
  for (const bad of ["", ".", "..", "a/b", "a b", "a?b", "é", "x".repeat(257)]) {
    assert.ok(channelNameProblem(bad), bad);
  }
});

test("an unclosed TrickleServer does not keep the process alive (its sweeper is unref'd)", async () => {
  const { spawnSync } = await import("node:child_process");
  const serverUrl = new URL("./server.ts", import.meta.url).href;
  const r = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const m = await import(${JSON.stringify(serverUrl)}); new m.TrickleServer();`,
    ],
    { timeout: 20_000 },
  );
  assert.equal(r.status, 0, String(r.stderr));
});

test("a POST refused with 404 while its body is still being sent: the client still reads the 404", async () => {
  await using s = await serve({ autocreate: false });
  const { port, hostname } = new URL(s.url);
  const socket = connect(Number(port), hostname);
  let received = "";
  let error = "";
  socket.on("error", (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message;
  });
  try {
    await once(socket, "connect");
    socket.pause();
    socket.write(
      `POST /missing/0 HTTP/1.1\r\nHost: ${hostname}:${port}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    await sleep(150);
    socket.write("5\r\nhello\r\n");
    await sleep(50);
    socket.write("5\r\nhello\r\n0\r\n\r\n");
    await sleep(150);
    socket.on("data", (d: Buffer) => {
      received += d.toString("latin1");
    });
    socket.resume();
    await eventually(() => received.includes("Stream not found") || error !== "", 3000).catch(() => {});
    assert.equal(received.split("\r\n")[0], "HTTP/1.1 404 Not Found", `got: ${received || error}`);
    assert.match(received, /connection: close/i);
  } finally {
    socket.destroy();
  }
});
