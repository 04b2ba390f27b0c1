/**
 * Paid live runner sessions (go-livepeer `ReserveLiveRunnerSession` / `PaymentForLiveRunnerSession`),
 * on a node with a payment gate and a runner priced in wei per second:
 *
 * 1. **Challenge.** A reservation without `Livepeer-Payment` and `Livepeer-Segment` answers 402 with
 *    `{payment_params, orchestrator, manifest_id}`: `payment_params` is a base64 protobuf
 *    `OrchestratorInfo` (the runner's price, ticket params for the payer named in
 *    `Livepeer-Payer-Address`, and an auth token whose session id is `manifest_id`). Without a valid
 *    payer address the answer is 402 `PAYMENT_REQUIRED` in the error envelope.
 * 2. **Pay.** The retry carries `Livepeer-Payment` and `Livepeer-Segment` (signed by the payer, with
 *    that auth token, manifest = its session id: 403 otherwise). The session id is the manifest id; the
 *    tickets are credited to (payer, manifest id).
 * 3. **Meter.** Every `livePaymentIntervalMs` (5 s) the session is charged its whole seconds × price;
 *    the first period the balance cannot cover releases the session (its connections are cut).
 *    `POST /apps/{id}/session/{sid}/payment` tops it up (manifest = session id, 403 otherwise) and
 *    answers a protobuf `PaymentResult{info}` with fresh ticket params.
 *
 * Not done: single-shot runners on a paid node (upstream does not charge them either: refused with
 * 501 here), USD prices (no ETH/USD feed), units other than seconds.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { Address } from "viem";
import { TributaryError } from "../../node/errors.ts";
import type { Logger } from "../../node/logger.ts";
import type { NodeRequest } from "../../node/server.ts";
import { Rat } from "../../payments/rational.ts";
import { AuthTokenSchema, OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { verifyPaymentHeaders } from "../ai-payment.ts";
import type { OrchestratorContext } from "../context.ts";
import { header } from "../http.ts";
import { AUTH_TOKEN_VALID_SECONDS, authTokenMac, priceInfoOf } from "../info.ts";
import type { PaymentGate } from "../payments.ts";
import type { Runner, RunnerRegistry, RunnerSession } from "./registry.ts";
import { newSessionId } from "./secrets.ts";

/** The header naming the payer of a challenge (go-livepeer `liveRunnerSenderHeader`). */
export const PAYER_ADDRESS_HEADER = "livepeer-payer-address";

/** Builds the challenge for `payer` at `price` wei per second. */
export async function runnerChallenge(ctx: OrchestratorContext, payerHeader: string, price: bigint) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(payerHeader))
    throw new TributaryError(
      "PAYMENT_REQUIRED",
      "this runner is priced: send Livepeer-Payer-Address (the payer's 0x address) to get payment parameters",
      { status: 402 },
    );
  const manifestId = newSessionId();
  const expiration = BigInt(Math.floor(Date.now() / 1000) + AUTH_TOKEN_VALID_SECONDS);
  const priceInfo = priceInfoOf(Rat.of(price));
  const sender = Buffer.from(payerHeader.slice(2), "hex");
  const info = create(OrchestratorInfoSchema, {
    transcoder: ctx.info.serviceUri,
    priceInfo,
    address: ctx.info.address ?? new Uint8Array(0),
    authToken: create(AuthTokenSchema, {
      token: authTokenMac(ctx.authSecret, manifestId, expiration),
      sessionId: manifestId,
      expiration,
    }),
    ...(ctx.info.ticketParams ? { ticketParams: await ctx.info.ticketParams(sender, priceInfo) } : {}),
  });
  return {
    payment_params: Buffer.from(toBinary(OrchestratorInfoSchema, info)).toString("base64"),
    orchestrator: ctx.info.serviceUri,
    manifest_id: manifestId,
  };
}

/** Verifies the payment headers of a reservation or top-up; returns the payer and manifest id. */
export async function takeRunnerPayment(
  ctx: OrchestratorContext,
  req: NodeRequest,
  sessionId?: string,
): Promise<{ sender: Address; manifestId: string; paymentValue: string }> {
  const { sender, paymentValue, seg } = await verifyPaymentHeaders(ctx, req);
  if (seg.manifestId !== seg.authToken?.sessionId)
    throw new TributaryError("BAD_SEGMENT_HEADER", "mismatched manifest and auth token", { status: 403 });
  if (sessionId !== undefined && seg.manifestId !== sessionId)
    throw new TributaryError("BAD_SEGMENT_HEADER", "mismatched session and payment manifest", {
      status: 403,
    });
  return { sender, manifestId: seg.manifestId, paymentValue };
}

/** True when the reservation carries payment material (else it gets the challenge). */
export function carriesPayment(req: NodeRequest): boolean {
  return header(req.headers, "livepeer-payment") !== "" || header(req.headers, "livepeer-segment") !== "";
}

/**
 * Charges a paid session every `periodMs` (its whole seconds × price) until it ends; releases it the
 * first period its balance cannot cover.
 */
export function meterSession(
  gate: PaymentGate,
  registry: RunnerRegistry,
  runner: Runner,
  session: RunnerSession,
  payer: { sender: Address; manifestId: string; weiPerSecond: bigint },
  periodMs: number,
  log: Logger,
): void {
  const seconds = BigInt(Math.max(1, Math.round(periodMs / 1000)));
  const price = Rat.of(payer.weiPerSecond);
  const cost = price.mul(Rat.of(seconds));
  const timer = setInterval(() => {
    if (gate.balance(payer.sender, payer.manifestId).cmp(cost) < 0) {
      log.info(
        { runner_id: runner.id, session_id: session.id },
        "live runner session released: payment stopped",
      );
      registry.release(runner, session.id);
      return;
    }
    gate.debit(payer.sender, payer.manifestId, price, seconds);
  }, periodMs);
  timer.unref();
  session.ended.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
