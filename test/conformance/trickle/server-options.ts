/**
 * Trickle conformance cases: Server options, each on an extra instance started with it: create/delete hooks, the idle sweep,
 * the base path and the `_changes` feed (docs/spec/trickle.md#routes, #channel-lifecycle).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TrickleStreamNotFoundError } from "../../../src/trickle/client-errors.ts";
import { TrickleSubscriber } from "../../../src/trickle/subscriber.ts";
import { until } from "../../until.ts";
import { SETTLE_MS, type TrickleSuite, uniqueChannel, WAIT_MS } from "./kit.ts";

/** Registers this area's cases for `suite` (inside its describe). */
export function serverOptionCases(suite: TrickleSuite): void {
  // ---- hooks and sweeper (docs/spec/trickle.md#routes, #channel-lifecycle; BeforeCreate / BeforeDelete / IdleSweep) ---------------------

  test("create and delete hooks refuse with their 4xx status, or 500 for a generic error", async (t) => {
    if (!suite.can("hooks")) return t.skip(suite.why("create/delete hooks"));
    const r = await suite.startWith({ autocreate: true, hooks: true });
    const denied = `deny403-${uniqueChannel()}`;
    if (suite.feature("channelCreate")) {
      assert.equal((await r.req("POST", denied)).status, 403);
      assert.equal((await r.req("GET", `${denied}/0`)).status, 404, "not created");
      assert.equal((await r.req("POST", `deny500-${uniqueChannel()}`)).status, 500);
    }
    const kept = `deny401-${uniqueChannel()}`;
    // A segment POST auto-creates without the create hook (go-livepeer runs it on POST {ch} only).
    assert.equal((await r.publish(kept, 0, "x")).status, 200);
    assert.equal((await r.req("DELETE", kept)).status, 401);
    assert.equal((await r.req("GET", `${kept}/0`)).text, "x", "the channel is still there");
    const ok = uniqueChannel();
    assert.equal((await r.publish(ok, 0, "x")).status, 200);
    assert.equal((await r.req("DELETE", ok)).status, 200);
  });

  test("idle channels are swept and then answer 404 (TestTrickle_IdleSweep)", async (t) => {
    if (!suite.can("idleSweep")) return t.skip(suite.why("the idle sweep"));
    const r = await suite.startWith({ autocreate: true, idleTimeoutMs: 1, sweepIntervalMs: 10 });
    const ch = uniqueChannel();
    const exempt = uniqueChannel("_exempt");
    assert.equal((await r.publish(exempt, 0, "kept")).status, 200);
    assert.equal((await r.publish(ch, 0, "x")).status, 200);
    await until(
      "the idle channel to be swept",
      async () => (await r.req("GET", `${ch}/0`)).status === 404,
      WAIT_MS,
    );
    await sleep(SETTLE_MS);
    assert.equal((await r.req("GET", `${exempt}/0`)).text, "kept", "`_` names are never swept");
    await using sub = new TrickleSubscriber(r.url(ch), { ...r.clientOptions, start: 0 });
    await assert.rejects(sub.next(), TrickleStreamNotFoundError);
  });

  test("routes live under the configured base path only", async (t) => {
    if (!suite.can("basePath")) return t.skip(suite.why("the base path"));
    const r = await suite.startWith({ autocreate: true, basePath: "/ai/trickle/" });
    assert.ok(r.base.endsWith("/ai/trickle/"), r.base);
    const ch = uniqueChannel();
    assert.equal((await r.publish(ch, 0, "based")).status, 200);
    assert.equal((await r.req("GET", `${ch}/0`)).text, "based");
    const origin = new URL(r.base).origin;
    const outside = await r.client.request(`${origin}/${ch}/0`, { method: "GET" }).response;
    outside.discard();
    assert.equal(outside.status, 404);
    await using sub = new TrickleSubscriber(r.url(ch), { ...r.clientOptions, start: 0 });
    assert.equal(await (await sub.next())?.text(), "based");
  });

  test("the _changes feed announces added and removed channels", async (t) => {
    if (!suite.can("changefeed")) return t.skip(suite.why("the changefeed"));
    const r = await suite.startWith({ autocreate: true, changefeed: true });
    await using feed = new TrickleSubscriber(r.url("_changes"), { ...r.clientOptions, start: 0 });
    const ch = uniqueChannel();
    assert.equal((await r.publish(ch, 0, "x")).status, 200);
    assert.equal((await r.req("DELETE", ch)).status, 200);
    const seen: unknown[] = [];
    while (seen.length < 2) {
      const seg = await feed.next();
      assert.ok(seg, "feed ended early");
      assert.match(seg.mimeType ?? "", /application\/json/);
      const msg = JSON.parse(await seg.text()) as { added?: string[]; removed?: string[] };
      if (msg.added?.includes(ch) || msg.removed?.includes(ch)) seen.push(msg);
    }
    assert.deepEqual(seen, [{ added: [ch] }, { removed: [ch] }]);
  });
}
