/**
 * Upstream publishers and subscribers of different origins on one channel: the bytes one client writes
 * must be what another reads, through OUR server and through go-livepeer's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import { expectedHashes, skipReason, startOurServer } from "./harness.ts";
import {
  type PeerProcess,
  pythonPeer,
  segmentLines,
  sha256Hex,
  spawnGoTrickle,
  startGoTrickleServer,
} from "./peers.ts";

const skipGo = skipReason("go");
const skip = skipGo ?? skipReason("python");

const COUNT = 3;
const SIZE = 40_000;

async function finish(p: PeerProcess, what: string) {
  const res = await p.done;
  assert.equal(res.code, 0, `${what}: ${JSON.stringify(res.lines)}\n${res.stderr.slice(-2000)}`);
  return res;
}

test("livepeer-gateway publisher → our server → go-livepeer subscriber (from 0): same bytes", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("mix-a", "application/octet-stream");
  const url = `${srv.url}mix-a`;
  const sub = spawnGoTrickle(
    ["subscribe", "-url", url, "-start", "0", "-count", `${COUNT}`, "-timeout", "60s"],
    {
      timeoutMs: 90_000,
    },
  );
  t.after(() => sub.kill());
  const pub = pythonPeer().spawn(
    "gateway_peer.py",
    // No close(): its DELETE could remove the channel before the subscriber read every segment (the
    // livepeer-gateway suite covers close() → EOS).
    ["publish", "--url", url, "--count", `${COUNT}`, "--size", `${SIZE}`, "--no-close"],
    {
      timeoutMs: 90_000,
    },
  );
  t.after(() => pub.kill());
  const res = await finish(sub, "go subscriber");
  await finish(pub, "gateway publisher");
  assert.deepEqual(
    segmentLines(res.lines).map((l) => [l.seq, l.sha256]),
    expectedHashes(COUNT, SIZE).map((h, i) => [i, h]),
  );
});

test("go-livepeer publisher → go-livepeer server → pytrickle and livepeer-gateway subscribers (from 0) and ours: same bytes", {
  skip,
}, async (t) => {
  const go = await startGoTrickleServer({ autocreate: false });
  t.after(() => go.close());
  await go.createChannel("mix-b", "video/MP2T");
  const url = `${go.url}mix-b`;
  const py = pythonPeer();
  const subs = [
    py.spawn("pytrickle_peer.py", ["subscribe", "--url", url, "--start", "0", "--count", `${COUNT}`], {
      timeoutMs: 90_000,
    }),
    py.spawn("gateway_peer.py", ["subscribe", "--url", url, "--start", "0", "--count", `${COUNT}`], {
      timeoutMs: 90_000,
    }),
  ];
  for (const s of subs) t.after(() => s.kill());
  const ours = new TrickleSubscriber(url, { start: 0 });
  t.after(() => ours.close());
  const oursGot: Array<[number, string]> = [];
  const oursDone = (async () => {
    while (oursGot.length < COUNT) {
      const seg = await ours.next();
      if (!seg) break;
      oursGot.push([seg.seq, sha256Hex(await seg.bytes())]);
    }
  })();
  // Subscribers from 0 read what is already in the ring (COUNT < 5), so start order does not matter.
  const pub = spawnGoTrickle(
    ["publish", "-url", url, "-count", `${COUNT}`, "-size", `${SIZE}`, "-close=false", "-chunk", "10000"],
    { timeoutMs: 60_000 },
  );
  t.after(() => pub.kill());
  await finish(pub, "go publisher");
  const expected = expectedHashes(COUNT, SIZE).map((h, i) => [i, h]);
  for (const [i, s] of subs.entries()) {
    const res = await finish(s, `python subscriber ${i}`);
    assert.deepEqual(
      segmentLines(res.lines).map((l) => [l.seq, l.sha256]),
      expected,
    );
  }
  await oursDone;
  assert.deepEqual(oursGot, expected);
});

test("pytrickle publisher → our server → livepeer-gateway subscriber from -2 and go-livepeer subscriber from -2", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("mix-c", "video/MP2T");
  const url = `${srv.url}mix-c`;
  const py = pythonPeer();
  const gw = py.spawn("gateway_peer.py", ["subscribe", "--url", url, "--count", `${COUNT}`], {
    timeoutMs: 90_000,
  });
  t.after(() => gw.kill());
  const gs = spawnGoTrickle(
    ["subscribe", "-url", url, "-start", "-2", "-count", `${COUNT}`, "-timeout", "80s"],
    {
      timeoutMs: 90_000,
    },
  );
  t.after(() => gs.kill());
  await srv.waitForRequest(
    (r) => r.method === "GET" && r.url === "/mix-c/-2" && r.headers["user-agent"]?.includes("Go") === true,
  );
  await srv.waitForRequest(
    (r) =>
      r.method === "GET" && r.url === "/mix-c/-2" && r.headers["user-agent"]?.includes("Python") === true,
    60_000,
  );
  const pub = await py.run(
    "pytrickle_peer.py",
    ["publish", "--url", url, "--count", `${COUNT}`, "--size", `${SIZE}`, "--mime", "video/MP2T"],
    { timeoutMs: 90_000 },
  );
  assert.equal(pub.code, 0, pub.stderr.slice(-2000));
  const expected = expectedHashes(COUNT, SIZE).map((h, i) => [i, h]);
  for (const [what, s] of [
    ["gateway", gw],
    ["go", gs],
  ] as const) {
    const res = await finish(s, `${what} subscriber`);
    assert.deepEqual(
      segmentLines(res.lines).map((l) => [l.seq, l.sha256]),
      expected,
      what,
    );
  }
});
