/**
 * How many price units a gateway usually pays for in one payment, per kind of work: what the
 * orchestrator sizes its tickets for (see {@link Recipient.ticketParams}: when this many units at
 * the price would take more than the target number of tickets, the quoted ticket EV is raised).
 * Pure, no I/O.
 */
import { CAPABILITY } from "../protocol/capabilities.ts";

/**
 * BYOC: seconds of price in the largest usual payment. Gateways pay up to a balance of 120 × price
 * (go-livepeer `minBal`; ours too), which covers the orchestrator's 60 × price minimum twice.
 */
export const BYOC_USUAL_PAYMENT_SECONDS = 120n;

/** Live video: a start pays 60 s of 1280 × 720 at 30 fps in pixels (go-livepeer `initPixelsToPay`). */
export const LIVE_USUAL_PAYMENT_PIXELS = 60n * 1280n * 720n * 30n;

/**
 * Native AI batch: the units of one job at the sizes a request gets when it names none (go-livepeer's
 * unit formulas): 512 × 512 × 1 images, 576 × 1024 × 25 video frames, 256 LLM tokens, a minute of
 * audio (1000 units a second), 200 characters of speech (1000 units each).
 */
const AI_USUAL_UNITS: Readonly<Record<number, bigint>> = {
  [CAPABILITY.TextToImage]: 512n * 512n,
  [CAPABILITY.ImageToImage]: 512n * 512n,
  [CAPABILITY.ImageToVideo]: 576n * 1024n * 25n,
  [CAPABILITY.Upscale]: 512n * 512n,
  [CAPABILITY.AudioToText]: 60n * 1000n,
  [CAPABILITY.SegmentAnything2]: 512n * 512n,
  [CAPABILITY.LLM]: 256n,
  [CAPABILITY.ImageToText]: 512n * 512n,
  [CAPABILITY.TextToSpeech]: 200n * 1000n,
  [CAPABILITY.LiveVideoToVideo]: LIVE_USUAL_PAYMENT_PIXELS,
  [CAPABILITY.BYOC]: BYOC_USUAL_PAYMENT_SECONDS,
};

/**
 * Units of a usual payment for work of capability `id` (a go-livepeer capability id); 0 for
 * transcoding and unknown ids (their tickets keep the orchestrator's ticket EV).
 */
export function usualPaymentUnits(id: number | undefined): bigint {
  return id === undefined ? 0n : (AI_USUAL_UNITS[id] ?? 0n);
}
