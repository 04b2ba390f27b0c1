/**
 * The signer's handlers over a context built by hand (an in-memory or temporary store, a Sender on a
 * chain that stands still, fake auth webhooks), served by its router on 127.0.0.1:0.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { closeServer, listen } from "../node/http/listen.ts";
import { silentLogger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";
import { Sender } from "../payments/sender.ts";
import { checkPayloadSig } from "../payments/signature.ts";
import { ticketEV } from "../payments/ticket.ts";
import { AuthTokenSchema, OrchestratorInfoSchema, PriceInfoSchema } from "../protocol/gen/lp_rpc_pb.ts";
import { jobSigningPayloadV1 } from "../protocol/job-header.ts";
import { decodePaymentHeader, ticketParamsToWire } from "../protocol/payment-header.ts";
import { decodeSegmentHeader } from "../protocol/segment-header.ts";
import { checkExposure, NO_AUTH_WARNING, SignerAuth } from "./auth.ts";
import type { SignerContext } from "./context.ts";
import { PIXELS_PER_SECOND } from "./fees.ts";
import { SignerMetrics } from "./metrics.ts";
import { createSignerRouter } from "./signer.ts";
import { openSignerStore, type SignerStore } from "./store.ts";

const KEY = `0x${"11".repeat(32)}` as Hex;
const account = privateKeyToAccount(KEY);
const ORCH = `0x${"22".repeat(20)}` as const;
const EV = 10n ** 12n;
const TOKEN = "tok-0123456789abcdef";

const chain = {
  lastSeenL1Block: () => 1000n,
  lastInitializedRound: () => 10n,
  lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}` as Hex,
};
const senders = {
  senderInfo: async () => ({
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  }),
};

/** OrchestratorInfo with ticket params of EV 1e12 (face 2e12, win 1/2) and `price` wei per pixel. */
function orchInfo(o: { price?: bigint; rand?: string; expirationBlock?: bigint } = {}): string {
  const info = create(OrchestratorInfoSchema, {
    transcoder: "https://orch.example:8935",
    address: Buffer.from(ORCH.slice(2), "hex"),
    priceInfo: create(PriceInfoSchema, { pricePerUnit: o.price ?? 1n, pixelsPerUnit: 1n }),
    ticketParams: ticketParamsToWire({
      recipient: ORCH,
      faceValue: 2n * EV,
      winProb: 2n ** 255n,
      recipientRandHash: `0x${(o.rand ?? "33").repeat(32)}` as Hex,
      seed: 7n,
      expirationBlock: o.expirationBlock ?? 2000n,
      expirationParams: { creationRound: 10n, creationRoundBlockHash: `0x${"41".repeat(32)}` as Hex },
    }),
    authToken: create(AuthTokenSchema, {
      token: new Uint8Array(32).fill(5),
      sessionId: "s1",
      expiration: 9n,
    }),
  });
  return Buffer.from(toBinary(OrchestratorInfoSchema, info)).toString("base64");
}

