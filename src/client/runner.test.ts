import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  OrchestratorInfoSchema,
  PaymentResultSchema,
  PriceInfoSchema,
  TicketParamsSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import { GatewayError } from "./job.ts";
import { parseDiscovery, RunnerClient } from "./runner.ts";
import {
  decodePaymentParams,
  parseRunnerChallenge,
  type RunnerPayer,
  remoteSignerPayer,
  ticketsFor,
} from "./runner-payer.ts";

const params = (face: number) =>
  Buffer.from(
    toBinary(
      OrchestratorInfoSchema,
      create(OrchestratorInfoSchema, {
        priceInfo: create(PriceInfoSchema, { pricePerUnit: 1000n, pixelsPerUnit: 1n }),
        ticketParams: create(TicketParamsSchema, { faceValue: new Uint8Array([face]) }),
      }),
    ),
  ).toString("base64");

test("parseRunnerChallenge reads a challenge and refuses the error envelope with its message", () => {
  const c = parseRunnerChallenge(
    JSON.stringify({
      payment_params: "AAA=",
      manifest_id: "m1",
      orchestrator: "https://o",
      payment_url: "https://o/p",
    }),
  );
  assert.deepEqual(c, {
    paymentParams: "AAA=",
    manifestId: "m1",
    paymentUrl: "https://o/p",
    orchestrator: "https://o",
  });
  assert.equal(
    parseRunnerChallenge(JSON.stringify({ payment_params: "A", manifest_id: "m" })).paymentUrl,
    undefined,
  );
  assert.throws(
    () =>
      parseRunnerChallenge(
        JSON.stringify({ error: { code: "PAYMENT_REQUIRED", message: "send Livepeer-Payer-Address" } }),
      ),
    (e: GatewayError) =>
      e.code === "PAYMENT_REQUIRED" && e.httpStatus === 402 && /Payer-Address/.test(e.message),
  );
  assert.throws(() => parseRunnerChallenge("not json"), GatewayError);
  assert.throws(() => parseRunnerChallenge(JSON.stringify({ payment_params: "A" })), /manifest_id/);
});

test("ticketsFor covers the seconds asked at the ticket EV, at least one ticket", () => {
  const ev = { faceValue: 2000n, winProb: 2n ** 255n }; // EV = 1000 wei
  assert.equal(ticketsFor({ pricePerUnit: 1000n, pixelsPerUnit: 1n }, ev, 1), 1);
  assert.equal(ticketsFor({ pricePerUnit: 1000n, pixelsPerUnit: 1n }, ev, 10), 10);
  assert.equal(ticketsFor({ pricePerUnit: 1001n, pixelsPerUnit: 1n }, ev, 10), 11, "rounded up");
  assert.equal(ticketsFor({ pricePerUnit: 1000n, pixelsPerUnit: 4n }, ev, 10), 3);
  assert.equal(ticketsFor({ pricePerUnit: 0n, pixelsPerUnit: 1n }, ev, 10), 1);
});

test("parseDiscovery keeps usable runners with their route, mode, capacity and price", () => {
  const list = parseDiscovery([
    {
      address: "https://o:1",
      runners: [
        {
          url: "https://o:1/apps/lbl/session",
          app: "a/b",
          capacity: 2,
          capacity_used: 1,
          capacity_available: 1,
        },
        {
          url: "https://o:1/apps/a%2Fc/app",
          app: "a/c",
          price_info: { price: 5, currency: "WEI", unit: "Seconds" },
        },
        { url: "https://o:1/elsewhere", app: "x" },
        { app: "no-url" },
        null,
      ],
    },
    { address: "bad" },
  ]);
  assert.equal(list.length, 2);
  assert.deepEqual(
    list.map((r) => [r.route, r.app, r.mode, r.capacityAvailable]),
    [
      ["lbl", "a/b", "persistent", 1],
      ["a/c", "a/c", "single-shot", undefined],
    ],
  );
  assert.deepEqual(list[1]?.priceInfo, { price: 5, currency: "wei", unit: "seconds" });
  assert.deepEqual(parseDiscovery({}), []);
});

