/**
 * The payment top-up loop of one orchestrator's turn (on chain only). Native live pays the seconds
 * since the last payment in pixels of 1280×720@30 (`POST {O}/payment`, signed `Livepeer-Segment` on
 * the stream's manifest) every `paymentIntervalMs`; a BYOC stream pays with
 * `POST {O}/ai/stream/payment` every `byocPaymentIntervalMs` when its balance with the orchestrator is
 * under 120 × price (payments.ts decides). A failed top-up is logged; the orchestrator closes an
 * unpaid stream, which then moves. One top-up at a time; the loop ends with the turn's signal.
 */
import type { Logger } from "../../node/logger.ts";
import { aiRequestCapabilities } from "../capabilities.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import { readText } from "../orch-http.ts";
import { type GatewayPayer, LIVE_PIXELS_PER_SECOND } from "../payments.ts";
import {
  DEFAULT_BYOC_PAYMENT_INTERVAL_MS,
  DEFAULT_LIVE_PAYMENT_INTERVAL_MS,
  type LiveOptions,
  PIPELINE,
  trimSlash,
} from "./context.ts";
import { streamJob, traceHeaders } from "./orchestrator-api.ts";
import { countPayment, type LiveStream, type OrchUrls } from "./stream.ts";

/** `timeout_seconds` of BYOC stream top-ups (go-livepeer: 70). */
const BYOC_PAYMENT_TIMEOUT_SECONDS = 70;
/** Time allowed for a top-up's answer headers. */
const TOP_UP_TIMEOUT_MS = 10_000;

/** One native live top-up: the seconds since `paidUntil`. Resolves with the time now paid until. */
async function topUpLive(
  options: LiveOptions,
  payments: GatewayPayer,
  s: LiveStream,
  d: OrchestratorDescriptor,
  urls: OrchUrls,
  paidUntil: number,
  signal: AbortSignal,
): Promise<number> {
  const now = Date.now();
  const seconds = BigInt(Math.max(1, Math.round((now - paidUntil) / 1000)));
  const info = await options.pool.fetchOne(d.url, {
    capabilities: aiRequestCapabilities({ pipeline: PIPELINE, modelId: s.modelId }),
    signal,
  });
  const sent = await payments.nativePayment(
    d.transcoder,
    info,
    PIPELINE,
    s.modelId,
    seconds * LIVE_PIXELS_PER_SECOND,
    urls.manifestId,
  );
  if (sent.skip) return paidUntil; // a remote signer says the credit covers this period
  const res = await options.http.send(`${trimSlash(d.transcoder)}/payment`, {
    headers: { ...sent.headers, ...traceHeaders(s) },
    headersTimeoutMs: TOP_UP_TIMEOUT_MS,
    signal,
  });
  const text = await readText(res);
  if ((res.statusCode ?? 500) !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  s.payments++;
  countPayment(s, sent);
  return now;
}

/** One BYOC stream top-up, when the balance is low. */
async function topUpByoc(
  options: LiveOptions,
  payments: GatewayPayer,
  s: LiveStream,
  d: OrchestratorDescriptor,
  signal: AbortSignal,
): Promise<void> {
  const sent = await payments.byocPayment(d.transcoder, streamJob(s, BYOC_PAYMENT_TIMEOUT_SECONDS), signal);
  if (sent.headers["livepeer-payment"] === undefined) return; // the balance is high enough
  const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/payment`, {
    headers: { ...sent.headers, ...traceHeaders(s) },
    headersTimeoutMs: TOP_UP_TIMEOUT_MS,
    signal,
  });
  const text = await readText(res);
  if ((res.statusCode ?? 500) !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  s.payments++;
  countPayment(s, sent);
}

/** Pays the serving orchestrator `d` periodically until `signal` aborts; nothing offchain. */
export function startTopUps(
  options: LiveOptions,
  s: LiveStream,
  d: OrchestratorDescriptor,
  urls: OrchUrls,
  log: Logger,
  signal: AbortSignal,
): void {
  const payments = options.payments;
  if (payments === undefined) return;
  let paidUntil = Date.now();
  let paying = false;
  const topUp = async (): Promise<void> => {
    if (s.kind === "live") paidUntil = await topUpLive(options, payments, s, d, urls, paidUntil, signal);
    else await topUpByoc(options, payments, s, d, signal);
  };
  const timer = setInterval(
    () => {
      if (paying) return;
      paying = true;
      topUp()
        .catch((err: unknown) => {
          if (!signal.aborted) log.warn({ stream_id: s.id, err }, "stream payment failed");
        })
        .finally(() => {
          paying = false;
        });
    },
    s.kind === "live"
      ? (options.paymentIntervalMs ?? DEFAULT_LIVE_PAYMENT_INTERVAL_MS)
      : (options.byocPaymentIntervalMs ?? DEFAULT_BYOC_PAYMENT_INTERVAL_MS),
  );
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
