/**
 * Real-time streams on the gateway: native live video (shared/spec/orchestrator-gateway.md §14,
 * §6.2) and BYOC streams (§4.7, go-livepeer `byoc/stream_gateway.go`). Both get URLs on the
 * GATEWAY's own trickle server (mounted at `/live/trickle/`), so the client never talks to an
 * orchestrator and its URLs survive a move.
 *
 * Native live: `POST /live/video-to-video` `{model_id, params?, stream_id?}` → `publish_url` (POST
 * MPEG-TS segments into it), `subscribe_url` (read the output), `update_url`, `status_url`,
 * `stop_url`. The gateway starts the stream with `POST {O}/live-video-to-video`; updates are written
 * to the orchestrator's control channel.
 *
 * BYOC streams: `POST /process/stream/start` with the client's `Livepeer` header (capability,
 * `parameters` with `enable_video_ingress`, `enable_video_egress`, `enable_data_output`) and
 * go-livepeer's `StartRequest` body `{stream_name?, stream_id?, params?}` → go-livepeer's
 * `StreamUrls` (`stream_id`, `update_url`, `status_url`, `stop_url`, `data_url`; `whip_url`,
 * `whep_url`, `rtmp_url`, `rtmp_output_url` empty: WHIP/RTMP ingest is not done) plus our
 * `publish_url` / `subscribe_url` (trickle MPEG-TS in and out, when ingress / egress are enabled).
 * The gateway relays to `POST {O}/ai/stream/start` (signed job, `{"params": …}` body), whose
 * `X-Publish-Url`, `X-Subscribe-Url`, `X-Control-Url`, `X-Events-Url`, `X-Data-Url` answer headers
 * name the orchestrator's channels (a path gets the orchestrator's host, as go-livepeer's
 * `AppendHostname`). `POST /process/stream/<id>/update` goes to `/ai/stream/update`, `…/stop` to
 * `/ai/stream/stop` (its answer is passed back), `GET …/data` is the data channel as server-sent
 * events (`data: <line>`, then `event: end` when the stream ends), `GET …/status` as native live.
 *
 * Both kinds relay: every input segment of `<channel>-in` is published to the orchestrator's publish
 * channel, every segment of its subscribe channel is written to `<channel>-out` (and data to
 * `<channel>-data`); the events channel is read for status and fps.
 *
 * Control: a stream's routes (`…/<id>/update|status|stop|data`) need its control key as `?key=`,
 * which the URLs the start answers carry; a missing or wrong key is a 404 as an unknown id. Its
 * channels are named by a second random value, not by the id: a client-chosen id (or one seen by
 * an orchestrator or container) reaches nothing. See "Who may control a stream" in the README.
 *
 * Failover: a stream moves to the next orchestrator when its start fails, when a relay to or from
 * the orchestrator fails (a dead orchestrator refuses the connections: the move starts within about
 * 1.5 s, the subscriber's retries), when its output or events channel ends without a stop or the end of the input, or when
 * no event arrives for `eventTimeoutMs` (default 30 s, as go-livepeer's events watchdog; this catches
 * an orchestrator that hangs or a network path that silently drops packets). The old orchestrator
 * is suspended for `LIVE_VIDEO_PENALTY` refreshes (a BYOC stream is also stopped there, best
 * effort). The client's URLs do not change. At most {@link MAX_SWAPS} moves per stream. The last
 * params (start, then updates) are replayed on the next orchestrator.
 *
 * End of input: the client closes `<channel>-in`; the gateway closes the orchestrator's input channel
 * (the container sees its input end and flushes), and the end of the orchestrator's output then is
 * the normal end of the stream (`ended`, no move; see `runTurn`).
 *
 * Payments (with `payments`): native live pays 60 s of 1280×720@30 pixels at start (signed
 * `Livepeer-Segment`), then every `paymentIntervalMs` (default 5 s) the elapsed time with
 * `POST {O}/payment`. A BYOC stream pays at start, on updates and every `byocPaymentIntervalMs`
 * (default 50 s, go-livepeer's) with `POST {O}/ai/stream/payment` whenever the balance with the
 * orchestrator is under 120 × price (payments.ts). A failed top-up is logged; the orchestrator
 * closes an unpaid stream, which then moves.
 *
 * Not done: WHIP / RTMP ingest and WHEP / RTMP output, the `{"keep":"alive"}` control keepalive.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { BadRequestError, NotFoundError, TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";
import { encodeJobHeader, type JobRequest, newJobRequest, parseJobHeader } from "../protocol/job-header.ts";
import {
  LocalPublisher,
  type LocalSegment,
  LocalSubscriber,
  TrickleEndOfStreamError,
  TricklePublisher,
  TrickleSegmentNotFoundError,
  TrickleServer,
  TrickleStreamNotFoundError,
  TrickleSubscriber,
} from "../trickle/index.ts";
import { aiRequestCapabilities } from "./capabilities.ts";
import type { OrchestratorDescriptor, OrchestratorPool } from "./discovery/index.ts";
import { headerValue, type OrchestratorHttp, readText } from "./orch-http.ts";
import {
  type GatewayPayments,
  LIVE_INITIAL_SECONDS,
  LIVE_PIXELS_PER_SECOND,
  type SentPayment,
} from "./payments.ts";
import { readBody } from "./read-body.ts";
import { LIVE_VIDEO_PENALTY, type Selector, type Suspender } from "./selection/index.ts";
import { formatTraceparent, type TraceContext } from "./tracing.ts";

/** Where the gateway's trickle server is mounted. */
export const LIVE_TRICKLE_BASE = "/live/trickle/";
/** Default events watchdog (go-livepeer: no event for 30 s ends the orchestrator's turn). */
export const DEFAULT_EVENT_TIMEOUT_MS = 30_000;
/** Live top-up period (go-livepeer `-livePaymentInterval`). */
export const DEFAULT_LIVE_PAYMENT_INTERVAL_MS = 5_000;
/** BYOC stream top-up period (go-livepeer `monitorStream`: 50 s). */
export const DEFAULT_BYOC_PAYMENT_INTERVAL_MS = 50_000;
/** `timeout_seconds` of BYOC stream top-ups (go-livepeer: 70). */
const BYOC_PAYMENT_TIMEOUT_SECONDS = 70;
/** `timeout_seconds` of BYOC stream stops and updates (go-livepeer: 10). */
const BYOC_CONTROL_TIMEOUT_SECONDS = 10;
/** Orchestrator moves allowed per stream. */
export const MAX_SWAPS = 3;
/** Time allowed for the orchestrator's start answer (go-livepeer: 5 s; containers may be slower). */
const START_TIMEOUT_MS = 15_000;
/** Body limit of BYOC stream start and update requests (go-livepeer: 10 MB). */
const BYOC_BODY_LIMIT = 10 * 1024 * 1024;
const PIPELINE = "live-video-to-video";
/** Retries of a start on the same orchestrator when ticket params expired on the way. */
const EXPIRED_PARAMS_RETRIES = 3;
/** Pause before such a retry (a node's chain view is polled every ~2 s). */
const EXPIRED_PARAMS_RETRY_DELAY_MS = 1000;
/**
 * After the client's input ended: longest wait for the orchestrator's output (and data) to end before
 * the stream is ended anyway (a container that does not close its output at the end of its input).
 */
