/**
 * go-livepeer's Go TricklePublisher and TrickleSubscriber (through go-trickle) against OUR trickle
 * server.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { describe, expectedHashes, probe, skipReason, startOurServer } from "./harness.ts";
import { type PeerLine, peerPayload, runGoTrickle, segmentLines, spawnGoTrickle } from "./peers.ts";

const skip = skipReason("go");

function last(lines: PeerLine[]): PeerLine | undefined {
  return lines[lines.length - 1];
}

test("go-livepeer publisher → our server (autocreate) → go-livepeer subscriber from -2: same bytes in order, video/MP2T, EOS after Close", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: true });
  const url = `${srv.url}go-roundtrip`;
  const count = 5;
  const size = 150_000;
  // The Go publisher preconnects POST {ch}/0, which auto-creates the channel; the subscriber starts
  // once it exists (a GET never creates a channel).
  const pub = spawnGoTrickle(
    [
      "publish",
      "-url",
      url,
      "-count",
      `${count}`,
      "-size",
      `${size}`,
      "-chunk",
      "40000",
      "-chunk-delay",
      "5ms",
      "-close-on-stdin",
    ],
    { timeoutMs: 60_000 },
  );
  t.after(() => pub.kill());
  await srv.waitForRequest((r) => r.method === "POST" && r.url === "/go-roundtrip/0");
  for (let i = 0; i < 100 && (await probe(srv.url, "/go-roundtrip/next")).status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const sub = spawnGoTrickle(["subscribe", "-url", url, "-start", "-2", "-timeout", "50s"], {
    timeoutMs: 60_000,
  });
  t.after(() => sub.kill());
  // Close() only once the subscriber read the last segment and waits on the next seq: that GET then
  // ends with EOS (one arriving after the DELETE would get 404, on go-livepeer too).
  await pub.waitFor((l) => l.event === "waiting");
  await sub.waitFor((l) => l.event === "segment" && l.seq === count - 1);
  await srv.waitForRequest((r) => r.method === "GET" && r.url === `/go-roundtrip/${count}`);
  pub.send("close");
  const [pubRes, subRes] = await Promise.all([pub.done, sub.done]);
  assert.equal(pubRes.code, 0, `publisher: ${JSON.stringify(pubRes.lines)}\n${pubRes.stderr}`);
  assert.equal(last(pubRes.lines)?.error, null);
  assert.equal(subRes.code, 0, `subscriber: ${JSON.stringify(subRes.lines)}\n${subRes.stderr}`);
  const expected = expectedHashes(count, size);
  const segs = segmentLines(subRes.lines);
  // -2 may land on segment 0 or on a later one if the publisher is ahead; every segment from there on
  // must arrive in order and intact.
  const first = segs[0]?.seq ?? -1;
  assert.ok(first >= 0 && first < count, JSON.stringify(subRes.lines));
  assert.deepEqual(
    segs.map((l) => [l.seq, l.bytes, l.sha256, l.contentType]),
    expected.slice(first).map((h, i) => [first + i, size, h, "video/MP2T"]),
  );
  assert.equal(last(subRes.lines)?.event, "eos", JSON.stringify(subRes.lines));
  assert.ok(srv.requests.some((r) => r.method === "DELETE" && r.url === "/go-roundtrip"));
});

test("go-livepeer subscriber from 0 reads segments published earlier, then follows live ones", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("go-from0", "application/octet-stream");
  const size = 10_000;
  for (const seq of [0, 1, 2]) {
    assert.equal(
      (await probe(srv.url, `/go-from0/${seq}`, { method: "POST", body: peerPayload(seq, size) })).status,
      200,
    );
  }
  const sub = spawnGoTrickle(["subscribe", "-url", `${srv.url}go-from0`, "-start", "0", "-count", "5"], {
    timeoutMs: 60_000,
  });
  t.after(() => sub.kill());
  await sub.waitFor((l) => l.event === "segment" && l.seq === 2);
  for (const seq of [3, 4]) {
    assert.equal(
      (await probe(srv.url, `/go-from0/${seq}`, { method: "POST", body: peerPayload(seq, size) })).status,
      200,
    );
  }
  const res = await sub.done;
  assert.deepEqual(
    segmentLines(res.lines).map((l) => [l.seq, l.sha256]),
    expectedHashes(5, size).map((h, i) => [i, h]),
  );
  // Lp-Trickle-Latest is the next write seq, sent only when it differs from the served seq.
  assert.deepEqual(
    segmentLines(res.lines)
      .slice(0, 3)
      .map((l) => l.latest),
    [3, 3, 3],
  );
});

test("go-livepeer subscriber on a missing channel gets StreamNotFoundErr", { skip }, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  const res = await runGoTrickle(["subscribe", "-url", `${srv.url}go-missing`, "-start", "-1"]);
  assert.equal(last(res.lines)?.event, "not_found", JSON.stringify(res.lines));
  assert.deepEqual(srv.requests.map(describe), ["GET /go-missing/-1"]);
});

test("go-livepeer publisher without the channel (autocreate off) gets StreamNotFoundErr", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  const res = await runGoTrickle([
    "publish",
    "-url",
    `${srv.url}go-nochannel`,
    "-count",
    "2",
    "-size",
    "100",
  ]);
  const seg = segmentLines(res.lines)[0];
  assert.equal(seg?.kind, "not_found", JSON.stringify(res.lines));
  assert.equal(res.code, 1);
  // Next() preconnects seq 1 before seq 0's body goes out; both get 404 and nothing is retried.
  const posts = srv.requests.filter((r) => r.method === "POST").map((r) => r.url);
  assert.ok(posts.includes("/go-nochannel/0"), srv.requests.map(describe).join());
  assert.ok(
    posts.every((p) => p === "/go-nochannel/0" || p === "/go-nochannel/1"),
    srv.requests.map(describe).join(),
  );
  assert.equal(new Set(posts).size, posts.length, srv.requests.map(describe).join());
});

test("go-livepeer subscriber behind the 5-segment ring gets SequenceNonexistent with Latest = next write", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("go-ring", "application/octet-stream");
  for (let seq = 0; seq < 8; seq++) {
    assert.equal(
      (await probe(srv.url, `/go-ring/${seq}`, { method: "POST", body: peerPayload(seq, 100) })).status,
      200,
    );
  }
  const res = await runGoTrickle([
    "subscribe",
    "-url",
    `${srv.url}go-ring`,
    "-start",
    "1",
    "-count",
    "1",
    "-follow=false",
  ]);
  const line = res.lines.find((l) => l.event === "nonexistent");
  assert.deepEqual([line?.seq, line?.latest], [1, 8], JSON.stringify(res.lines));
  // Following Latest (the gateway rule) lands on the next write, which blocks until published.
  const follow = spawnGoTrickle(["subscribe", "-url", `${srv.url}go-ring`, "-start", "1", "-count", "1"], {
    timeoutMs: 60_000,
  });
  t.after(() => follow.kill());
  await srv.waitForRequest((r) => r.method === "GET" && r.url === "/go-ring/8");
  assert.equal(
    (await probe(srv.url, "/go-ring/8", { method: "POST", body: peerPayload(8, 100) })).status,
    200,
  );
  const followed = await follow.done;
  assert.deepEqual(
    segmentLines(followed.lines).map((l) => [l.seq, l.sha256]),
    [[8, expectedHashes(1, 100, 8)[0]]],
  );
});
