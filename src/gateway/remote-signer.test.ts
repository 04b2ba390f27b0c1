import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TributaryError } from "../node/errors.ts";
import { Sender } from "../payments/sender.ts";
import { checkPayloadSig, orchestratorRequestPayload, signPayload } from "../payments/signature.ts";
import { ticketEV } from "../payments/ticket.ts";
import { CAPABILITY } from "../protocol/capabilities.ts";
import {
  CapabilitiesSchema,
  type OrchestratorInfo,
  OrchestratorInfoSchema,
  PriceInfoSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import { jobSigningPayloadV1, newJobRequest } from "../protocol/job-header.ts";
import {
  decodePaymentHeader,
  encodePaymentHeader,
  priceInfoFromWire,
  ticketParamsFromWire,
  ticketParamsToWire,
} from "../protocol/payment-header.ts";
import type { TicketParams } from "../protocol/payment-types.ts";
import { priceInfoToGoJson, stringifyJsonBig, ticketParamsToGoJson } from "../protocol/ticket-params-json.ts";
import { startGateway } from "./gateway.ts";
import type { OrchestratorHttp } from "./orch-http.ts";
import {
  connectRemoteSigner,
  parseSignerHeaders,
  RemotePayments,
  type SignerAnswer,
  type SignerTransport,
} from "./remote-signer.ts";

const ORCH = "https://127.0.0.1:1";
const RECIPIENT: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
/** The signer's key: only the fake signer holds it. */
const key = privateKeyToAccount(`0x${"42".repeat(32)}`);
const EV = 1000n;
const AUTH = { Authorization: "Bearer abc" };

const params = (n: number): TicketParams => ({
  recipient: RECIPIENT,
  faceValue: 2n * EV,
  winProb: 1n << 255n,
  recipientRandHash: `0x${n.toString(16).padStart(64, "0")}` as Hex,
  seed: BigInt(n),
  expirationBlock: 1040n,
  expirationParams: { creationRound: 10n, creationRoundBlockHash: `0x${"41".repeat(32)}` },
});

/**
 * A fake signer (no network): answers the three calls as ours does, making real tickets with a
 * Sender on the OrchestratorInfo it is given (`tickets` per payment), keeping a state counter, and
 * recording every request. `status` overrides the next generate-live-payment answer.
 */
function fakeSigner() {
  const calls: { path: string; body: Record<string, unknown>; headers: Record<string, string> }[] = [];
  const sender = new Sender({
    signer: key,
    time: {
      lastSeenL1Block: () => 1000n,
      lastInitializedRound: () => 10n,
      lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}`,
    },
    senders: {
      senderInfo: () => ({
        deposit: 10n ** 18n,
        withdrawRound: 0n,
        reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
      }),
    },
  });
  const o = { calls, tickets: 3, status: 200, fail: false, seq: 0 };
  const json = (status: number, v: unknown): SignerAnswer => ({ status, text: JSON.stringify(v) });
  const transport: SignerTransport = async (path, body, headers) => {
    if (o.fail) throw new Error("connect ECONNREFUSED 127.0.0.1:1");
    const b = body as Record<string, unknown>;
    calls.push({ path, body: b, headers });
    if (headers.Authorization !== AUTH.Authorization)
      return json(401, { error: { code: "SIGNER_UNAUTHORIZED", message: "bearer token needed" } });
    if (path === "/sign-orchestrator-info")
      return json(200, {
        address: key.address,
        signature: await signPayload(key, orchestratorRequestPayload(key.address)),
      });
    if (path === "/sign-byoc-job")
      return json(200, {
        sender: key.address,
        signature: await signPayload(
          key,
          jobSigningPayloadV1({
            id: b.id as string,
            capability: b.capability as string,
            request: b.request as string,
            parameters: b.parameters as string,
            timeoutSeconds: b.timeout_seconds as number,
          }),
        ),
      });
    assert.equal(path, "/generate-live-payment");
    if (o.status !== 200) {
      const s = o.status;
      o.status = 200;
      return json(s, { error: { code: "X", message: `status ${s}` } });
    }
    const info = fromBinary(OrchestratorInfoSchema, Buffer.from(b.orchestrator as string, "base64"));
    const session = sender.startSession(ticketParamsFromWire(info.ticketParams!));
    const payment = await sender.createPayment(session, o.tickets, priceInfoFromWire(info.priceInfo!));
    sender.cleanupSession(session);
    return json(200, {
      payment: encodePaymentHeader(payment),
      segCreds: "c2Vn",
      state: { State: `s${++o.seq}`, Sig: "0x00" },
    });
  };
  return { o, transport };
}

/** A fake orchestrator `/process/token`: price 10 wei/s, tickets of EV 1000, `balance` as set. */
function fakeOrchestrator() {
  const state = { balance: 0n, price: 10n, ethAddress: [] as string[] };
  const http: OrchestratorHttp = {
    async send(url, call) {
      assert.ok(url.endsWith("/process/token"), url);
      state.ethAddress.push(String(call.headers?.["livepeer-eth-address"]));
      const body = stringifyJsonBig({
        price: priceInfoToGoJson({
          pricePerUnit: state.price,
          pixelsPerUnit: 1n,
          capability: 0,
          constraint: "",
        }),
        ticket_params: ticketParamsToGoJson(params(7)),
        balance: state.balance,
      });
      return Object.assign(Readable.from([Buffer.from(body)]), {
        statusCode: 200,
      }) as unknown as IncomingMessage;
    },
    close() {},
  };
  return { state, http };
}

const job = () =>
  newJobRequest({ capability: "text-reverse", timeoutSeconds: 30, request: JSON.stringify({ a: 1 }) });

test("parseSignerHeaders: go-livepeer's Name:value list and a JSON object; a bad list is BAD_SIGNER_HEADERS", () => {
  assert.deepEqual(parseSignerHeaders("Authorization:Bearer lpg_x, X-App: one"), {
    Authorization: "Bearer lpg_x",
    "X-App": "one",
  });
  assert.deepEqual(parseSignerHeaders('{"Authorization":"Bearer a:b"}'), { Authorization: "Bearer a:b" });
  for (const bad of ["novalue", "Bad Name:x", '{"a":1}', "{"])
    assert.throws(
      () => parseSignerHeaders(bad),
      (e: TributaryError) => e.code === "BAD_SIGNER_HEADERS",
      bad,
    );
});

test("connectRemoteSigner fails fast: unreachable (502), refused with the signer's status and reason (402)", async () => {
  const s = fakeSigner();
  s.o.fail = true;
  await assert.rejects(
    connectRemoteSigner({ url: "http://127.0.0.1:1", transport: s.transport }),
    (e: TributaryError) =>
      e.code === "REMOTE_SIGNER_UNREACHABLE" && e.status === 502 && /ECONNREFUSED/.test(e.message),
  );
  s.o.fail = false;
  await assert.rejects(
    connectRemoteSigner({ url: "http://127.0.0.1:1", transport: s.transport }),
    (e: TributaryError) =>
      e.code === "REMOTE_SIGNER_REFUSED" &&
      e.status === 402 &&
      /HTTP 401: bearer token needed/.test(e.message),
  );
  await assert.rejects(
    connectRemoteSigner({ url: "not a url", transport: s.transport }),
    (e: TributaryError) => e.code === "BAD_SIGNER_HEADERS",
  );
});

test("the signer's address and signature become the GetOrchestrator credentials and Livepeer-Eth-Address", async () => {
  const s = fakeSigner();
  const c = await connectRemoteSigner({
    url: "http://127.0.0.1:1/sign-orchestrator-info",
    headers: AUTH,
    transport: s.transport,
  });
  assert.equal(c.url, "http://127.0.0.1:1");
  assert.equal(c.address, key.address);
  assert.equal(Buffer.from(c.credentials.address).toString("hex"), key.address.slice(2).toLowerCase());
  assert.equal(c.credentials.sig.length, 65);
  const eth = JSON.parse(Buffer.from(c.ethAddressHeader, "base64").toString()) as { addr: Address; sig: Hex };
  assert.equal(eth.addr, key.address);
  assert.ok((await checkPayloadSig(key.address, eth.addr, eth.sig)).valid);
});

test("BYOC through the signer: V1 job signature, token asked as the signer, payment of the token's params at the capability's price", async () => {
  const s = fakeSigner();
  const orch = fakeOrchestrator();
  const signer = await connectRemoteSigner({
    url: "http://127.0.0.1:1",
    headers: AUTH,
    transport: s.transport,
  });
  const p = new RemotePayments({ signer, http: orch.http });
  assert.equal(p.address, key.address);
  const j = job();
  const sent = await p.byocPayment(ORCH, j);

  const header = JSON.parse(Buffer.from(sent.headers.livepeer!, "base64").toString()) as Record<
    string,
    unknown
  >;
  assert.equal(header.sender, key.address);
  assert.match(header.id as string, /^[0-9a-f]{32}$/, "a job without an id gets one (V1 signs it)");
  const v1 = jobSigningPayloadV1({ ...j, id: header.id as string });
  assert.ok(
    (await checkPayloadSig(key.address, v1, header.sig as Hex)).valid,
    "a V1 signature by the signer",
  );
  assert.equal(orch.state.ethAddress[0], signer.ethAddressHeader);

  const gen = s.o.calls.find((c) => c.path === "/generate-live-payment");
  assert.ok(gen);
  assert.equal(gen.body.type, "lv2v");
  assert.equal(gen.body.capability, "text-reverse");
  assert.equal(gen.body.state, undefined);
  assert.equal(gen.headers["livepeer-capability"], "text-reverse");
  assert.equal(gen.headers.Authorization, AUTH.Authorization, "the configured headers go on every call");
  const info: OrchestratorInfo = fromBinary(
    OrchestratorInfoSchema,
    Buffer.from(gen.body.orchestrator as string, "base64"),
  );
  assert.equal(info.transcoder, ORCH);
  assert.equal(Buffer.from(info.address).toString("hex"), RECIPIENT.slice(2).toLowerCase());
  assert.deepEqual(
    ticketParamsFromWire(info.ticketParams!),
    ticketParamsFromWire(ticketParamsToWire(params(7))),
  );
  assert.deepEqual(
    info.capabilitiesPrices.map((c) => [c.capability, c.constraint, c.pricePerUnit]),
    [[CAPABILITY.BYOC, "text-reverse", 10n]],
  );

  assert.equal(sent.tickets, 3);
  assert.equal(sent.value.cmp(ticketEV(2n * EV, 1n << 255n).mul(3n)), 0);
  assert.equal(decodePaymentHeader(sent.headers["livepeer-payment"]!).sender, key.address);
  assert.deepEqual(
    decodePaymentHeader(sent.headers["livepeer-payment"]!).senderParams.map((x) => x.senderNonce),
    [1, 2, 3],
  );

  // A balance over 120 × price: the signer is asked only to sign the job.
  orch.state.balance = 1200n;
  const before = s.o.calls.length;
  const none = await p.byocPayment(ORCH, job());
  assert.equal(none.tickets, 0);
  assert.equal(none.headers["livepeer-payment"], undefined);
  assert.deepEqual(
    s.o.calls.slice(before).map((c) => c.path),
    ["/sign-byoc-job"],
  );
});

/** An OrchestratorInfo quoting `price` wei/pixel for live-video-to-video/green-tint. */
function liveInfo(priceInfo: boolean, capability = 35, model = "green-tint"): OrchestratorInfo {
  const price = create(PriceInfoSchema, {
    pricePerUnit: 5n,
    pixelsPerUnit: 1n,
    capability,
    constraint: model,
  });
  return create(OrchestratorInfoSchema, {
    transcoder: ORCH,
    address: Buffer.from(RECIPIENT.slice(2), "hex"),
    ticketParams: ticketParamsToWire(params(9)),
    capabilitiesPrices: [price],
    ...(priceInfo ? { priceInfo: create(PriceInfoSchema, { pricePerUnit: 5n, pixelsPerUnit: 1n }) } : {}),
  });
}

test("live through the signer: lv2v on the stream's manifest, the state sent back on the next payment, a 482 skips", async () => {
  const s = fakeSigner();
  const signer = await connectRemoteSigner({
    url: "http://127.0.0.1:1",
    headers: AUTH,
    transport: s.transport,
  });
  const p = new RemotePayments({ signer, http: fakeOrchestrator().http });
  const first = await p.nativePayment(ORCH, liveInfo(false), "live-video-to-video", "green-tint", 1n, "m-1");
  assert.equal(first.tickets, 3);
  assert.equal(first.headers["livepeer-segment"], "c2Vn");
  const gens = () => s.o.calls.filter((c) => c.path === "/generate-live-payment");
  assert.equal(gens()[0]!.body.type, "lv2v");
  assert.equal(gens()[0]!.body.ManifestID, "m-1");
  assert.equal(gens()[0]!.body.state, undefined);
  // No price_info in the orchestrator's answer: the model's quote is sent as price_info.
  const sentInfo = fromBinary(
    OrchestratorInfoSchema,
    Buffer.from(gens()[0]!.body.orchestrator as string, "base64"),
  );
  assert.equal(sentInfo.priceInfo?.pricePerUnit, 5n);
  const caps = fromBinary(CapabilitiesSchema, Buffer.from(gens()[0]!.body.capabilities as string, "base64"));
  assert.equal(caps.capacities[35], 1);
  assert.ok(caps.constraints?.PerCapability[35]?.models["green-tint"], "the job's model is named");

  await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "m-1");
  assert.deepEqual(gens()[1]!.body.state, { State: "s1", Sig: "0x00" });
  // Another stream has its own state.
  await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "m-2");
  assert.equal(gens()[2]!.body.state, undefined);

  s.o.status = 482;
  const skipped = await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "m-1");
  assert.equal(skipped.skip, true);
  assert.equal(skipped.tickets, 0);
  // The state is kept across the skip.
  await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "m-1");
  assert.deepEqual(gens().at(-1)!.body.state, { State: "s2", Sig: "0x00" });

  s.o.status = 403;
  await assert.rejects(
    p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "m-1"),
    (e: TributaryError) =>
      e.code === "REMOTE_SIGNER_REFUSED" && e.status === 402 && /HTTP 403: status 403/.test(e.message),
    "the gateway's own refusal goes back to the client",
  );
  for (const status of [480, 481]) {
    s.o.status = status;
    await assert.rejects(
      p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "m-1"),
      (e: TributaryError) => e.code === "REMOTE_SIGNER_REFUSED" && e.status === 502,
      `the signer's ${status} concerns the orchestrator: the job moves on`,
    );
  }
});

