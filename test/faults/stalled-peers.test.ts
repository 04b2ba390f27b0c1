/**
 * Fault injection: stalled trickle peers. One subscriber stops reading (a raw socket that never
 * reads) while 200 MB are pushed through its channel, and one publisher stops sending in the middle
 * of a segment. Pass criteria: the server's buffered bytes for the stalled subscriber's channel never
 * exceed its ring (ring size × segment size) and the process keeps no more than that after the push;
 * a healthy channel delivers every segment intact meanwhile; and the server drops both stalled
 * connections (its stall timeout, short here).
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { RING_SIZE } from "../../src/protocol/trickle.ts";
import { type RunningTrickleServer, startTrickleServer } from "../../src/trickle/server.ts";
import { eventually, openGet, openPost, request, sleep } from "../../src/trickle/test-util.ts";

const SEGMENT = 4 * 1024 * 1024;
const PUSHED = 200 * 1024 * 1024;
const STALL_MS = 1000;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let server: RunningTrickleServer;
/** Server-side sockets by the client's port, to see the server drop a connection. */
const serverSockets = new Map<number, Socket>();

before(async () => {
  server = await startTrickleServer({ port: 0, autocreate: true, stallTimeoutMs: STALL_MS });
  server.server.on("connection", (s: Socket) => {
    if (s.remotePort !== undefined) serverSockets.set(s.remotePort, s);
  });
});
after(async () => {
  await server?.close();
});

/** POSTs one whole segment on its own connection. */
function post(path: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method: "POST", agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.end(body);
  });
}

/** Resolves once the server has closed its side of the connection from client port `port`. */
async function serverDropped(port: number): Promise<void> {
  await eventually(() => serverSockets.has(port), 10_000);
  const s = serverSockets.get(port)!;
  await eventually(() => s.destroyed, 20_000);
}

function segmentBody(i: number): Buffer {
  return Buffer.alloc(64 * 1024, `healthy segment ${i};`);
}

test("a stalled subscriber and a stalled publisher: bounded memory, healthy channel unaffected, both dropped", async (t) => {
  // 1. The stalled subscriber: asks for segment 0 of "big" and never reads.
  assert.equal(await post("big/0", Buffer.alloc(SEGMENT, 1)), 200);
  const stalled = connect(server.port, "127.0.0.1");
  await new Promise((resolve) => stalled.once("connect", resolve));
  stalled.pause();
  stalled.write("GET /big/0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const stalledPort = stalled.localPort!;

  // 2. The stalled publisher: a segment of "frozen" that gets 100 kB and then nothing.
  const frozen = openPost(`${server.url}frozen/0`);
  await frozen.write(Buffer.alloc(100 * 1024, 2));
  const frozenReader = openGet(`${server.url}frozen/0`);
  await frozenReader.waitFor(100 * 1024);

  // 3. A healthy channel, publisher and subscriber, while 200 MB go through "big".
  const N = 40;
  assert.equal((await request(`${server.url}healthy`, { method: "POST" })).status, 200);
  let received = -1;
  const latencies: number[] = [];
  const sentAt: number[] = [];
  const healthyReader = (async () => {
    for (let i = 0; i < N; i++) {
      const res = await request(`${server.url}healthy/${i}`);
      latencies.push(performance.now() - sentAt[i]!);
      assert.equal(res.status, 200, `healthy segment ${i}`);
      assert.equal(res.body, segmentBody(i).toString(), `healthy segment ${i} intact`);
      received = i;
    }
  })();
  const healthyPublisher = (async () => {
    for (let i = 0; i < N; i++) {
      // Stay within the ring: never more than 3 segments ahead of the reader.
      await eventually(() => received >= i - 3, 30_000);
      sentAt[i] = performance.now();
      assert.equal(await post(`healthy/${i}`, segmentBody(i)), 200);
      await sleep(10);
    }
  })();

  gc();
  const before = process.memoryUsage().arrayBuffers;
  const big = Buffer.alloc(SEGMENT, 3);
  const ringBound = RING_SIZE * SEGMENT;
  let maxChannelBytes = 0;
  for (let i = 1; i * SEGMENT <= PUSHED; i++) {
    assert.equal(await post(`big/${i}`, big), 200);
    maxChannelBytes = Math.max(maxChannelBytes, server.trickle.getChannel("big")!.bytes);
  }
  await Promise.all([healthyReader, healthyPublisher]);
  gc();
  const growth = process.memoryUsage().arrayBuffers - before;
  t.diagnostic(
    `big channel: max ${maxChannelBytes} bytes buffered (ring bound ${ringBound}); arrayBuffers growth ${(growth / 2 ** 20).toFixed(1)} MiB after ${PUSHED / 2 ** 20} MiB`,
  );
  const sorted = [...latencies].sort((a, b) => a - b);
  t.diagnostic(
    `healthy channel: ${N} segments, latency p50 ${sorted[N >> 1]!.toFixed(1)} ms, max ${sorted[N - 1]!.toFixed(1)} ms`,
  );
  assert.ok(maxChannelBytes <= ringBound, `the ring bounds the channel: ${maxChannelBytes} > ${ringBound}`);
  // Everything in this process (server and clients) keeps at most the ring plus slack, not 200 MB.
  assert.ok(growth < ringBound + 64 * 2 ** 20, `memory grew by ${growth} bytes`);
  assert.equal(received, N - 1, "the healthy channel delivered every segment");

  // 4. Both stalled peers are dropped by the server.
  await serverDropped(stalledPort);
  const frozenResult = await frozen.response.then(
    (r) => `answered ${r.status}`,
    (err: Error) => `connection dropped (${err.message})`,
  );
  t.diagnostic(`stalled publisher: ${frozenResult}`);
  assert.match(frozenResult, /answered 500|connection dropped/);
  stalled.destroy();
  frozenReader.abort();
});
