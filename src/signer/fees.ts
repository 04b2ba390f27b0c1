/**
 * What one `/generate-live-payment` charges (pure): the units of each payment type, the price it is
 * charged at, and the tickets that cover it given the credit the signer estimates the orchestrator
 * holds for the session.
 *
 * | type | units | first payment |
 * |---|---|---|
 * | `lv2v` | pixels: 1280 × 720 × 30 per second since the last payment | 60 s |
 * | `live` | seconds since the last payment, rounded up | 10 s |
 * | BYOC (`capability` given, any type) | seconds since the last payment, rounded up, at the capability's price | 60 s (the orchestrator's minimum credit for a job) |
 * | `fixed` | 1 unit per payment (a live runner's fixed price) | 1 |
 * | none | `inPixels` of the request | — |
 *
 * As go-livepeer, the fee is charged at the session's first price; a later price more than double it
 * is refused (PRICE_INCREASED, answered 481).
 */
import { Rat } from "../payments/rational.ts";
import { CAPABILITY } from "../protocol/capabilities.ts";
import type { OrchestratorInfo } from "../protocol/gen/lp_rpc_pb.ts";

/** Pixels per second of live video as go-livepeer pays them. */
export const PIXELS_PER_SECOND = 1280n * 720n * 30n;
/** Seconds an `lv2v` (and BYOC) session pays first. */
export const LV2V_INITIAL_SECONDS = 60;
/** Seconds a `live` session pays first. */
export const LIVE_INITIAL_SECONDS = 10;

/** Payment types the signer knows. */
export const PAYMENT_TYPES = ["lv2v", "live", "fixed", ""] as const;
export type PaymentType = (typeof PAYMENT_TYPES)[number];

/** The price a payment is for: the BYOC capability's entry when named, else `price_info`. */
export function priceOf(info: OrchestratorInfo, capability: string | undefined): Rat | undefined {
  const wire =
    capability !== undefined && capability !== ""
      ? (info.capabilitiesPrices.find(
          (p) => p.capability === CAPABILITY.BYOC && p.constraint === capability,
        ) ?? info.priceInfo)
      : info.priceInfo;
  if (wire === undefined || wire.pricePerUnit <= 0n || wire.pixelsPerUnit <= 0n) return undefined;
  return Rat.of(wire.pricePerUnit, wire.pixelsPerUnit);
}

/**
 * Units to charge: `elapsedMs` since the session's last payment (undefined for the first), by type;
 * 0 when nothing is billable (a bad `inPixels`).
 */
export function unitsOf(
  type: PaymentType,
  byoc: boolean,
  elapsedMs: number | undefined,
  inPixels = 0,
): bigint {
  const secs = (initial: number) => (elapsedMs === undefined || elapsedMs <= 0 ? initial : elapsedMs / 1000);
  if (byoc) return BigInt(Math.ceil(secs(LV2V_INITIAL_SECONDS)));
  switch (type) {
    case "lv2v":
      return BigInt(Math.floor(Number(PIXELS_PER_SECOND) * secs(LV2V_INITIAL_SECONDS)));
    case "live":
      return BigInt(Math.ceil(secs(LIVE_INITIAL_SECONDS)));
    case "fixed":
      return 1n;
    default:
      return Number.isSafeInteger(inPixels) && inPixels > 0 ? BigInt(inPixels) : 0n;
  }
}

/**
 * Tickets of `ev` wei that bring a credit of `balance` up to `fee`: 0 when the credit already covers
 * it (or the EV is 0).
 */
export function ticketsFor(fee: Rat, balance: Rat, ev: Rat): number {
  const need = fee.sub(balance);
  if (need.cmp(0n) <= 0 || ev.cmp(0n) <= 0) return 0;
  return Number(need.div(ev).ceil());
}