test("a live start (no manifest yet) is an lv2v payment whose state the stream's first top-up sends back", async () => {
  const s = fakeSigner();
  const signer = await connectRemoteSigner({
    url: "http://127.0.0.1:1",
    headers: AUTH,
    transport: s.transport,
  });
  const p = new RemotePayments({ signer, http: fakeOrchestrator().http });
  const gens = () => s.o.calls.filter((c) => c.path === "/generate-live-payment");
  await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n);
  assert.equal(gens()[0]!.body.type, "lv2v");
  assert.equal(gens()[0]!.body.state, undefined);
  s.o.status = 482;
  const skipped = await p.nativePayment(
    ORCH,
    liveInfo(true),
    "live-video-to-video",
    "green-tint",
    1n,
    "orch-manifest",
  );
  assert.equal(skipped.skip, true);
  assert.deepEqual(gens()[1]!.body.state, { State: "s1", Sig: "0x00" }, "the start's session continues");
  assert.equal(gens()[1]!.body.ManifestID, "orch-manifest");
  await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "orch-manifest");
  assert.deepEqual(gens()[2]!.body.state, { State: "s1", Sig: "0x00" }, "and still does after a 482");
  // Taken once: another stream's first top-up opens its own session.
  await p.nativePayment(ORCH, liveInfo(true), "live-video-to-video", "green-tint", 1n, "other");
  assert.equal(gens()[3]!.body.state, undefined);
});