interface Harness {
  url: string;
  ctx: SignerContext;
  warnings: string[];
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
    // biome-ignore lint/suspicious/noExplicitAny: the tests read the signer's JSON answers field by field
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function harness(
  o: { store?: SignerStore; auth?: SignerAuth; limits?: SignerContext["limits"]; now?: () => number } = {},
): Promise<Harness> {
  const warnings: string[] = [];
  const logger = silentLogger();
  const store = o.store ?? openSignerStore({ dataDir: ":memory:" });
  if (!o.store) cleanups.push(() => store.close());
  const ctx: SignerContext = {
    signer: account,
    sender: new Sender({ signer: account, time: chain, senders }),
    store,
    auth: o.auth ?? new SignerAuth({ tokens: new Map([[TOKEN, "app-a"]]) }),
    limits: o.limits ?? {},
    metrics: new SignerMetrics(),
    logger,
    infoSig: async () => "0x01" as Hex,
    lastSeenL1Block: () => 1000n,
    now: o.now ?? Date.now,
    newId: (() => {
      let i = 0;
      return () => `id-${++i}`;
    })(),
  };
  const server = createServer(createSignerRouter(ctx).handle);
  const port = await listen(server, "127.0.0.1", 0);
  cleanups.push(() => closeServer(server));
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    ctx,
    warnings,
    post: async (path, body, headers = { authorization: `Bearer ${TOKEN}` }) => {
      const r = await fetch(url + path, { method: "POST", headers, body: JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: r.headers };
    },
  };
}

describe("remote signer handlers", () => {
  test("sign-byoc-job answers a V1 signature by the signer's address; a bad job is a 400", async () => {
    const h = await harness();
    const job = { id: "j1", capability: "cap", request: '{"a":1}', parameters: "", timeout_seconds: 30 };
    const r = await h.post("/sign-byoc-job", job);
    assert.equal(r.status, 200);
    assert.equal(r.body.sender, account.address);
    const check = await checkPayloadSig(
      account.address,
      jobSigningPayloadV1({ ...job, timeoutSeconds: 30 }),
      r.body.signature,
    );
    assert.equal(check.valid, true);
    assert.equal((await h.post("/sign-byoc-job", { ...job, timeout_seconds: 0 })).status, 400);
    assert.equal((await h.post("/sign-byoc-job", { ...job, id: "" })).status, 400);
  });

  test("every route needs the bearer token when tokens are configured", async () => {
    const h = await harness();
    for (const path of ["/sign-orchestrator-info", "/sign-byoc-job", "/generate-live-payment"]) {
      const r = await h.post(path, {}, { authorization: "Bearer nope-nope-nope-nope" });
      assert.equal(r.status, 401, path);
      assert.equal(r.body.error.code, "SIGNER_UNAUTHORIZED");
    }
    assert.equal((await fetch(`${h.url}/discover-orchestrators`)).status, 401);
  });

  test("lv2v: the first payment covers 60 s of 720p30 pixels, signed segCreds carry the auth token; the state round-trips", async () => {
    let now = 1_000_000;
    const h = await harness({ now: () => now });
    const r = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ price: 1000n }),
      type: "lv2v",
      ManifestID: "m1",
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const fee = PIXELS_PER_SECOND * 60n * 1000n; // 1000 wei/pixel: two tickets, 0.34e12 of credit left
    const ev = ticketEV(2n * EV, 2n ** 255n);
    const want = Number(Rat.of(fee).div(ev).ceil());
    const p = decodePaymentHeader(r.body.payment);
    assert.deepEqual(
      p.senderParams.map((s) => s.senderNonce),
      Array.from({ length: want }, (_, i) => i + 1),
    );
    const seg = decodeSegmentHeader(r.body.segCreds);
    assert.equal(seg.manifestId, "m1");
    assert.equal(seg.authToken?.sessionId, "s1");
    // 1 s later: the credit left from the rounding covers it → 482.
    now += 1000;
    const again = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ price: 1000n }),
      type: "lv2v",
      ManifestID: "m1",
      state: r.body.state,
    });
    assert.equal(again.status, 482, JSON.stringify(again.body));
    // 100 s later: more tickets, nonces continue after the first payment's.
    now += 100_000;
    const later = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ price: 1000n }),
      type: "lv2v",
      ManifestID: "m1",
      state: r.body.state,
    });
    assert.equal(later.status, 200, JSON.stringify(later.body));
    const first = decodePaymentHeader(later.body.payment).senderParams[0]!.senderNonce;
    assert.ok(first > want);
  });

  test("a forged or foreign state is refused with 400 BAD_SIGNER_STATE; go-livepeer's empty first state starts a session", async () => {
    const h = await harness();
    const r = await h.post("/generate-live-payment", { orchestrator: orchInfo(), type: "live" });
    assert.equal(r.status, 200);
    const forged = { ...r.body.state, State: Buffer.from('{"id":"id-9","seq":0}').toString("base64") };
    const bad = await h.post("/generate-live-payment", {
      orchestrator: orchInfo(),
      type: "live",
      state: forged,
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "BAD_SIGNER_STATE");
    const other = await h.post("/generate-live-payment", {
      orchestrator: orchInfo(),
      type: "lv2v",
      state: r.body.state,
    });
    assert.equal(other.status, 400, "type mismatch");
    // A go-livepeer client's first request carries an empty state: it starts a session.
    const goFirst = await h.post("/generate-live-payment", {
      orchestrator: orchInfo(),
      type: "live",
      state: { State: null, Sig: null },
    });
    assert.equal(goFirst.status, 200, JSON.stringify(goFirst.body));
  });

  test("64 concurrent payments on one set of ticket params get distinct, contiguous nonces", async () => {
    const h = await harness();
    const rs = await Promise.all(
      Array.from({ length: 64 }, () =>
        h.post("/generate-live-payment", { orchestrator: orchInfo(), type: "live" }),
      ),
    );
    const nonces = rs.flatMap((r) => {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return decodePaymentHeader(r.body.payment).senderParams.map((s) => s.senderNonce);
    });
    assert.deepEqual(
      [...nonces].sort((a, b) => a - b),
      Array.from({ length: nonces.length }, (_, i) => i + 1),
    );
  });

  test("nonces survive reopening the store (a restart)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "signer-store-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let store = openSignerStore({ dataDir: dir });
    let h = await harness({ store });
    const a = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ rand: "44" }),
      type: "live",
    });
    const last = decodePaymentHeader(a.body.payment).senderParams.at(-1)!.senderNonce;
    store.close();
    store = openSignerStore({ dataDir: dir });
    cleanups.push(() => store.close());
    h = await harness({ store });
    const b = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ rand: "44" }),
      type: "live",
    });
    assert.equal(decodePaymentHeader(b.body.payment).senderParams[0]!.senderNonce, last + 1);
  });

  test("per-app limit: the payment that would pass it is 429 and records nothing", async () => {
    const h = await harness({ limits: { perApp: 10n * EV } });
    const ok = await h.post("/generate-live-payment", { orchestrator: orchInfo(), type: "live" });
    assert.equal(ok.status, 200);
    const before = h.ctx.store.spent("app-a");
    const over = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ price: 10n ** 12n }),
      type: "live",
    });
    assert.equal(over.status, 429);
    assert.equal(over.body.error.code, "SPEND_LIMIT_REACHED");
    assert.equal(h.ctx.store.spent("app-a").tickets, before.tickets);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /tributary_signer_payments_total\{app="app-a",type="live"[^}]*\} 1\b/);
  });

  test("expiring ticket params answer 480 with Livepeer-Orchestrator-URL; a price over the ceiling 481", async () => {
    const h = await harness();
    const r = await h.post("/generate-live-payment", {
      orchestrator: orchInfo({ expirationBlock: 1001n }),
      type: "live",
    });
    assert.equal(r.status, 480);
    assert.equal(r.headers.get("livepeer-orchestrator-url"), "https://orch.example:8935");
    h.ctx.maxPricePerUnit = Rat.of(1n, 2n);
    const p = await h.post("/generate-live-payment", { orchestrator: orchInfo(), type: "live" });
    assert.equal(p.status, 481);
  });

  test("the auth webhook gets the headers, may refuse with its status, or name the app and a price ceiling", async () => {
    const calls: { headers: Record<string, string[]> }[] = [];
    let answer: Record<string, unknown> = { status: 403, reason: "no credit" };
    const hook = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        calls.push(JSON.parse(body));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
    });
    const port = await listen(hook, "127.0.0.1", 0);
    cleanups.push(() => closeServer(hook));
    const h = await harness({ auth: new SignerAuth({ webhookUrl: `http://127.0.0.1:${port}/auth` }) });
    const refused = await h.post(
      "/generate-live-payment",
      { orchestrator: orchInfo(), type: "live" },
      { "x-user": "u1" },
    );
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /no credit/);
    assert.deepEqual(calls[0]?.headers["x-user"], ["u1"]);
    answer = { status: 200, app: "hooked", max_price_per_unit: "1/2" };
    assert.equal(
      (await h.post("/generate-live-payment", { orchestrator: orchInfo(), type: "live" }, {})).status,
      481,
    );
    answer = { status: 200, app: "hooked" };
    assert.equal(
      (await h.post("/generate-live-payment", { orchestrator: orchInfo(), type: "live" }, {})).status,
      200,
    );
    assert.ok(h.ctx.store.spent("hooked").tickets > 0);
  });

  test("a webhook approval with an expiry is not asked again for that session until then; its headers are sent", async () => {
    let calls = 0;
    const seen: string[] = [];
    const hook = createServer((req, res) => {
      calls++;
      seen.push(String(req.headers["x-hook-key"]));
      req.resume();
      req.on("end", () =>
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ status: 200, app: "timed", expiry: Math.floor(Date.now() / 1000) + 60 })),
      );
    });
    const port = await listen(hook, "127.0.0.1", 0);
    cleanups.push(() => closeServer(hook));
    let now = 1_000_000;
    const h = await harness({
      now: () => now,
      auth: new SignerAuth({
        webhookUrl: `http://127.0.0.1:${port}/`,
        webhookHeaders: { "X-Hook-Key": "k1" },
      }),
    });
    const a = await h.post(
      "/generate-live-payment",
      { orchestrator: orchInfo({ price: 10n ** 11n }), type: "live" },
      {},
    );
    assert.equal(a.status, 200, JSON.stringify(a.body));
    now += 30_000;
    const b = await h.post(
      "/generate-live-payment",
      { orchestrator: orchInfo({ price: 10n ** 11n }), type: "live", state: a.body.state },
      {},
    );
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(calls, 1, "the second payment of the session skipped the webhook");
    assert.deepEqual(seen, ["k1"]);
    assert.deepEqual(
      [...h.ctx.store.totals().keys()],
      ["timed"],
      "spending counted against the app the webhook named",
    );
  });

  test("the signer-wide limit counts every app together", async () => {
    const tokens = new Map([
      [TOKEN, "app-a"],
      ["tok-bbbbbbbbbbbbbbbb", "app-b"],
    ]);
    const ev = ticketEV(2n * EV, 2n ** 255n);
    const h = await harness({ auth: new SignerAuth({ tokens }), limits: { total: 3n * ev.ceil() } });
    const pay = (token: string) =>
      h.post(
        "/generate-live-payment",
        { orchestrator: orchInfo(), type: "live" },
        { authorization: `Bearer ${token}` },
      );
    assert.equal((await pay(TOKEN)).status, 200);
    assert.equal((await pay("tok-bbbbbbbbbbbbbbbb")).status, 200);
    assert.equal((await pay(TOKEN)).status, 200);
    const over = await pay("tok-bbbbbbbbbbbbbbbb");
    assert.equal(over.status, 429);
    assert.match(over.body.error.message, /this signer/);
  });

  test("no auth on a non-loopback address is refused unless allowed, then warned", () => {
    assert.throws(() => checkExposure("0.0.0.0", {}, false), /--remote-signer-allow-no-auth/);
    checkExposure("127.0.0.1", {}, false);
    checkExposure("0.0.0.0", { tokens: new Map([[TOKEN, "a"]]) }, false);
    const warned: string[] = [];
    const logger = { ...silentLogger(), warn: (_o: unknown, msg: string) => warned.push(msg) } as never;
    checkExposure("0.0.0.0", {}, true, logger);
    assert.deepEqual(warned, [NO_AUTH_WARNING]);
  });
});