export const END_DRAIN_TIMEOUT_MS = 15_000;
/** Longest wait of the client's `DELETE` of its input channel for the relay to pass on what it holds. */
export const INPUT_DRAIN_TIMEOUT_MS = 4_000;
/** How long an ended stream's status stays readable (a stop removes it at once). */
export const ENDED_RETENTION_MS = 60_000;
/** Stream ids usable as trickle channel names. */
const STREAM_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** Options of {@link createLive}. */
export interface LiveOptions {
  pool: OrchestratorPool;
  selector: Selector;
  suspender: Suspender;
  http: OrchestratorHttp;
  logger: Logger;
  signal: AbortSignal;
  eventTimeoutMs?: number;
  /** Pays live streams (on-chain); omit offchain. */
  payments?: GatewayPayments;
  /** Live top-up period, ms; default {@link DEFAULT_LIVE_PAYMENT_INTERVAL_MS}. */
  paymentIntervalMs?: number;
  /** BYOC stream top-up period, ms; default {@link DEFAULT_BYOC_PAYMENT_INTERVAL_MS}. */
  byocPaymentIntervalMs?: number;
  /** The gateway's public base URL (no trailing slash). */
  baseUrl: () => string;
  traceOf: (req: IncomingMessage, capability: string) => { trace: TraceContext; log: Logger };
}

/** The orchestrator's channels for one stream. */
interface OrchUrls {
  /** Native live: the stream's `manifest_id` (its balance on the orchestrator). */
  manifestId: string;
  publishUrl?: string;
  subscribeUrl?: string;
  controlUrl?: string;
  eventsUrl: string;
  dataUrl?: string;
}

/** Counters of one stream, over all its orchestrators (see `statusOf`). */
interface LiveStats {
  startedAt: number;
  segmentsIn: number;
  bytesIn: number;
  segmentsOut: number;
  bytesOut: number;
  /** Arrival times of input segments relayed in this turn and not yet matched by an output segment. */
  pendingInputs: number[];
  lastOutputLatencyMs?: number;
  /** The `fps` object of the container's last heartbeat event. */
  fps?: unknown;
  tickets: number;
  paid: Rat;
}

/** Input arrival times kept for matching output segments (older ones are dropped). */
const MAX_PENDING_INPUTS = 256;

/** One stream. */
interface LiveStream {
  id: string;
  /**
   * The stream's control key (128 random bits, hex): its update, status, stop and data routes need
   * it as `?key=` (the URLs the start answers carry it). The id alone reaches nothing: ids may be
   * chosen by clients, and orchestrators and containers see them.
   */
  key: string;
  /** Base name of its trickle channels on this gateway (`<channel>-in`, `-out`, `-data`): 128 random bits. */
  channel: string;
  kind: "live" | "byoc";
  /** Native live: the model id; BYOC: the capability. */
  modelId: string;
  params: Record<string, unknown>;
  /** BYOC: the client's job (capability, request, parameters, timeout). */
  job?: JobRequest;
  trace: TraceContext;
  log: Logger;
  tried: Set<string>;
  swaps: number;
  /** Successful top-ups. */
  payments: number;
  stats: LiveStats;
  orchestrator?: string;
  orch?: OrchUrls;
  /** Ends the current orchestrator's relays. */
  turn?: AbortController;
  control?: TricklePublisher;
  lastEvent?: unknown;
  lastEventAt: number;
  state: "starting" | "running" | "moving" | "failed" | "stopped" | "ended";
  error?: string;
  /** Local seq of the last input segment relayed whole to an orchestrator (-1 before the first). */
  inputRelayed: number;
  /** The client ended its input (closed `<channel>-in`); the orchestrator was told (its input channel closed). */
  inputEnded: boolean;
  stopped: AbortController;
  /** `<channel>-in` (native live always; BYOC with video ingress). */
  input?: LocalSubscriber;
  /** `<channel>-out` (native live always; BYOC with video egress). */
  output?: LocalPublisher;
  /** `<channel>-data` (BYOC with data output). */
  data?: LocalPublisher;
}

/** The live part of the gateway. */
export interface LiveManager {
  /** The gateway's trickle server (channels `<channel>-in`, `<channel>-out`, `<channel>-data`). */
  trickle: TrickleServer;
  /** Answers a request under `/live/` or `/process/stream/`. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Streams not ended or stopped (an ended stream's status stays readable for a while). */
  readonly count: number;
  close(): Promise<void>;
}

