import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import {
  TrickleEndOfStreamError,
  TrickleSegmentWriteError,
  TrickleStallError,
  TrickleStreamNotFoundError,
} from "./client-errors.ts";
import { TricklePublisher } from "./publisher.ts";

/** One request seen by the scripted server. */
interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Promise<Buffer>;
}

type Script = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

/** A scripted fake trickle server: each request is logged and answered by `script`. */
async function fakeServer(script: Script) {
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    const body = new Promise<Buffer>((resolve) => {
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("close", () => resolve(Buffer.concat(chunks)));
    });
    const s: Seen = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
    seen.push(s);
    for (const w of waiters.splice(0)) w();
    script(req, res, s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/ch`,
    seen,
    /** Resolves once a request matching `pred` arrived. */
    async waitFor(pred: (s: Seen) => boolean): Promise<Seen> {
      for (;;) {
        const hit = seen.find(pred);
        if (hit) return hit;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Answers like a healthy server: reads the whole body, then 200 with Lp-Trickle-Seq. */
function okAfterBody(req: http.IncomingMessage, res: http.ServerResponse, seen: Seen): void {
  void seen.body.then(() => {
    const seq = req.url?.split("/")[2];
    if (seq !== undefined && req.method === "POST") res.setHeader("Lp-Trickle-Seq", seq);
    res.end();
  });
}

const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function serve(script: Script) {
  const s = await fakeServer(script);
  servers.push(s);
  return s;
}

describe("TricklePublisher", () => {
  test("streams each segment as one POST per seq, preconnects seq+1, and closes with DELETE", async () => {
    const srv = await serve(okAfterBody);
    const pub = new TricklePublisher(srv.url, { mimeType: "video/MP2T" });
    const w0 = await pub.next();
    assert.equal(w0.seq, 0);
    // The POST for seq 1 is open before segment 0 has any data.
    await srv.waitFor((s) => s.method === "POST" && s.path === "/ch/1");
    await w0.write(new TextEncoder().encode("hello "));
    await w0.write(new TextEncoder().encode("world"));
    assert.deepEqual(await w0.end(), { seq: 0, bytes: 11 });
    assert.deepEqual(await pub.write([new Uint8Array([1, 2]), new Uint8Array([3])]), { seq: 1, bytes: 3 });
    await pub.close();
    const post0 = srv.seen.find((s) => s.path === "/ch/0")!;
    assert.equal((await post0.body).toString(), "hello world");
    assert.equal(post0.headers["content-type"], "video/MP2T");
    assert.equal(post0.headers["transfer-encoding"], "chunked");
    assert.deepEqual([...(await srv.seen.find((s) => s.path === "/ch/1")!.body)], [1, 2, 3]);
    assert.ok(srv.seen.some((s) => s.method === "DELETE" && s.path === "/ch"));
    assert.equal(pub.stats.segmentsCompleted, 2);
  });

  test("a segment that fails before any byte was sent is retried on the same seq", async () => {
    let posts = 0;
    const srv = await serve((req, res, seen) => {
      if (req.method === "POST" && req.url === "/ch/0" && ++posts === 1) {
        void seen.body.then(() => res.writeHead(503).end("busy"));
        return;
      }
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { retryDelayMs: 1 });
    // An empty segment: no byte is ever sent, so the failed POST may be replayed.
    assert.deepEqual(await pub.write(new Uint8Array(0)), { seq: 0, bytes: 0 });
    assert.equal(srv.seen.filter((s) => s.method === "POST" && s.path === "/ch/0").length, 2);
    assert.equal(pub.stats.retries, 1);
    assert.ok(!srv.seen.some((s) => s.method === "DELETE" && s.path === "/ch/0"));
  });

  test("a preconnected POST that was already refused is reopened before the first byte", async () => {
    const srv = await serve((req, res, seen) => {
      if (
        req.method === "POST" &&
        req.url === "/ch/1" &&
        srv.seen.filter((s) => s.path === "/ch/1").length === 1
      ) {
        res.writeHead(503).end("not now");
        return;
      }
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { retryDelayMs: 1 });
    const w0 = await pub.next();
    await srv.waitFor((s) => s.path === "/ch/1");
    await w0.write(new Uint8Array([0]));
    await w0.end();
    assert.deepEqual(await pub.write(new Uint8Array([1, 1])), { seq: 1, bytes: 2 });
    const posts1 = srv.seen.filter((s) => s.method === "POST" && s.path === "/ch/1");
    assert.equal(posts1.length, 2);
    assert.deepEqual([...(await posts1[1]!.body)], [1, 1]);
  });

  test("a segment that fails after bytes were sent is closed with DELETE {ch}/{seq} and not retried", async () => {
    const srv = await serve((req, res, seen) => {
      if (req.method === "POST" && req.url === "/ch/0") {
        void seen.body.then(() => res.writeHead(500).end("Server error"));
        return;
      }
      if (req.method === "DELETE") return void res.end();
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url);
    await assert.rejects(pub.write(new Uint8Array([9, 9, 9])), (err: unknown) => {
      assert.ok(err instanceof TrickleSegmentWriteError);
      assert.equal(err.httpStatus, 500);
      return true;
    });
    assert.equal(srv.seen.filter((s) => s.method === "POST" && s.path === "/ch/0").length, 1);
    assert.ok(srv.seen.some((s) => s.method === "DELETE" && s.path === "/ch/0"));
    // The publisher moves on to the next seq.
    assert.deepEqual(await pub.write(new Uint8Array([1])), { seq: 1, bytes: 1 });
    assert.equal(pub.stats.segmentsFailed, 1);
  });

  test("404 is terminal: StreamNotFound, no retry, and next() refuses afterwards", async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(404, { connection: "close" }).end("Stream not found");
    });
    const pub = new TricklePublisher(srv.url, { retryDelayMs: 1 });
    await assert.rejects(pub.write(new Uint8Array([1])), TrickleStreamNotFoundError);
    await assert.rejects(pub.next(), TrickleStreamNotFoundError);
    assert.equal(srv.seen.filter((s) => s.path === "/ch/0").length, 1);
    await pub.close();
  });

  test("Lp-Trickle-Closed means end of stream, whatever the status", async () => {
    const srv = await serve((_req, res, seen) => {
      void seen.body.then(() => res.writeHead(200, { "Lp-Trickle-Closed": "terminated" }).end());
    });
    await using pub = new TricklePublisher(srv.url);
    await assert.rejects(pub.write(new Uint8Array([1])), TrickleEndOfStreamError);
    assert.equal(pub.ended, true);
    await assert.rejects(pub.next(), TrickleEndOfStreamError);
  });

  test("any number of interim 100 Continue responses is ignored", async () => {
    const srv = await serve((req, res, seen) => {
      res.writeContinue();
      res.writeContinue();
      res.writeContinue();
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url);
    const w = await pub.next();
    await w.write(new Uint8Array([7]));
    assert.deepEqual(await w.end(), { seq: 0, bytes: 1 });
  });

  test('start "next" asks /next, sends Lp-Trickle-Reset on the first POST only, then counts on', async () => {
    const srv = await serve((req, res, seen) => {
      if (req.url === "/ch/next") return void res.writeHead(200, { "Lp-Trickle-Latest": "7" }).end("7");
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { start: "next" });
    assert.deepEqual(await pub.write(new Uint8Array([1])), { seq: 7, bytes: 1 });
    assert.deepEqual(await pub.write(new Uint8Array([2])), { seq: 8, bytes: 1 });
    const post7 = srv.seen.find((s) => s.method === "POST" && s.path === "/ch/7")!;
    const post8 = srv.seen.find((s) => s.method === "POST" && s.path === "/ch/8")!;
    assert.equal(post7.headers["lp-trickle-reset"], "1");
    assert.equal(post8.headers["lp-trickle-reset"], undefined);
  });

  test('concurrent next() calls get consecutive seqs, also while "next" is being resolved', async () => {
    const srv = await serve((req, res, seen) => {
      if (req.url === "/ch/next") return void res.writeHead(200, { "Lp-Trickle-Latest": "7" }).end("7");
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { start: "next" });
    const [a, b] = await Promise.all([pub.next(), pub.next()]);
    assert.deepEqual([a.seq, b.seq], [7, 8]);
    await a.end();
    await b.end();
    assert.equal(srv.seen.filter((s) => s.path === "/ch/next").length, 1);
  });

  test('start "next" without a /next endpoint posts to -1 and follows the server\'s Lp-Trickle-Seq', async () => {
    const srv = await serve((req, res, seen) => {
      if (req.url === "/ch/next") return void res.writeHead(400).end("Invalid idx");
      if (req.url === "/ch/-1")
        return void seen.body.then(() => res.writeHead(200, { "Lp-Trickle-Seq": "4" }).end());
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { start: "next" });
    assert.deepEqual(await pub.write(new Uint8Array([1])), { seq: 4, bytes: 1 });
    assert.deepEqual(await pub.write(new Uint8Array([2])), { seq: 5, bytes: 1 });
    assert.equal(srv.seen.find((s) => s.path === "/ch/-1")!.headers["lp-trickle-reset"], "1");
  });

  test("a server that stops reading fails the segment after the per-chunk stall timeout", async () => {
    const srv = await serve((req, res, seen) => {
      if (req.method === "POST" && req.url === "/ch/0") {
        req.pause(); // never read: the client's socket buffer fills up
        return;
      }
      if (req.method === "DELETE") return void res.end();
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { stallTimeoutMs: 100 });
    const w = await pub.next();
    const chunk = new Uint8Array(1 << 20);
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 256; i++) await w.write(chunk);
      })(),
      (err: unknown) => err instanceof TrickleStallError,
    );
    assert.ok(srv.seen.some((s) => s.method === "DELETE" && s.path === "/ch/0"));
  });

  test("a server that never answers a complete segment fails it after the stall timeout", async () => {
    const srv = await serve((req, res, seen) => {
      if (req.method === "POST" && req.url === "/ch/0") return; // reads nothing, answers nothing
      if (req.method === "DELETE") return void res.end();
      okAfterBody(req, res, seen);
    });
    await using pub = new TricklePublisher(srv.url, { stallTimeoutMs: 100 });
    await assert.rejects(pub.write(new Uint8Array([1, 2, 3])), (err: unknown) => {
      assert.ok(err instanceof TrickleSegmentWriteError);
      assert.ok(err.cause instanceof TrickleStallError);
      return true;
    });
    assert.ok(srv.seen.some((s) => s.method === "DELETE" && s.path === "/ch/0"));
    assert.deepEqual(await pub.write(new Uint8Array([4])), { seq: 1, bytes: 1 });
  });

  test("aborting the signal closes the channel and fails pending writers", async () => {
    const srv = await serve((req, res, seen) => {
      if (req.method === "DELETE") return void res.end();
      okAfterBody(req, res, seen);
    });
    const ac = new AbortController();
    const pub = new TricklePublisher(srv.url, { signal: ac.signal });
    const w = await pub.next();
    await w.write(new Uint8Array([1]));
    ac.abort();
    await pub.close();
    await assert.rejects(w.end(), TrickleEndOfStreamError);
    await assert.rejects(pub.next(), TrickleEndOfStreamError);
    assert.ok(srv.seen.some((s) => s.method === "DELETE" && s.path === "/ch"));
  });

  test("create() posts the channel with Expect-Content and maps 404", async () => {
    const srv = await serve((req, res) => {
      if (req.url === "/ch") return void res.end();
      res.writeHead(404).end();
    });
    await using pub = new TricklePublisher(srv.url, { mimeType: "application/json" });
    await pub.create();
    assert.equal(srv.seen[0]!.headers["expect-content"], "application/json");
    await using other = new TricklePublisher(`${srv.url.replace(/ch$/, "x/y")}`);
    await assert.rejects(other.create(), TrickleStreamNotFoundError);
  });
});
