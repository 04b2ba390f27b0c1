/**
 * Trickle conformance cases: Bad input and robustness: malformed seqs and names answer 4xx, clients that go away mid-segment
 * leave the server healthy, large segments round-trip intact (docs/spec/trickle.md#routes,
 * #publish-lifecycle; docs/spec/upstream-quirks.md#channel-names, #negative-sequence-numbers).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { readBytes } from "../../../src/trickle/http-client.ts";
import { enc, nextChunk, Raw, SETTLE_MS, type TrickleSuite, uniqueChannel } from "./kit.ts";

/** Registers this area's cases for `suite` (inside its describe). */
export function badInputCases(suite: TrickleSuite): void {
  // ---- bad input (docs/spec/trickle.md#routes; docs/spec/upstream-quirks.md#channel-names, #negative-sequence-numbers) ----------------------------------------------------------

  test("a non-integer or out-of-range seq answers 400", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    for (const bad of ["abc", "1.5", "0x1", "1e3", "99999999999999999999"]) {
      assert.equal((await suite.raw.req("GET", `${ch}/${bad}`)).status, 400, `GET ${bad}`);
      assert.equal((await suite.raw.publish(ch, bad, "x")).status, 400, `POST ${bad}`);
      assert.equal((await suite.raw.req("DELETE", `${ch}/${bad}`)).status, 400, `DELETE ${bad}`);
    }
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "a", "the server is still healthy");
  });

  test("DELETE {ch}/{negative seq} answers 400", async (t) => {
    if (suite.inst.features?.safeNegativeDelete === false) {
      return t.skip(
        "the target panics on a negative DELETE idx (go-livepeer, docs/spec/upstream-quirks.md#negative-sequence-numbers)",
      );
    }
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    assert.equal((await suite.raw.req("DELETE", `${ch}/-1`)).status, 400);
    assert.equal((await suite.raw.req("DELETE", `${ch}/-2`)).status, 400);
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "a", "the server is still healthy");
  });

  test("paths outside the routes answer 4xx", async () => {
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "a");
    const extraSeg = await suite.raw.req("GET", `${ch}/0/extra`);
    assert.ok(extraSeg.status >= 400 && extraSeg.status < 500, `extra segment: ${extraSeg.status}`);
    const badMethod = await suite.raw.req("PUT", `${ch}/0`, { body: "x" });
    assert.ok(badMethod.status >= 400 && badMethod.status < 500, `PUT: ${badMethod.status}`);
  });

  test("odd channel names answer 4xx", async (t) => {
    if (suite.inst.features?.strictChannelNames === false)
      return t.skip("target accepts any path segment as a name");
    for (const name of ["a%2Fb", "a%00b", "x".repeat(300), "a%20b", "a%3Fb"]) {
      const r = await suite.raw.publish(name, 0, "x");
      assert.ok(r.status >= 400 && r.status < 500, `${name.slice(0, 12)}: ${r.status}`);
    }
  });

  // ---- robustness -------------------------------------------------------------------------------

  test("clients disconnecting mid-segment leave the server healthy", async () => {
    const ch = uniqueChannel();
    const p = suite.raw.post(`${ch}/0`);
    await p.write(enc("half"), 5000);
    await suite.started(ch, 0);
    const res = await suite.raw.open("GET", `${ch}/0`).response;
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "half");
    res.discard(); // the reader goes away mid-segment
    p.abort(); // and so does the writer
    await sleep(SETTLE_MS);
    // The failed segment stays open until closed (docs/spec/trickle.md#publish-lifecycle step 7): DELETE it, then it reads back partial.
    assert.equal((await suite.raw.req("DELETE", `${ch}/0`)).status, 200);
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "half");
    const next = await suite.raw.publish(ch, 1, "whole");
    assert.equal(next.status, 200);
    assert.equal((await suite.raw.req("GET", `${ch}/1`)).text, "whole");
    const other = uniqueChannel();
    assert.equal((await suite.raw.publish(other, 0, "ok")).status, 200);
  });

  test("a client whose connection drops mid-POST and mid-GET leaves the server healthy", async () => {
    const ch = uniqueChannel();
    const dropper = new Raw(suite.inst);
    const p = dropper.post(`${ch}/0`);
    await p.write(enc("half"), 5000);
    await suite.started(ch, 0, dropper);
    const res = await dropper.open("GET", `${ch}/0`).response;
    assert.equal(await nextChunk(res.body[Symbol.asyncIterator]()), "half");
    dropper.close(); // every connection of this client is destroyed, the POST body still open
    await sleep(SETTLE_MS);
    assert.equal((await suite.raw.req("DELETE", `${ch}/0`)).status, 200);
    assert.equal((await suite.raw.req("GET", `${ch}/0`)).text, "half");
    assert.equal((await suite.raw.publish(ch, 1, "whole")).status, 200);
    assert.equal((await suite.raw.req("GET", `${ch}/1`)).text, "whole");
  });

  test("large segments round-trip intact across buffer pages, read whole and while growing", async () => {
    const ch = uniqueChannel();
    const total = 3 * 1024 * 1024 + 12345;
    const data = new Uint8Array(total);
    for (let i = 0; i < total; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
    const p = suite.raw.post(`${ch}/0`);
    await p.write(data.subarray(0, 1000), 5000);
    await suite.started(ch, 0);
    const live = suite.raw.open("GET", `${ch}/0`);
    const liveBytes = (async () => readBytes((await live.response).body))();
    // Odd chunk sizes straddle the 32 KiB .. 1 MiB page boundaries.
    let off = 1000;
    let step = 7777;
    while (off < total) {
      const end = Math.min(total, off + step);
      await p.write(data.subarray(off, end), 5000);
      off = end;
      step = (step * 3) % 400_000 || 1;
    }
    p.end();
    assert.equal((await p.response).status, 200);
    assert.deepEqual(Buffer.from(await liveBytes).equals(Buffer.from(data)), true, "live reader");
    const whole = await readBytes((await suite.raw.open("GET", `${ch}/0`).response).body);
    assert.equal(Buffer.from(whole).equals(Buffer.from(data)), true, "complete reader");
  });
}
