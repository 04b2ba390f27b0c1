/**
 * Trickle conformance cases: A channel's and a segment's lifecycle over raw HTTP: close and end of stream, Reset and append,
 * `/next`, and the 100 Continue keepalives of a waiting POST (docs/spec/trickle.md#headers,
 * #publish-lifecycle, #subscribe-lifecycle; docs/spec/upstream-quirks.md#end-of-stream-with-status-200,
 * #repeated-100-continue).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { readText } from "../../../src/trickle/http-client.ts";
import { TricklePublisher } from "../../../src/trickle/publisher.ts";
import { until } from "../../until.ts";
import { enc, nextChunk, restText, SETTLE_MS, type TrickleSuite, uniqueChannel, WAIT_MS } from "./kit.ts";

/** Registers this area's cases for `suite` (inside its describe). */
export function lifecycleCases(suite: TrickleSuite): void {
  // ---- close and end of stream (docs/spec/trickle.md#headers, #subscribe-lifecycle; docs/spec/upstream-quirks.md#end-of-stream-with-status-200) ---------------------------------------------------

  test("closing the channel answers waiting GETs and preconnected POSTs with 200 + Lp-Trickle-Closed", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    const waitingGet = suite.raw.open("GET", `${ch}/1`);
    const preconnect = suite.raw.post(`${ch}/1`);
    await sleep(SETTLE_MS);
    assert.equal((await suite.raw.req("DELETE", ch)).status, 200);
    const g = await waitingGet.response;
    assert.equal(g.headers.get("lp-trickle-closed"), "terminated");
    assert.equal(g.status, 200);
    assert.equal(await readText(g.body), "");
    const p = await preconnect.response;
    assert.equal(p.headers.get("lp-trickle-closed"), "terminated");
    assert.equal(p.status, 200);
    assert.equal(p.headers.get("lp-trickle-seq"), "1");
    if (!suite.inst.client?.http2)
      assert.equal(p.headers.get("connection"), "close", "wakes HTTP/1.1 clients");
    p.discard();
  });

  test("DELETE {ch}/{seq} closes one segment: its waiting subscriber ends with the partial bytes", async () => {
    const ch = uniqueChannel();
    const p = suite.raw.post(`${ch}/0`);
    await p.write(enc("partial"), 5000);
    await suite.started(ch, 0);
    const res = await suite.raw.open("GET", `${ch}/0`).response;
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "partial");
    assert.equal((await suite.raw.req("DELETE", `${ch}/0`)).status, 200);
    assert.equal(await restText(it), "");
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "partial");
    p.abort();
    assert.equal((await suite.raw.req("DELETE", `${ch}/3`)).status, 400, "nonexistent segment");
  });

  // ---- Reset and append (docs/spec/trickle.md#headers, #publish-lifecycle; Reset / PublisherReset) ---------------------------------------

  test("Lp-Trickle-Reset unblocks subscribers of older segments, keeps their bytes, writes at nextWrite", async (t) => {
    if (!suite.feature("reset")) return t.skip("target has no Lp-Trickle-Reset");
    const ch = uniqueChannel();
    const p0 = suite.raw.post(`${ch}/0`);
    await p0.write(enc("Hello"), 5000);
    await suite.started(ch, 0);
    const res = await suite.raw.open("GET", `${ch}/0`).response;
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "Hello");
    // A subscriber already waiting at the reset's target seq (nextWrite) is not released by it.
    const waitingAtTarget = suite.raw.open("GET", `${ch}/1`);
    await sleep(SETTLE_MS);
    const reset = await suite.raw.publish(ch, -1, "after-reset", { "lp-trickle-reset": "true" });
    assert.equal(reset.status, 200);
    assert.equal(reset.headers.get("lp-trickle-seq"), "1");
    assert.equal(await restText(it), "", "the blocked reader of segment 0 is released");
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "Hello");
    assert.equal((await suite.raw.req("GET", `${ch}/1`)).text, "after-reset");
    assert.equal(await readText((await waitingAtTarget.response).body), "after-reset");
    p0.abort();
  });

  test("a second POST to the same seq appends to it (TestTrickle_Reset: HelloGoodbyWorld)", async () => {
    const ch = uniqueChannel();
    const a = suite.raw.post(`${ch}/0`);
    await a.write(enc("Hello"), 5000);
    await suite.started(ch, 0);
    const res = await suite.raw.open("GET", `${ch}/0`).response;
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "Hello");
    const b = suite.raw.post(`${ch}/0`);
    await b.write(enc("GoodbyWorld"), 5000);
    assert.equal(await nextChunk(it), "GoodbyWorld");
    b.end();
    a.end();
    assert.equal((await b.response).status, 200);
    assert.equal((await a.response).status, 200);
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "HelloGoodbyWorld");
  });

  // ---- /next (docs/spec/trickle.md#routes) -------------------------------------------------------------------------------

  test("GET {ch}/next returns the next write seq as text and in Lp-Trickle-Latest", async (t) => {
    if (!suite.feature("next")) return t.skip("target has no /next");
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    await suite.raw.publish(ch, 1, "b");
    const n = await suite.raw.req("GET", `${ch}/next`);
    assert.equal(n.status, 200);
    assert.equal(n.text.trim(), "2");
    assert.equal(n.headers.get("lp-trickle-latest"), "2");
    assert.equal(n.headers.get("lp-trickle-closed"), null);
    // nextWrite moves on the first byte of a segment, before it completes (docs/spec/trickle.md#sequence-numbers).
    const p = suite.raw.post(`${ch}/2`);
    await p.write(enc("x"), 5000);
    await until(
      "next 3",
      async () => (await suite.raw.req("GET", `${ch}/next`)).text.trim() === "3",
      WAIT_MS,
    );
    p.end();
    await p.response;
  });

  test("seq advances on 0-byte writes; a preconnect ended without data is an empty segment", async (t) => {
    if (!suite.feature("next")) return t.skip("target has no /next");
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    const pre = suite.raw.post(`${ch}/1`);
    await sleep(SETTLE_MS);
    pre.end();
    assert.equal((await pre.response).headers.get("lp-trickle-seq"), "1");
    assert.equal((await suite.raw.req("GET", `${ch}/next`)).text.trim(), "2");
    const g = await suite.raw.req("GET", `${ch}/1`);
    assert.equal(g.status, 200);
    assert.equal(g.text, "");
  });

  // ---- keepalives (docs/spec/trickle.md#publish-lifecycle; docs/spec/upstream-quirks.md#repeated-100-continue) ------------------------------------------------------------------

  test("a POST waiting for its first byte gets repeated 100 Continue keepalives, then completes", async (t) => {
    if (!suite.can("continueInterval")) {
      return t.skip(`${suite.why("the 100 Continue interval")}; the default 10 s is too slow for this suite`);
    }
    const r = await suite.startWith({ autocreate: true, continueIntervalMs: 50 });
    const ch = uniqueChannel();
    let interim = 0;
    const p = r.post(`${ch}/0`, {}, (status) => {
      if (status === 100) interim++;
    });
    await until("two interim 100 responses", () => interim >= 2, WAIT_MS);
    await p.write(enc("late"), 5000);
    p.end();
    const res = await p.response;
    assert.equal(res.status, 200);
    res.discard();
    assert.equal((await r.req("GET", `${ch}/0`)).text, "late");
    // Our publisher tolerates the same keepalives.
    await using pub = new TricklePublisher(r.url(uniqueChannel()), r.clientOptions);
    const w = await pub.next();
    await sleep(200);
    await w.write(enc("x"));
    assert.equal((await w.end()).seq, 0);
  });
}