test("native AI through the signer: no type, inPixels = the request's units, manifest <capId>_<model>", async () => {
  const s = fakeSigner();
  const signer = await connectRemoteSigner({
    url: "http://127.0.0.1:1",
    headers: AUTH,
    transport: s.transport,
  });
  const p = new RemotePayments({ signer, http: fakeOrchestrator().http });
  const h = await p.aiHeaders(ORCH, liveInfo(true, 27, "sd"), "text-to-image", "sd", 4096n);
  assert.ok(h["livepeer-payment"]);
  const gen = s.o.calls.find((c) => c.path === "/generate-live-payment")!;
  assert.equal(gen.body.type, "");
  assert.equal(gen.body.inPixels, 4096);
  assert.equal(gen.body.ManifestID, "27_sd");
  assert.equal(gen.body.state, undefined);
});

test("a BYOC price more than doubled since the first is refused before the signer is asked to pay", async () => {
  const s = fakeSigner();
  const orch = fakeOrchestrator();
  const signer = await connectRemoteSigner({
    url: "http://127.0.0.1:1",
    headers: AUTH,
    transport: s.transport,
  });
  const p = new RemotePayments({ signer, http: orch.http });
  await p.byocPayment(ORCH, job());
  orch.state.price = 25n;
  const paid = s.o.calls.filter((c) => c.path === "/generate-live-payment").length;
  await assert.rejects(
    p.byocPayment(ORCH, job()),
    (e: TributaryError) => e.code === "PRICE_INCREASED" && e.status === 402,
  );
  assert.equal(s.o.calls.filter((c) => c.path === "/generate-live-payment").length, paid);
});

test("startGateway refuses a key and a remote signer together (REMOTE_SIGNER_WITH_KEY)", async () => {
  const s = fakeSigner();
  const signer = await connectRemoteSigner({
    url: "http://127.0.0.1:1",
    headers: AUTH,
    transport: s.transport,
  });
  await assert.rejects(
    startGateway({
      port: 0,
      discovery: { orchAddr: [ORCH] },
      payments: { signer: key, sender: {} as Sender },
      remoteSigner: signer,
    }),
    (e: TributaryError) =>
      e instanceof TributaryError && e.code === "REMOTE_SIGNER_WITH_KEY" && e.status === 400,
  );
});
