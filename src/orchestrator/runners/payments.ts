/**
 * Paid live runner sessions (go-livepeer `ReserveLiveRunnerSession` / `PaymentForLiveRunnerSession`),
 * on a node with a payment gate and a priced runner:
 *
 * 0. **Quote.** {@link quoteRunnerPrice} turns the runner's price (runners/config.ts `RunnerPrice`)
 *    into whole wei per charged unit (`seconds`, `720p-pixel-seconds` or `fixed`), rounding down as
 *    go-livepeer does: a wei price as given, a USD price through the ETH/USD feed
 *    (src/chain/price-feed.ts) each time a challenge, a reservation or discovery asks, so a price
 *    follows the feed within its refresh interval. A stale or unreadable feed refuses the quote (503
 *    `PRICE_FEED_STALE` / `PRICE_FEED_UNAVAILABLE`); a session keeps the price it was reserved at.
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
 * A single-shot call is paid the same way (its retry carries the payment and is served); a `fixed`
 * session's top-up is refused (409 `FIXED_PRICE_SESSION`, routes/live-runners.ts); a single-shot
 * WebSocket upgrade too (its 402 on the raw socket; metered while the socket is open, which is
 * closed when the session is released).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { Address } from "viem";
import { type EthUsdSource, PriceFeedUnavailableError, usdToWei } from "../../chain/price-feed.ts";
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
import { PIXELS_720P30_PER_SECOND, type RunnerPrice, type RunnerPriceUnit } from "./config.ts";
import type { Runner, RunnerRegistry, RunnerSession } from "./registry.ts";
import { newSessionId } from "./secrets.ts";

/** The header naming the payer of a challenge (go-livepeer `liveRunnerSenderHeader`). */
export const PAYER_ADDRESS_HEADER = "livepeer-payer-address";

/** A quoted runner price: whole wei per charged unit. */
export interface WeiPrice {
  wei: bigint;
  unit: RunnerPriceUnit;
}

/** What discovery shows of a quoted price (go-livepeer's converted `price_info`). */
export function discoveryPriceInfo(price: WeiPrice): {
  price: number | string;
  currency: "wei";
  unit: RunnerPriceUnit;
} {
  return {
    price: price.wei <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(price.wei) : price.wei.toString(),
    currency: "wei",
    unit: price.unit,
  };
}

/**
 * Pure: whole wei per charged unit of `price`, at `usdPerEth` for a USD price (rounded down, as
 * go-livepeer does); throws 503 `PRICE_BELOW_ONE_WEI` when that is less than one wei.
 */
export function weiPrice(price: RunnerPrice, usdPerEth?: Rat): WeiPrice {
  let perUnit = price.perUnit;
  if (price.currency === "usd") {
    if (usdPerEth === undefined) throw new RangeError("a USD price needs ETH/USD");
    perUnit = usdToWei(perUnit, usdPerEth);
  }
  const wei = perUnit.floor();
  if (wei < 1n)
    throw new TributaryError(
      "PRICE_BELOW_ONE_WEI",
      `the runner's price ${price.given} is less than one wei per ${price.unit} at ${usdPerEth?.toFixed(2)} USD/ETH: the runner must raise it`,
      { status: 503 },
    );
  return { wei, unit: price.unit };
}

/**
 * Quotes `price` now (see 0. above): USD through `feed`, which throws the typed 503s; without a
 * feed a USD price is refused (503 `PRICE_FEED_UNAVAILABLE`).
 */
export async function quoteRunnerPrice(
  price: RunnerPrice,
  feed: EthUsdSource | undefined,
): Promise<WeiPrice> {
  if (price.currency !== "usd") return weiPrice(price);
  if (feed === undefined)
    throw new PriceFeedUnavailableError(
      "this orchestrator has no ETH/USD price feed, so a runner priced in USD cannot be sold; start it on a network with --price-feed-addr",
    );
  return weiPrice(price, (await feed.ethUsd()).usdPerEth);
}

/** Builds the challenge for `payer` at `price` wei per charged unit. */
export async function runnerChallenge(ctx: OrchestratorContext, payerHeader: string, price: WeiPrice) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(payerHeader))
    throw new TributaryError(
      "PAYMENT_REQUIRED",
      "this runner is priced: send Livepeer-Payer-Address (the payer's 0x address) to get payment parameters",
      { status: 402 },
    );
  const manifestId = newSessionId();
  const expiration = BigInt(Math.floor(Date.now() / 1000) + AUTH_TOKEN_VALID_SECONDS);
  const priceInfo = priceInfoOf(Rat.of(price.wei));
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

/** Charged units of one second of a session: 1 for `seconds`, 1280 × 720 × 30 for `720p-pixel-seconds`. */
export function unitsPerSecond(unit: RunnerPriceUnit): bigint {
  return unit === "720p-pixel-seconds" ? PIXELS_720P30_PER_SECOND : 1n;
}

/**
 * Charges a paid session: a `fixed` price once, now (402 `PAYMENT_REQUIRED` when the payment does
 * not cover it; the caller releases the session); a metered one every `periodMs` (its whole seconds
 * × {@link unitsPerSecond} × price) until it ends, releasing it the first period its balance cannot
 * cover.
 */
export function meterSession(
  gate: PaymentGate,
  registry: RunnerRegistry,
  runner: Runner,
  session: RunnerSession,
  payer: { sender: Address; manifestId: string; price: WeiPrice },
  periodMs: number,
  log: Logger,
): void {
  const price = Rat.of(payer.price.wei);
  if (payer.price.unit === "fixed") {
    gate.require(payer.sender, payer.manifestId, price, 402);
    gate.debit(payer.sender, payer.manifestId, price, 1n);
    return;
  }
  const seconds = BigInt(Math.max(1, Math.round(periodMs / 1000)));
  const units = seconds * unitsPerSecond(payer.price.unit);
  const cost = price.mul(Rat.of(units));
  const timer = setInterval(() => {
    if (gate.balance(payer.sender, payer.manifestId).cmp(cost) < 0) {
      log.info(
        { runner_id: runner.id, session_id: session.id },
        "live runner session released: payment stopped",
      );
      registry.release(runner, session.id);
      return;
    }
    gate.debit(payer.sender, payer.manifestId, price, units);
  }, periodMs);
  timer.unref();
  session.ended.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
