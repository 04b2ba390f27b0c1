import assert from "node:assert/strict";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { connect as h2connect, createServer as h2server } from "node:http2";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { test } from "node:test";
import {
  BodyCutOffError,
  PayloadTooLargeError,
  type ReadBodyOptions,
  readBody,
  readJsonObject,
} from "./body.ts";
import { closeServer, listen } from "./listen.ts";
import { sendError } from "./send.ts";

/** A server whose handler reads the body with `limit` and reports what readBody did. */
async function serve(limit: number, options: ReadBodyOptions = {}) {
  const outcomes: Array<{ ok: Buffer } | { err: unknown }> = [];
  let notify: () => void = () => {};
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    readBody(req, limit, options).then(
      (body) => {
        outcomes.push({ ok: body });
        notify();
        res.end(`read ${body.length}`);
      },
      (err: unknown) => {
        outcomes.push({ err });
        notify();
        sendError(res, err);
      },
    );
  });
  const port = await listen(server, "127.0.0.1", 0);
  const next = () =>
    new Promise<(typeof outcomes)[number]>((resolve) => {
      if (outcomes.length > 0) resolve(outcomes.shift()!);
      else notify = () => resolve(outcomes.shift()!);
    });
  return { port, next, [Symbol.asyncDispose]: () => closeServer(server) };
}

/** Sends raw bytes and resolves with everything the server answers until it closes or `ms` pass. */
function raw(port: number, text: string, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let got = "";
    socket.on("data", (c) => {
      got += c.toString("latin1");
    });
    const t = setTimeout(() => socket.destroy(), ms);
    socket.on("close", () => {
      clearTimeout(t);
      resolve(got);
    });
    socket.on("error", () => {});
  });
}

function post(port: number, body: Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; text: string; headers: IncomingMessage["headers"] }>(
    (resolve, reject) => {
      const req = request({ port, host: "127.0.0.1", method: "POST", headers }, (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      });
      req.on("error", reject);
      req.end(body);
    },
  );
}

test("a body of exactly the limit is read whole; one byte more is a 413", async () => {
  await using s = await serve(16);
  const exact = await post(s.port, Buffer.alloc(16, 1));
  assert.equal(exact.status, 200);
  assert.equal(exact.text, "read 16");
  const first = await s.next();
  assert.ok("ok" in first && first.ok.equals(Buffer.alloc(16, 1)));
  const over = await post(s.port, Buffer.alloc(17, 1));
  assert.equal(over.status, 413);
  assert.match(over.text, /PAYLOAD_TOO_LARGE/);
  assert.equal(over.headers.connection, "close");
  const second = await s.next();
  assert.ok("err" in second && second.err instanceof PayloadTooLargeError);
});

test("a declared Content-Length over the limit answers 413 before any of the body is sent", async () => {
  await using s = await serve(1024);
  // Only the head: the server must answer without waiting for the 1 MiB it announces.
  const answer = await raw(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
  assert.match(answer, /^HTTP\/1.1 413 /);
  assert.match(answer, /over the 1024-byte limit/);
  const out = await s.next();
  assert.ok("err" in out && out.err instanceof PayloadTooLargeError);
  assert.deepEqual(out.err.details, { limit: 1024, declared: 1048576 });
});

test("a chunked body that grows past the limit is refused once it does", async () => {
  await using s = await serve(10);
  const chunk = (n: number) => `${n.toString(16)}\r\n${"a".repeat(n)}\r\n`;
  const answer = await raw(
    s.port,
    `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(8)}${chunk(8)}`,
  );
  assert.match(answer, /^HTTP\/1.1 413 /);
  const out = await s.next();
  assert.ok("err" in out && out.err instanceof PayloadTooLargeError);
});

test("a body cut off before its declared length rejects with a typed 400, not a pending promise", async () => {
  await using s = await serve(1024);
  const socket = connect(s.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten..");
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  const out = await s.next();
  assert.ok("err" in out && out.err instanceof BodyCutOffError, String("err" in out && out.err));
  assert.equal(out.err.status, 400);
  assert.equal(out.err.code, "BODY_CUT_OFF");
});

test('"drain" mode reads the rest of a refused upload first, so the client reads the 413', async () => {
  await using s = await serve(1024, { tooLarge: "drain", drainMs: 5000 });
  const big = Buffer.alloc(4 * 1024 * 1024, 7);
  const r = await post(s.port, big);
  assert.equal(r.status, 413);
  const out = await s.next();
  assert.ok("err" in out && out.err instanceof PayloadTooLargeError);
});

test("readJsonObject: {} for an empty body, the object, or the caller's error for anything else", async () => {
  const source = (text: string) => Object.assign(Readable.from([Buffer.from(text)]), { headers: {} });
  assert.deepEqual(await readJsonObject(Object.assign(Readable.from([]), { headers: {} })), {});
  assert.deepEqual(await readJsonObject(source('{"a":1}')), { a: 1 });
  await assert.rejects(readJsonObject(source("[1]")), { code: "BAD_JSON", status: 400 });
  await assert.rejects(readJsonObject(source("{")), { code: "BAD_JSON" });
  await assert.rejects(
    readJsonObject(source("1"), 100, () => new Error("Invalid JSON body")),
    /Invalid JSON body/,
  );
});

test("over HTTP/2, a stream reset mid-body is a cut-off body, not a short body read as whole", async () => {
  let settle: (v: unknown) => void = () => {};
  const outcome = new Promise((r) => {
    settle = r;
  });
  const server = h2server((req) => {
    readBody(req, 1024).then(
      (body) => settle(body),
      (err: unknown) => settle(err),
    );
  });
  const port = await listen(server, "127.0.0.1", 0);
  const client = h2connect(`http://127.0.0.1:${port}`);
  client.on("error", () => {});
  try {
    const stream = client.request({ ":method": "POST", ":path": "/", "content-length": "100" });
    stream.on("error", () => {});
    stream.write(Buffer.alloc(10));
    await new Promise((r) => setTimeout(r, 50));
    stream.close(8); // RST_STREAM CANCEL after 10 of the 100 bytes
    const out = await outcome;
    assert.ok(
      out instanceof BodyCutOffError,
      `got ${out instanceof Buffer ? `${out.length} bytes` : String(out)}`,
    );
  } finally {
    client.close();
    await closeServer(server);
  }
});
