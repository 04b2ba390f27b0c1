/**
 * The live gateway's calls to an orchestrator about one stream: native live start
 * (`POST {O}/live-video-to-video`), BYOC start, update and stop (`/ai/stream/start|update|stop`),
 * the signed (and, when due, paid) headers of BYOC calls, and the reading of start answers into
 * typed errors (see {@link checkStartAnswer}).
 */
import { TributaryError } from "../../node/errors.ts";
import { Rat } from "../../payments/rational.ts";
import { encodeJobHeader, type JobRequest, newJobRequest } from "../../protocol/job-header.ts";
import { aiRequestCapabilities } from "../capabilities.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import { headerValue, readText, saysTicketParamsExpired } from "../orch-http.ts";
import { LIVE_INITIAL_SECONDS, LIVE_PIXELS_PER_SECOND, type SentPayment } from "../payments.ts";
import { formatTraceparent } from "../tracing.ts";
import { type LiveOptions, PIPELINE, trimSlash } from "./context.ts";
import { countPayment, type LiveStream, type OrchUrls } from "./stream.ts";

/** `timeout_seconds` of BYOC stream stops and updates (go-livepeer: 10). */
export const BYOC_CONTROL_TIMEOUT_SECONDS = 10;
/** Time allowed for the orchestrator's start answer (go-livepeer: 5 s; containers may be slower). */
const START_TIMEOUT_MS = 15_000;
/** Longest orchestrator answer read. */
const ANSWER_LIMIT = 1024 * 1024;

/** The orchestrator refused the stream with a 4xx (not 408/429): the client's problem, passed back with its status. */
export class LiveStartRejectedError extends TributaryError {
  constructor(status: number, answer: string) {
    super("LIVE_START_REJECTED", `orchestrator refused the stream: ${answer.slice(0, 300)}`, { status });
  }
}

/**
 * The orchestrator refused the start's payment because its ticket params expired on the way. The
 * failover pays again on fresh params on the same orchestrator; when those retries run out the
 * client sees it as any refusal (`LIVE_START_REJECTED` with the orchestrator's status).
 */
export class TicketParamsExpiredError extends LiveStartRejectedError {}

/** What an orchestrator answered to a call about a stream. */
export interface OrchAnswer {
  status: number;
  text: string;
  /** Its `Content-Type`, if any. */
  type: string | undefined;
}

/**
 * Throws for an orchestrator's error answer to a start: a 4xx (not 408/429) is the client's problem
 * ({@link LiveStartRejectedError}, or {@link TicketParamsExpiredError} when the answer says so);
 * anything else is the orchestrator's (a plain error: the stream goes to the next one).
 */
export function checkStartAnswer(status: number, text: string): void {
  if (status < 400) return;
  if (status < 500 && status !== 429 && status !== 408)
    throw saysTicketParamsExpired(text)
      ? new TicketParamsExpiredError(status, text)
      : new LiveStartRejectedError(status, text);
  throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
}

/** The trace headers of every call about `s`. */
export function traceHeaders(s: LiveStream): Record<string, string> {
  return { traceparent: formatTraceparent(s.trace), "x-trace-id": s.trace.traceId };
}

/** A BYOC job about stream `s` (stop, update, payment): `request` names the stream. */
export function streamJob(s: LiveStream, timeoutSeconds: number): JobRequest {
  return newJobRequest({
    capability: s.modelId,
    timeoutSeconds,
    request: JSON.stringify({ stream_id: s.id }),
  });
}

/** Headers of a BYOC stream call: the signed job and, when due, a payment (on chain). */
export async function byocHeaders(
  options: LiveOptions,
  s: LiveStream,
  d: OrchestratorDescriptor,
  job: JobRequest,
  pay: boolean,
  signal: AbortSignal,
): Promise<SentPayment> {
  const payments = options.payments;
  if (payments === undefined)
    return { headers: { livepeer: encodeJobHeader(job) }, tickets: 0, value: Rat.ZERO };
  if (!pay) return { headers: { livepeer: await payments.jobHeader(job) }, tickets: 0, value: Rat.ZERO };
  const sent = await payments.byocPayment(d.transcoder, job, signal);
  countPayment(s, sent);
  return sent;
}

/** A stream's start on one orchestrator: its channels and the start's payment. */
export interface Started {
  urls: OrchUrls;
  paid?: SentPayment;
}

