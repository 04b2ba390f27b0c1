import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { connect as h2connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Orchestrator, PingPongSchema } from "../protocol/gen/lp_rpc_pb.ts";
import { BadRequestError } from "./errors.ts";
import { createSelfSignedCertificate, loadOrCreateTls, startNodeServer, TLS_KEY_FILE } from "./server.ts";

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