describe("session lifecycle against a fake orchestrator", () => {
  let server: Server;
  let base = "";
  const seen: { method: string; path: string; headers: IncomingMessage["headers"] }[] = [];
  /** What `…/payment` answers next. */
  let topUpStatus = 200;

  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? "/";
      seen.push({ method: req.method ?? "", path, headers: req.headers });
      req.resume();
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (path === "/apps/paid/session") {
        if (req.headers["livepeer-payment"] === undefined)
          return json(402, { payment_params: params(7), manifest_id: "man-1", orchestrator: base });
        return json(200, {
          session_id: "man-1",
          app_url: `${base}/apps/paid/session/man-1/app`,
          control_url: `${base}/apps/paid/session/man-1`,
        });
      }
      if (path === "/apps/free/session")
        return json(200, {
          session_id: "s-free",
          app_url: `${base}/apps/free/session/s-free/app`,
          control_url: `${base}/apps/free/session/s-free`,
        });
      if (path === "/apps/full/session")
        return json(503, { error: { code: "NO_CAPACITY", message: "full" } });
      if (path.endsWith("/payment")) {
        if (topUpStatus !== 200)
          return json(topUpStatus, { error: { code: "RUNNER_SESSION_NOT_FOUND", message: "gone" } });
        const info = create(OrchestratorInfoSchema, {
          priceInfo: create(PriceInfoSchema, { pricePerUnit: 1000n, pixelsPerUnit: 1n }),
          ticketParams: create(TicketParamsSchema, {
            recipient: new Uint8Array(20).fill(1),
            faceValue: new Uint8Array([9]),
            winProb: new Uint8Array([1]),
            recipientRandHash: new Uint8Array(32).fill(2),
          }),
        });
        res.writeHead(200, { "content-type": "application/octet-stream" });
        return res.end(toBinary(PaymentResultSchema, create(PaymentResultSchema, { info })));
      }
      if (path.endsWith("/stop")) return res.writeHead(204).end();
      if (path.endsWith("/app/hello")) return json(200, { hello: true });
      json(404, { error: { code: "NOT_FOUND", message: path } });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** A payer that records what it was asked to pay. */
  function fakePayer() {
    const paid: { face: number; manifest: string; seconds: number }[] = [];
    const payer: RunnerPayer = {
      address: "0x1111111111111111111111111111111111111111",
      async pay(paymentParams, manifestId, seconds) {
        const face = decodePaymentParams(paymentParams).ticketParams?.faceValue[0] ?? -1;
        paid.push({ face, manifest: manifestId, seconds });
        return { "Livepeer-Payment": `pay-${paid.length}`, "Livepeer-Segment": "seg" };
      },
    };
    return { payer, paid };
  }

  test("402 → pay → reserve → top-ups with the fresh params → released on a 404 top-up", async () => {
    const { payer, paid } = fakePayer();
    topUpStatus = 200;
    await using client = new RunnerClient({ payer, upfrontSeconds: 7, topUpEveryMs: 30, topUpSeconds: 2 });
    seen.length = 0;
    const s = await client.reserve(base, "paid");
    assert.equal(s.id, "man-1");
    assert.equal(
      seen[0]?.headers["livepeer-payer-address"],
      payer.address,
      "the challenge is asked for the payer",
    );
    assert.equal(seen[1]?.headers["livepeer-payment"], "pay-1");
    assert.deepEqual(paid[0], { face: 7, manifest: "man-1", seconds: 7 });
    const hello = await s.fetch("/hello");
    assert.deepEqual(await hello.json(), { hello: true });
    while (s.topUps < 2) await new Promise((r) => setTimeout(r, 10));
    assert.equal(paid[1]?.seconds, 2);
    assert.equal(paid[1]?.face, 7, "the first top-up pays under the challenge's params");
    assert.equal(paid[2]?.face, 9, "later top-ups use the ticket params the orchestrator answered");
    assert.ok(
      seen.some((r) => r.path === "/apps/paid/session/man-1/payment" && r.headers["livepeer-payment"]),
    );
    topUpStatus = 404;
    await new Promise<void>((r) => s.signal.addEventListener("abort", () => r(), { once: true }));
    assert.equal(s.released, true);
    assert.equal((s.lastPaymentError as GatewayError).code, "RUNNER_SESSION_NOT_FOUND");
    const before = seen.length;
    await s.stop();
    assert.equal(seen.length, before, "a released session is not stopped again");
  });

  test("offchain: reserve, stop posts …/stop once; close stops what is left; errors carry the envelope", async () => {
    const client = new RunnerClient();
    seen.length = 0;
    const s = await client.reserve(base, "free");
    assert.equal(seen[0]?.headers["livepeer-payer-address"], undefined);
    await s.stop();
    await s.stop();
    assert.deepEqual(
      seen.filter((r) => r.path.endsWith("/stop")).map((r) => r.path),
      ["/apps/free/session/s-free/stop"],
    );
    const left = await client.reserve(base, "free");
    await client.close();
    assert.equal(left.released, true);
    assert.equal(seen.filter((r) => r.path.endsWith("/stop")).length, 2);

    const c2 = new RunnerClient();
    await assert.rejects(
      c2.reserve(base, "full"),
      (e: GatewayError) => e.code === "NO_CAPACITY" && e.httpStatus === 503,
    );
    await assert.rejects(c2.reserve(base, "paid"), (e: GatewayError) => e.code === "PAYMENT_REQUIRED");
    await assert.rejects(
      c2.reserve("http://127.0.0.1:1", "x"),
      (e: GatewayError) => e.code === "GATEWAY_UNREACHABLE" && e.httpStatus === 0,
    );
    await c2.close();
  });
});

