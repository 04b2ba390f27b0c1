/**
 * go-livepeer's trickle SERVER (through `go-trickle server`) as a target: the conformance suite, and
 * OUR publisher and subscriber clients against it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TricklePublisher } from "../../src/trickle/publisher.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import {
  type TrickleTarget,
  type TrickleTargetConfig,
  trickleConformance,
} from "../conformance/trickle-suite.ts";
import { expectedHashes, skipReason } from "./harness.ts";
import { peerPayload, sha256Hex, startGoTrickleServer } from "./peers.ts";

const skip = skipReason("go");

/** go-livepeer v0.9.1's server: everything configurable except the 100 Continue interval (fixed 10 s). */
const goTarget: TrickleTarget = {
  name: "go-livepeer",
  configurable: { autocreate: true, idleSweep: true, hooks: true, basePath: true, changefeed: true },
  async start(config: TrickleTargetConfig) {
    const server = await startGoTrickleServer({
      autocreate: config.autocreate ?? true,
      ...(config.basePath ? { basePath: config.basePath } : {}),
      ...(config.changefeed ? { changefeed: true } : {}),
      ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
      ...(config.sweepIntervalMs === undefined ? {} : { sweepIntervalMs: config.sweepIntervalMs }),
      ...(config.hooks ? { denyHooks: true } : {}),
    });
    return {
      baseUrl: server.url,
      close: () => server.close(),
      // go-livepeer accepts any path segment as a channel name and panics on DELETE {ch}/{negative}.
      features: { strictChannelNames: false, safeNegativeDelete: false },
      createChannel: (name: string, mimeType: string) => server.createChannel(name, mimeType),
    };
  },
};

if (skip) {
  describe("trickle conformance: go-livepeer", () => {
    test("needs the go-livepeer peer", (t) => t.skip(skip));
  });
} else {
  trickleConformance(goTarget);
}

test("our publisher → go-livepeer server → our subscriber from -2: same bytes in order, EOS on close", {
  skip,
}, async (t) => {
  const go = await startGoTrickleServer({ autocreate: false });
  t.after(() => go.close());
  await go.createChannel("ours-on-go", "video/MP2T");
  const url = `${go.url}ours-on-go`;
  const size = 120_000;
  const count = 4;
  const pub = new TricklePublisher(url, { mimeType: "video/MP2T" });
  t.after(() => pub.close());
  const first = await pub.write(peerPayload(0, size));
  assert.equal(first.seq, 0);
  const sub = new TrickleSubscriber(url, { start: -2 });
  t.after(() => sub.close());
  const got: Array<[number, string, string | undefined]> = [];
  // The subscriber's first GET goes out on next(): take segment 0 before publishing more, or -2 may
  // already resolve to segment 1.
  const head = await sub.next();
  assert.ok(head);
  got.push([head.seq, sha256Hex(await head.bytes()), head.mimeType]);
  const reading = (async () => {
    for (;;) {
      const seg = await sub.next();
      if (!seg) return;
      got.push([seg.seq, sha256Hex(await seg.bytes()), seg.mimeType]);
    }
  })();
  for (let seq = 1; seq < count; seq++) {
    const res = await pub.write(
      (async function* () {
        const data = peerPayload(seq, size);
        for (let i = 0; i < data.length; i += 30_000) yield data.subarray(i, i + 30_000);
      })(),
    );
    assert.equal(res.seq, seq);
  }
  for (let i = 0; i < 1000 && got.length < count; i++) await new Promise((r) => setTimeout(r, 10));
  await pub.close();
  await reading;
  assert.deepEqual(
    got,
    expectedHashes(count, size).map((h, i) => [i, h, "video/MP2T"]),
  );
});

test('our publisher with start "next" continues after go-livepeer\'s last seq (GET /next + Reset)', {
  skip,
}, async (t) => {
  const go = await startGoTrickleServer({ autocreate: true });
  t.after(() => go.close());
  const url = `${go.url}ours-next`;
  const earlier = new TricklePublisher(url);
  for (let i = 0; i < 3; i++) await earlier.write(peerPayload(i, 100));
  // No close: the channel stays, as when a publisher process dies.
  const restarted = new TricklePublisher(url, { start: "next" });
  t.after(() => restarted.close());
  const res = await restarted.write(peerPayload(3, 100));
  assert.equal(res.seq, 3);
  const sub = new TrickleSubscriber(url, { start: 3 });
  t.after(() => sub.close());
  const seg = await sub.next();
  assert.equal(sha256Hex((await seg?.bytes()) ?? new Uint8Array()), expectedHashes(1, 100, 3)[0]);
});
