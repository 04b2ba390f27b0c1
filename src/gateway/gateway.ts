/**
 * The gateway node: a plain-HTTP user API (default 127.0.0.1:8937) in front of the orchestrators that
 * discovery finds (shared/spec/orchestrator-gateway.md §6, §13, §17.4, §18).
 *
 * Routes:
 * - `POST /<ai pipeline>` (`/text-to-image`, `/llm`, …): native AI batch; `model_id` from the JSON body
 *   (or a multipart field, or `X-Model-Id`). Forwarded to the orchestrator's `POST /<pipeline>`.
 * - `POST /<name>` for any other name: a BYOC job. The capability is `X-Model-Id`, else the body's
 *   `model_id`, else `<name>`; forwarded to `POST /process/request/<name>` with a `Livepeer` header.
 * - `POST /process/request/<route…>`: the go-livepeer BYOC route; the client's `Livepeer` header
 *   (base64 JSON `JobRequest`) names the capability.
 * - live video and BYOC streams (`/live/…`, `/process/stream/…`, see live/), `GET /dashboard…`,
 *   `GET /metrics`, `GET /health`.
 *
 * Each job is tried on the selector's ranked orchestrators in order: a transport error or a 5xx moves
 * it to the next one (suspending per `failureAction`), a 4xx goes back to the client unchanged, a 2xx
 * is streamed back (SSE passes through as it arrives). Every job has a W3C trace (`traceparent` taken
 * from the client or created), forwarded to the orchestrator, and every log line of the job carries
 * `trace_id`.
 *
 * Payments: with `options.payments` (see onchain.ts), BYOC, native AI and live jobs are signed and
 * paid per send (payments.ts). Without it the gateway is offchain, as go-livepeer offchain.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Counter, Histogram, type Registry } from "prom-client";
import { BadRequestError, errorBody, httpStatusOf, TributaryError } from "../node/errors.ts";
import {
  clientErrorListener,
  type HttpLimits,
  http1ServerOptions,
  resolveHttpLimits,
} from "../node/http/limits.ts";
import { closeServer, listen, originOf } from "../node/http/listen.ts";
import { envelopeError, sendFormattedError, sendJson } from "../node/http/send.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { createMetricsRegistry, writeMetrics } from "../node/metrics.ts";
import type { Rat } from "../payments/rational.ts";
import type { Sender } from "../payments/sender.ts";
import type { MessageSigner } from "../payments/signature.ts";
import { withDefaultMaxTokens } from "../protocol/ai-units.ts";
import { encodeJobHeader, type JobRequest, newJobRequest, parseJobHeader } from "../protocol/job-header.ts";
import { aiRequestCapabilities, PIPELINE_CAPABILITY } from "./capabilities.ts";
import { createDashboard, createPoolDashboardSource, type Dashboard } from "./dashboard/index.ts";
import {
  createGrpcOrchestratorClient,
  type DiscoveryConfig,
  type DiscoverySource,
  discoverySourceFromConfig,
  type OrchestratorDescriptor,
  type OrchestratorInfoFetcher,
  OrchestratorPool,
  type PoolEvent,
  signRequestCredentials,
} from "./discovery/index.ts";
import { createLive, type LiveManager } from "./live/index.ts";
import { createOrchestratorHttp, headerValue, type OrchestratorHttp, readText } from "./orch-http.ts";
import { aiPaymentUnits, GatewayPayments } from "./payments.ts";
import { readBody } from "./read-body.ts";
import {
  AI_SESSION_PENALTY,
  createSelector,
  failureAction,
  MAX_TRIES,
  type Selector,
  Suspender,
  strategyByName,
} from "./selection/index.ts";
import { formatTraceparent, startTrace, type TraceContext } from "./tracing.ts";

/** Default user API port (conventions). */
export const DEFAULT_GATEWAY_PORT = 8937;
/** BYOC `timeout_seconds` used when the gateway builds the job header itself. */
export const DEFAULT_BYOC_TIMEOUT_SECONDS = 30;
/** Time to response headers for native AI jobs, ms. */
export const DEFAULT_AI_TIMEOUT_MS = 120_000;
/** Headers passed from the orchestrator's answer to the client. */
const PASSED_RESPONSE_HEADERS = [
  "content-type",
  "x-metadata",
  "livepeer-balance",
  "livepeer-payment-balance",
];
/** `Authorization` value go-livepeer sends on AI calls (`protoVerAIWorker`). */
const AI_WORKER_PROTOCOL = "Livepeer-AI-Worker-1.0";
/** Paths that are never pipeline names. */
const RESERVED = new Set(["health", "metrics", "dashboard", "process", "live", "favicon.ico"]);

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; default {@link DEFAULT_GATEWAY_PORT}; 0 picks one. */
  port?: number;
  /** Where orchestrators come from: a discovery config, or a ready source. */
  discovery: DiscoveryConfig | { source: DiscoverySource };
  /** `GetOrchestrator` implementation; default a gRPC client that does not verify certificates. */
  fetchInfo?: OrchestratorInfoFetcher;
  /** Selection strategy name (`probability`, `stake`, `random`, `price`, `latency`); default `latency`. */
  strategy?: string;
  /** Highest price in wei per unit the gateway pays (`-maxPricePerUnit`); default no limit. */
  maxPricePerUnit?: Rat;
  /** Pool refresh period, ms (default 5 min). */
  refreshIntervalMs?: number;
  /** Time to response headers of native AI jobs, ms; default {@link DEFAULT_AI_TIMEOUT_MS}. */
  aiTimeoutMs?: number;
  /** Live streams: seconds without an event before moving the stream to another orchestrator. */
  liveEventTimeoutMs?: number;
  /** Live top-up period when paying, ms; default 5 s. */
  livePaymentIntervalMs?: number;
  /** BYOC stream top-up period when paying, ms; default 50 s (go-livepeer's). */
  byocStreamPaymentIntervalMs?: number;
  /** Public base URL put in live stream URLs; default `http://<host>:<port>`. */
  publicUrl?: string;
  /**
   * On-chain BYOC payments: the gateway's key and ticket sender. Jobs are then signed and paid
   * (payments.ts); GetOrchestrator requests are signed. Without it the gateway is offchain.
   * `tokenReuseMs`: see `GatewayPaymentsOptions.tokenReuseMs` (default 0, a `/process/token` per job).
   */
  payments?: { signer: MessageSigner; sender: Sender; tokenReuseMs?: number };
  /** Head size and headers timeout of the user API (src/node/http/limits.ts; 1 MiB, 30 s). */
  limits?: Pick<HttpLimits, "maxHeaderBytes" | "headersTimeoutMs">;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A running gateway. */
