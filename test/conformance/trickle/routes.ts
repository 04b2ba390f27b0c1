/**
 * Trickle conformance cases: Channel create and the 404 contracts, publishing and reading back with each start position, and
 * the answers for missing segments (docs/spec/trickle.md#routes, #sequence-numbers, #subscribe-lifecycle;
 * docs/spec/upstream-quirks.md#precreate-grace, #ring-of-five).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { readText } from "../../../src/trickle/http-client.ts";
import { until } from "../../until.ts";
import { enc, nextChunk, restText, SETTLE_MS, type TrickleSuite, uniqueChannel, WAIT_MS } from "./kit.ts";

/** Registers this area's cases for `suite` (inside its describe). */
export function routeCases(suite: TrickleSuite): void {
  // ---- channel create and 404 contracts (docs/spec/trickle.md#routes, #behaviours-the-conformance-suite-checks: CreateContract / Delete) ---------------------

  test("POST {ch} creates a channel with autocreate on; its Expect-Content is the GET Content-Type", async (t) => {
    if (!suite.feature("channelCreate")) return t.skip("target has no POST {ch}");
    const ch = uniqueChannel();
    const created = await suite.raw.req("POST", ch, { headers: { "expect-content": "application/json" } });
    assert.equal(created.status, 200);
    assert.equal(
      (await suite.raw.req("POST", ch, { headers: { "expect-content": "application/json" } })).status,
      200,
    );
    assert.equal((await suite.raw.publish(ch, 0, '{"a":1}', { "content-type": "text/plain" })).status, 200);
    const got = await suite.raw.req("GET", `${ch}/0`);
    assert.equal(got.status, 200);
    assert.equal(got.text, '{"a":1}');
    assert.match(got.headers.get("content-type") ?? "", /^application\/json/);
  });

  test("the first POST of a segment auto-creates the channel with the POST's Content-Type", async () => {
    const ch = uniqueChannel();
    const res = await suite.raw.publish(ch, 0, "hello", { "content-type": "video/MP2T" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("lp-trickle-seq"), "0");
    const got = await suite.raw.req("GET", `${ch}/0`);
    assert.equal(got.text, "hello");
    assert.equal(got.headers.get("content-type"), "video/MP2T");
    assert.equal(got.headers.get("lp-trickle-seq"), "0");
    // Later POSTs do not change the channel's MIME type.
    await suite.raw.publish(ch, 1, "again", { "content-type": "text/plain" });
    assert.equal((await suite.raw.req("GET", `${ch}/1`)).headers.get("content-type"), "video/MP2T");
  });

  test("with autocreate off, POST {ch} and POST {ch}/0 answer 404 and create nothing", async (t) => {
    if (!suite.can("autocreate")) return t.skip(suite.why("autocreate"));
    const r = await suite.startWith({ autocreate: false });
    const ch = uniqueChannel();
    if (suite.feature("channelCreate")) assert.equal((await r.req("POST", ch)).status, 404);
    const post = await r.publish(ch, 0, "x");
    assert.equal(post.status, 404);
    if (!r.instance.client?.http2) assert.equal(post.headers.get("connection"), "close");
    assert.equal((await r.req("GET", `${ch}/0`)).status, 404);
    if (r.instance.createChannel) {
      await r.instance.createChannel(ch, "text/plain");
      if (suite.feature("channelCreate"))
        assert.equal((await r.req("POST", ch)).status, 200, "existing channel");
      assert.equal((await r.publish(ch, 0, "now")).status, 200);
      assert.equal((await r.req("GET", `${ch}/0`)).text, "now");
    }
  });

  test("an unknown channel: GET, DELETE {ch}/{seq} and /next answer 404; DELETE {ch} answers 400", async () => {
    const ch = uniqueChannel();
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).status, 404);
    assert.equal((await suite.raw.req("GET", `${ch}/-1`)).status, 404);
    assert.equal((await suite.raw.req("DELETE", `${ch}/0`)).status, 404);
    if (suite.feature("next")) assert.equal((await suite.raw.req("GET", `${ch}/next`)).status, 404);
    assert.equal((await suite.raw.req("DELETE", ch)).status, 400);
    // GET never creates a channel, even with autocreate on.
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).status, 404);
  });

  test("DELETE {ch} closes the channel; later GET and /next answer 404", async () => {
    const ch = uniqueChannel();
    assert.equal((await suite.raw.publish(ch, 0, "a")).status, 200);
    assert.equal((await suite.raw.req("DELETE", ch)).status, 200);
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).status, 404);
    if (suite.feature("next")) assert.equal((await suite.raw.req("GET", `${ch}/next`)).status, 404);
    assert.equal((await suite.raw.req("DELETE", ch)).status, 400);
  });

  // ---- publish, read back, starts (docs/spec/trickle.md#sequence-numbers, #subscribe-lifecycle) ---------------------------------------------------

  test("segments publish and read back with Lp-Trickle-Seq and Latest = next write seq", async () => {
    const ch = uniqueChannel();
    for (const [i, s] of ["zero", "one", "two"].entries()) {
      const r = await suite.raw.publish(ch, i, s);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("lp-trickle-seq"), String(i));
    }
    for (const [i, s] of ["zero", "one", "two"].entries()) {
      const g = await suite.raw.req("GET", `${ch}/${i}`);
      assert.equal(g.status, 200);
      assert.equal(g.text, s);
      assert.equal(g.headers.get("lp-trickle-seq"), String(i));
      assert.equal(g.headers.get("lp-trickle-latest"), "3");
      assert.equal(g.headers.get("lp-trickle-closed"), null);
    }
  });

  test("POST -1 writes at the next write seq and echoes it in Lp-Trickle-Seq", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    await suite.raw.publish(ch, 1, "b");
    const r = await suite.raw.publish(ch, -1, "c");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("lp-trickle-seq"), "2");
    assert.equal((await suite.raw.req("GET", `${ch}/2`)).text, "c");
  });

  test("GET -2 serves the segment being written from byte 0", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "done");
    const p = suite.raw.post(`${ch}/1`);
    await p.write(enc("key"), 5000);
    await until(
      "Lp-Trickle-Latest 2",
      async () => (await suite.raw.req("GET", `${ch}/0`)).headers.get("lp-trickle-latest") === "2",
      WAIT_MS,
    );
    const get = suite.raw.open("GET", `${ch}/-2`);
    const res = await get.response;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("lp-trickle-seq"), "1");
    assert.equal(res.headers.get("lp-trickle-latest"), "2");
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "key");
    await p.write(enc("frame"), 5000);
    p.end();
    assert.equal((await p.response).status, 200);
    assert.equal(await restText(it), "frame");
  });

  test("GET -2 on a channel with nothing written waits for segment 0", async (t) => {
    if (!suite.feature("channelCreate")) return t.skip("target has no POST {ch} to make an empty channel");
    const ch = uniqueChannel();
    assert.equal(
      (await suite.raw.req("POST", ch, { headers: { "expect-content": "text/plain" } })).status,
      200,
    );
    const get = suite.raw.open("GET", `${ch}/-2`);
    await sleep(SETTLE_MS);
    await suite.raw.publish(ch, 0, "first");
    const res = await get.response;
    assert.equal(res.headers.get("lp-trickle-seq"), "0");
    assert.equal(await readText(res.body), "first");
  });

  test("GET -1 waits for the next segment to start and serves it", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "old");
    const get = suite.raw.open("GET", `${ch}/-1`);
    await sleep(SETTLE_MS);
    await suite.raw.publish(ch, 1, "new");
    const res = await get.response;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("lp-trickle-seq"), "1");
    assert.equal(await readText(res.body), "new");
  });

  test("Latest is omitted when the served segment is the next write seq (a GET that waited for it)", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    const get = suite.raw.open("GET", `${ch}/1`);
    await sleep(SETTLE_MS);
    await suite.raw.publish(ch, 1, "b");
    const res = await get.response;
    assert.equal(res.headers.get("lp-trickle-seq"), "1");
    assert.equal(res.headers.get("lp-trickle-latest"), null);
    assert.equal(await readText(res.body), "b");
  });

  test("a subscriber receives bytes while the publisher is still writing the segment", async () => {
    const ch = uniqueChannel();
    const p = suite.raw.post(`${ch}/0`);
    await p.write(enc("part1"), 5000);
    await suite.started(ch, 0);
    const res = await suite.raw.open("GET", `${ch}/0`).response;
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "part1");
    assert.equal(p.responded, false, "the POST is still open");
    await p.write(enc("part2"), 5000);
    assert.equal(await nextChunk(it), "part2");
    p.end();
    assert.equal((await p.response).status, 200);
    assert.equal(await restText(it), "");
  });

  // ---- missing segments (docs/spec/trickle.md#subscribe-lifecycle; docs/spec/upstream-quirks.md#precreate-grace, #ring-of-five) -----------------------------------------------------

  test("470 with Latest and Seq for a segment evicted from the 5-slot ring", async () => {
    const ch = uniqueChannel();
    for (let i = 0; i < 7; i++) await suite.raw.publish(ch, i, `s${i}`);
    const old = await suite.raw.req("GET", `${ch}/1`);
    assert.equal(old.status, 470);
    assert.equal(old.headers.get("lp-trickle-latest"), "7");
    assert.equal(old.headers.get("lp-trickle-seq"), "1");
    assert.match(old.text, /Entry not found/);
    assert.equal((await suite.raw.req("GET", `${ch}/2`)).text, "s2", "the last 5 segments stay readable");
  });

  test("470 for a segment too far ahead; the precreate grace covers nextWrite and (0, 1) only", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "zero"); // nextWrite = 1
    for (const seq of [2, 9]) {
      const ahead = await suite.raw.req("GET", `${ch}/${seq}`);
      assert.equal(ahead.status, 470, `GET ${seq}`);
      assert.equal(ahead.headers.get("lp-trickle-latest"), "1");
      assert.equal(ahead.headers.get("lp-trickle-seq"), String(seq));
      assert.equal(ahead.headers.get("lp-trickle-closed"), null);
    }
    if (suite.feature("channelCreate")) {
      const fresh = uniqueChannel();
      assert.equal(
        (await suite.raw.req("POST", fresh, { headers: { "expect-content": "text/plain" } })).status,
        200,
      );
      // nextWrite == 0: seq 1 is in the grace, seq 2 is not.
      assert.equal((await suite.raw.req("GET", `${fresh}/2`)).status, 470);
      const waiting = suite.raw.open("GET", `${fresh}/1`);
      await sleep(SETTLE_MS);
      assert.equal(waiting.responded, false, "GET 1 on an empty channel waits");
      await suite.raw.publish(fresh, 0, "zero");
      await suite.raw.publish(fresh, 1, "one");
      assert.equal(await readText((await waiting.response).body), "one");
    }
  });

  test("an empty segment: 200, Seq 0, Latest 1, no Closed, empty body (TestTrickle_EmptySegment)", async () => {
    const ch = uniqueChannel();
    const p = suite.raw.post(`${ch}/0`);
    p.end();
    const r = await p.response;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("lp-trickle-seq"), "0");
    await readText(r.body);
    const g = await suite.raw.req("GET", `${ch}/0`);
    assert.equal(g.status, 200);
    assert.equal(g.headers.get("lp-trickle-seq"), "0");
    assert.equal(g.headers.get("lp-trickle-latest"), "1");
    assert.equal(g.headers.get("lp-trickle-closed"), null);
    assert.equal(g.text, "");
  });
}
