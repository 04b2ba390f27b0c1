/**
 * Live video on the gateway (shared/spec/orchestrator-gateway.md §14, §6.2): the client starts a
 * stream with `POST /live/video-to-video` `{model_id, params?, stream_id?}` and gets URLs on the
 * GATEWAY's own trickle server (mounted at `/live/trickle/`): `publish_url` to POST MPEG-TS segments
 * into, `subscribe_url` to read the output from, plus `update_url`, `status_url`, `stop_url`.
 *
 * The gateway starts the stream on an orchestrator (`POST {O}/live-video-to-video`, native LV2V) and
 * relays: every input segment of its `<id>-in` channel is published to the orchestrator's
 * `publish_url`; every segment of the orchestrator's `subscribe_url` is written to `<id>-out`;
 * `events_url` is read for status; updates are written to `control_url`.
 *
 * Failover: a stream moves to the next orchestrator when its start fails, when a relay to or from
 * the orchestrator fails (a dead orchestrator refuses the connections: the move starts within about
 * 1.5 s, the subscriber's retries), when its output or events channel ends without a stop, or when
 * no event arrives for `eventTimeoutMs` (default 30 s, as go-livepeer's events watchdog; this catches
 * an orchestrator that hangs or a network path that silently drops packets). The old orchestrator
 * is suspended for `LIVE_VIDEO_PENALTY` refreshes. The client's URLs do not change. At most {@link MAX_SWAPS} moves per stream.
 *
 * Payments (with `payments`): the start carries a signed `Livepeer-Segment` and 60 s worth of tickets;
 * every `paymentIntervalMs` (default 5 s) the elapsed time is paid with `POST {O}/payment` on fresh
 * ticket params (payments.ts). A failed top-up is logged; the orchestrator closes an unpaid stream,
 * which then moves.
 *
 * Not done: BYOC streams (`/ai/stream/start`) from this route, WHIP / RTMP ingest, the
 * `{"keep":"alive"}` control keepalive.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { BadRequestError, NotFoundError, TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";
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
import { type GatewayPayments, LIVE_INITIAL_SECONDS, LIVE_PIXELS_PER_SECOND } from "./payments.ts";
import { readBody } from "./read-body.ts";
import { LIVE_VIDEO_PENALTY, type Selector, type Suspender } from "./selection/index.ts";
import { formatTraceparent, type TraceContext } from "./tracing.ts";

/** Where the gateway's trickle server is mounted. */
export const LIVE_TRICKLE_BASE = "/live/trickle/";
/** Default events watchdog (go-livepeer: no event for 30 s ends the orchestrator's turn). */
export const DEFAULT_EVENT_TIMEOUT_MS = 30_000;
/** Live top-up period (go-livepeer `-livePaymentInterval`). */
export const DEFAULT_LIVE_PAYMENT_INTERVAL_MS = 5_000;
/** Orchestrator moves allowed per stream. */
export const MAX_SWAPS = 3;
/** Time allowed for the orchestrator's start answer (go-livepeer: 5 s; containers may be slower). */
const START_TIMEOUT_MS = 15_000;
const PIPELINE = "live-video-to-video";

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
  /** The gateway's public base URL (no trailing slash). */
  baseUrl: () => string;
  traceOf: (req: IncomingMessage, capability: string) => { trace: TraceContext; log: Logger };
}

/** The orchestrator's answer to a start. */
interface OrchUrls {
  manifestId: string;
  publishUrl: string;
  subscribeUrl: string;
  controlUrl: string;
  eventsUrl: string;
}

/** One live stream. */
interface LiveStream {
  id: string;
  modelId: string;
  params: Record<string, unknown>;
  trace: TraceContext;
  log: Logger;
  tried: Set<string>;
  swaps: number;
  /** Successful live top-ups. */
  payments: number;
  stats: LiveStats;
  orchestrator?: string;
  orch?: OrchUrls;
  /** Ends the current orchestrator's relays. */
  turn?: AbortController;
  control?: TricklePublisher;
  lastEvent?: unknown;
  lastEventAt: number;
  state: "starting" | "running" | "moving" | "failed" | "stopped";
  error?: string;
  stopped: AbortController;
  output: LocalPublisher;
  input: LocalSubscriber;
}

