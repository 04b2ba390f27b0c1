/**
 * The orchestrator's HTTP limits over real HTTPS on 127.0.0.1 (HTTP/1.1 and HTTP/2), on the nodes of
 * orchestrator-nodes.ts: headers up to 1 MiB, big `Livepeer` and payment headers, HTTP/2 stream and
 * reset limits, unfinished uploads, slow clients and oversized bodies. Each is answered with a
 * documented status (or the connection is refused), and the node keeps serving.
 */
import assert from "node:assert/strict";
import { constants as h2c, connect as h2connect } from "node:http2";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import type { RunningOrchestrator } from "../../src/orchestrator/index.ts";
import { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import {
  encodeJobHeader,
  encodeJobSenderHeader,
  jobSigningPayloadV0,
} from "../../src/protocol/job-header.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import {
  parseJsonBig,
  priceInfoFromGoJson,
  ticketParamsFromGoJson,
} from "../../src/protocol/ticket-params-json.ts";
import { senders, time } from "../e2e/orchestrator-helpers.ts";
import { until } from "../until.ts";
import { assertSaneReply, heapAfterGc } from "./fuzz-util.ts";
import {
  bigBody,
  checkOversizedHeaders,
  H2,
  h2Frame,
  h2Request,
  rawH2,
  send,
  type Target,
} from "./http-util.ts";
import {
  type FuzzNodes,
  gw,
  LIMITED_HEADERS_TIMEOUT_MS,
  LIMITED_STREAMS,
  LIMITED_UPLOAD_MIB,
  SECRET,
  startFuzzNodes,
  WAIT_MS,
} from "./orchestrator-nodes.ts";

