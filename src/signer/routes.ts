/**
 * The remote signer's routes, wire-compatible with go-livepeer's (`server/remote_signer.go`) and what
 * PyPI `livepeer-gateway` sends: handlers `(ctx, req, res)` over a {@link SignerContext}.
 *
 * `POST /generate-live-payment` differs from go-livepeer on purpose: the sender state (nonces, credit
 * estimate, first price, last payment time) is kept here, in SQLite, not in the blob the client
 * echoes back. The blob (`state: {State, Sig}`) only names the session and is HMAC-tagged, so a
 * client can neither forge nor replay it into a nonce reuse, and many clients paying one
 * orchestrator share one nonce counter per ticket params.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { getAddress, type Hex } from "viem";
import { TributaryError } from "../node/errors.ts";
import { readJsonObject } from "../node/http/body.ts";
import { sendJson } from "../node/http/send.ts";
import type { NodeRequest, NodeResponse } from "../node/server.ts";
import { MAX_SENDER_NONCES, PARAMS_EXPIRY_BUFFER } from "../payments/constants.ts";
import { PaymentError } from "../payments/errors.ts";
import { Rat } from "../payments/rational.ts";
import { checkPriceIncrease } from "../payments/sender.ts";
import { signPayload } from "../payments/signature.ts";
import { ticketEV } from "../payments/ticket.ts";
import {
  type Capabilities,
  CapabilitiesSchema,
  type OrchestratorInfo,
  OrchestratorInfoSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import { jobSigningPayloadV1 } from "../protocol/job-header.ts";
import { encodePaymentHeader, priceInfoFromWire, ticketParamsFromWire } from "../protocol/payment-header.ts";
import { EMPTY_SEGMENT_HASH, encodeSegmentHeader, segCredsSigningBytes } from "../protocol/segment-header.ts";
import type { SignerContext } from "./context.ts";
import { PAYMENT_TYPES, type PaymentType, priceOf, ticketsFor, unitsOf } from "./fees.ts";
import type { Reservation, SignerSession } from "./store.ts";

/** go-livepeer's signer statuses: refresh the session, price above the limit, no tickets needed. */
export const HTTP_REFRESH_SESSION = 480;
export const HTTP_PRICE_EXCEEDED = 481;
export const HTTP_NO_TICKETS = 482;
/** Header naming the orchestrator to ask again on a 480. */
export const REFRESH_URL_HEADER = "Livepeer-Orchestrator-URL";

/** Largest request body the signer reads (an OrchestratorInfo is a few KB). */
const MAX_BODY_BYTES = 256 * 1024;

function bad(message: string): TributaryError {
  return new TributaryError("BAD_SIGNER_REQUEST", message, { status: 400 });
}

function bytesOf(value: unknown, field: string): Uint8Array {
  if (typeof value !== "string" || value === "") throw bad(`missing ${field}`);
  const b = Buffer.from(value, "base64");
  if (b.length === 0) throw bad(`${field} is not base64`);
  return b;
}

/** `POST /sign-orchestrator-info`: `{address, signature}` for the `OrchestratorRequest` fields. */
export async function signOrchestratorInfo(
  ctx: SignerContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  ctx.auth.appOf(req.headers);
  await readJsonObject(req, MAX_BODY_BYTES);
  sendJson(res, 200, { address: getAddress(ctx.signer.address), signature: await ctx.infoSig() });
}

/** `POST /sign-byoc-job`: a V1 signature of the job (`{sender, signature}`). */
export async function signByocJob(ctx: SignerContext, req: NodeRequest, res: NodeResponse): Promise<void> {
  ctx.auth.appOf(req.headers);
  const b = await readJsonObject(req, MAX_BODY_BYTES);
  const str = (k: string): string => {
    const v = b[k] ?? "";
    if (typeof v !== "string") throw bad(`${k} must be a string`);
    return v;
  };
  const id = str("id");
  const capability = str("capability");
  if (id === "" || capability === "") throw bad("sign-byoc-job requires non-empty id and capability");
  const timeout = b.timeout_seconds;
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout <= 0 || timeout > 0xffff_ffff)
    throw bad("sign-byoc-job requires a positive integer timeout_seconds");
  const payload = jobSigningPayloadV1({
    id,
    capability,
    request: str("request"),
    parameters: str("parameters"),
    timeoutSeconds: timeout,
  });
  sendJson(res, 200, {
    sender: getAddress(ctx.signer.address),
    signature: await signPayload(ctx.signer, payload),
  });
}

