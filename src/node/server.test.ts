import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { constants as h2c, connect as h2connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { H2, h2Frame, h2Request, MAX_HEADER_BYTES, rawH2, send } from "../../test/fuzz/http-util.ts";
import { until } from "../../test/until.ts";
import { Orchestrator, PingPongSchema } from "../protocol/gen/lp_rpc_pb.ts";
import { BadRequestError } from "./errors.ts";
import {
  createSelfSignedCertificate,
  loadOrCreateTls,
  type NodeResponse,
  startNodeServer,
  TLS_KEY_FILE,
} from "./server.ts";

const dir = mkdtempSync(join(tmpdir(), "node-server-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function h1get(url: string, ca: string): Promise<{ status: number; body: string; alpn: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          alpn: String((res.socket as { alpnProtocol?: string }).alpnProtocol),
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("self-signed certificate", () => {
  test("is a valid self-signed X.509 certificate naming localhost and 127.0.0.1", () => {
    const { cert, key } = createSelfSignedCertificate(["orch.example", "10.0.0.7"]);
    const x = new X509Certificate(cert);
    assert.ok(x.verify(x.publicKey), "signature checks against its own key");
    assert.ok(x.checkHost("localhost"));
    assert.ok(x.checkHost("orch.example"));
    assert.ok(x.checkIP("127.0.0.1"));
    assert.ok(x.checkIP("10.0.0.7"));
    assert.ok(x.checkPrivateKey(createPrivateKey(key)));
    assert.ok(new Date(x.validTo).getTime() > Date.now() + 5 * 365 * 86400_000);
  });

  test("every generated certificate parses (minimal DER serials; 1 in 256 failed before)", () => {
    for (let i = 0; i < 600; i++) new X509Certificate(createSelfSignedCertificate().cert);
  });

  test("is generated once and reused from the data directory, key mode 0600", () => {
    const a = loadOrCreateTls(dir);
    const b = loadOrCreateTls(dir);
    assert.equal(a.cert, b.cert);
    assert.equal(statSync(join(dir, TLS_KEY_FILE)).mode & 0o777, 0o600);
  });
});

describe("startNodeServer", () => {
  test("serves HTTP/1.1, HTTP/2 and gRPC on one TLS port; a throwing handler answers 500 JSON", async () => {
    await using srv = await startNodeServer({
      port: 0,
      dataDir: dir,
      handler: (req, res) => {
        if (req.url === "/boom") throw new Error("secret detail");
        if (req.url === "/bad") return Promise.reject(new BadRequestError("nope"));
        (res as ServerResponse).writeHead(200, { "content-type": "text/plain" });
        (res as ServerResponse).end(`hello ${req.httpVersion}`);
      },
      grpc: (router) => {
        router.service(Orchestrator, {
          ping: (req) => create(PingPongSchema, { value: req.value }),
        });
      },
    });
    // Nagle off on every accepted connection (net.Server applies `noDelay` to each socket): a body
    // written after flushed headers must not wait for the client's delayed ACK.
    assert.equal((srv.server as unknown as { noDelay: boolean }).noDelay, true);
    const h1 = await h1get(`${srv.url}/x`, srv.cert);
    assert.equal(h1.status, 200);
    assert.equal(h1.body, "hello 1.1");
    const boom = await h1get(`${srv.url}/boom`, srv.cert);
    assert.equal(boom.status, 500);
    assert.deepEqual(JSON.parse(boom.body).error.code, "INTERNAL");
    assert.ok(!boom.body.includes("secret detail"));
    const bad = await h1get(`${srv.url}/bad`, srv.cert);
    assert.equal(bad.status, 400);

    const session = h2connect(srv.url, { ca: srv.cert });
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const s = session.request({ ":path": "/y" });
        let b = "";
        s.on("data", (c) => {
          b += c;
        });
        s.on("end", () => resolve(b));
        s.on("error", reject);
        s.end();
      });
      assert.equal(body, "hello 2.0");
    } finally {
      session.close();
    }

    const transport = createGrpcTransport({ baseUrl: srv.url, nodeOptions: { ca: srv.cert } });
    const client = createClient(Orchestrator, transport);
    const pong = await client.ping({ value: new Uint8Array([1, 2, 3]) });
    assert.deepEqual([...pong.value], [1, 2, 3]);
  });

  test("a busy port rejects with EADDRINUSE", async () => {
    await using a = await startNodeServer({
      port: 0,
      dataDir: dir,
      handler: (_q, r) => void (r as ServerResponse).end(),
    });
    await assert.rejects(
      startNodeServer({ port: a.port, dataDir: dir, handler: (_q, r) => void (r as ServerResponse).end() }),
      /EADDRINUSE/,
    );
  });
});

