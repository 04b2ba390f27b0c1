/**
 * Trickle conformance cases: Our publisher and subscriber clients against the target: go-livepeer's and pytrickle's client
 * tests, preconnects, restarts and TLS (docs/spec/trickle.md#publisher-rules to #python-clients).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  TrickleEndOfStreamError,
  TrickleStreamNotFoundError,
  TrickleSubscribeError,
} from "../../../src/trickle/client-errors.ts";
import { TricklePublisher } from "../../../src/trickle/publisher.ts";
import { TrickleSubscriber } from "../../../src/trickle/subscriber.ts";
import { enc, nextChunk, restText, SETTLE_MS, type TrickleSuite, uniqueChannel } from "./kit.ts";

/** Registers this area's cases for `suite` (inside its describe). */
export function clientCases(suite: TrickleSuite): void {
  // ---- through our clients (docs/spec/trickle.md#publisher-rules to #python-clients) ------------------------------------------------------------

  test("TestTrickle_Close: publish, read back with Latest, close → subscriber EOS, publisher EOS, then 404", async () => {
    const ch = uniqueChannel();
    const url = suite.raw.url(ch);
    const opts = suite.raw.clientOptions;
    const pub = new TricklePublisher(url, { ...opts, mimeType: "text/plain" });
    for (const s of ["first", "second"]) await pub.write(enc(s));
    await using sub = new TrickleSubscriber(url, { ...opts, start: 0 });
    for (const [seq, s] of ["first", "second"].entries()) {
      const seg = await sub.next();
      assert.equal(seg?.seq, seq);
      assert.equal(seg?.latest, 2);
      assert.equal(await seg?.text(), s);
    }
    // Another publisher with a preconnected POST for the next seq, released by the close.
    await using late = new TricklePublisher(url, { ...opts, start: 2 });
    const lateWriter = await late.next();
    await sleep(SETTLE_MS);
    await pub.close();
    assert.equal(await sub.next(), null, "the subscriber sees the end of the stream");
    assert.equal(sub.ended, true);
    await assert.rejects(
      (async () => {
        await lateWriter.write(enc("invalid"));
        await lateWriter.end();
      })(),
      TrickleEndOfStreamError,
    );
    await using sub2 = new TrickleSubscriber(url, opts);
    await assert.rejects(sub2.next(), TrickleStreamNotFoundError);
  });

  test("TestTrickle_Close without autocreate: StreamNotFound before the channel exists, 404 after close", async (t) => {
    if (!suite.can("autocreate")) return t.skip(suite.why("autocreate"));
    const r = await suite.startWith({ autocreate: false });
    if (!r.instance.createChannel) return t.skip(`${suite.target.name} cannot create channels in-process`);
    const ch = uniqueChannel();
    const url = r.url(ch);
    const pub = new TricklePublisher(url, r.clientOptions);
    await assert.rejects(pub.write(enc("first post")), TrickleStreamNotFoundError);
    await r.instance.createChannel(ch, "text/plain");
    // pub was created before the channel: its 404 was terminal.
    await assert.rejects(pub.write(enc("second post")), TrickleStreamNotFoundError, "404 is terminal");
    const pub2 = new TricklePublisher(url, r.clientOptions);
    await pub2.write(enc("first"));
    await pub2.write(enc("second"));
    await using sub = new TrickleSubscriber(url, { ...r.clientOptions, start: 0 });
    assert.equal(await (await sub.next())?.text(), "first");
    assert.equal(await (await sub.next())?.text(), "second");
    await sleep(SETTLE_MS); // let the subscriber's preconnect for seq 2 reach the server
    await pub2.close(); // DELETE {ch}
    assert.equal(await sub.next(), null, "EOS");
    await pub.close();
    await using pub3 = new TricklePublisher(url, r.clientOptions);
    await assert.rejects(pub3.write(enc("bad post")), TrickleStreamNotFoundError);
  });

  test("TestTrickle_SetSubStart: subscribers from 0, -2, -1 and a given seq see the right segments", async () => {
    const ch = uniqueChannel();
    const url = suite.raw.url(ch);
    const opts = suite.raw.clientOptions;
    await suite.raw.req("POST", ch, { headers: { "expect-content": "text/plain" } });
    const collect = async (sub: TrickleSubscriber, n: number) => {
      const out: string[] = [];
      while (out.length < n) {
        const s = await sub.next();
        if (!s) break;
        out.push(await s.text());
      }
      return out;
    };
    await using subBeginning = new TrickleSubscriber(url, { ...opts, start: 0 });
    const beginning = collect(subBeginning, 5);
    await using pub = new TricklePublisher(url, opts);
    await pub.write(enc("zeroth"));
    await pub.write(enc("first"));
    await using subCurrent = new TrickleSubscriber(url, { ...opts, start: -2 });
    const current = collect(subCurrent, 4);
    await using subNext = new TrickleSubscriber(url, { ...opts, start: -1 });
    const next = collect(subNext, 3);
    await sleep(SETTLE_MS);
    for (const s of ["second", "third", "fourth"]) await pub.write(enc(s));
    await using subSeq = new TrickleSubscriber(url, { ...opts, start: 1 });
    const fromOne = collect(subSeq, 4);
    assert.deepEqual(await beginning, ["zeroth", "first", "second", "third", "fourth"]);
    assert.deepEqual(await current, ["first", "second", "third", "fourth"]);
    assert.deepEqual(await next, ["second", "third", "fourth"]);
    assert.deepEqual(await fromOne, ["first", "second", "third", "fourth"]);
  });

  test("TestTrickle_SetSeq: setSeq re-reads from any seq, forwards and backwards", async () => {
    const ch = uniqueChannel();
    const url = suite.raw.url(ch);
    const segs = ["first", "second", "third", "fourth"];
    await using pub = new TricklePublisher(url, suite.raw.clientOptions);
    for (const s of segs) await pub.write(enc(s));
    await using sub = new TrickleSubscriber(url, suite.raw.clientOptions);
    for (let i = 0; i < segs.length; i++) {
      sub.setSeq(i);
      for (let j = i; j < segs.length; j++) assert.equal(await (await sub.next())?.text(), segs[j]);
    }
    for (let j = segs.length - 1; j >= 0; j--) {
      sub.setSeq(j);
      assert.equal(await (await sub.next())?.text(), segs[j]);
    }
  });

  test("OverrunSeq: a subscriber that fell out of the window jumps to Latest on 470", async () => {
    const ch = uniqueChannel();
    const url = suite.raw.url(ch);
    await using pub = new TricklePublisher(url, suite.raw.clientOptions);
    for (let i = 0; i < 7; i++) await pub.write(enc(`s${i}`));
    await using sub = new TrickleSubscriber(url, { ...suite.raw.clientOptions, start: 0 });
    const pending = sub.next();
    await sleep(SETTLE_MS);
    await pub.write(enc("s7"));
    const seg = await pending;
    assert.equal(seg?.seq, 7);
    assert.equal(await seg?.text(), "s7");
    assert.equal(sub.stats.jumps, 1);
  });

  test("the publisher's preconnect and the subscriber's preconnect stream many segments in order", async () => {
    const ch = uniqueChannel();
    const url = suite.raw.url(ch);
    await suite.raw.req("POST", ch, { headers: { "expect-content": "application/octet-stream" } });
    await using pub = new TricklePublisher(url, {
      ...suite.raw.clientOptions,
      mimeType: "application/octet-stream",
    });
    await using sub = new TrickleSubscriber(url, { ...suite.raw.clientOptions, start: -1 });
    const received = (async () => {
      const out: string[] = [];
      for (let i = 0; i < 20; i++) out.push(await (await sub.next())!.text());
      return out;
    })();
    await sleep(SETTLE_MS);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const w = await pub.next();
      await w.write(enc(`seg-${i}-a`));
      await w.write(enc(`|b`));
      await w.end();
      sent.push(`seg-${i}-a|b`);
    }
    assert.deepEqual(await received, sent);
    assert.equal(sub.stats.segments, 20);
    assert.equal(pub.stats.segmentsCompleted, 20);
  });

  test('a publisher restarting with start "next" continues after the last seq and unblocks old readers', async (t) => {
    if (!suite.feature("next") || !suite.feature("reset")) return t.skip("target lacks /next or Reset");
    const ch = uniqueChannel();
    const url = suite.raw.url(ch);
    const first = new TricklePublisher(url, suite.raw.clientOptions);
    await first.write(enc("a"));
    const w = await first.next(); // seq 1, left half-written by a "crashed" publisher
    await w.write(enc("partial"));
    const reader = await suite.raw.open("GET", `${ch}/1`).response;
    const it = reader.body[Symbol.asyncIterator]();
    assert.equal(await nextChunk(it), "partial");
    await using second = new TricklePublisher(url, { ...suite.raw.clientOptions, start: "next" });
    assert.equal((await second.write(enc("b"))).seq, 2);
    assert.equal(await restText(it), "", "the reset released the reader of seq 1");
    assert.equal((await second.write(enc("c"))).seq, 3);
    // The crashed publisher is abandoned without a DELETE of the channel.
    await w.abort();
  });

  test("TestTrickle_CancelSub: aborting the signal unblocks a waiting subscriber", async () => {
    const ch = uniqueChannel();
    await suite.raw.req("POST", ch, { headers: { "expect-content": "text/plain" } });
    await suite.raw.publish(ch, 0, "x");
    const ac = new AbortController();
    await using sub = new TrickleSubscriber(suite.raw.url(ch), {
      ...suite.raw.clientOptions,
      start: -1,
      signal: ac.signal,
    });
    const pending = sub.next();
    await sleep(SETTLE_MS);
    ac.abort();
    assert.equal(await pending, null);
  });

  test("pytrickle test_stream_not_found: a subscriber of an unknown channel fails once with 404, no retries", async () => {
    await using sub = new TrickleSubscriber(suite.raw.url(uniqueChannel()), suite.raw.clientOptions);
    await assert.rejects(sub.next(), TrickleStreamNotFoundError);
    assert.equal(sub.stats.retries, 0);
    assert.equal(await sub.next(), null);
  });

  test("TLS: certificates are verified by default; insecure accepts a self-signed one", async (t) => {
    if (!suite.raw.base.startsWith("https:")) return t.skip("target is plain HTTP");
    const ch = uniqueChannel();
    await suite.raw.publish(ch, 0, "secret");
    const strictOpts = { ...(suite.inst.client?.http2 ? { http2: true } : {}) };
    await using strict = new TrickleSubscriber(suite.raw.url(ch), { ...strictOpts, start: 0, maxRetries: 0 });
    await assert.rejects(strict.next(), (err: unknown) => {
      assert.ok(err instanceof TrickleSubscribeError);
      assert.match(String((err.cause as Error)?.message ?? err.cause), /certificate|self.signed/i);
      return true;
    });
    await using relaxed = new TrickleSubscriber(suite.raw.url(ch), {
      ...strictOpts,
      tls: { insecure: true },
      start: 0,
    });
    assert.equal(await (await relaxed.next())?.text(), "secret");
  });
}
