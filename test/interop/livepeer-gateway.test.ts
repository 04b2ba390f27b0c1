/**
 * PyPI livepeer-gateway's trickle TricklePublisher and TrickleSubscriber (driven by
 * py/gateway_peer.py) against OUR trickle server.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { describe, expectedHashes, probe, skipReason, startOurServer } from "./harness.ts";
import { type PeerLine, peerPayload, pythonPeer, segmentLines } from "./peers.ts";

const skip = skipReason("python");
const SCRIPT = "gateway_peer.py";

function last(lines: PeerLine[]): PeerLine | undefined {
  return lines[lines.length - 1];
}

test("livepeer-gateway publisher starts at GET /next with Lp-Trickle-Reset: 1, its subscriber from -2 reads every segment, close() DELETE gives EOS", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("gw-roundtrip", "application/octet-stream");
  const url = `${srv.url}gw-roundtrip`;
  const size = 50_000;
  // An earlier publisher wrote segments 0 and 1; the gateway publisher must continue at 2.
  for (const seq of [0, 1]) {
    const r = await probe(srv.url, `/gw-roundtrip/${seq}`, { method: "POST", body: peerPayload(seq, size) });
    assert.equal(r.status, 200);
  }
  const py = pythonPeer();
  const sub = py.spawn(
    SCRIPT,
    ["subscribe", "--url", url, "--start", "-2", "--count", "0", "--timeout", "60"],
    {
      timeoutMs: 90_000,
    },
  );
  t.after(() => sub.kill());
  // -2 is the segment written last (1), complete here, so the subscriber reads it at once.
  await sub.waitFor((l) => l.event === "segment", 60_000);

  const count = 4;
  const publisher = py.spawn(
    SCRIPT,
    [
      "publish",
      "--url",
      url,
      "--count",
      `${count}`,
      "--size",
      `${size}`,
      "--chunk",
      "16384",
      "--payload-offset",
      "2",
      "--close-on-stdin",
    ],
    { timeoutMs: 90_000 },
  );
  t.after(() => publisher.kill());
  await publisher.waitFor((l) => l.event === "waiting", 60_000);
  // close() only once the subscriber read everything and waits on seq 6: its GET then ends with EOS
  // (a GET arriving after the DELETE would get 404, on go-livepeer too).
  await sub.waitFor(() => segmentLines(sub.lines).length >= 5, 30_000);
  await srv.waitForRequest((r) => r.method === "GET" && r.url === "/gw-roundtrip/6");
  publisher.send("close");
  const pub = await publisher.done;
  assert.equal(pub.code, 0, `publisher failed: ${JSON.stringify(pub.lines)}\n${pub.stderr.slice(-3000)}`);
  assert.deepEqual(
    segmentLines(pub.lines).map((l) => l.seq),
    [2, 3, 4, 5],
  );
  const stats = pub.lines.find((l) => l.event === "stats");
  assert.equal(stats?.segments_completed, count, JSON.stringify(stats));

  const res = await sub.done;
  assert.deepEqual(
    segmentLines(res.lines).map((l) => [l.seq, l.sha256]),
    expectedHashes(5, size, 1).map((h, i) => [i + 1, h]),
  );
  assert.equal(last(res.lines)?.reason, "eos", JSON.stringify(res.lines));

  const fromGateway = srv.requests.filter((r) => r.url !== "/gw-roundtrip/0" && r.url !== "/gw-roundtrip/1");
  const next = fromGateway.findIndex((r) => r.method === "GET" && r.url === "/gw-roundtrip/next");
  const firstPost = fromGateway.findIndex((r) => r.method === "POST");
  assert.ok(next >= 0 && next < firstPost, `requests: ${srv.requests.map(describe)}`);
  const posts = fromGateway.filter((r) => r.method === "POST");
  assert.deepEqual(
    posts.map((r) => [r.url, r.headers["lp-trickle-reset"]]),
    [
      ["/gw-roundtrip/2", "1"],
      ["/gw-roundtrip/3", undefined],
      ["/gw-roundtrip/4", undefined],
      ["/gw-roundtrip/5", undefined],
    ],
  );
  assert.ok(srv.requests.some((r) => r.method === "DELETE" && r.url === "/gw-roundtrip"));
  assert.equal(srv.trickle.getChannel("gw-roundtrip"), undefined);
});

test("livepeer-gateway subscriber on a missing channel stops after exactly one GET (404 is terminal)", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  const res = await pythonPeer().run(
    SCRIPT,
    ["subscribe", "--url", `${srv.url}gw-missing`, "--timeout", "60"],
    {
      timeoutMs: 90_000,
    },
  );
  assert.equal(last(res.lines)?.reason, "not_found", JSON.stringify(res.lines));
  const stats = res.lines.find((l) => l.event === "stats");
  assert.equal(stats?.get_404_eos, 1);
  assert.deepEqual(srv.requests.map(describe), ["GET /gw-missing/-2"]);
});

test("livepeer-gateway publisher to a missing channel fails terminally on 404 without retrying the POST", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  const res = await pythonPeer().run(
    SCRIPT,
    ["publish", "--url", `${srv.url}gw-nochannel`, "--count", "3", "--size", "1000"],
    { timeoutMs: 90_000 },
  );
  const stats = res.lines.find((l) => l.event === "stats");
  assert.equal(stats?.terminal_error, true, JSON.stringify(res.lines));
  const posts = srv.requests
    .filter((r) => r.method === "POST")
    .map((r) => [r.url, r.headers["lp-trickle-reset"]]);
  assert.equal(stats?.post_404, posts.length);
  // /next on a missing channel is 404 without Lp-Trickle-Latest: the publisher falls back to seq -1
  // (POST {ch}/-1 with Reset). Segments handed out before the first 404 came back get their own 404;
  // no seq is POSTed twice (a 404 is not retried) and the publisher ends terminally.
  assert.deepEqual(posts[0], ["/gw-nochannel/-1", "1"], `requests: ${srv.requests.map(describe)}`);
  assert.equal(new Set(posts.map((p) => p[0])).size, posts.length, `requests: ${srv.requests.map(describe)}`);
});

test("livepeer-gateway create() makes the channel with POST {ch} and Expect-Content, and subscribers get that MIME type", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: true });
  const res = await pythonPeer().run(
    SCRIPT,
    [
      "publish",
      "--url",
      `${srv.url}gw-create`,
      "--create",
      "--mime",
      "application/json",
      "--count",
      "1",
      "--size",
      "10",
      "--no-close",
    ],
    { timeoutMs: 90_000 },
  );
  assert.ok(
    res.lines.some((l) => l.event === "created"),
    JSON.stringify(res.lines),
  );
  const create = srv.requests.find((r) => r.method === "POST" && r.url === "/gw-create");
  assert.equal(create?.headers["expect-content"], "application/json");
  const got = await probe(srv.url, "/gw-create/0");
  assert.equal(got.status, 200);
  assert.equal(got.headers["content-type"], "application/json");
});