/** Counters of one stream, over all its orchestrators (see `statusOf`). */
interface LiveStats {
  startedAt: number;
  segmentsIn: number;
  bytesIn: number;
  segmentsOut: number;
  bytesOut: number;
  /** Read times of input segments relayed in this turn and not yet matched by an output segment. */
  pendingInputs: number[];
  lastOutputLatencyMs?: number;
  /** The `fps` object of the container's last heartbeat event. */
  fps?: unknown;
  tickets: number;
  paid: Rat;
}

/** Input read times kept for matching output segments (older ones are dropped). */
const MAX_PENDING_INPUTS = 256;

/** The live part of the gateway. */
export interface LiveManager {
  /** The gateway's trickle server (channels `<id>-in`, `<id>-out`). */
  trickle: TrickleServer;
  /** Answers a request under `/live/`. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Running streams. */
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

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

/** Creates the live manager. */
export function createLive(options: LiveOptions): LiveManager {
  const trickle = new TrickleServer({
    basePath: LIVE_TRICKLE_BASE,
    autocreate: false,
    logger: options.logger,
  });
  const streams = new Map<string, LiveStream>();
  const eventTimeoutMs = options.eventTimeoutMs ?? DEFAULT_EVENT_TIMEOUT_MS;
  const tls = { insecure: true };
  const watchdog = setInterval(
    () => {
      const now = Date.now();
      for (const s of streams.values())
        if (s.state === "running" && now - s.lastEventAt > eventTimeoutMs)
          s.turn?.abort(new Error(`no event from the orchestrator for ${eventTimeoutMs} ms`));
    },
    Math.max(50, Math.min(1000, eventTimeoutMs / 4)),
  );
  watchdog.unref();

  async function pick(s: LiveStream): Promise<OrchestratorDescriptor | undefined> {
    const choose = (all: OrchestratorDescriptor[]) =>
      options.selector.select(all, { pipeline: PIPELINE, modelId: s.modelId, exclude: [...s.tried] })
        .ranked[0]?.descriptor;
    let d = choose(await options.pool.current(options.signal));
    if (d === undefined && s.tried.size === 0)
      d = choose(await options.pool.refresh(options.signal).catch(() => []));
    return d;
  }

  /** Starts the stream on the next orchestrator that accepts it. */
  async function startOnNext(s: LiveStream): Promise<void> {
    for (;;) {
      if (s.stopped.signal.aborted) return;
      const d = await pick(s);
      if (d === undefined) {
        throw new TributaryError(
          "NO_ORCHESTRATORS",
          `no orchestrator accepted live stream model ${s.modelId} (tried ${s.tried.size})`,
          { status: 503 },
        );
      }
      s.tried.add(d.transcoder);
      const log = s.log.child({ orchestrator: d.transcoder });
      try {
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
        const res = await options.http.send(`${d.transcoder.replace(/\/+$/, "")}/live-video-to-video`, {
          headers: {
            ...paid?.headers,
            "content-type": "application/json",
            traceparent: formatTraceparent(s.trace),
            "x-trace-id": s.trace.traceId,
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
        if ((res.statusCode ?? 500) >= 400) {
          if ((res.statusCode ?? 500) < 500 && res.statusCode !== 429 && res.statusCode !== 408)
            throw new TributaryError(
              "LIVE_START_REJECTED",
              `orchestrator refused the stream: ${text.slice(0, 300)}`,
              {
                status: res.statusCode ?? 400,
              },
            );
          throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
        }
        const body = JSON.parse(text) as Record<string, unknown>;
        const urls: OrchUrls = {
          manifestId: String(body.manifest_id ?? ""),
          publishUrl: String(body.publish_url ?? ""),
          subscribeUrl: String(body.subscribe_url ?? ""),
          controlUrl: String(body.control_url ?? ""),
          eventsUrl: String(body.events_url ?? ""),
        };
        if (!urls.publishUrl || !urls.subscribeUrl || !urls.eventsUrl)
          throw new Error("start answer lacks publish_url, subscribe_url or events_url");
        options.pool.recordSuccess(d.transcoder);
        if (paid) {
          s.stats.tickets += paid.tickets;
          s.stats.paid = s.stats.paid.add(paid.value);
        }
        s.orchestrator = d.transcoder;
        s.orch = urls;
        runTurn(s, urls, log, d);
        log.info({ stream_id: s.id }, "live stream started on orchestrator");
        return;
      } catch (err) {
        if (s.stopped.signal.aborted) return;
        if (err instanceof TributaryError && err.code === "LIVE_START_REJECTED") throw err;
        options.pool.recordFailure(d.transcoder, err);
        options.suspender.suspend(d.transcoder, LIVE_VIDEO_PENALTY);
        log.warn(
          { stream_id: s.id, err: (err as Error).message },
          "live start failed; trying the next orchestrator",
        );
      }
    }
  }

  /** Relays between the gateway's channels and one orchestrator until the turn ends. */
  function runTurn(s: LiveStream, urls: OrchUrls, log: Logger, d: OrchestratorDescriptor): void {
    const turn = new AbortController();
    const signal = AbortSignal.any([turn.signal, s.stopped.signal]);
    s.turn = turn;
    s.state = "running";
    s.lastEventAt = Date.now();
    s.control = urls.controlUrl
      ? new TricklePublisher(urls.controlUrl, { tls, mimeType: "application/json" })
      : undefined;
    const ingress = new TricklePublisher(urls.publishUrl, { tls, mimeType: "video/MP2T", signal });
    const egress = new TrickleSubscriber(urls.subscribeUrl, { tls, signal, start: -1 });
    const events = new TrickleSubscriber(urls.eventsUrl, { tls, signal, start: 0 });

    // After a move, continue with the next input segment (the one in flight went to the old turn).
    if (s.swaps > 0) s.input.setSeq(-1);
    s.stats.pendingInputs = [];
    const inLoop = (async () => {
      while (!signal.aborted) {
        let seg: LocalSegment;
        try {
          seg = s.input.read();
        } catch (err) {
          if (err instanceof TrickleSegmentNotFoundError) {
            s.input.setSeq(-1); // fell behind or ahead: continue at the live edge
            await sleep(50);
            continue;
          }
          if (err instanceof TrickleEndOfStreamError || err instanceof TrickleStreamNotFoundError) return;
          throw err;
        }
        const readAt = Date.now();
        const sent = await ingress.write(seg);
        s.stats.segmentsIn++;
        s.stats.bytesIn += sent.bytes;
        s.stats.pendingInputs.push(readAt);
        if (s.stats.pendingInputs.length > MAX_PENDING_INPUTS) s.stats.pendingInputs.shift();
        log.debug({ stream_id: s.id, seq: sent.seq }, "input segment relayed");
      }
    })();
    const outLoop = (async () => {
      for (;;) {
        const seg = await egress.next();
        if (seg === null) {
          if (!signal.aborted) turn.abort(new Error(`orchestrator output ended (${egress.endReason})`));
          return;
        }
        const n = await s.output.write(seg.body);
        const at = Date.now();
        const matched = s.stats.pendingInputs.shift();
        if (matched !== undefined) s.stats.lastOutputLatencyMs = at - matched;
        s.stats.segmentsOut++;
        s.stats.bytesOut += n;
        log.debug({ stream_id: s.id, seq: seg.seq, bytes: n }, "output segment relayed");
      }
    })();
    const eventLoop = (async () => {
      for (;;) {
        const seg = await events.next();
        if (seg === null) {
          // The orchestrator closes the events channel only when the stream ends there.
          if (!signal.aborted)
            turn.abort(new Error(`orchestrator events channel ended (${events.endReason})`));
          return;
        }
        const text = await seg.text();
        s.lastEventAt = Date.now();
        for (const line of text.split("\n"))
          if (line.trim() !== "")
            try {
              s.lastEvent = JSON.parse(line);
              const e = s.lastEvent as { event?: { fps?: unknown }; fps?: unknown } | null;
              const fps = e?.event?.fps ?? e?.fps;
              if (typeof fps === "object" && fps !== null) s.stats.fps = fps;
            } catch {
              s.lastEvent = line;
            }
      }
    })();
    const payments = options.payments;
    if (payments) {
      let paidUntil = Date.now();
      let paying = false;
      const topUp = async () => {
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
        const res = await options.http.send(`${d.transcoder.replace(/\/+$/, "")}/payment`, {
          headers: {
            ...sent.headers,
            traceparent: formatTraceparent(s.trace),
            "x-trace-id": s.trace.traceId,
          },
          headersTimeoutMs: 10_000,
          signal,
        });
        const text = await readText(res);
        if ((res.statusCode ?? 500) !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
        paidUntil = now;
        s.payments++;
        s.stats.tickets += sent.tickets;
        s.stats.paid = s.stats.paid.add(sent.value);
      };
      const timer = setInterval(() => {
        if (paying) return;
        paying = true;
        topUp()
          .catch((err: unknown) => {
            if (!signal.aborted)
              log.warn({ stream_id: s.id, err: (err as Error).message }, "live payment failed");
          })
          .finally(() => {
            paying = false;
          });
      }, options.paymentIntervalMs ?? DEFAULT_LIVE_PAYMENT_INTERVAL_MS);
      signal.addEventListener("abort", () => clearInterval(timer), { once: true });
    }
    for (const [name, p] of [
      ["input relay", inLoop],
      ["output relay", outLoop],
      ["events", eventLoop],
    ] as const)
      p.catch((err: unknown) => {
        if (!signal.aborted) {
          log.warn({ stream_id: s.id, err: (err as Error).message }, `live ${name} failed`);
          turn.abort(err);
        }
      });

    signal.addEventListener(
      "abort",
      () => {
        void ingress.close().catch(() => {});
        void s.control?.close().catch(() => {});
        egress.close();
        events.close();
        if (s.stopped.signal.aborted) return;
        // The orchestrator's turn ended on its own: move the stream.
        const reason = (turn.signal.reason as Error | undefined)?.message ?? "unknown";
        if (s.orchestrator) {
          options.pool.recordFailure(s.orchestrator, new Error(reason));
          options.suspender.suspend(s.orchestrator, LIVE_VIDEO_PENALTY);
        }
        if (s.swaps >= MAX_SWAPS) {
          s.state = "failed";
          s.error = `gave up after ${s.swaps} orchestrator moves; last: ${reason}`;
          log.warn({ stream_id: s.id, reason }, "live stream failed");
          return;
        }
        s.swaps++;
        s.state = "moving";
        log.warn({ stream_id: s.id, reason, swaps: s.swaps }, "moving live stream to another orchestrator");
        startOnNext(s).catch((err: unknown) => {
          s.state = "failed";
          s.error = (err as Error).message;
          log.warn({ stream_id: s.id, err: s.error }, "live stream failed");
        });
      },
      { once: true },
    );
  }

  function stopStream(s: LiveStream): void {
    s.state = "stopped";
    s.stopped.abort(new Error("stopped"));
    s.output.close();
    trickle.deleteChannel(`${s.id}-in`);
    streams.delete(s.id);
  }

  async function start(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req);
    const modelId =
      typeof body.model_id === "string" && body.model_id !== ""
        ? body.model_id
        : headerValue(req.headers, "x-model-id");
    if (!modelId)
      throw new BadRequestError("give model_id (the live pipeline, e.g. noop or comfyui)", {
        code: "MODEL_ID_REQUIRED",
      });
    let params: Record<string, unknown> = {};
    if (typeof body.params === "string") {
      try {
        params = JSON.parse(body.params) as Record<string, unknown>;
      } catch {
        throw new BadRequestError("invalid model params: params must be a JSON object", {
          code: "BAD_PARAMS",
        });
      }
    } else if (body.params !== undefined) params = body.params as Record<string, unknown>;
    if (typeof params !== "object" || params === null || Array.isArray(params))
      throw new BadRequestError("invalid model params: params must be a JSON object", { code: "BAD_PARAMS" });
    const id =
      typeof body.stream_id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(body.stream_id)
        ? body.stream_id
        : crypto.randomUUID().replaceAll("-", "");
    if (streams.has(id))
      throw new TributaryError("STREAM_EXISTS", `stream ${id} already exists`, { status: 409 });
    const { trace, log } = options.traceOf(req, `${PIPELINE}/${modelId}`);
    const slog = log.child({ stream_id: id });
    trickle.createChannel(`${id}-in`, "video/MP2T");
    trickle.createChannel(`${id}-out`, "video/MP2T");
    const stopped = new AbortController();
    const s: LiveStream = {
      id,
      modelId,
      params,
      trace,
      log: slog,
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
      stopped,
      output: new LocalPublisher(trickle, `${id}-out`, "video/MP2T"),
      input: new LocalSubscriber(trickle, `${id}-in`, { start: 0, signal: stopped.signal }),
    };
    streams.set(id, s);
    try {
      await startOnNext(s);
    } catch (err) {
      stopStream(s);
      throw err;
    }
    const base = options.baseUrl();
    const routes = `${base}/live/video-to-video/${id}`;
    json(res, 200, {
      stream_id: id,
      publish_url: `${base}${LIVE_TRICKLE_BASE}${id}-in`,
      subscribe_url: `${base}${LIVE_TRICKLE_BASE}${id}-out`,
      update_url: `${routes}/update`,
      status_url: `${routes}/status`,
      stop_url: `${routes}/stop`,
      orchestrator: s.orchestrator,
    });
  }

  function statusOf(s: LiveStream) {
    return {
      stream_id: s.id,
      model_id: s.modelId,
      state: s.state,
      orchestrator: s.orchestrator,
      manifest_id: s.orch?.manifestId ?? null,
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

  return {
    trickle,
    get count() {
      return streams.size;
    },
    async handle(req, res, path) {
      if (path.startsWith(LIVE_TRICKLE_BASE)) {
        if (!trickle.handle(req, res)) throw new NotFoundError(`no trickle route ${path}`);
        return;
      }
      if (path === "/live/video-to-video") {
        if (req.method !== "POST")
          throw new TributaryError("METHOD_NOT_ALLOWED", "use POST", { status: 405 });
        return start(req, res);
      }
      const m = /^\/live\/video-to-video\/([^/]+)\/(update|status|stop)$/.exec(path);
      if (!m) throw new NotFoundError(`no route ${req.method} ${path}`);
      const s = streams.get(m[1] as string);
      if (s === undefined) throw new NotFoundError(`unknown stream ${m[1]}`);
      switch (m[2]) {
        case "status":
          return json(res, 200, statusOf(s));
        case "stop":
          req.resume();
          stopStream(s);
          return json(res, 200, statusOf(s));
        default: {
          if (req.method !== "POST")
            throw new TributaryError("METHOD_NOT_ALLOWED", "use POST", { status: 405 });
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
      }
    },
    async close() {
      clearInterval(watchdog);
      for (const s of [...streams.values()]) stopStream(s);
      await trickle.close();
    },
  };
}