export interface RunningGateway extends AsyncDisposable {
  /** `http://host:port`. */
  url: string;
  port: number;
  pool: OrchestratorPool;
  suspender: Suspender;
  metrics: Registry;
  live: LiveManager;
  close(): Promise<void>;
}

/** One job as the retry loop sees it. */
interface Job {
  /** For selection: an AI pipeline, or `byoc`. */
  pipeline: string;
  /** For selection: the model id, or the BYOC capability name. */
  modelId: string;
  /** Path on the orchestrator. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  headersTimeoutMs: number;
  /** Per-orchestrator headers computed before each send (job signature, payment). */
  prepare?: (orchestrator: OrchestratorDescriptor, signal: AbortSignal) => Promise<Record<string, string>>;
  include?: readonly string[];
  exclude?: readonly string[];
  trace: TraceContext;
  log: Logger;
}

/** Metrics of the gateway. */
interface GatewayMetrics {
  jobs: Counter<"pipeline" | "model_id" | "outcome">;
  duration: Histogram<"pipeline" | "model_id">;
  failovers: Counter<"pipeline" | "model_id" | "action">;
}

function metricsOf(registry: Registry): GatewayMetrics {
  return {
    jobs: new Counter({
      name: "tributary_gateway_jobs_total",
      help: "Jobs finished by the gateway, by outcome (ok, client_error, failed, no_orchestrator)",
      labelNames: ["pipeline", "model_id", "outcome"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "tributary_gateway_job_duration_seconds",
      help: "Time from request to the start of the answer for successful jobs",
      labelNames: ["pipeline", "model_id"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    failovers: new Counter({
      name: "tributary_gateway_orchestrator_failures_total",
      help: "Attempts that failed on an orchestrator and moved the job on, by action (suspend, switch)",
      labelNames: ["pipeline", "model_id", "action"],
      registers: [registry],
    }),
  };
}

/** The model id of a native AI request: `X-Model-Id`, else JSON `model_id`, else a multipart field. */
export function modelIdOf(headers: IncomingMessage["headers"], body: Buffer): string | undefined {
  const h = headerValue(headers, "x-model-id");
  if (h) return h;
  const type = String(headers["content-type"] ?? "");
  if (type.includes("multipart/form-data")) {
    const m = /name="model_id"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n/.exec(body.toString("latin1"));
    return m?.[1] ? Buffer.from(m[1], "latin1").toString("utf8") : undefined;
  }
  if (body.length === 0) return undefined;
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const id = (v as { model_id?: unknown }).model_id;
      return typeof id === "string" && id !== "" ? id : undefined;
    }
  } catch {
    throw new BadRequestError("the request body is not valid JSON", { code: "BAD_JSON" });
  }
  return undefined;
}

/** The client's `Livepeer` header, parsed by the shared codec (src/protocol/job-header.ts). */
export type ClientJobRequest = JobRequest;

/** Starts the gateway. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const baseLog = options.logger ?? silentLogger();
  const closer = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, closer.signal]) : closer.signal;
  const source =
    "source" in options.discovery
      ? options.discovery.source
      : discoverySourceFromConfig({
          ...options.discovery,
          onWarning: (message, error) => baseLog.warn({ err: error }, message),
        }).source;
  const grpc = options.fetchInfo ? undefined : createGrpcOrchestratorClient();
  const suspender = new Suspender();
  const http: OrchestratorHttp = createOrchestratorHttp();
  const payments = options.payments && new GatewayPayments({ ...options.payments, http });
  const credentials = options.payments ? await signRequestCredentials(options.payments.signer) : undefined;
  let dashSource: ReturnType<typeof createPoolDashboardSource> | undefined;
  const pool = new OrchestratorPool({
    source,
    fetchInfo: options.fetchInfo ?? (grpc as NonNullable<typeof grpc>).getOrchestrator,
    suspender,
    signal,
    credentials,
    refreshIntervalMs: options.refreshIntervalMs,
    onEvent: (e: PoolEvent) => {
      if (e.type === "refresh-failed") baseLog.warn({ err: e.error }, "orchestrator discovery failed");
      else if (e.type === "rejected")
        baseLog.debug({ orchestrator: e.url, reason: e.reason }, "orchestrator rejected");
      else baseLog.debug(e, "orchestrator pool refreshed");
      dashSource?.observe(e);
    },
  });
  dashSource = createPoolDashboardSource({ pool, suspender, signal });
  const dashboard: Dashboard = createDashboard({ source: dashSource });
  const selector: Selector = createSelector({
    strategy: strategyByName(options.strategy ?? "latency"),
    maxPricePerUnit: options.maxPricePerUnit,
    suspender,
  });
  const registry = createMetricsRegistry({ defaultLabels: { node: "gateway" } });
  const metrics = metricsOf(registry);
  const aiTimeoutMs = options.aiTimeoutMs ?? DEFAULT_AI_TIMEOUT_MS;

  /** The ranked orchestrators for a job; refreshes the pool once when none qualifies. */
  async function candidates(job: Job, tried: ReadonlySet<string>): Promise<OrchestratorDescriptor[]> {
    const pick = (all: OrchestratorDescriptor[]) => {
      const include = job.include?.map((u) => u.replace(/\/+$/, ""));
      const pool = include?.length
        ? all.filter((d) => include.includes(d.transcoder.replace(/\/+$/, "")) || include.includes(d.url))
        : all;
      const r = selector.select(pool, {
        pipeline: job.pipeline,
        modelId: job.modelId,
        exclude: [...(job.exclude ?? []), ...tried],
      });
      return { ranked: r.ranked.map((s) => s.descriptor), rejected: r.rejected };
    };
    let r = pick(await pool.current(signal));
    if (r.ranked.length === 0 && tried.size === 0) {
      r = pick(await pool.refresh(signal).catch(() => pool.snapshot()));
    }
    if (r.ranked.length === 0 && tried.size === 0) {
      const reasons = r.rejected.slice(0, 5).map((x) => `${x.transcoder}: ${x.message}`);
      throw new TributaryError(
        "NO_ORCHESTRATORS",
        `no orchestrator offers ${job.pipeline === "byoc" ? `BYOC capability "${job.modelId}"` : `${job.pipeline}/${job.modelId}`} within the price limit` +
          (reasons.length ? ` (${reasons.join("; ")})` : "; check --orch-addr and that the model is loaded"),
        { status: 503 },
      );
    }
    return r.ranked;
  }

  /** The retry loop (spec §6.1 step 3, §17.4). Answers the client. */
  async function runJob(job: Job, res: ServerResponse, clientGone: AbortSignal): Promise<void> {
    const started = performance.now();
    const labels = { pipeline: job.pipeline, model_id: job.modelId };
    const tried = new Set<string>();
    let lastError = "";
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const list = await candidates(job, tried);
      const d = list[0];
      if (d === undefined) break;
      tried.add(d.transcoder);
      const url = d.transcoder.replace(/\/+$/, "") + job.path;
      const log = job.log.child({ orchestrator: d.transcoder });
      const callStarted = performance.now();
      let upstream: IncomingMessage;
      let extra: Record<string, string> = {};
      try {
        if (job.prepare) extra = await job.prepare(d, clientGone);
      } catch (err) {
        if (clientGone.aborted) return;
        // The gateway's own deposit/reserve problems: no other orchestrator would fare better.
        if (httpStatusOf(err) === 402) throw err;
        lastError = err instanceof Error ? err.message : String(err);
        const action = failureAction(lastError);
        pool.recordFailure(d.transcoder, err);
        if (action === "suspend") suspender.suspend(d.transcoder, AI_SESSION_PENALTY);
        metrics.failovers.inc({ ...labels, action: action === "suspend" ? "suspend" : "switch" });
        log.warn(
          { err: lastError, attempt },
          "could not prepare the job for this orchestrator; trying the next one",
        );
        continue;
      }
      try {
        upstream = await http.send(url, {
          headers: {
            ...job.headers,
            ...extra,
            traceparent: formatTraceparent(job.trace),
            "x-trace-id": job.trace.traceId,
            "content-length": String(job.body.length),
          },
          body: job.body,
          headersTimeoutMs: job.headersTimeoutMs,
          signal: clientGone,
        });
      } catch (err) {
        if (clientGone.aborted) return;
        lastError = err instanceof Error ? err.message : String(err);
        pool.recordFailure(d.transcoder, err);
        suspender.suspend(d.transcoder, AI_SESSION_PENALTY);
        metrics.failovers.inc({ ...labels, action: "suspend" });
        log.warn({ err: lastError, attempt }, "orchestrator unreachable; trying the next one");
        continue;
      }
      const status = upstream.statusCode ?? 502;
      if (status >= 500) {
        const text = await readText(upstream).catch(() => "");
        lastError = `HTTP ${status}: ${text.slice(0, 300)}`;
        const action = failureAction(text);
        pool.recordFailure(d.transcoder, new Error(lastError));
        if (action === "suspend") suspender.suspend(d.transcoder, AI_SESSION_PENALTY);
        metrics.failovers.inc({ ...labels, action: action === "suspend" ? "suspend" : "switch" });
        log.warn({ status, action, attempt }, "orchestrator failed the job; trying the next one");
        continue;
      }
      pool.recordSuccess(d.transcoder, performance.now() - callStarted);
      const headers: Record<string, string> = {
        "x-orchestrator-url": d.transcoder,
        traceparent: formatTraceparent(job.trace),
        "x-trace-id": job.trace.traceId,
      };
      for (const name of PASSED_RESPONSE_HEADERS) {
        const v = headerValue(upstream.headers, name);
        if (v !== undefined) headers[name] = v;
      }
      const sse = (headers["content-type"] ?? "").includes("text/event-stream");
      if (sse) {
        headers["cache-control"] = "no-cache";
        headers["x-accel-buffering"] = "no";
      }
      res.writeHead(status, headers);
      if (sse) res.flushHeaders();
      metrics.jobs.inc({ ...labels, outcome: status < 400 ? "ok" : "client_error" });
      if (status < 400) metrics.duration.observe(labels, (performance.now() - started) / 1000);
      log.info({ status, sse, ms: Math.round(performance.now() - started) }, "job answered");
      await new Promise<void>((resolve) => {
        upstream.on("data", (c: Buffer) => {
          if (!res.write(c)) {
            upstream.pause();
            res.once("drain", () => upstream.resume());
          }
        });
        upstream.on("end", () => {
          res.end();
          resolve();
        });
        upstream.on("error", () => {
          res.destroy();
          resolve();
        });
        upstream.on("close", resolve);
      });
      return;
    }
    metrics.jobs.inc({ ...labels, outcome: "failed" });
    throw new TributaryError(
      "ALL_ORCHESTRATORS_FAILED",
      `every orchestrator tried (${tried.size}) failed the job; last error: ${lastError || "none"}`,
      { status: 502 },
    );
  }

  /** A job's trace and logger. */
  function traceOf(req: IncomingMessage, capability: string): { trace: TraceContext; log: Logger } {
    const trace = startTrace(headerValue(req.headers, "traceparent"));
    return { trace, log: baseLog.child({ trace_id: trace.traceId, capability }) };
  }

  function forwardedType(req: IncomingMessage): Record<string, string> {
    const h: Record<string, string> = {};
    const type = headerValue(req.headers, "content-type");
    if (type) h["content-type"] = type;
    const accept = headerValue(req.headers, "accept");
    if (accept) h.accept = accept;
    return h;
  }

  async function handleAi(req: IncomingMessage, res: ServerResponse, pipeline: string, gone: AbortSignal) {
    const type = headerValue(req.headers, "content-type") ?? "";
    // An llm request leaves with max_tokens (256 when the client gave none, as go-livepeer's gateway):
    // orchestrators refuse one without it, and charge what the gateway paid for.
    const body = withDefaultMaxTokens(pipeline, type, await readBody(req));
    const modelId = modelIdOf(req.headers, body);
    if (modelId === undefined)
      throw new BadRequestError(`${pipeline}: give model_id in the body or an X-Model-Id header`, {
        code: "MODEL_ID_REQUIRED",
      });
    const { trace, log } = traceOf(req, `${pipeline}/${modelId}`);
    log.info({ bytes: body.length }, "AI job received");
    const headers = { ...forwardedType(req), authorization: AI_WORKER_PROTOCOL };
    // Units once per job, by the orchestrator's rule: a body it would refuse is a 400 here.
    const units = payments ? aiPaymentUnits(pipeline, type, body) : 0n;
    const prepare =
      payments &&
      (async (d: OrchestratorDescriptor, sig: AbortSignal) => {
        // Fresh ticket params, price and auth token for exactly this job (spec §18 step 2).
        const info = await pool.fetchOne(d.url, {
          capabilities: aiRequestCapabilities({ pipeline, modelId }),
          signal: sig,
        });
        return payments.aiHeaders(d.transcoder, info, pipeline, modelId, units);
      });
    await runJob(
      {
        pipeline,
        modelId,
        path: `/${pipeline}`,
        headers,
        body,
        prepare,
        headersTimeoutMs: aiTimeoutMs,
        trace,
        log,
      },
      res,
      gone,
    ).catch((err) => {
      throw withTrace(err, trace);
    });
  }

  const live = createLive({
    pool,
    selector,
    suspender,
    http,
    logger: baseLog,
    signal,
    eventTimeoutMs: options.liveEventTimeoutMs,
    payments,
    paymentIntervalMs: options.livePaymentIntervalMs,
    byocPaymentIntervalMs: options.byocStreamPaymentIntervalMs,
    baseUrl: () => publicUrl,
    traceOf: (req, capability) => traceOf(req, capability),
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Not new URL(target, base): a target such as "//" or "//host/x" reads as a host, and throws or reroutes.
    const target = req.url ?? "/";
    let url: URL;
    try {
      url = new URL(target.startsWith("/") ? `http://gateway${target}` : target);
    } catch {
      throw new BadRequestError(`malformed request target ${JSON.stringify(target.slice(0, 100))}`, {
        code: "BAD_URL",
      });
    }
    const path = url.pathname;
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort(new Error("client went away"));
    });
    if (dashboard.handle(req, res)) return;
    if (req.method === "GET" && path === "/metrics") return writeMetrics(registry, res);
    if (req.method === "GET" && path === "/health") return sendJson(res, 200, { status: "ok" });
    if (path.startsWith("/live/") || path.startsWith("/process/stream/")) return live.handle(req, res, path);
    if (path.startsWith("/process/request/") || path === "/process/request") {
      if (req.method !== "POST") return sendJson(res, 405, errorBody(methodNotAllowed()), { allow: "POST" });
      const job = parseJobHeader(headerValue(req.headers, "livepeer"), { client: true });
      const body = await readBody(req);
      return handleByocBuffered(req, res, path.slice("/process/request/".length), job, body, gone.signal);
    }
    const m = /^\/([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(path);
    if (m && !RESERVED.has(m[1] as string)) {
      const name = m[1] as string;
      if (req.method !== "POST") return sendJson(res, 405, errorBody(methodNotAllowed()), { allow: "POST" });
      if (Object.hasOwn(PIPELINE_CAPABILITY, name) && name !== "byoc" && name !== "live-video-to-video")
        return handleAi(req, res, name, gone.signal);
      const body = await readBody(req);
      const capability = headerValue(req.headers, "x-model-id") ?? safeModelId(req, body) ?? name;
      const timeout = Number(headerValue(req.headers, "x-timeout-seconds") ?? DEFAULT_BYOC_TIMEOUT_SECONDS);
      if (!Number.isInteger(timeout) || timeout <= 0)
        throw new BadRequestError("X-Timeout-Seconds must be a positive integer", { code: "BAD_TIMEOUT" });
      const job = newJobRequest({ capability, timeoutSeconds: timeout });
      return handleByocBuffered(req, res, name, job, body, gone.signal);
    }
    throw new TributaryError(
      "NOT_FOUND",
      `no route ${req.method} ${path}; see GET /dashboard for what the network offers`,
      {
        status: 404,
      },
    );
  }

  function safeModelId(req: IncomingMessage, body: Buffer): string | undefined {
    try {
      return modelIdOf({ ...req.headers, "x-model-id": undefined }, body);
    } catch {
      return undefined; // a non-JSON body is fine for BYOC: the container decides
    }
  }

  async function handleByocBuffered(
    req: IncomingMessage,
    res: ServerResponse,
    routeName: string,
    job: ClientJobRequest,
    body: Buffer,
    gone: AbortSignal,
  ) {
    const { trace, log } = traceOf(req, `byoc/${job.capability}`);
    log.info({ bytes: body.length, route: routeName }, "BYOC job received");
    await runJob(
      {
        pipeline: "byoc",
        modelId: job.capability,
        path: `/process/request/${routeName}`,
        headers: { ...forwardedType(req), ...(payments ? {} : { livepeer: encodeJobHeader(job) }) },
        prepare: payments && ((d, sig) => payments.byocHeaders(d.transcoder, job, sig)),
        body,
        headersTimeoutMs: (job.timeoutSeconds + 5) * 1000,
        include: job.params.include,
        exclude: job.params.exclude,
        trace,
        log,
      },
      res,
      gone,
    ).catch((err) => {
      throw withTrace(err, trace);
    });
  }

  const limits = resolveHttpLimits(options.limits);
  // Heads up to 1 MiB, 30 s to send them, no whole-request timeout (long live and SSE answers).
  const server: Server = createServer(http1ServerOptions(limits), (req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = httpStatusOf(err);
      const trace = (err as { trace?: TraceContext }).trace;
      if (status >= 500) baseLog.warn({ err, trace_id: trace?.traceId, path: req.url }, "request failed");
      // A body refused as too large (often before any of it was read) is not drained: the
      // connection closes after the answer (sendJson adds `Connection: close` to a 413).
      sendFormattedError(res, err, envelopeError, trace ? { "x-trace-id": trace.traceId } : {});
      if (status !== 413) req.resume();
    });
  });
  server.on("clientError", clientErrorListener(limits));
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, host, options.port ?? DEFAULT_GATEWAY_PORT);
  const url = originOf("http", host, port);
  const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, "");
  pool.start();
  baseLog.info({ url }, "gateway listening");

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await live.close();
      closer.abort(new Error("gateway closed"));
      dashboard.close();
      dashSource?.close();
      pool.close();
      grpc?.close();
      await closeServer(server, { graceMs: 1000 });
      http.close();
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return {
    url,
    port,
    pool,
    suspender,
    metrics: registry,
    live,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function methodNotAllowed(): TributaryError {
  return new TributaryError("METHOD_NOT_ALLOWED", "use POST", { status: 405 });
}

function withTrace(err: unknown, trace: TraceContext): unknown {
  if (err && typeof err === "object") (err as { trace?: TraceContext }).trace = trace;
  return err;
}

/** A random hex id of `bytes` bytes. */
export function randomId(bytes = 8): string {
  return randomBytes(bytes).toString("hex");
}