test("remoteSignerPayer: the address once, the state sent back per manifest, 482 = nothing to pay", async () => {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  let next = 200;
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(parts).toString("utf8") || "{}");
      calls.push({ path: req.url ?? "", body });
      res.setHeader("content-type", "application/json");
      if (req.url === "/sign-orchestrator-info")
        return res.end(
          JSON.stringify({ address: "0x2222222222222222222222222222222222222222", signature: "0x01" }),
        );
      if (next !== 200)
        return res.writeHead(next).end(JSON.stringify({ error: { code: "NO_TICKETS", message: "skip" } }));
      res.end(
        JSON.stringify({ payment: "P", segCreds: "S", state: { State: `st-${calls.length}`, Sig: "x" } }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/anything`;
    const payer = await remoteSignerPayer(url, { type: "fixed" });
    assert.equal(payer.address, "0x2222222222222222222222222222222222222222");
    assert.deepEqual(await payer.pay("cGFyYW1z", "m1", 10), {
      "Livepeer-Payment": "P",
      "Livepeer-Segment": "S",
    });
    await payer.pay("cGFyYW1z", "m1", 1);
    await payer.pay("cGFyYW1z", "m2", 1);
    const gens = calls.filter((c) => c.path === "/generate-live-payment").map((c) => c.body);
    assert.deepEqual(gens[0], { orchestrator: "cGFyYW1z", type: "fixed", ManifestID: "m1" });
    assert.deepEqual(gens[1]?.state, { State: "st-2", Sig: "x" }, "the first answer's state comes back");
    assert.equal(gens[2]?.state, undefined, "another manifest has its own state");
    next = 482;
    assert.equal(await payer.pay("cGFyYW1z", "m1", 1), undefined);
    next = 503;
    await assert.rejects(payer.pay("cGFyYW1z", "m1", 1), (e: GatewayError) => e.httpStatus === 503);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