/**
 * `GET /discover-orchestrators[?caps=pipeline/model…]`: `[{address, score, capabilities, runners?}]`
 * (`runners`: their priced live runners, runners.ts; a runner's `app` is one of the capabilities).
 */
export async function discoverOrchestrators(
  ctx: SignerContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  ctx.auth.appOf(req.headers);
  if (ctx.discovery === undefined)
    throw new TributaryError(
      "SIGNER_NO_DISCOVERY",
      "discovery is off on this signer: start it with --remote-discovery",
      { status: 503 },
    );
  const caps = new URL(req.url ?? "/", "http://x").searchParams.getAll("caps").filter((c) => c !== "");
  const list = await ctx.discovery.list();
  if (list.length === 0)
    throw new TributaryError(
      "SIGNER_DISCOVERY_EMPTY",
      "no orchestrator answered discovery yet; retry shortly",
      {
        status: 503,
      },
    );
  const out = list
    .filter((o) => caps.length === 0 || caps.some((c) => o.capabilities.includes(c)))
    .map((o) => ({
      address: o.address,
      score: 1,
      capabilities: o.capabilities,
      ...(o.runners !== undefined && o.runners.length > 0 ? { runners: o.runners } : {}),
    }));
  sendJson(res, 200, out);
}

/** Why a PaymentError of the Sender becomes which answer. */
function paymentAnswer(err: PaymentError, transcoder: string): TributaryError {
  if (err.code === "TICKET_EXPIRED" || err.code === "TOO_MANY_NONCES" || err.code === "UNKNOWN_SESSION")
    return new TributaryError("SIGNER_REFRESH_SESSION", `refresh the orchestrator info: ${err.message}`, {
      status: HTTP_REFRESH_SESSION,
      details: { refreshUrl: transcoder },
      cause: err,
    });
  if (err.code === "PRICE_INCREASED")
    return new TributaryError("PRICE_EXCEEDED", err.message, { status: HTTP_PRICE_EXCEEDED, cause: err });
  return new TributaryError(err.code, err.message, { status: 402, cause: err });
}

function refresh(transcoder: string, why: string): TributaryError {
  return new TributaryError("SIGNER_REFRESH_SESSION", `refresh the orchestrator info: ${why}`, {
    status: HTTP_REFRESH_SESSION,
    details: { refreshUrl: transcoder },
  });
}

/**
 * Whether the request carries a state: a go-livepeer client sends `{"State": null, "Sig": null}` (or
 * empty strings) on its first request, which means none, as go-livepeer's signer reads it.
 */
function hasState(state: unknown): boolean {
  if (state === undefined || state === null) return false;
  if (typeof state !== "object") return true;
  const { State, Sig } = state as { State?: unknown; Sig?: unknown };
  const empty = (v: unknown) => v === undefined || v === null || v === "";
  return !(empty(State) && empty(Sig));
}

/** A client's own ceiling (`maxPrice`) in wei per unit, when it is one (a USD ceiling is not checked here). */
function clientCeiling(value: unknown): Rat | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const ppu = v.pricePerUnit ?? v.price_per_unit;
  const px = v.pixelsPerUnit ?? v.pixels_per_unit ?? 1;
  if (ppu === undefined) return undefined;
  try {
    const den = BigInt(String(px));
    return den > 0n ? Rat.of(BigInt(String(ppu)), den) : undefined;
  } catch {
    throw bad("maxPrice.pricePerUnit and pixelsPerUnit must be integers");
  }
}