async function readJsonObject(req: IncomingMessage, limit = 1024 * 1024): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return {};
  try {
    const v = JSON.parse(raw.toString("utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new BadRequestError("the body must be a JSON object", { code: "BAD_JSON" });
}

/** `params` of a start: a JSON object, or a string holding one (go-livepeer's `StartRequest.params`). */
function paramsOf(value: unknown): Record<string, unknown> {
  let params: unknown = value ?? {};
  if (typeof value === "string") {
    try {
      params = value === "" ? {} : (JSON.parse(value) as unknown);
    } catch {
      params = undefined;
    }
  }
  if (typeof params !== "object" || params === null || Array.isArray(params))
    throw new BadRequestError("invalid model params: params must be a JSON object", { code: "BAD_PARAMS" });
  return params as Record<string, unknown>;
}

/**
 * A container event as clients may see it in the stream's status: every string that is a URL becomes
 * `"[redacted]"` (pytrickle's heartbeats carry the orchestrator's trickle channel URLs, and a channel
 * URL is a bearer credential: whoever has it can read or write the channel). Depth-limited.
 */
export function redactEventUrls(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? "[redacted]" : value;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= 8) return "[truncated]";
  if (Array.isArray(value)) return value.map((v) => redactEventUrls(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactEventUrls(v, depth + 1)]));
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

function methodNotAllowed(allow: string): TributaryError {
  return new TributaryError("METHOD_NOT_ALLOWED", `use ${allow}`, { status: 405 });
}

const trimSlash = (u: string) => u.replace(/\/+$/, "");

/** Creates the live manager. */
export function createLive(options: LiveOptions): LiveManager {
  const streams = new Map<string, LiveStream>();
  const trickle = new TrickleServer({
    basePath: LIVE_TRICKLE_BASE,
    autocreate: false,
    logger: options.logger,
    beforeDelete: (channel) => inputDrained(channel),
  });
  const eventTimeoutMs = options.eventTimeoutMs ?? DEFAULT_EVENT_TIMEOUT_MS;
  const tls = { insecure: true };
  const watchdog = setInterval(
    () => {
      const now = Date.now();
      // After the input's end the drain timeout bounds the turn (the container stops its heartbeats).
      for (const s of streams.values())
        if (s.state === "running" && !s.inputEnded && now - s.lastEventAt > eventTimeoutMs)
          s.turn?.abort(new Error(`no event from the orchestrator for ${eventTimeoutMs} ms`));
    },
    Math.max(50, Math.min(1000, eventTimeoutMs / 4)),
  );
  watchdog.unref();

  /**
   * The client's `DELETE` of `<channel>-in` (its end of input) waits until the input relay has passed on
   * every segment written before it (a delete drops the channel's segments at once), at most
   * {@link INPUT_DRAIN_TIMEOUT_MS}, or until the stream stops, fails or moves.
   */
  async function inputDrained(channel: string): Promise<void> {
    if (!channel.endsWith("-in")) return;
    const base = channel.slice(0, -3);
    const s = [...streams.values()].find((x) => x.channel === base);
    const ch = trickle.getChannel(channel);
    if (s?.input === undefined || ch === undefined) return;
    const deadline = Date.now() + INPUT_DRAIN_TIMEOUT_MS;
    while (s.state === "running" && s.inputRelayed < ch.nextWrite - 1 && Date.now() < deadline)
      await sleep(20, undefined, { signal: s.stopped.signal }).catch(() => {});
  }

  async function pick(s: LiveStream): Promise<OrchestratorDescriptor | undefined> {
    const include = s.job?.params.include?.map(trimSlash);
    const choose = (all: OrchestratorDescriptor[]) =>
      options.selector.select(
        include?.length
          ? all.filter((d) => include.includes(trimSlash(d.transcoder)) || include.includes(d.url))
          : all,
        {
          pipeline: s.kind === "live" ? PIPELINE : "byoc",
          modelId: s.modelId,
          exclude: [...(s.job?.params.exclude ?? []), ...s.tried],
        },
      ).ranked[0]?.descriptor;
    let d = choose(await options.pool.current(options.signal));
    if (d === undefined && s.tried.size === 0)
      d = choose(await options.pool.refresh(options.signal).catch(() => []));
    return d;
  }

  function traceHeaders(s: LiveStream): Record<string, string> {
    return { traceparent: formatTraceparent(s.trace), "x-trace-id": s.trace.traceId };
  }

  /** Throws for an orchestrator's error answer: a 4xx (not 408/429) is the client's problem. */
  function checkStartAnswer(status: number, text: string): void {
    if (status < 400) return;
    if (status < 500 && status !== 429 && status !== 408)
      throw new TributaryError(
        "LIVE_START_REJECTED",
        `orchestrator refused the stream: ${text.slice(0, 300)}`,
        {
          status,
        },
      );
    throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
  }

  /** Native live start on `d` (`POST {O}/live-video-to-video`). */
  async function startLive(
    s: LiveStream,
    d: OrchestratorDescriptor,
  ): Promise<{ urls: OrchUrls; paid?: SentPayment }> {
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
    const text = await readText(res, 1024 * 1024);
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

  /** A BYOC job about stream `s` (stop, update, payment): `request` names the stream. */
  function streamJob(s: LiveStream, timeoutSeconds: number): JobRequest {
    return newJobRequest({
      capability: s.modelId,
      timeoutSeconds,
      request: JSON.stringify({ stream_id: s.id }),
    });
  }

  /** Headers of a BYOC stream call: the signed job and, when due, a payment (on chain). */
  async function byocHeaders(
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
    count(s, sent);
    return sent;
  }

  function count(s: LiveStream, sent: SentPayment | undefined): void {
    if (sent === undefined || sent.tickets === 0) return;
    s.stats.tickets += sent.tickets;
    s.stats.paid = s.stats.paid.add(sent.value);
  }

  /** BYOC start on `d` (`POST {O}/ai/stream/start`). */
  async function startByoc(
    s: LiveStream,
    d: OrchestratorDescriptor,
  ): Promise<{ urls: OrchUrls; paid?: SentPayment }> {
    const client = s.job as JobRequest;
    const job: JobRequest = { ...client, id: s.id };
    const sent = await byocHeaders(s, d, job, true, s.stopped.signal);
    const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/start`, {
      headers: { ...sent.headers, ...traceHeaders(s), "content-type": "application/json" },
      body: JSON.stringify({ params: s.params }),
      headersTimeoutMs: Math.max(START_TIMEOUT_MS, client.timeoutSeconds * 1000),
      signal: s.stopped.signal,
    });
    const text = await readText(res, 1024 * 1024);
    checkStartAnswer(res.statusCode ?? 500, text);
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

  /** Tells the orchestrator a BYOC stream ends there (`POST {O}/ai/stream/stop`). */
  async function stopByocOn(
    s: LiveStream,
    d: OrchestratorDescriptor,
    body: Buffer,
  ): Promise<{ status: number; text: string; type: string }> {
    const job = streamJob(s, BYOC_CONTROL_TIMEOUT_SECONDS);
    const sent = await byocHeaders(s, d, job, false, options.signal);
    const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/stop`, {
      headers: { ...sent.headers, ...traceHeaders(s), "content-type": "application/json" },
      body,
      headersTimeoutMs: BYOC_CONTROL_TIMEOUT_SECONDS * 1000,
      signal: options.signal,
    });
    const text = await readText(res, 1024 * 1024);
    return { status: res.statusCode ?? 502, text, type: headerValue(res.headers, "content-type") ?? "" };
  }

  /** Starts the stream on the next orchestrator that accepts it. */
  async function startOnNext(s: LiveStream): Promise<void> {
    /** An orchestrator to try again: its ticket params expired on the way. */
    let again: OrchestratorDescriptor | undefined;
    let expiredRetries = 0;
    for (;;) {
      if (s.stopped.signal.aborted) return;
      const retry = again;
      again = undefined;
      const d = retry ?? (await pick(s));
      if (retry === undefined) expiredRetries = 0;
      if (d === undefined) {
        throw new TributaryError(
          "NO_ORCHESTRATORS",
          `no orchestrator accepted ${s.kind === "live" ? "live stream model" : "BYOC stream capability"} ${s.modelId} (tried ${s.tried.size})`,
          { status: 503 },
        );
      }
      s.tried.add(d.transcoder);
      const log = s.log.child({ orchestrator: d.transcoder });
      try {
        const started = s.kind === "live" ? await startLive(s, d) : await startByoc(s, d);
        options.pool.recordSuccess(d.transcoder);
        count(s, started.paid);
        s.orchestrator = d.transcoder;
        s.orch = started.urls;
        runTurn(s, started.urls, log, d);
        log.info({ stream_id: s.id }, "stream started on orchestrator");
        return;
      } catch (err) {
        if (s.stopped.signal.aborted) return;
        // Ticket params expired on the way (the chain moved between the orchestrator's params and
        // the payment, or its chain view lags ours): pay again on fresh params after its next chain
        // poll (go-livepeer refreshes the session and retries the same orchestrator).
        const expired =
          (err instanceof TributaryError && err.code === "TICKET_EXPIRED") ||
          /ticket ?params expire/i.test((err as Error).message);
        if (expired && expiredRetries < EXPIRED_PARAMS_RETRIES) {
          expiredRetries++;
          log.info({ stream_id: s.id, err: (err as Error).message }, "ticket params expired; retrying");
          await sleep(EXPIRED_PARAMS_RETRY_DELAY_MS, undefined, { signal: s.stopped.signal }).catch(() => {});
          again = d;
          continue;
        }
        if (err instanceof TributaryError && (err.code === "LIVE_START_REJECTED" || err.status === 402))
          throw err;
        options.pool.recordFailure(d.transcoder, err);
        options.suspender.suspend(d.transcoder, LIVE_VIDEO_PENALTY);
        log.warn(
          { stream_id: s.id, err: (err as Error).message },
          "stream start failed; trying the next one",
        );
      }
    }
  }

  /** Pays the serving orchestrator for the time since the last payment. */
  function startTopUps(
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
    const topUpLive = async () => {
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
      const res = await options.http.send(`${trimSlash(d.transcoder)}/payment`, {
        headers: { ...sent.headers, ...traceHeaders(s) },
        headersTimeoutMs: 10_000,
        signal,
      });
      const text = await readText(res);
      if ((res.statusCode ?? 500) !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      paidUntil = now;
      s.payments++;
      count(s, sent);
    };
    const topUpByoc = async () => {
      const sent = await payments.byocPayment(
        d.transcoder,
        streamJob(s, BYOC_PAYMENT_TIMEOUT_SECONDS),
        signal,
      );
      if (sent.headers["livepeer-payment"] === undefined) return; // the balance is high enough
      const res = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/payment`, {
        headers: { ...sent.headers, ...traceHeaders(s) },
        headersTimeoutMs: 10_000,
        signal,
      });
      const text = await readText(res);
      if ((res.statusCode ?? 500) !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      s.payments++;
      count(s, sent);
    };
    const timer = setInterval(
      () => {
        if (paying) return;
        paying = true;
        (s.kind === "live" ? topUpLive() : topUpByoc())
          .catch((err: unknown) => {
            if (!signal.aborted)
              log.warn({ stream_id: s.id, err: (err as Error).message }, "stream payment failed");
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

  /**
   * Relays between the gateway's channels and one orchestrator until the turn ends.
   *
   * The client's end of input (it closes `<channel>-in`) closes the orchestrator's input channel, so the
   * container sees the end of its input, flushes what it holds and closes its output. From then on
   * the end of the orchestrator's output and data channels (and of its events channel when neither
   * exists) is the normal end of the stream: `<channel>-out` and `<channel>-data` are closed after their last
   * segment, the state becomes `ended`, and nothing moves. Bounded by {@link END_DRAIN_TIMEOUT_MS}.
   */
  function runTurn(s: LiveStream, urls: OrchUrls, log: Logger, d: OrchestratorDescriptor): void {
    const turn = new AbortController();
    const signal = AbortSignal.any([turn.signal, s.stopped.signal]);
    s.turn = turn;
    s.state = "running";
    s.lastEventAt = Date.now();
    s.control = urls.controlUrl
      ? new TricklePublisher(urls.controlUrl, { tls, mimeType: "application/json" })
      : undefined;
    const ingress =
      s.input && urls.publishUrl
        ? new TricklePublisher(urls.publishUrl, { tls, mimeType: "video/MP2T", signal })
        : undefined;
    const egress =
      s.output && urls.subscribeUrl
        ? new TrickleSubscriber(urls.subscribeUrl, { tls, signal, start: -1 })
        : undefined;
    const dataIn =
      s.data && urls.dataUrl ? new TrickleSubscriber(urls.dataUrl, { tls, signal, start: 0 }) : undefined;
    const events = new TrickleSubscriber(urls.eventsUrl, { tls, signal, start: 0 });
    s.stats.pendingInputs = [];

    /** Orchestrator channels (`output`, `data`, `events`) that ended after the input ended. */
    const drained = new Set<string>();
    let drainTimer: NodeJS.Timeout | undefined;
    /** The stream ended normally: the input ended and the orchestrator's channels drained. */
    const finish = (why: string): void => {
      if (signal.aborted) return;
      s.state = "ended";
      log.info({ stream_id: s.id, why }, "stream ended (input ended, output drained)");
      turn.abort(new Error("stream ended"));
    };
    /** After the input ended: `name` ended (or failed); ends the stream once every reader drained. */
    const drainedOne = (name: string): void => {
      drained.add(name);
      const waiting = [egress && "output", dataIn && "data"].filter((n) => n && !drained.has(n));
      if (waiting.length === 0 && (egress || dataIn || drained.has("events"))) finish(`${name} ended`);
    };
    const endInput = async (): Promise<void> => {
      s.inputEnded = true;
      log.info({ stream_id: s.id }, "client input ended; closing the orchestrator's input");
      drainTimer = setTimeout(
        () => finish(`no end of output within ${END_DRAIN_TIMEOUT_MS} ms of the input's end`),
        END_DRAIN_TIMEOUT_MS,
      );
      drainTimer.unref();
      await ingress?.close();
    };

    const loops: [string, Promise<void>][] = [];
    const input = s.input;
    if (ingress && input) {
      // After a move, continue with the next input segment (the one in flight went to the old turn).
      if (s.swaps > 0) input.setSeq(-1);
      loops.push([
        "input",
        (async () => {
          while (!signal.aborted) {
            let seg: LocalSegment;
            try {
              seg = input.read();
            } catch (err) {
              if (err instanceof TrickleSegmentNotFoundError) {
                input.setSeq(-1); // fell behind or ahead: continue at the live edge
                await sleep(50);
                continue;
              }
              if (err instanceof TrickleEndOfStreamError || err instanceof TrickleStreamNotFoundError) {
                // The client closed its input (a stop or a move aborted the signal first).
                if (!signal.aborted) await endInput();
                return;
              }
              throw err;
            }
            // Wait for the segment's first bytes: a segment that closes empty (the one the client's
            // end of input or a stop cuts off) is not passed on as an empty segment.
            const chunks = seg[Symbol.asyncIterator]();
            const first = await chunks.next();
            if (first.done) continue;
            const arrived = Date.now();
            const rest = (async function* () {
              yield first.value;
              for (let c = await chunks.next(); !c.done; c = await chunks.next()) yield c.value;
            })();
            const sent = await ingress.write(rest);
            s.inputRelayed = seg.seq;
            s.stats.segmentsIn++;
            s.stats.bytesIn += sent.bytes;
            s.stats.pendingInputs.push(arrived);
            if (s.stats.pendingInputs.length > MAX_PENDING_INPUTS) s.stats.pendingInputs.shift();
            log.debug({ stream_id: s.id, seq: sent.seq }, "input segment relayed");
          }
        })(),
      ]);
    }
    const output = s.output;
    if (egress && output) {
      loops.push([
        "output",
        (async () => {
          for (;;) {
            const seg = await egress.next();
            if (seg === null) {
              if (s.inputEnded) drainedOne("output");
              else if (!signal.aborted)
                turn.abort(new Error(`orchestrator output ended (${egress.endReason})`));
              return;
            }
            const n = await output.write(seg.body);
            const matched = s.stats.pendingInputs.shift();
            if (matched !== undefined) s.stats.lastOutputLatencyMs = Date.now() - matched;
            s.stats.segmentsOut++;
            s.stats.bytesOut += n;
            log.debug({ stream_id: s.id, seq: seg.seq, bytes: n }, "output segment relayed");
          }
        })(),
      ]);
    }
    const data = s.data;
    if (dataIn && data) {
      loops.push([
        "data",
        (async () => {
          for (;;) {
            const seg = await dataIn.next();
            if (seg === null) {
              if (s.inputEnded) drainedOne("data");
              return;
            }
            await data.write(seg.body);
          }
        })(),
      ]);
    }
    loops.push([
      "events",
      (async () => {
        for (;;) {
          const seg = await events.next();
          if (seg === null) {
            // The orchestrator closes the events channel only when the stream ends there.
            if (s.inputEnded) drainedOne("events");
            else if (!signal.aborted)
              turn.abort(new Error(`orchestrator events channel ended (${events.endReason})`));
            return;
          }
          const text = await seg.text();
          s.lastEventAt = Date.now();
          for (const line of text.split("\n"))
            if (line.trim() !== "")
              try {
                s.lastEvent = redactEventUrls(JSON.parse(line));
                const e = s.lastEvent as { event?: { fps?: unknown }; fps?: unknown } | null;
                const fps = e?.event?.fps ?? e?.fps;
                if (typeof fps === "object" && fps !== null) s.stats.fps = fps;
              } catch {
                s.lastEvent = redactEventUrls(line);
              }
        }
      })(),
    ]);
    startTopUps(s, d, urls, log, signal);
    for (const [name, p] of loops)
      p.catch((err: unknown) => {
        if (signal.aborted) return;
        if (s.inputEnded && name !== "input") {
          // The container closed its channels at the end of its input (a 404 before any segment).
          log.debug({ stream_id: s.id, err: (err as Error).message }, `stream ${name} ended after the input`);
          drainedOne(name);
          return;
        }
        log.warn({ stream_id: s.id, err: (err as Error).message }, `stream ${name} relay failed`);
        turn.abort(err);
      });

    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(drainTimer);
        void ingress?.close().catch(() => {});
        void s.control?.close().catch(() => {}); // the orchestrator ends the stream there
        egress?.close();
        dataIn?.close();
        events.close();
        if (s.stopped.signal.aborted) return;
        if (s.state === "ended") return endStream(s);
        // The orchestrator's turn ended on its own: move the stream.
        const reason = (turn.signal.reason as Error | undefined)?.message ?? "unknown";
        if (s.kind === "byoc") void stopByocOn(s, d, Buffer.from(JSON.stringify({ reason }))).catch(() => {}); // best effort
        if (s.orchestrator) {
          options.pool.recordFailure(s.orchestrator, new Error(reason));
          options.suspender.suspend(s.orchestrator, LIVE_VIDEO_PENALTY);
        }
        if (s.swaps >= MAX_SWAPS) {
          s.state = "failed";
          s.error = `gave up after ${s.swaps} orchestrator moves; last: ${reason}`;
          log.warn({ stream_id: s.id, reason }, "stream failed");
          return;
        }
        s.swaps++;
        s.state = "moving";
        log.warn({ stream_id: s.id, reason, swaps: s.swaps }, "moving the stream to another orchestrator");
        startOnNext(s).catch((err: unknown) => {
          s.state = "failed";
          s.error = (err as Error).message;
          log.warn({ stream_id: s.id, err: s.error }, "stream failed");
        });
      },
      { once: true },
    );
  }

  /**
   * The stream ended normally: its output and data channels end for the client (after their last
   * segment), and its status stays readable (`ended`) for {@link ENDED_RETENTION_MS} or until a stop.
   */
  function endStream(s: LiveStream): void {
    s.output?.close();
    s.data?.close();
    trickle.deleteChannel(`${s.channel}-in`);
    const forget = setTimeout(() => {
      if (streams.get(s.id) === s) stopStream(s);
    }, ENDED_RETENTION_MS);
    forget.unref();
    s.stopped.signal.addEventListener("abort", () => clearTimeout(forget), { once: true });
  }

  function stopStream(s: LiveStream): void {
    if (s.state !== "ended") s.state = "stopped";
    s.stopped.abort(new Error("stopped"));
    s.output?.close();
    s.data?.close();
    trickle.deleteChannel(`${s.channel}-in`);
    streams.delete(s.id);
  }

  /** Creates the stream's gateway channels and starts it; removes it again if no orchestrator took it. */
  async function open(
    req: IncomingMessage,
    fields: Pick<LiveStream, "id" | "kind" | "modelId" | "params" | "job">,
    channels: { input: boolean; output: boolean; data: boolean },
  ): Promise<LiveStream> {
    const previous = streams.get(fields.id);
    if (previous?.state === "ended") stopStream(previous);
    if (streams.has(fields.id))
      throw new TributaryError("STREAM_EXISTS", `stream ${fields.id} already exists`, { status: 409 });
    const { trace, log } = options.traceOf(
      req,
      fields.kind === "live" ? `${PIPELINE}/${fields.modelId}` : `byoc/${fields.modelId}`,
    );
    const stopped = new AbortController();
    const s: LiveStream = {
      ...fields,
      key: randomBytes(16).toString("hex"),
      channel: randomBytes(16).toString("hex"),
      trace,
      log: log.child({ stream_id: fields.id }),
      tried: new Set(),
      swaps: 0,
      payments: 0,
      stats: {
        startedAt: Date.now(),
        segmentsIn: 0,
        bytesIn: 0,
        segmentsOut: 0,
        bytesOut: 0,
        pendingInputs: [],
        tickets: 0,
        paid: Rat.ZERO,
      },
      lastEventAt: Date.now(),
      state: "starting",
      inputRelayed: -1,
      inputEnded: false,
      stopped,
    };
    if (channels.input) {
      trickle.createChannel(`${s.channel}-in`, "video/MP2T");
      s.input = new LocalSubscriber(trickle, `${s.channel}-in`, { start: 0, signal: stopped.signal });
    }
    if (channels.output) {
      trickle.createChannel(`${s.channel}-out`, "video/MP2T");
      s.output = new LocalPublisher(trickle, `${s.channel}-out`, "video/MP2T");
    }
    if (channels.data) {
      trickle.createChannel(`${s.channel}-data`, "application/jsonl");
      s.data = new LocalPublisher(trickle, `${s.channel}-data`, "application/jsonl");
    }
    streams.set(s.id, s);
    try {
      await startOnNext(s);
    } catch (err) {
      stopStream(s);
      throw err;
    }
    return s;
  }

  async function startLiveRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const modelId =
      typeof body.model_id === "string" && body.model_id !== ""
        ? body.model_id
        : headerValue(req.headers, "x-model-id");
    if (!modelId)
      throw new BadRequestError("give model_id (the live pipeline, e.g. noop or comfyui)", {
        code: "MODEL_ID_REQUIRED",
      });
    const params = paramsOf(body.params);
    const id =
      typeof body.stream_id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(body.stream_id)
        ? body.stream_id
        : crypto.randomUUID().replaceAll("-", "");
    const s = await open(
      req,
      { id, kind: "live", modelId, params },
      { input: true, output: true, data: false },
    );
    const base = options.baseUrl();
    const route = routeUrl(s, `${base}/live/video-to-video`);
    json(res, 200, {
      stream_id: id,
      publish_url: `${base}${LIVE_TRICKLE_BASE}${s.channel}-in`,
      subscribe_url: `${base}${LIVE_TRICKLE_BASE}${s.channel}-out`,
      update_url: route("update"),
      status_url: route("status"),
      stop_url: route("stop"),
      orchestrator: s.orchestrator,
    });
  }

  async function startByocRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const job = parseJobHeader(headerValue(req.headers, "livepeer"), { client: true });
    const body = await readJsonObject(req, BYOC_BODY_LIMIT);
    const params = paramsOf(body.params);
    const given = typeof body.stream_id === "string" ? body.stream_id : "";
    const name = typeof body.stream_name === "string" ? body.stream_name : "";
    if (name.endsWith("-out"))
      throw new BadRequestError("stream_name must not end in -out (kept for outputs)", {
        code: "BAD_STREAM",
      });
    let id = given || crypto.randomUUID().replaceAll("-", "");
    if (name !== "") id = `${name}-${id}`;
    if (!STREAM_ID.test(id))
      throw new BadRequestError("stream_id and stream_name may hold only letters, digits, '.', '_' and '-'", {
        code: "BAD_STREAM",
      });
    const s = await open(
      req,
      { id, kind: "byoc", modelId: job.capability, params, job },
      {
        input: job.params.enableVideoIngress,
        output: job.params.enableVideoEgress,
        data: job.params.enableDataOutput,
      },
    );
    const base = options.baseUrl();
    const route = routeUrl(s, `${base}/process/stream`);
    json(res, 200, {
      stream_id: id,
      whip_url: "",
      whep_url: "",
      rtmp_url: "",
      rtmp_output_url: "",
      update_url: route("update"),
      status_url: route("status"),
      data_url: s.data ? route("data") : "",
      stop_url: route("stop"),
      publish_url: s.input ? `${base}${LIVE_TRICKLE_BASE}${s.channel}-in` : "",
      subscribe_url: s.output ? `${base}${LIVE_TRICKLE_BASE}${s.channel}-out` : "",
      orchestrator: s.orchestrator,
    });
  }

  /** The URL of one of `s`'s routes under `base`, carrying its control key. */
  const routeUrl =
    (s: LiveStream, base: string) =>
    (route: string): string =>
      `${base}/${encodeURIComponent(s.id)}/${route}?key=${s.key}`;

  /**
   * The one check of every route about a stream: the stream `id` if the request's `?key=` is its
   * control key. A wrong or missing key answers exactly as an unknown id (404), so ids confirm nothing.
   */
  function controlled(req: IncomingMessage, id: string): LiveStream {
    const s = streams.get(id);
    const given = Buffer.from(new URL(req.url ?? "/", "http://x").searchParams.get("key") ?? "");
    const key = Buffer.from(s?.key ?? "");
    if (s === undefined || given.length !== key.length || !timingSafeEqual(given, key))
      throw new NotFoundError(`unknown stream ${id}: use the URLs the start answered (they carry its key)`);
    return s;
  }

  function statusOf(s: LiveStream) {
    return {
      stream_id: s.id,
      kind: s.kind,
      model_id: s.modelId,
      state: s.state,
      orchestrator: s.orchestrator,
      manifest_id: s.orch?.manifestId || null,
      swaps: s.swaps,
      payments: s.payments,
      uptime_ms: Date.now() - s.stats.startedAt,
      segments_in: s.stats.segmentsIn,
      segments_out: s.stats.segmentsOut,
      bytes_in: s.stats.bytesIn,
      bytes_out: s.stats.bytesOut,
      last_output_latency_ms: s.stats.lastOutputLatencyMs ?? null,
      fps: s.stats.fps ?? null,
      tickets_sent: s.stats.tickets,
      paid_wei: s.stats.paid.floor().toString(),
      last_event: s.lastEvent ?? null,
      last_event_age_ms: Date.now() - s.lastEventAt,
      ...(s.error ? { error: s.error } : {}),
    };
  }

  /** The orchestrator serving `s`, or 503 while it moves (409 once it ended). */
  function serving(s: LiveStream): OrchestratorDescriptor {
    if (s.state === "ended") throw endedError(s);
    if (s.state !== "running" || s.orchestrator === undefined)
      throw new TributaryError("NOT_READY", `the stream is ${s.state}; retry`, { status: 503 });
    return { url: s.orchestrator, transcoder: s.orchestrator } as OrchestratorDescriptor;
  }

  function endedError(s: LiveStream): TributaryError {
    return new TributaryError(
      "STREAM_ENDED",
      `stream ${s.id} ended (its input ended and the output drained); start a new stream`,
      { status: 409 },
    );
  }

  async function update(req: IncomingMessage, res: ServerResponse, s: LiveStream): Promise<void> {
    if (req.method !== "POST") throw methodNotAllowed("POST");
    if (s.state === "ended") {
      req.resume();
      throw endedError(s);
    }
    if (s.kind === "live") {
      const update = await readJsonObject(req);
      const params = (
        typeof update.params === "object" && update.params !== null ? update.params : update
      ) as Record<string, unknown>;
      s.params = params; // replayed on the next orchestrator's start after a move
      if (s.control === undefined)
        throw new TributaryError("NOT_READY", "the stream has no control channel yet; retry", {
          status: 503,
        });
      await s.control.write(Buffer.from(JSON.stringify(params)));
      return json(res, 200, { stream_id: s.id, params });
    }
    // BYOC: relayed to the container through the orchestrator, as go-livepeer (not the control channel).
    const body = await readBody(req, BYOC_BODY_LIMIT);
    try {
      const v = JSON.parse(body.toString("utf8")) as unknown;
      if (typeof v === "object" && v !== null && !Array.isArray(v)) s.params = v as Record<string, unknown>;
    } catch {} // the container decides what an update is; only JSON objects are replayed on a move
    const d = serving(s);
    const sent = await byocHeaders(s, d, streamJob(s, BYOC_CONTROL_TIMEOUT_SECONDS), true, options.signal);
    const up = await options.http.send(`${trimSlash(d.transcoder)}/ai/stream/update`, {
      headers: {
        ...sent.headers,
        ...traceHeaders(s),
        "content-type": headerValue(req.headers, "content-type") ?? "application/json",
      },
      body,
      headersTimeoutMs: BYOC_CONTROL_TIMEOUT_SECONDS * 1000,
      signal: options.signal,
    });
    const text = await readText(up, 1024 * 1024);
    res.writeHead(up.statusCode ?? 502, {
      "content-type": headerValue(up.headers, "content-type") ?? "text/plain",
    });
    res.end(text);
  }

  async function stop(req: IncomingMessage, res: ServerResponse, s: LiveStream): Promise<void> {
    if (req.method !== "POST") throw methodNotAllowed("POST");
    const body = await readBody(req, BYOC_BODY_LIMIT);
    const d = s.kind === "byoc" && s.state === "running" && s.orchestrator ? serving(s) : undefined;
    stopStream(s);
    if (d === undefined) return json(res, 200, statusOf(s));
    // go-livepeer passes the orchestrator's (the container's) stop answer back.
    const answer = await stopByocOn(s, d, body).catch((err: unknown) => {
      s.log.warn({ stream_id: s.id, err: (err as Error).message }, "stop on the orchestrator failed");
      return undefined;
    });
    if (answer === undefined || answer.status >= 400) return json(res, 200, statusOf(s));
    res.writeHead(200, answer.type ? { "content-type": answer.type } : {});
    res.end(answer.text);
  }

  /** `GET /process/stream/<id>/data`: the data channel as server-sent events, as go-livepeer. */
  async function dataEvents(req: IncomingMessage, res: ServerResponse, s: LiveStream): Promise<void> {
    if (req.method !== "GET") throw methodNotAllowed("GET");
    if (s.data === undefined)
      throw new TributaryError("NO_DATA", "stream data not available: start it with enable_data_output", {
        status: 503,
      });
    const gone = new AbortController();
    res.on("close", () => gone.abort());
    const sub = new LocalSubscriber(trickle, `${s.channel}-data`, {
      start: 0,
      signal: AbortSignal.any([gone.signal, s.stopped.signal]),
    });
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    try {
      while (!gone.signal.aborted) {
        let seg: LocalSegment;
        try {
          seg = sub.read();
        } catch (err) {
          if (err instanceof TrickleSegmentNotFoundError) {
            sub.setSeq(-1);
            await sleep(50);
            continue;
          }
          break; // closed or removed: the stream ended
        }
        for (const line of (await seg.text()).split("\n"))
          if (line.trim() !== "") res.write(`data: ${line}\n\n`);
      }
    } catch {
      // the client went away, or the stream stopped while a segment was being read
    }
    if (!gone.signal.aborted) res.end('event: end\ndata: {"type":"stream_ended"}\n\n');
  }

  return {
    trickle,
    get count() {
      let n = 0;
      for (const s of streams.values()) if (s.state !== "ended") n++;
      return n;
    },
    async handle(req, res, path) {
      if (path.startsWith(LIVE_TRICKLE_BASE)) {
        if (!trickle.handle(req, res)) throw new NotFoundError(`no trickle route ${path}`);
        return;
      }
      if (path === "/live/video-to-video") {
        if (req.method !== "POST") throw methodNotAllowed("POST");
        return startLiveRoute(req, res);
      }
      if (path === "/process/stream/start") {
        if (req.method !== "POST") throw methodNotAllowed("POST");
        return startByocRoute(req, res);
      }
      const m =
        /^\/live\/video-to-video\/([^/]+)\/(update|status|stop)$/.exec(path) ??
        /^\/process\/stream\/([^/]+)\/(update|status|stop|data|whip|rtmp)$/.exec(path);
      if (!m) throw new NotFoundError(`no route ${req.method} ${path}`);
      if (m[2] === "whip" || m[2] === "rtmp") {
        req.resume();
        throw new TributaryError(
          "NOT_IMPLEMENTED",
          `${m[2]} ingest is not supported by this gateway; publish MPEG-TS segments to the stream's publish_url (trickle)`,
          { status: 501 },
        );
      }
      const s = controlled(req, m[1] as string);
      switch (m[2]) {
        case "status":
          return json(res, 200, statusOf(s));
        case "stop":
          return stop(req, res, s);
        case "update":
          return update(req, res, s);
        default:
          return dataEvents(req, res, s);
      }
    },
    async close() {
      clearInterval(watchdog);
      for (const s of [...streams.values()]) stopStream(s);
      await trickle.close();
    },
  };
}
