/**
 * Subscribers at the head of a channel that is deleted get `Lp-Trickle-Closed` (end of stream), not a
 * 404, whether their GET was waiting when the delete came or arrives just after it: a reader that was
 * in the middle of the last segment asks for the next one after the delete, which is the usual case
 * (the race that gave 404 in most runs). Deterministic: each step waits for the previous one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalPublisher } from "./local.ts";
import { startTrickleServer } from "./server.ts";
import { eventually, openGet, openPost, request } from "./test-util.ts";

test("a reader mid-segment when the channel is deleted gets Lp-Trickle-Closed for the next seq, not 404", async () => {
  await using s = await startTrickleServer({ port: 0 });
  const ch = `${s.url}deleted-mid-read`;
  new LocalPublisher(s.trickle, "deleted-mid-read", "video/mp2t").createChannel();
  const pub = openPost(`${ch}/0`);
  await pub.write("first bytes");
  const sub = openGet(`${ch}/0`);
  assert.equal((await sub.head).status, 200);
  assert.equal(await sub.waitFor(11), "first bytes");
  const del = await request(ch, { method: "DELETE" });
  assert.equal(del.status, 200);
  assert.equal(await sub.body, "first bytes", "the segment's response ends with what was written");
  pub.abort();
  // The subscriber's next GET: the head of the deleted channel.
  for (const seq of ["1", "-1"]) {
    const next = await request(`${ch}/${seq}`);
    assert.equal(next.status, 200, `GET ${seq}: ${next.status} ${next.body}`);
    assert.equal(next.headers["lp-trickle-closed"], "terminated");
    assert.equal(next.headers["lp-trickle-seq"], "1");
    assert.equal(next.body, "");
  }
});

test("a subscriber waiting at the head when the channel is deleted gets Lp-Trickle-Closed", async () => {
  await using s = await startTrickleServer({ port: 0 });
  const ch = `${s.url}deleted-waiting`;
  const channel = new LocalPublisher(s.trickle, "deleted-waiting", "video/mp2t").createChannel();
  assert.equal((await request(`${ch}/0`, { method: "POST", body: "seg0" })).status, 200);
  const sub = openGet(`${ch}/1`);
  await eventually(() => channel.segmentAt(1) !== undefined);
  assert.equal((await request(ch, { method: "DELETE" })).status, 200);
  const head = await sub.head;
  assert.equal(head.status, 200);
  assert.equal(head.headers["lp-trickle-closed"], "terminated");
  assert.equal(await sub.body, "");
});

test("other requests to a deleted channel stay 404; a re-created channel serves its head normally", async () => {
  await using s = await startTrickleServer({ port: 0 });
  const ch = `${s.url}deleted-other`;
  new LocalPublisher(s.trickle, "deleted-other", "text/plain").createChannel();
  assert.equal((await request(`${ch}/0`, { method: "POST", body: "a" })).status, 200);
  assert.equal((await request(ch, { method: "DELETE" })).status, 200);
  assert.equal((await request(`${ch}/5`)).status, 404, "not the head");
  assert.equal((await request(`${ch}/0`)).status, 404, "an old segment");
  assert.equal((await request(`${ch}/1`, { method: "POST", body: "b" })).status, 404, "publishers get 404");
  assert.equal((await request(`${ch}/next`)).status, 404);
  // A channel deleted before any segment has no head to end: 404, as before.
  new LocalPublisher(s.trickle, "never-written", "text/plain").createChannel();
  assert.equal((await request(`${s.url}never-written`, { method: "DELETE" })).status, 200);
  assert.equal((await request(`${s.url}never-written/0`)).status, 404);
  // Created again, the old head is forgotten: deleted again before any segment, its seq 1 is a 404.
  new LocalPublisher(s.trickle, "deleted-other", "text/plain").createChannel();
  assert.equal((await request(ch, { method: "DELETE" })).status, 200);
  assert.equal((await request(`${ch}/1`)).status, 404);
});