/** Native live start on `d` (`POST {O}/live-video-to-video`). */
export async function startLive(
  options: LiveOptions,
  s: LiveStream,
  d: OrchestratorDescriptor,
): Promise<Started> {
  const paid = options.payments
    ? await options.payments.nativePayment(
        d.transcoder,
        await options.pool.fetchOne(d.url, {
          capabilities: aiRequestCapabilities({ pipeline: PIPELINE, modelId: s.modelId }),
          signal: s.stopped.signal,
        }),
        PIPELINE,
        s.modelId,
        LIVE_INITIAL_SECONDS * LIVE_PIXELS_PER_SECOND,
      )
    : undefined;
  const res = await options.http.send(`${trimSlash(d.transcoder)}/live-video-to-video`, {
    headers: {
      ...paid?.headers,
      ...traceHeaders(s),
      "content-type": "application/json",
      authorization: "Livepeer-AI-Worker-1.0",
    },
    body: JSON.stringify({
      model_id: s.modelId,
      params: s.params,
      stream_id: s.id,
      gateway_request_id: s.id,
    }),
    headersTimeoutMs: START_TIMEOUT_MS,
    signal: s.stopped.signal,
  });
  const text = await readText(res, ANSWER_LIMIT);
  checkStartAnswer(res.statusCode ?? 500, text);
  const body = JSON.parse(text) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const urls: OrchUrls = {
    manifestId: String(body.manifest_id ?? ""),
    publishUrl: str(body.publish_url),
    subscribeUrl: str(body.subscribe_url),
    controlUrl: str(body.control_url),
    eventsUrl: String(body.events_url ?? ""),
  };
  if (!urls.publishUrl || !urls.subscribeUrl || !urls.eventsUrl)
    throw new Error("start answer lacks publish_url, subscribe_url or events_url");
  return { urls, paid };
}

/** BYOC start on `d` (`POST {O}/ai/stream/start`). */
export async function startByoc(
  options: LiveOptions,
  s: LiveStream,
  d: OrchestratorDescriptor,
): Promise<Started> {
  const client = s.job as JobRequest;
  const job: JobRequest = { ...client, id: s.id };
  const sent = await byocHeaders(options, s, d, job, true, s.stopped.signal);
  const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/start`, {
    headers: { ...sent.headers, ...traceHeaders(s), "content-type": "application/json" },
    body: JSON.stringify({ params: s.params }),
    headersTimeoutMs: Math.max(START_TIMEOUT_MS, client.timeoutSeconds * 1000),
    signal: s.stopped.signal,
  });
  const text = await readText(res, ANSWER_LIMIT);
  checkStartAnswer(res.statusCode ?? 500, text);
  // A path gets the orchestrator's host (go-livepeer's `AppendHostname`).
  const at = (name: string): string | undefined => {
    const v = headerValue(res.headers, name);
    return v ? new URL(v, `${trimSlash(d.transcoder)}/`).toString() : undefined;
  };
  const urls: OrchUrls = {
    manifestId: s.modelId,
    publishUrl: at("x-publish-url"),
    subscribeUrl: at("x-subscribe-url"),
    controlUrl: at("x-control-url"),
    eventsUrl: at("x-events-url") ?? "",
    dataUrl: at("x-data-url"),
  };
  if (!urls.eventsUrl || !urls.controlUrl)
    throw new Error("start answer lacks X-Control-Url or X-Events-Url");
  if (s.input && !urls.publishUrl) throw new Error("video ingress asked, but no X-Publish-Url");
  if (s.output && !urls.subscribeUrl) throw new Error("video egress asked, but no X-Subscribe-Url");
  return { urls };
}

/** Tells the orchestrator a BYOC stream ends there (`POST {O}/ai/stream/stop`, signed, not paid). */
export async function stopByocOn(
  options: LiveOptions,
  s: LiveStream,
  d: OrchestratorDescriptor,
  body: Buffer,
): Promise<OrchAnswer> {
  const job = streamJob(s, BYOC_CONTROL_TIMEOUT_SECONDS);
  const sent = await byocHeaders(options, s, d, job, false, options.signal);
  const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/stop`, {
    headers: { ...sent.headers, ...traceHeaders(s), "content-type": "application/json" },
    body,
    headersTimeoutMs: BYOC_CONTROL_TIMEOUT_SECONDS * 1000,
    signal: options.signal,
  });
  const text = await readText(res, ANSWER_LIMIT);
  return { status: res.statusCode ?? 502, text, type: headerValue(res.headers, "content-type") };
}

/** Relays a BYOC stream's update (`POST {O}/ai/stream/update`, signed, paid when the balance is low). */
export async function updateByocOn(
  options: LiveOptions,
  s: LiveStream,
  d: OrchestratorDescriptor,
  body: Buffer,
  contentType: string | undefined,
): Promise<OrchAnswer> {
  const sent = await byocHeaders(
    options,
    s,
    d,
    streamJob(s, BYOC_CONTROL_TIMEOUT_SECONDS),
    true,
    options.signal,
  );
  const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/update`, {
    headers: {
      ...sent.headers,
      ...traceHeaders(s),
      "content-type": contentType ?? "application/json",
    },
    body,
    headersTimeoutMs: BYOC_CONTROL_TIMEOUT_SECONDS * 1000,
    signal: options.signal,
  });
  const text = await readText(res, ANSWER_LIMIT);
  return { status: res.statusCode ?? 502, text, type: headerValue(res.headers, "content-type") };
}
