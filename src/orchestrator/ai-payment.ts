/**
 * The native AI payment (docs/spec/payments.md#payment-header, #segment-credentials,
 * #orchestrator-balances) of the AI batch, live video and `/payment` routes: `Livepeer-Payment`
 * (402 missing or undecodable), `Livepeer-Segment` signed by the payer with a valid auth token (403),
 * and the tickets credited.
 */
import type { Address } from "viem";
import { TributaryError } from "../node/errors.ts";
import type { NodeRequest } from "../node/server.ts";
import type { Rat } from "../payments/rational.ts";
import { checkPayloadSig } from "../payments/signature.ts";
import { JOB_PAYMENT_HEADER } from "../protocol/job-header.ts";
import { decodePaymentHeader } from "../protocol/payment-header.ts";
import { decodeSegmentHeader, segCredsSigningBytes } from "../protocol/segment-header.ts";
import { capabilityIdOf } from "./capabilities.ts";
import type { OrchestratorContext } from "./context.ts";
import { header } from "./http.ts";
import { authTokenProblem } from "./info.ts";
import { InsufficientBalanceError } from "./payments.ts";
import type { Capability } from "./registry.ts";

/** Who pays for a native AI job or live stream, at what price, into which balance. */
export interface AiPayer {
  sender: Address;
  manifestId: string;
  price: Rat;
}

/** True when some price of `cap` is not zero. */
export function isPriced(cap: Capability): boolean {
  for (const p of cap.prices.values()) if (!p.isZero()) return true;
  return false;
}

/**
 * `Livepeer-Payment` (402 missing or undecodable) and `Livepeer-Segment` signed by the payer with a
 * valid auth token (403). Returns the payer, the raw payment and the segment credentials.
 */
export async function verifyPaymentHeaders(
  ctx: OrchestratorContext,
  req: NodeRequest,
): Promise<{ sender: Address; paymentValue: string; seg: ReturnType<typeof decodeSegmentHeader> }> {
  const paymentValue = header(req.headers, JOB_PAYMENT_HEADER);
  if (paymentValue === "")
    throw new TributaryError("PAYMENT_REQUIRED", "missing Livepeer-Payment header: this model is priced", {
      status: 402,
    });
  const payment = decodePaymentHeader(paymentValue);
  const segValue = header(req.headers, "livepeer-segment");
  if (segValue === "")
    throw new TributaryError("BAD_SEGMENT_HEADER", "missing Livepeer-Segment header", { status: 403 });
  const seg = decodeSegmentHeader(segValue);
  const sigOk = (
    await checkPayloadSig(payment.sender, segCredsSigningBytes(seg.manifestId, seg.seq, seg.hash), seg.sig)
  ).valid;
  if (!sigOk)
    throw new TributaryError(
      "BAD_SEGMENT_SIG",
      "ErrSegSig: segment credentials are not signed by the payer",
      {
        status: 403,
      },
    );
  const tokenProblem = authTokenProblem(
    ctx.authSecret,
    seg.authToken && {
      token: Buffer.from(seg.authToken.token.slice(2), "hex"),
      sessionId: seg.authToken.sessionId,
      expiration: seg.authToken.expiration,
    },
  );
  if (tokenProblem !== undefined)
    throw new TributaryError("BAD_AUTH_TOKEN", `${tokenProblem}: get a fresh one from GetOrchestrator`, {
      status: 403,
    });
  return { sender: payment.sender, paymentValue, seg };
}

/**
 * Takes the payment of priced work on `cap` (nothing offchain or for a free model): the verified
 * headers, tickets credited to `<capId>_<modelId>` (or `manifestOverride`, a live stream's manifest
 * id), and a balance of at least one ticket EV (400). Returns who pays what.
 */
export async function takeAiPayment(
  ctx: OrchestratorContext,
  req: NodeRequest,
  cap: Capability,
  manifestOverride?: string,
): Promise<AiPayer | undefined> {
  const gate = ctx.gate;
  if (gate === undefined || !isPriced(cap)) return undefined;
  const { sender, paymentValue } = await verifyPaymentHeaders(ctx, req);
  const manifestId = manifestOverride ?? `${capabilityIdOf(cap.pipeline)}_${cap.modelId}`;
  await gate.receive(paymentValue, manifestId);
  const ev = gate.recipient.ev;
  const balance = gate.balance(sender, manifestId);
  if (balance.cmp(ev) < 0) throw new InsufficientBalanceError(manifestId, balance, ev, 400);
  return { sender, manifestId, price: ctx.registry.priceFor(cap, sender) };
}
