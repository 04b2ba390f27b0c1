/**
 * Fuzzing of the trickle server over real HTTP on 127.0.0.1: bursts of concurrent requests with
 * random methods, paths (channel names, sequence numbers, junk), headers (`Lp-Trickle-Reset`,
 * `Lp-Trickle-Seq`, `Expect-Content`, …) and bodies, some uploads cut off mid-body.
 *
 * Pass criteria: every answer is a status with a message and never a 5xx; only a GET may wait (a
 * subscriber waiting for a segment is the protocol); a connection is only dropped under an upload we
 * cut off ourselves or one over the segment cap; afterwards a publish → subscribe round trip still
 * works and the heap after GC is within {@link HEAP_GROWTH_LIMIT_BYTES} of where it started.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { type RunningTrickleServer, startTrickleServer } from "../../src/trickle/server.ts";
import {
  assertHeapStable,
  assertSaneReply,
  checkAsync,
  HEAP_GROWTH_LIMIT_BYTES,
  heapAfterGc,
  printTally,
  tally,
} from "./fuzz-util.ts";
import {
  bigBody,
  body,
  checkOversizedHeaders,
  extraHeaders,
  type FuzzRequest,
  method,
  pathSegment,
  query,
  send,
  type Target,
} from "./http-util.ts";

const RUNS = 120;
/** A GET may legitimately wait for a segment: give it this long, then hang up. */
const GET_WAIT_MS = 250;
/** Anything else must answer within this. */
const ANSWER_WAIT_MS = 10_000;
const SEGMENT_CAP = 64 * 1024;

const channelName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("a", "b", "c-in", "_changes") },
  { weight: 2, arbitrary: pathSegment },
);
const seq = fc.oneof(
  fc.integer({ min: -3, max: 8 }).map(String),
  fc.constantFrom("next", "", "-0", "+1", "1.5", "0x1", "9007199254740993", "-999999999999999"),
  pathSegment,
);
const path = fc
  .oneof(
    { weight: 2, arbitrary: channelName.map((c) => `/${c}`) },
    { weight: 6, arbitrary: fc.tuple(channelName, seq).map(([c, s]) => `/${c}/${s}`) },
    { weight: 1, arbitrary: fc.array(pathSegment, { maxLength: 4 }).map((p) => `/${p.join("/")}`) },
  )
  .chain((p) => query.map((q) => `${p}${q}`));

const trickleRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("GET", "POST", "DELETE") },
      { weight: 1, arbitrary: method },
    ),
    path,
    headers: extraHeaders(["lp-trickle-reset", "lp-trickle-seq", "expect-content", "content-type", "accept"]),
    body: fc.oneof(
      { weight: 5, arbitrary: body },
      { weight: 1, arbitrary: fc.constant(bigBody(SEGMENT_CAP + 10)) },
    ),
    cut: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
  })
  .map(({ cut, ...r }) => ({
    ...r,
    ...(cut !== undefined ? { abortAfter: cut % (r.body.length + 1) } : {}),
  }));

describe("fuzz: trickle server over HTTP", () => {
  let server: RunningTrickleServer;
  let target: Target;

  before(async () => {
    server = await startTrickleServer({
      port: 0,
      autocreate: true,
      changefeed: true,
      maxSegmentBytes: SEGMENT_CAP,
    });
    target = { url: server.url.replace(/\/$/, "") };
  });
  after(() => server.close());

  test("headers up to 1 MiB are accepted, over it 431 with a message, the server keeps serving", async () => {
    await checkOversizedHeaders(target, "/x/next");
  });

  test("random requests: no 5xx, 4xx with a message, only subscribers wait, server still works, heap stable", async () => {
    // warm up the code paths once so that the baseline includes lazily allocated state
    await send(
      target,
      { method: "POST", path: "/warm/0", headers: {}, body: Buffer.from("x") },
      ANSWER_WAIT_MS,
    );
    const start = await heapAfterGc();
    await checkAsync(
      "trickle server",
      RUNS,
      [fc.array(trickleRequest, { minLength: 1, maxLength: 6 })],
      async (batch) => {
        const outcomes = await Promise.all(
          batch.map((r) => send(target, r, r.method === "GET" ? GET_WAIT_MS : ANSWER_WAIT_MS)),
        );
        outcomes.forEach((o, i) => {
          const r = batch[i]!;
          tally(`${r.method} ${o.kind === "reply" ? o.status : o.kind}`);
          const what = `${r.method} ${r.path}${r.abortAfter !== undefined ? ` (cut after ${r.abortAfter} bytes)` : ""}`;
          if (o.kind === "reply") assertSaneReply(o, [], what, r.method === "HEAD");
          else if (o.kind === "timeout")
            assert.equal(r.method, "GET", `${what}: no answer within ${ANSWER_WAIT_MS} ms`);
          else if (o.kind === "error")
            assert.ok(
              r.body.length > SEGMENT_CAP,
              `${what}: connection dropped (${o.message}) under a complete request`,
            );
        });
      },
    );
    // still serving: publish one segment and read it back
    const sent = await send(
      target,
      { method: "POST", path: "/after-fuzz/0", headers: {}, body: Buffer.from("alive") },
      ANSWER_WAIT_MS,
    );
    assert.equal(sent.kind === "reply" && sent.status, 200);
    const got = await send(
      target,
      { method: "GET", path: "/after-fuzz/0", headers: {}, body: Buffer.alloc(0) },
      ANSWER_WAIT_MS,
    );
    assert.equal(got.kind === "reply" && got.body, "alive");
    for (const name of server.trickle.channelNames())
      if (!name.startsWith("_")) server.trickle.deleteChannel(name);
    printTally("trickle server");
    await assertHeapStable(start, `trickle server (limit ${HEAP_GROWTH_LIMIT_BYTES} bytes)`);
  });
});