describe("fuzz: orchestrator routes over HTTPS", () => {
  let nodes: FuzzNodes;
  let offchain: RunningOrchestrator;
  let priced: RunningOrchestrator;
  /** Offchain, with small HTTP limits (a few streams, a short headers timeout, a small upload budget). */
  let limited: RunningOrchestrator;
  let signedJobs: string[];

  before(async () => {
    nodes = await startFuzzNodes({ limited: true });
    ({ offchain, priced, signedJobs } = nodes);
    limited = nodes.limited!;
  });

  after(() => nodes?.close());

  test("headers up to 1 MiB are accepted, over it 431 with a message (h1) or refused (h2), the server keeps serving", async () => {
    await checkOversizedHeaders({ url: offchain.url, ca: offchain.cert }, "/health");
    await checkOversizedHeaders({ url: offchain.url, ca: offchain.cert, h2: true }, "/health");
  });

  test("big Livepeer headers with a 400-ticket payment are served: a 64 KiB job over HTTP/1.1, a 64 KiB header over HTTP/2", async () => {
    // livepeer-gateway's Python client (HTTP/1.1) puts the whole job in the header: a 64 KiB job is an
    // 88 KiB header. Over HTTP/2 one header field is at most 64 KiB compressed (nghttp2's limit).
    // A 400-ticket payment is ~40 KiB.
    const jobHeader = async (textBytes: number) => {
      const job = {
        id: "big",
        capability: "echo",
        request: JSON.stringify({ text: "t".repeat(textBytes) }),
        parameters: "{}",
        timeoutSeconds: 30,
        sender: gw.address,
        sig: "",
      };
      return encodeJobHeader({ ...job, sig: await signPayload(gw, jobSigningPayloadV0(job)) });
    };
    const headers = { h1: await jobHeader(64 * 1024), h2: await jobHeader(48 * 1024) };
    assert.ok(headers.h2.length >= 64 * 1024, `h2 Livepeer header of ${headers.h2.length} bytes`);
    const sender = new Sender({ signer: gw, time, senders });
    const ethAddress = encodeJobSenderHeader({ addr: gw.address, sig: await signPayload(gw, gw.address) });
    for (const h2 of [false, true]) {
      const target: Target = { url: priced.url, ca: priced.cert, h2 };
      const tok = await send(
        target,
        {
          method: "GET",
          path: "/process/token",
          headers: { "livepeer-eth-address": ethAddress, "livepeer-capability": "echo" },
          body: Buffer.alloc(0),
        },
        WAIT_MS,
      );
      assert.equal(tok.kind === "reply" && tok.status, 200, JSON.stringify(tok).slice(0, 300));
      const token = parseJsonBig(tok.kind === "reply" ? tok.body : "") as {
        price: unknown;
        ticket_params: unknown;
      };
      const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
      const payment = encodePaymentHeader(
        await sender.createPayment(session, 400, priceInfoFromGoJson(token.price)),
      );
      assert.ok(payment.length > 32 * 1024, `payment header of ${payment.length} bytes`);
      const out = await send(
        target,
        {
          method: "POST",
          path: "/process/request/echo",
          headers: {
            livepeer: h2 ? headers.h2 : headers.h1,
            "livepeer-payment": payment,
            "content-type": "application/json",
          },
          body: Buffer.from("{}"),
        },
        WAIT_MS,
      );
      assert.equal(
        out.kind === "reply" && out.status,
        200,
        `${h2 ? "h2" : "h1"}: ${JSON.stringify(out).slice(0, 300)}`,
      );
    }
  });

  test("HTTP/2 limits: streams per connection capped, rapid resets close the connection, unfinished uploads bounded", async () => {
    const o = limited;
    const target: Target = { url: o.url, ca: o.cert };
    // 1. a client that opens more streams than announced gets the extra one refused
    const conn = await rawH2(target);
    try {
      const settings = await conn.waitFor((f) => f.type === H2.SETTINGS && f.flags === 0, WAIT_MS);
      const announced = new Map<number, number>();
      for (let i = 0; settings && i + 6 <= settings.payload.length; i += 6)
        announced.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
      assert.equal(announced.get(3), LIMITED_STREAMS, "SETTINGS_MAX_CONCURRENT_STREAMS");
      // streams whose answer waits: subscribers of a trickle channel that gets no segment
      o.trickle.createChannel("held");
      const frames: Buffer[] = [];
      for (let i = 0; i < LIMITED_STREAMS; i++)
        frames.push(h2Request(1 + 2 * i, "GET", "/ai/trickle/held/0"));
      conn.write(Buffer.concat(frames));
      await new Promise((r) => setTimeout(r, 200));
      conn.write(h2Request(1 + 2 * LIMITED_STREAMS, "GET", "/health"));
      const refused = await Promise.race([
        conn
          .waitFor((f) => f.type === H2.RST_STREAM && f.stream === 1 + 2 * LIMITED_STREAMS, WAIT_MS)
          .then((f) => !!f),
        conn.closedWithin(WAIT_MS),
      ]);
      assert.ok(refused, "the stream over the limit is refused");
    } finally {
      conn.destroy();
      o.trickle.deleteChannel("held");
    }
    // 2. 20 000 streams opened and cancelled at once: the connection is closed
    const flood = await rawH2(target);
    try {
      let id = 1;
      for (let b = 0; b < 200 && !(await flood.closedWithin(0)); b++) {
        const batch: Buffer[] = [];
        for (let i = 0; i < 100; i++, id += 2)
          batch.push(
            h2Request(id, "GET", "/health"),
            h2Frame(H2.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])),
          );
        flood.write(Buffer.concat(batch));
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(await flood.closedWithin(WAIT_MS), "rapid resets close the connection");
    } finally {
      flood.destroy();
    }
    // 3. each stream of one connection holds 3 MiB of an unfinished JSON upload (which the route
    //    buffers): the streams over the budget are reset, and the memory held is about the budget
    const usage = async () => {
      await heapAfterGc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = await usage();
    const chunk = bigBody(3 * 1024 * 1024, 0x20);
    const session = h2connect(o.url, { ca: o.cert, servername: "localhost" });
    session.on("error", () => {});
    let settled = 0;
    const streams = Array.from({ length: LIMITED_STREAMS }, () => {
      const st = session.request(
        {
          ":method": "POST",
          ":path": "/llm",
          "content-type": "application/json",
          "content-length": String(9 * 1024 * 1024),
        },
        { endStream: false },
      );
      let done = false;
      const settle = () => {
        if (!done) settled++;
        done = true;
      };
      st.on("error", () => {});
      st.once("close", settle);
      st.write(chunk, settle);
      return st;
    });
    try {
      await until("every upload taken or reset", () => settled === streams.length);
      const growth = (await usage()) - before;
      const reset = streams.filter((st) => st.rstCode === h2c.NGHTTP2_ENHANCE_YOUR_CALM).length;
      assert.ok(reset >= streams.length - 2, `${reset} of ${streams.length} streams reset`);
      assert.ok(growth < (LIMITED_UPLOAD_MIB + 8) * 1024 * 1024, `memory grew ${growth} bytes`);
    } finally {
      session.destroy();
    }
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200);
  });

  test("slow clients: a head never finished is closed within the headers timeout, a waiting subscriber is not", async () => {
    const o = limited;
    o.trickle.createChannel("slow");
    const started = Date.now();
    const { port } = new URL(o.url);
    const slow = tlsConnect({
      port: Number(port),
      host: "127.0.0.1",
      ca: o.cert,
      servername: "localhost",
      ALPNProtocols: ["http/1.1"],
    });
    slow.on("error", () => {});
    slow.resume(); // read the 408, so that its end closes the socket
    slow.once("secureConnect", () => slow.write("GET /health HTTP/1.1\r\nhost: localhost\r\nx-slow: a"));
    const drip = setInterval(() => slow.writable && slow.write("a"), 100);
    const idleH2 = await rawH2({ url: o.url, ca: o.cert });
    // subscribers over both protocols wait for a segment for 3 headers timeouts, then get it
    const subscribers = [false, true].map((h2) =>
      send(
        { url: o.url, ca: o.cert, h2 },
        { method: "GET", path: "/ai/trickle/slow/0", headers: {}, body: Buffer.alloc(0) },
        WAIT_MS,
      ),
    );
    try {
      const closedAfter = await new Promise<number>((r) => slow.once("close", () => r(Date.now() - started)));
      assert.ok(closedAfter < 3 * LIMITED_HEADERS_TIMEOUT_MS, `slow head closed after ${closedAfter} ms`);
      assert.ok(
        await idleH2.closedWithin(3 * LIMITED_HEADERS_TIMEOUT_MS),
        "an HTTP/2 connection without streams is closed",
      );
      await new Promise((r) =>
        setTimeout(r, Math.max(0, 3 * LIMITED_HEADERS_TIMEOUT_MS - (Date.now() - started))),
      );
      const publish = await send(
        { url: o.url, ca: o.cert },
        { method: "POST", path: "/ai/trickle/slow/0", headers: {}, body: Buffer.from("late segment") },
        WAIT_MS,
      );
      assert.equal(publish.kind === "reply" && publish.status, 200, JSON.stringify(publish));
      for (const out of await Promise.all(subscribers))
        assert.ok(
          out.kind === "reply" && out.status === 200 && out.body === "late segment",
          JSON.stringify(out),
        );
    } finally {
      clearInterval(drip);
      slow.destroy();
      idleH2.destroy();
      o.trickle.deleteChannel("slow");
    }
  });

  test("oversized bodies on every body-reading route answer 413 (or are cut off), the node keeps serving", async () => {
    const target: Target = { url: offchain.url, ca: offchain.cert };
    const big = bigBody(10 * 1024 * 1024 + 1, 0x7b);
    for (const path of [
      "/process/request/echo",
      "/llm",
      "/live-video-to-video",
      "/capability/register",
      "/ai/stream/start",
    ]) {
      const out = await send(
        target,
        {
          method: "POST",
          path,
          headers: { "content-type": "application/json", authorization: SECRET, livepeer: signedJobs[0]! },
          body: big,
        },
        WAIT_MS * 2,
      );
      if (out.kind === "reply") {
        assert.ok(out.status === 413 || (out.status >= 400 && out.status < 500), `${path}: ${out.status}`);
        assertSaneReply(out, [], path);
      } else assert.equal(out.kind, "error", `${path}: ${out.kind}`);
    }
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200);
  });
});
