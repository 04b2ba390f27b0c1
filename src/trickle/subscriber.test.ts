import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { TrickleStreamNotFoundError, TrickleSubscribeError } from "./client-errors.ts";
import { TrickleSubscriber } from "./subscriber.ts";

interface Seen {
  method: string;
  path: string;
  res: http.ServerResponse;
}
type Script = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A scripted fake trickle server; `n` counts earlier requests to the same path. */
async function fakeServer(script: Script) {
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const n = seen.filter((s) => s.path === req.url).length;
    seen.push({ method: req.method ?? "", path: req.url ?? "", res });
    for (const w of waiters.splice(0)) w();
    script(req, res, n);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const self = {
    url: `http://127.0.0.1:${port}/ch`,
    seen,
    count: (path: string) => seen.filter((s) => s.path === path).length,
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
  servers.push(self);
  return self;
}

const servers: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const s of servers) await s.close();
});

function segment(res: http.ServerResponse, seq: number, body: string, extra: Record<string, string> = {}) {
  res.writeHead(200, { "Lp-Trickle-Seq": String(seq), "Content-Type": "text/plain", ...extra }).end(body);
}

const fast = { retryDelayMs: 1, aheadPollMs: 1 };

describe("TrickleSubscriber", () => {
  test("reads segments in order, follows Lp-Trickle-Seq, and preconnects seq+1 on headers", async () => {
    const srv = await fakeServer((req, res) => {
      if (req.url === "/ch/-2") return segment(res, 3, "three", { "Lp-Trickle-Latest": "4" });
      if (req.url === "/ch/4") {
        // Headers and a first chunk now, the rest later: the client must see it live.
        res.writeHead(200, { "Lp-Trickle-Seq": "4", "Content-Type": "text/plain" });
        res.write("fo");
        return;
      }
      if (req.url === "/ch/5") return segment(res, 5, "five");
    });
    await using sub = new TrickleSubscriber(srv.url, fast);
    const s3 = await sub.next();
    assert.equal(s3?.seq, 3);
    assert.equal(s3?.latest, 4);
    assert.equal(s3?.mimeType, "text/plain");
    assert.equal(await s3?.text(), "three");
    const s4 = await sub.next();
    assert.equal(s4?.seq, 4);
    assert.equal(s4?.latest, undefined);
    // The GET for 5 is already out while segment 4 is still being written.
    await srv.waitFor((s) => s.path === "/ch/5");
    const it = s4!.body[Symbol.asyncIterator]();
    assert.equal(Buffer.from((await it.next()).value).toString(), "fo");
    srv.seen.find((s) => s.path === "/ch/4")!.res.end("ur");
    assert.equal(Buffer.from((await it.next()).value).toString(), "ur");
    assert.equal((await it.next()).done, true);
    assert.equal(await (await sub.next())?.text(), "five");
    assert.equal(sub.stats.segments, 3);
    assert.equal(sub.stats.bytes, 13);
    assert.equal(sub.seq, 6);
  });

  test("404 is terminal: rejects with StreamNotFound after exactly one GET, then returns null", async () => {
    const srv = await fakeServer((_req, res) => res.writeHead(404).end("Stream not found"));
    await using sub = new TrickleSubscriber(srv.url, fast);
    await assert.rejects(sub.next(), TrickleStreamNotFoundError);
    assert.equal(await sub.next(), null);
    assert.equal(sub.endReason, "not-found");
    assert.equal(srv.seen.length, 1);
  });

  test("a 404 after segments were received is the end of the stream, not an error", async () => {
    const srv = await fakeServer((req, res) => {
      if (req.url === "/ch/0") return segment(res, 0, "zero");
      res.writeHead(404).end("Stream not found");
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 0 });
    assert.equal(await (await sub.next())?.text(), "zero");
    assert.equal(await sub.next(), null);
    assert.equal(sub.endReason, "not-found");
    assert.equal(srv.count("/ch/1"), 1, "no retry");
  });

  test("470 jumps to Lp-Trickle-Latest", async () => {
    const srv = await fakeServer((req, res) => {
      if (req.url === "/ch/0")
        return void res
          .writeHead(470, { "Lp-Trickle-Latest": "7", "Lp-Trickle-Seq": "0" })
          .end("Entry not found");
      if (req.url === "/ch/7") return segment(res, 7, "seven");
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 0 });
    const s = await sub.next();
    assert.equal(s?.seq, 7);
    assert.equal(await s?.text(), "seven");
    assert.equal(sub.stats.jumps, 1);
    assert.equal(sub.stats.retries, 0);
  });

  test("470 with Latest below the requested seq waits and asks for the same seq again", async () => {
    const srv = await fakeServer((req, res, n) => {
      if (req.url === "/ch/5" && n < 2) return void res.writeHead(470, { "Lp-Trickle-Latest": "3" }).end();
      if (req.url === "/ch/5") return segment(res, 5, "five");
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 5 });
    const s = await sub.next();
    assert.equal(s?.seq, 5);
    assert.equal(srv.count("/ch/5"), 3);
    assert.equal(srv.count("/ch/3"), 0);
    assert.equal(sub.stats.aheadWaits, 2);
    await s?.bytes();
  });

  test("Lp-Trickle-Closed is checked before the status: 200, 470 or 500 with it all mean end of stream", async () => {
    for (const status of [200, 470, 500]) {
      const srv = await fakeServer((_req, res) =>
        res
          .writeHead(status, { "Lp-Trickle-Closed": "terminated", "Lp-Trickle-Latest": "2" })
          .end("Entry not found"),
      );
      await using sub = new TrickleSubscriber(srv.url, fast);
      assert.equal(await sub.next(), null, `status ${status}`);
      assert.equal(sub.ended, true);
      assert.equal(sub.endReason, "closed");
      assert.equal(srv.seen.length, 1);
    }
  });

  test("other errors are retried a bounded number of times", async () => {
    const srv = await fakeServer((_req, res) => res.writeHead(503).end("busy"));
    await using sub = new TrickleSubscriber(srv.url, { ...fast, maxRetries: 2 });
    await assert.rejects(sub.next(), (err: unknown) => {
      assert.ok(err instanceof TrickleSubscribeError);
      assert.equal(err.httpStatus, 503);
      return true;
    });
    assert.equal(srv.seen.length, 3);
    assert.equal(sub.stats.retries, 2);
  });

  test("a transient failure is retried and then the segment is read", async () => {
    const srv = await fakeServer((req, res, n) => {
      if (n === 0) return void res.socket?.destroy();
      segment(res, 0, "zero");
      void req;
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 0 });
    assert.equal(await (await sub.next())?.text(), "zero");
    assert.equal(sub.stats.retries, 1);
  });

  test("a GET stuck waiting for headers is cancelled and reissued after refreshMs", async () => {
    const srv = await fakeServer((req, res, n) => {
      if (n === 0) return; // never answer the first attempt
      segment(res, 0, "late");
      void req;
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 0, refreshMs: 100 });
    const s = await sub.next();
    assert.equal(await s?.text(), "late");
    assert.equal(srv.count("/ch/0"), 2);
    assert.equal(sub.stats.refreshes, 1);
    assert.equal(sub.stats.retries, 0);
  });

  test("aborting the signal unblocks a pending next() with null", async () => {
    const srv = await fakeServer(() => {});
    const ac = new AbortController();
    await using sub = new TrickleSubscriber(srv.url, { ...fast, signal: ac.signal });
    const pending = sub.next();
    await srv.waitFor((s) => s.path === "/ch/-2");
    ac.abort();
    assert.equal(await pending, null);
    assert.equal(sub.ended, true);
    assert.equal(sub.endReason, "aborted");
  });

  test("setSeq moves the subscriber and drops the preconnected GET", async () => {
    const srv = await fakeServer((req, res) => {
      const seq = Number(req.url?.split("/")[2]);
      if (seq === 1) return; // the preconnect after segment 0 stays pending
      segment(res, seq, `s${seq}`);
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 0 });
    assert.equal(await (await sub.next())?.text(), "s0");
    await srv.waitFor((s) => s.path === "/ch/1");
    sub.setSeq(9);
    assert.equal(await (await sub.next())?.text(), "s9");
    assert.equal(sub.seq, 10);
  });

  test("the subscriber is an async iterator of segments ending at end of stream", async () => {
    const srv = await fakeServer((req, res) => {
      const seq = Number(req.url?.split("/")[2]);
      if (seq < 3) return segment(res, seq, `s${seq}`);
      res.writeHead(200, { "Lp-Trickle-Closed": "terminated" }).end();
    });
    await using sub = new TrickleSubscriber(srv.url, { ...fast, start: 0 });
    const texts: string[] = [];
    for await (const s of sub) texts.push(await s.text());
    assert.deepEqual(texts, ["s0", "s1", "s2"]);
  });
});
