/**
 * PyPI pytrickle's own TricklePublisher and TrickleSubscriber (driven by py/pytrickle_peer.py) against
 * OUR trickle server.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { describe, expectedHashes, probe, skipReason, startOurServer } from "./harness.ts";
import { type PeerLine, peerPayload, pythonPeer, segmentLines } from "./peers.ts";

const skip = skipReason("python");
const SCRIPT = "pytrickle_peer.py";

function last(lines: PeerLine[]): PeerLine | undefined {
  return lines[lines.length - 1];
}

test("pytrickle publisher → our server → pytrickle subscriber from -2: every segment in order, same bytes, EOS on channel delete", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("pt-roundtrip", "video/MP2T");
  const url = `${srv.url}pt-roundtrip`;
  const py = pythonPeer();
  const sub = py.spawn(
    SCRIPT,
    ["subscribe", "--url", url, "--start", "-2", "--count", "0", "--timeout", "80"],
    {
      timeoutMs: 90_000,
    },
  );
  t.after(() => sub.kill());
  await srv.waitForRequest((r) => r.method === "GET" && r.url === "/pt-roundtrip/-2", 60_000);

  const count = 4;
  const size = 70_000;
  const expected = expectedHashes(count, size);
  const pub = await py.run(
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
      "--mime",
      "video/MP2T",
    ],
    { timeoutMs: 90_000 },
  );
  assert.equal(pub.code, 0, `publisher failed: ${JSON.stringify(pub.lines)}\n${pub.stderr.slice(-3000)}`);
  assert.deepEqual(
    segmentLines(pub.lines).map((l) => l.sha256),
    expected,
  );

  await sub.waitFor(() => segmentLines(sub.lines).length >= count, 30_000);
  // EOS needs the preconnected GET of the next seq to be waiting when the channel goes; one sent
  // after the delete gets 404 (stream_not_found), as it would from go-livepeer.
  await srv.waitForRequest((r) => r.method === "GET" && r.url === `/pt-roundtrip/${count}`);
  // pytrickle's close() sends no DELETE: the channel owner (here the test) ends the stream.
  const deleted = await probe(srv.url, "/pt-roundtrip", { method: "DELETE" });
  assert.equal(deleted.status, 200);
  const res = await sub.done;
  assert.deepEqual(
    segmentLines(res.lines).map((l) => [l.seq, l.bytes, l.sha256]),
    expected.map((h, i) => [i, size, h]),
  );
  assert.equal(last(res.lines)?.reason, "eos", JSON.stringify(res.lines));

  const posts = srv.requests.filter((r) => r.method === "POST");
  assert.deepEqual(
    posts.map((r) => r.url),
    ["/pt-roundtrip/0", "/pt-roundtrip/1", "/pt-roundtrip/2", "/pt-roundtrip/3"].slice(0, posts.length),
    `POSTs: ${srv.requests.map(describe)}`,
  );
  for (const p of posts) {
    assert.equal(p.headers.connection, "close");
    assert.equal(p.headers["content-type"], "video/MP2T");
  }
  assert.ok(!srv.requests.some((r) => r.method === "DELETE" && r.headers["user-agent"]?.includes("aiohttp")));
});

test("pytrickle subscriber on a missing channel takes the stream_not_found path after exactly one GET", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  const url = `${srv.url}pt-missing`;
  const res = await pythonPeer().run(SCRIPT, ["subscribe", "--url", url, "--timeout", "60"], {
    timeoutMs: 90_000,
  });
  const errors = res.lines.filter((l) => l.event === "error");
  assert.deepEqual(
    errors.map((l) => l.type),
    ["stream_not_found"],
    res.stderr.slice(-2000),
  );
  assert.match(String(errors[0]?.message), /404/);
  assert.equal(last(res.lines)?.reason, "error");
  assert.deepEqual(srv.requests.map(describe), ["GET /pt-missing/-2"]);
});

test("pytrickle publisher to a channel the server does not have: our 404 is all it can get; no channel is created", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  const url = `${srv.url}pt-nochannel`;
  const args = ["publish", "--url", url, "--count", "1", "--size", "1000", "--wait-error"];
  const res = await pythonPeer().run(SCRIPT, args, {
    timeoutMs: 90_000,
  });
  // pytrickle reports the 404 as post_failed, except when aiohttp loses the race between the answer
  // (with Connection: close) and writing the rest of the body: then its POST task ends with
  // ClientConnectionResetError, which pytrickle deliberately swallows (seen under load, against go's
  // linger as against ours). Whatever it reports must be the 404, and the server must create nothing.
  const errors = res.lines.filter((l) => l.event === "error");
  for (const e of errors)
    assert.match(`${e.type} ${e.message}`, /^post_failed .*404/, res.stderr.slice(-2000));
  assert.equal(srv.trickle.getChannel("pt-nochannel"), undefined);
  assert.ok(
    srv.requests.some((r) => r.method === "POST" && r.url === "/pt-nochannel/0"),
    "pytrickle posted",
  );
  const direct = await probe(srv.url, "/pt-nochannel/0", { method: "POST", body: "x" });
  assert.equal(direct.status, 404);
  assert.equal(direct.headers.connection, "close");
});

test("pytrickle subscriber joining at -2 mid-segment receives that segment from byte 0", {
  skip,
}, async (t) => {
  const srv = await startOurServer(t, { autocreate: false });
  srv.trickle.createChannel("pt-late", "video/MP2T");
  const seg = peerPayload(0, 64_000);
  const half = seg.subarray(0, 20_000);
  // A publisher that has sent the first part of segment 0 and is still writing.
  const post = request(`${srv.url}pt-late/0`, { method: "POST", agent: false });
  const posted = new Promise<number>((resolve, reject) => {
    post.on("response", (r) => {
      r.resume();
      r.on("end", () => resolve(r.statusCode ?? 0));
    });
    post.on("error", reject);
  });
  t.after(() => post.destroy());
  post.flushHeaders();
  post.write(half);
  // nextWrite moves on the first byte: wait until the server has seen it.
  for (let i = 0; i < 200; i++) {
    if ((await probe(srv.url, "/pt-late/next")).body.trim() === "1") break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const sub = pythonPeer().spawn(SCRIPT, ["subscribe", "--url", `${srv.url}pt-late`, "--count", "1"], {
    timeoutMs: 90_000,
  });
  t.after(() => sub.kill());
  await srv.waitForRequest((r) => r.method === "GET" && r.url === "/pt-late/-2", 60_000);
  post.end(seg.subarray(20_000));
  assert.equal(await posted, 200);
  const res = await sub.done;
  assert.deepEqual(
    segmentLines(res.lines).map((l) => [l.seq, l.bytes, l.sha256]),
    [[0, seg.length, expectedHashes(1, seg.length)[0]]],
  );
});