/** `POST /generate-live-payment`: `{payment, segCreds, state}`. */
export async function generateLivePayment(
  ctx: SignerContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  ctx.auth.appOf(req.headers);
  const body = await readJsonObject(req, MAX_BODY_BYTES);
  const sender = ctx.sender;
  if (sender === undefined)
    throw new TributaryError(
      "SIGNER_OFFCHAIN",
      "this signer runs offchain and makes no tickets: start it with --network and --eth-url",
      { status: 503 },
    );
  let info: OrchestratorInfo;
  try {
    info = fromBinary(OrchestratorInfoSchema, bytesOf(body.orchestrator, "orchestrator"));
  } catch (err) {
    if (err instanceof TributaryError) throw err;
    throw bad("orchestrator is not an OrchestratorInfo protobuf");
  }
  const rawType = body.type ?? "";
  if (typeof rawType !== "string" || !(PAYMENT_TYPES as readonly string[]).includes(rawType))
    throw bad(`invalid job type "${String(rawType)}": use lv2v, live or fixed`);
  const type = rawType as PaymentType;
  const headerCap = req.headers["livepeer-capability"];
  const capability =
    typeof body.capability === "string" && body.capability !== ""
      ? body.capability
      : typeof headerCap === "string" && headerCap !== ""
        ? headerCap
        : undefined;
  const price = priceOf(info, capability);
  if (price === undefined) throw bad("missing or zero priceInfo");
  if (info.ticketParams === undefined) throw bad("missing ticketParams in OrchestratorInfo");
  if (info.address.length !== 20) throw bad("missing orchestrator address in OrchestratorInfo");
  let capabilities: Capabilities | undefined;
  if (body.capabilities !== undefined && body.capabilities !== "") {
    try {
      capabilities = fromBinary(CapabilitiesSchema, bytesOf(body.capabilities, "capabilities"));
    } catch (err) {
      if (err instanceof TributaryError) throw err;
      throw bad("capabilities is not a Capabilities protobuf");
    }
  }
  const orchestrator = `0x${Buffer.from(info.address).toString("hex")}`;
  const params = ticketParamsFromWire(info.ticketParams);
  const transcoder = info.transcoder;

  const prev = hasState(body.state) ? ctx.store.sessionOf(body.state) : undefined;
  if (prev && prev.orchestrator !== orchestrator) throw bad("orchestratorAddress mismatch");
  if (prev && prev.type !== type) throw bad("job type mismatch");
  const approval = await ctx.auth.approve(
    req.headers,
    prev
      ? { StateID: prev.id, Type: prev.type, SequenceNumber: prev.seq, ManifestID: prev.manifestId }
      : undefined,
    prev,
  );

  // Ticket params about to expire: the client asks the orchestrator again (go-livepeer's refresh).
  if (params.expirationBlock - ctx.lastSeenL1Block() <= PARAMS_EXPIRY_BUFFER)
    throw refresh(transcoder, `ticket params expire at block ${params.expirationBlock}`);

  const ceilings = [ctx.maxPricePerUnit, approval.maxPricePerUnit, clientCeiling(body.maxPrice)].filter(
    (c): c is Rat => c !== undefined,
  );
  for (const c of ceilings)
    if (price.cmp(c) > 0)
      throw new TributaryError(
        "PRICE_EXCEEDED",
        `orchestrator price ${price.toFixed(3)} exceeds maximum price ${c.toFixed(3)} wei per unit`,
        { status: HTTP_PRICE_EXCEEDED },
      );
  const initialPrice = prev?.initialPrice ?? price;
  try {
    checkPriceIncrease(initialPrice, price);
  } catch (err) {
    throw err instanceof PaymentError ? paymentAnswer(err, transcoder) : err;
  }

  const now = ctx.now();
  const inPixels = typeof body.inPixels === "number" ? body.inPixels : 0;
  const units = unitsOf(
    type,
    capability !== undefined,
    prev && prev.lastUpdateMs > 0 ? now - prev.lastUpdateMs : undefined,
    inPixels,
  );
  if (units <= 0n) throw bad("missing billable unit or job type");
  const fee = initialPrice.mul(units);
  const ev = ticketEV(params.faceValue, params.winProb);
  const balance = prev?.balance ?? Rat.ZERO;
  const n = ticketsFor(fee, balance, ev);
  if (n === 0)
    throw new TributaryError(
      "NO_TICKETS",
      "no tickets needed: the credit covers this period; skip this cycle",
      {
        status: HTTP_NO_TICKETS,
      },
    );
  if (n > sender.maxTicketsPerPayment)
    throw new TributaryError(
      "TOO_MANY_TICKETS",
      `numTickets ${n} exceeds maximum of ${sender.maxTicketsPerPayment}: the orchestrator's ticket EV is small for its price`,
      { status: 400 },
    );
  try {
    await sender.validateTicketParams(params, n);
  } catch (err) {
    throw err instanceof PaymentError ? paymentAnswer(err, transcoder) : err;
  }

  const manifestId =
    typeof body.ManifestID === "string" && body.ManifestID !== ""
      ? body.ManifestID
      : (prev?.manifestId ?? ctx.newId());
  const value = ev.mul(BigInt(n));
  const session: SignerSession = {
    id: prev?.id ?? ctx.newId(),
    orchestrator,
    type,
    manifestId,
    app: approval.app,
    initialPrice,
    balance: balance.add(value).sub(fee),
    lastUpdateMs: now,
    seq: prev ? prev.seq + 1 : 0,
    authExpiry: approval.expiry ?? 0,
  };
  const reservation: Reservation = {
    app: approval.app,
    window: ctx.store.window(now),
    value,
    tickets: n,
    recipientRandHash: params.recipientRandHash,
    session,
  };
  // From here to createPayment nothing yields to the event loop: the nonce room is checked, the range
  // reserved and committed, and the Sender session started on it, in one synchronous run.
  if (ctx.store.lastNonce(params.recipientRandHash) + n > MAX_SENDER_NONCES)
    throw refresh(transcoder, `these ticket params carried ${MAX_SENDER_NONCES} tickets already`);
  const { first, durable } = ctx.store.reserve(reservation, ctx.limits);
  const sessionId = sender.startSession(params, first - 1);
  // createPayment takes the session object synchronously, before its first await, so the session
  // can be forgotten at once and a concurrent request on the same params starts its own.
  const paying = sender.createPayment(
    sessionId,
    n,
    priceInfoFromWire(info.priceInfo ?? info.capabilitiesPrices[0]!),
  );
  sender.cleanupSession(sessionId);
  let payment: string;
  let segCreds: string;
  let committed = false;
  try {
    // Nothing made on the reserved nonces leaves before the reservation is on disk.
    await durable;
    committed = true;
    payment = encodePaymentHeader(await paying);
    const sig: Hex = await signPayload(ctx.signer, segCredsSigningBytes(manifestId, 0n, EMPTY_SEGMENT_HASH));
    segCreds = encodeSegmentHeader({
      manifestId,
      seq: 0n,
      hash: EMPTY_SEGMENT_HASH,
      sig,
      durationMs: 0,
      ...(capabilities ? { capabilities } : {}),
      ...(info.authToken
        ? {
            authToken: {
              token: `0x${Buffer.from(info.authToken.token).toString("hex")}`,
              sessionId: info.authToken.sessionId,
              expiration: info.authToken.expiration,
            },
          }
        : {}),
    });
  } catch (err) {
    paying.catch(() => {});
    // A reservation whose commit failed was rolled back: nothing to refund.
    if (committed)
      await ctx.store.refund(reservation, prev ?? { ...session, balance, lastUpdateMs: 0 }).catch(() => {});
    throw err instanceof PaymentError ? paymentAnswer(err, transcoder) : err;
  }
  ctx.metrics.paid(approval.app, capability !== undefined ? "byoc" : type || "pixels", n, value);
  ctx.logger.info(
    {
      app: approval.app,
      orchestrator,
      session: session.id,
      seq: session.seq,
      tickets: n,
      first_nonce: first,
      fee: fee.ceil().toString(),
      balance: session.balance.toFixed(0),
    },
    "signed payment",
  );
  sendJson(res, 200, { payment, segCreds, state: ctx.store.stateRef(session) });
}
