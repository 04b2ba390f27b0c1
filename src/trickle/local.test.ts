import assert from "node:assert/strict";
import { test } from "node:test";
import { TrickleSegmentExistsError, TrickleSegmentNotFoundError } from "./channel.ts";
import { TrickleEndOfStreamError, TrickleStreamNotFoundError } from "./client-errors.ts";
import { LocalPublisher, LocalSubscriber } from "./local.ts";
import { startTrickleServer, TrickleServer } from "./server.ts";
import { openPost, request, sleep } from "./test-util.ts";

test("LocalPublisher CreateContract: without autocreate a write needs createChannel first", async () => {
  await using server = new TrickleServer();
  const missing = new LocalPublisher(server, "missing", "text/plain");
  await assert.rejects(missing.write(Buffer.from("hello")), TrickleStreamNotFoundError);
  assert.equal(server.getChannel("missing"), undefined);

  const created = new LocalPublisher(server, "created", "text/plain");
  created.createChannel();
  assert.equal(await created.write(Buffer.from("hello")), 5);

  await using auto = new TrickleServer({ autocreate: true });
  await new LocalPublisher(auto, "autocreated", "text/plain").write(Buffer.from("hello"));
  assert.ok(auto.getChannel("autocreated"));
});

test("LocalPublisher writes from seq 0, advances nextWrite on the first byte and precreates seq+1", async () => {
  await using server = new TrickleServer();
  const pub = new LocalPublisher(server, "lp", "text/plain");
  const channel = pub.createChannel();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  async function* body() {
    yield Buffer.from("first ");
    await gate;
    yield Buffer.from("bytes");
  }
  const writing = pub.write(body());
  await sleep(5);
  assert.equal(channel.nextWrite, 1, "advanced on the first byte, before the segment completes");
  assert.ok(channel.segmentAt(1)?.fresh, "seq+1 is precreated");
  release();
  assert.equal(await writing, 11);
  const sub = new LocalSubscriber(server, "lp", { start: 0 });
  assert.equal(await sub.read().text(), "first bytes");
});

test("LocalPublisher refuses a seq that another writer already filled", async () => {
  await using s = await startTrickleServer({ port: 0 });
  const pub = new LocalPublisher(s.trickle, "clash", "text/plain");
  pub.createChannel();
  await request(`${s.url}clash/0`, { method: "POST", body: "someone else" });
  await assert.rejects(pub.write(Buffer.from("mine")), TrickleSegmentExistsError);
});

test("LocalPublisher abort closes the segment with what was written and rejects", async () => {
  await using server = new TrickleServer();
  const pub = new LocalPublisher(server, "ab", "text/plain");
  pub.createChannel();
  const ac = new AbortController();
  async function* body() {
    yield Buffer.from("part");
    ac.abort(new Error("stop"));
    yield Buffer.from("never");
  }
  await assert.rejects(pub.write(body(), { signal: ac.signal }), /stop/);
  const seg = server.getChannel("ab")!.segmentAt(0)!;
  assert.ok(seg.buffer.closed);
  assert.equal(seg.buffer.length, 4);
});

test("SetSeq: a local subscriber reads from the seq it is set to", async () => {
  await using server = new TrickleServer();
  const pub = new LocalPublisher(server, "ss", "text/plain");
  pub.createChannel();
  const segs = ["first", "second", "third", "fourth"];
  for (const text of segs) await pub.write(Buffer.from(text));
  const sub = new LocalSubscriber(server, "ss");
  for (let i = 0; i < segs.length; i++) {
    sub.setSeq(i);
    for (let j = i; j < segs.length; j++) assert.equal(await sub.read().text(), segs[j]);
  }
  for (let j = segs.length - 1; j >= 0; j--) {
    sub.setSeq(j);
    const seg = sub.read();
    assert.equal(seg.seq, j);
    assert.equal(seg.latest, 4);
    assert.equal(seg.mimeType, "text/plain");
    assert.equal(await seg.text(), segs[j]);
  }
});

test("OverrunSeq: a subscriber that falls out of the ring gets 'seq not found' and recovers with -2/-1", async () => {
  await using s = await startTrickleServer({ port: 0 });
  s.trickle.createChannel("testest", "text/plain");
  const post = (text: string) => request(`${s.url}testest/-1`, { method: "POST", body: text });
  for (let i = 0; i < 6; i++) await post(`write ${i}`);
  const sub = new LocalSubscriber(s.trickle, "testest");
  const next = sub.read();
  await post("abc");
  await post("def");
  assert.equal(await next.text(), "abc");
  assert.equal(await sub.read().text(), "def");
  for (let i = 0; i < 6; i++) await post(`next write ${i}`);
  assert.throws(() => sub.read(), TrickleSegmentNotFoundError);
  sub.setSeq(-2);
  assert.equal(await sub.read().text(), "next write 5");
  await post("ghi");
  assert.equal(await sub.read().text(), "ghi");
  sub.setSeq(-1);
  const pending = sub.read();
  await post("jkl");
  await post("mno");
  assert.equal(await pending.text(), "jkl");
  assert.equal(await sub.read().text(), "mno");
});

test("PreconnectOnEmpty: the seq advances on 0-byte writes; a closed preconnect completes as an empty segment", async () => {
  await using s = await startTrickleServer({ port: 0 });
  s.trickle.createChannel("testest", "text/plain");
  const sub = new LocalSubscriber(s.trickle, "testest");
  const writer = (async () => {
    await request(`${s.url}testest/0`, { method: "POST", body: "hello" });
    const pre = openPost(`${s.url}testest/1`);
    await sleep(30);
    await request(`${s.url}testest`, { method: "DELETE" });
    await pre.response;
    pre.abort();
  })();
  const sizes: number[] = [];
  for (let i = 0; ; i++) {
    sub.setSeq(-1);
    let seg: ReturnType<LocalSubscriber["read"]>;
    try {
      seg = sub.read();
    } catch (err) {
      assert.ok(err instanceof TrickleStreamNotFoundError, String(err));
      break;
    }
    assert.equal(seg.seq, i);
    sizes.push((await seg.bytes()).length);
  }
  await writer;
  assert.deepEqual(sizes, [5, 0]);
});

test("a closed channel gives EOS to a local subscriber; iteration ends on EOS", async () => {
  await using server = new TrickleServer();
  const pub = new LocalPublisher(server, "eos", "text/plain");
  const channel = pub.createChannel();
  await pub.write(Buffer.from("a"));
  await pub.write(Buffer.from("b"));
  const sub = new LocalSubscriber(server, "eos", { start: 0 });
  const seen: string[] = [];
  const reading = (async () => {
    for await (const seg of sub) seen.push(await seg.text());
  })();
  await sleep(10);
  channel.close();
  await reading;
  assert.deepEqual(seen, ["a", "b", ""]);
  const late = new LocalSubscriber(server, "eos", { start: 5 });
  // the channel object is closed but still registered (closed directly, not deleted): EOS
  assert.throws(() => late.read(), TrickleEndOfStreamError);
});

test("a local subscriber's AbortSignal unblocks a waiting read", async () => {
  await using server = new TrickleServer();
  server.createChannel("wait", "text/plain");
  const ac = new AbortController();
  const sub = new LocalSubscriber(server, "wait", { signal: ac.signal });
  const seg = sub.read();
  const reading = seg.bytes();
  setTimeout(() => ac.abort(new Error("cancelled")), 10);
  await assert.rejects(reading, /cancelled/);
  assert.throws(() => sub.setSeq(-3), RangeError);
});