describe("startNodeServer limits (HTTP/1.1 and HTTP/2)", () => {
  const ok = (_req: unknown, res: NodeResponse) => {
    (res as ServerResponse).writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  };

  test("heads up to 1 MiB are accepted on both protocols; over it HTTP/1.1 answers 431 with a message", async () => {
    await using srv = await startNodeServer({ port: 0, dataDir: dir, handler: ok });
    const target = { url: srv.url, ca: srv.cert };
    const get = (headers: Record<string, string>, h2 = false) =>
      send({ ...target, h2 }, { method: "GET", path: "/", headers, body: Buffer.alloc(0) }, 10_000);
    // A payment of ~400 tickets is ~40 KiB of base64; a 64 KiB job from livepeer-gateway's client ~90 KiB.
    const big = { livepeer: "a".repeat(90 * 1024), "livepeer-payment": "b".repeat(60 * 1024) };
    for (const h2 of [false, true]) {
      const out = await get(big, h2);
      assert.equal(
        out.kind === "reply" && out.status,
        200,
        `${h2 ? "h2" : "h1"}: ${JSON.stringify(out).slice(0, 200)}`,
      );
    }
    const near = await get({ "x-big": "a".repeat(MAX_HEADER_BYTES - 4096) });
    assert.equal(near.kind === "reply" && near.status, 200);
    const over = await get({ "x-big": "a".repeat(MAX_HEADER_BYTES + 1) });
    assert.ok(over.kind === "reply" && over.status === 431, JSON.stringify(over).slice(0, 200));
    assert.equal(JSON.parse(over.body).error.code, "HEADERS_TOO_LARGE");
    assert.match(JSON.parse(over.body).error.message, /over 1048576 bytes/);
  });

  test("HTTP/2: a client opening more streams than announced has the extra one refused", async () => {
    const held: NodeResponse[] = [];
    await using srv = await startNodeServer({
      port: 0,
      dataDir: dir,
      limits: { maxConcurrentStreams: 4 },
      handler: (_req, res) => void held.push(res),
    });
    const conn = await rawH2({ url: srv.url, ca: srv.cert });
    try {
      const settings = await conn.waitFor((f) => f.type === H2.SETTINGS && f.flags === 0, 5000);
      assert.ok(settings);
      // SETTINGS_MAX_CONCURRENT_STREAMS (0x3) = 4
      const params = new Map<number, number>();
      for (let i = 0; i + 6 <= settings.payload.length; i += 6)
        params.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
      assert.equal(params.get(3), 4);
      for (const id of [1, 3, 5, 7]) conn.write(h2Request(id, "GET", "/"));
      await until("4 streams served", () => held.length === 4);
      // nghttp2 answers the 5th as a protocol error (the client ignored acknowledged settings), as Go does
      conn.write(h2Request(9, "GET", "/"));
      const refused = await Promise.race([
        conn.waitFor((f) => f.type === H2.RST_STREAM && f.stream === 9, 5000).then((f) => f !== undefined),
        conn.closedWithin(5000),
      ]);
      assert.ok(refused, "stream 9 refused or the connection closed");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(held.length, 4, "the 5th stream never reached the handler");
    } finally {
      conn.destroy();
      for (const r of held) r.end();
    }
  });

  test("HTTP/2: a rapid-reset flood closes the connection; other connections are served", async () => {
    await using srv = await startNodeServer({
      port: 0,
      dataDir: dir,
      handler: (_req, res) => void setTimeout(() => ok(_req, res), 50),
    });
    const conn = await rawH2({ url: srv.url, ca: srv.cert });
    try {
      let id = 1;
      for (let batch = 0; batch < 200; batch++) {
        const frames: Buffer[] = [];
        for (let i = 0; i < 100; i++, id += 2)
          frames.push(h2Request(id, "GET", "/"), h2Frame(H2.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
        conn.write(Buffer.concat(frames));
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(await conn.closedWithin(5000), "the server closed the connection");
      const goaway = conn.frames.find((f) => f.type === H2.GOAWAY);
      assert.equal(goaway?.payload.readUInt32BE(4), h2c.NGHTTP2_ENHANCE_YOUR_CALM);
    } finally {
      conn.destroy();
    }
    const after = await send(
      { url: srv.url, ca: srv.cert, h2: true },
      { method: "GET", path: "/", headers: {}, body: Buffer.alloc(0) },
      5000,
    );
    assert.equal(after.kind === "reply" && after.status, 200);
  });

  test("HTTP/2: unfinished uploads on one connection are bounded; the stream over the budget is reset", async () => {
    const budget = 1024 * 1024;
    let holding = 0;
    await using srv = await startNodeServer({
      port: 0,
      dataDir: dir,
      limits: { maxSessionUploadBytes: budget },
      // Buffers every body (as the orchestrator's body reader does) and answers only at its end.
      handler: (req, res) => {
        let mine = 0;
        req.on("data", (c: Buffer) => {
          mine += c.length;
          holding += c.length;
        });
        req.on("end", () => ok(req, res));
        req.on("close", () => {
          holding -= mine;
        });
      },
    });
    const session = h2connect(srv.url, { ca: srv.cert });
    session.on("error", () => {});
    const streams = Array.from({ length: 8 }, () => {
      const s = session.request({ ":method": "POST", ":path": "/" }, { endStream: false });
      s.on("error", () => {});
      s.write(Buffer.alloc(512 * 1024, 1));
      return s;
    });
    try {
      await until(
        "streams over the budget reset",
        () => streams.filter((s) => s.rstCode === h2c.NGHTTP2_ENHANCE_YOUR_CALM).length >= 5,
      );
      assert.ok(holding <= budget, `handlers hold ${holding} bytes of unfinished uploads (budget ${budget})`);
      // once the client gives up those uploads, the connection serves requests again
      for (const s of streams) s.close(h2c.NGHTTP2_CANCEL);
      await until("uploads released", () => holding === 0);
      const done = await new Promise<number>((resolve) => {
        const s = session.request({ ":method": "POST", ":path": "/" });
        s.on("response", (h) => resolve(Number(h[":status"])));
        s.on("error", () => resolve(0));
        s.end("small");
      });
      assert.equal(done, 200);
    } finally {
      session.destroy();
    }
  });

  test("HTTP/2: a closed connection's session is not kept (its timers go with it); an idle one is closed after idleTimeoutMs", async () => {
    const sessions: WeakRef<object>[] = [];
    // Timeouts far longer than the test: only the closed connections can free the sessions.
    await using srv = await startNodeServer({
      port: 0,
      dataDir: dir,
      limits: { idleTimeoutMs: 120_000, headersTimeoutMs: 120_000 },
      handler: (req, res) => {
        const stream = (req as { stream?: { session?: object } }).stream;
        if (stream?.session) sessions.push(new WeakRef(stream.session));
        ok(req, res);
      },
    });
    const request = (session: ReturnType<typeof h2connect>) =>
      new Promise<void>((resolve, reject) => {
        const s = session.request({ ":method": "GET", ":path": "/" });
        s.on("error", reject);
        s.resume();
        s.on("end", () => resolve());
      });
    for (let i = 0; i < 20; i++) {
      const session = h2connect(srv.url, { ca: srv.cert, servername: "localhost" });
      await request(session);
      await new Promise<void>((r) => session.close(() => r()));
    }
    assert.equal(sessions.length, 20);
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    await until("the closed connections' sessions collected", async () => {
      gc();
      await new Promise((r) => setImmediate(r));
      return sessions.every((w) => w.deref() === undefined);
    });
    // An open connection whose one request ended is closed once idle for idleTimeoutMs.
    await using short = await startNodeServer({
      port: 0,
      dataDir: dir,
      limits: { idleTimeoutMs: 300 },
      handler: ok,
    });
    const idle = h2connect(short.url, { ca: short.cert, servername: "localhost" });
    idle.on("error", () => {});
    await request(idle);
    const t0 = Date.now();
    await new Promise<void>((r) => idle.once("close", () => r()));
    assert.ok(Date.now() - t0 >= 250, `closed after ${Date.now() - t0} ms, not at once`);
  });

  test("slow clients: unfinished heads and idle TLS are closed within the headers timeout, slow answers are not", async () => {
    const headersTimeoutMs = 500;
    await using srv = await startNodeServer({
      port: 0,
      dataDir: dir,
      limits: { headersTimeoutMs, idleTimeoutMs: headersTimeoutMs },
      // answers after 4 headers timeouts, like a trickle subscriber waiting for its segment
      handler: (req, res) => void setTimeout(() => ok(req, res), 4 * headersTimeoutMs),
    });
    const { port } = new URL(srv.url);
    const started = Date.now();
    // 1. TCP only, no TLS handshake
    const tcp = netConnect(Number(port), "127.0.0.1");
    tcp.on("error", () => {});
    // 2. TLS, then an HTTP/1.1 head that never ends
    const h1 = tlsConnect({
      port: Number(port),
      host: "127.0.0.1",
      ca: srv.cert,
      servername: "localhost",
      ALPNProtocols: ["http/1.1"],
    });
    h1.on("error", () => {});
    let h1Answer = "";
    h1.on("data", (d) => {
      h1Answer += d;
    });
    h1.once("secureConnect", () => h1.write("GET / HTTP/1.1\r\nhost: localhost\r\nx-slow: "));
    // 3. HTTP/2 preface and settings, then nothing
    const h2 = await rawH2({ url: srv.url, ca: srv.cert });
    const closed = (s: Socket) => new Promise<number>((r) => s.once("close", () => r(Date.now() - started)));
    const [tTcp, tH1, h2Closed] = await Promise.all([closed(tcp), closed(h1), h2.closedWithin(5000)]);
    assert.ok(tTcp < 4 * headersTimeoutMs, `bare TCP closed after ${tTcp} ms`);
    assert.ok(tH1 < 4 * headersTimeoutMs, `slow head closed after ${tH1} ms`);
    assert.match(h1Answer, /^HTTP\/1.1 408/);
    assert.ok(h2Closed && Date.now() - started < 4 * headersTimeoutMs, "idle HTTP/2 connection closed");
    // slow answers on both protocols are not cut
    const slow = await Promise.all(
      [false, true].map((h2) =>
        send(
          { url: srv.url, ca: srv.cert, h2 },
          { method: "GET", path: "/", headers: {}, body: Buffer.alloc(0) },
          10_000,
        ),
      ),
    );
    for (const out of slow) assert.equal(out.kind === "reply" && out.status, 200, JSON.stringify(out));
  });
});
