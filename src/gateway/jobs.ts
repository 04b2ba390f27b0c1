/**
 * The retry loop of batch jobs (native AI and BYOC;
 * docs/spec/orchestrator-gateway.md#suspension-and-retries): a job goes down the selector's ranking;
 * a transport error or a 5xx moves it to the next orchestrator (suspending it unless the failure's
 * cause says `switch`, selection/retry.ts), a 4xx goes back to the client unchanged, a 2xx streams
 * back (SSE unbuffered). Expired ticket params switch orchestrator too: params are fetched fresh for
 * every send anyway.
 *
 * Busy is not dead: an orchestrator that answers `NO_CAPACITY` is neither counted as failed nor
 * suspended, and an answered job lifts its suspension. When no job could run the client learns
 * which case it is: nobody offers the model (404 `MODEL_NOT_OFFERED`), everyone offering it is busy
 * (503 `ORCHESTRATORS_BUSY` with `Retry-After`), everyone is above the price limit (503
 * `PRICE_ABOVE_LIMIT`, only with a limit set), or the orchestrators failed (502, with the last
 * orchestrator's refusal as a structured `details.orchestrator`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { httpStatusOf, TributaryError } from "../node/errors.ts";
import type { Logger } from "../node/logger.ts";
import type { GatewayContext } from "./context.ts";
import type { OrchestratorDescriptor } from "./discovery/index.ts";
import { failureCauseOf, headerValue, readText } from "./orch-http.ts";
import {
  AI_SESSION_PENALTY,
  type FailureAction,
  type FailureCause,
  failureAction,
  MAX_TRIES,
  type Rejection,
} from "./selection/index.ts";
import { formatTraceparent, type TraceContext } from "./tracing.ts";

/** Headers passed from the orchestrator's answer to the client. */
const PASSED_RESPONSE_HEADERS = [
  "content-type",
  "x-metadata",
  "livepeer-balance",
  "livepeer-payment-balance",
];

/** One job as the retry loop sees it. */
export interface Job {
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

/** The ranked orchestrators for a job; refreshes the pool once when none qualifies. */
export async function candidates(
  ctx: GatewayContext,
  job: Job,
  tried: ReadonlySet<string>,
): Promise<OrchestratorDescriptor[]> {
  const pick = (all: OrchestratorDescriptor[]) => {
    const include = job.include?.map((u) => u.replace(/\/+$/, ""));
    const pool = include?.length
      ? all.filter((d) => include.includes(d.transcoder.replace(/\/+$/, "")) || include.includes(d.url))
      : all;
    const r = ctx.selector.select(pool, {
      pipeline: job.pipeline,
      modelId: job.modelId,
      exclude: [...(job.exclude ?? []), ...tried],
    });
    return { ranked: r.ranked.map((s) => s.descriptor), rejected: r.rejected };
  };
  let r = pick(await ctx.pool.current(ctx.signal));
  if (r.ranked.length === 0 && tried.size === 0) {
    r = pick(await ctx.pool.refresh(ctx.signal).catch(() => ctx.pool.snapshot()));
  }
  if (r.ranked.length === 0 && tried.size === 0) throw noCandidateError(job, r.rejected);
  return r.ranked;
}

/** Seconds a client is told to wait when every orchestrator offering its model is busy. */
export const BUSY_RETRY_AFTER_S = 2;

/** What the job asks for, as messages name it. */
function wanted(job: Job): string {
  return job.pipeline === "byoc" ? `BYOC capability "${job.modelId}"` : `${job.pipeline}/${job.modelId}`;
}

/** Every orchestrator offering `what` (a model, a capability) is busy: 503 with `Retry-After`. */
export function busyError(what: string, count: number): TributaryError {
  return new TributaryError(
    "ORCHESTRATORS_BUSY",
    `all ${count} orchestrator${count === 1 ? "" : "s"} offering ${what} are busy; retry in ${BUSY_RETRY_AFTER_S} s`,
    { status: 503, details: { retryAfterSeconds: BUSY_RETRY_AFTER_S, orchestrators: count } },
  );
}

/**
 * Why no orchestrator could take the job, from the selector's rejections: nobody offers the model,
 * everyone offering it is busy, everyone is above the price limit (a rejection that only exists with
 * a limit set), or a mix (listed).
 */
export function noCandidateError(job: Job, rejected: readonly Rejection[]): TributaryError {
  const considered = rejected.filter((x) => x.code !== "EXCLUDED" && x.code !== "NOT_INCLUDED");
  const offering = considered.filter((x) => x.code !== "MODEL_NOT_OFFERED");
  if (offering.length === 0)
    return new TributaryError(
      "MODEL_NOT_OFFERED",
      `no orchestrator offers ${wanted(job)} (${considered.length} known); check the model id, or GET /dashboard for what the network offers`,
      { status: 404, details: { orchestrators: considered.length } },
    );
  if (offering.every((x) => x.code === "NO_CAPACITY")) return busyError(wanted(job), offering.length);
  if (offering.every((x) => x.code === "PRICE_ABOVE_MAX"))
    return new TributaryError(
      "PRICE_ABOVE_LIMIT",
      `all ${offering.length} orchestrator${offering.length === 1 ? "" : "s"} offering ${wanted(job)} are above your price limit (${offering[0]?.message}); raise --max-price-per-unit or --max-price-per-capability`,
      { status: 503, details: { orchestrators: offering.length } },
    );
  const reasons = offering.slice(0, 5).map((x) => `${x.transcoder}: ${x.message}`);
  return new TributaryError(
    "NO_ORCHESTRATORS",
    `no orchestrator can take ${wanted(job)} (${reasons.join("; ")})`,
    { status: 503 },
  );
}

/** An orchestrator's error answer as structured facts (our envelope, else its text). */
export interface OrchestratorRefusal {
  url: string;
  status: number;
  code?: string;
  message: string;
}

/** Reads an orchestrator's error body: our `{"error":{"code","message"}}` envelope or plain text. */
export function refusalOf(url: string, status: number, text: string): OrchestratorRefusal {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const e = body?.error;
    if (e && typeof e.message === "string")
      return { url, status, ...(typeof e.code === "string" && { code: e.code }), message: e.message };
  } catch {
    // not JSON: plain text (go-livepeer's http.Error shape)
  }
  return { url, status, message: text.trim().slice(0, 300) || `HTTP ${status}` };
}

/** Runs `job` down the ranking and answers the client; throws (with the job's trace) when it cannot. */
export async function runJob(
  ctx: GatewayContext,
  job: Job,
  res: ServerResponse,
  clientGone: AbortSignal,
): Promise<void> {
  return attempts(ctx, job, res, clientGone).catch((err: unknown) => {
    throw withTrace(err, job.trace);
  });
}

async function attempts(
  ctx: GatewayContext,
  job: Job,
  res: ServerResponse,
  clientGone: AbortSignal,
): Promise<void> {
  const { pool, suspender, metrics } = ctx;
  const started = performance.now();
  const labels = { pipeline: job.pipeline, model_id: job.modelId };
  const tried = new Set<string>();
  let lastError = "";
  let lastRefusal: OrchestratorRefusal | undefined;
  /** Orchestrators that answered "no capacity": busy, not failed. */
  const busy = new Set<string>();
  const capability = `${job.pipeline}/${job.modelId}`;
  /** Records a failed attempt; suspends unless the cause says `switch`; a busy one is neither. */
  const failed = (d: OrchestratorDescriptor, err: unknown, action: FailureAction, cause?: FailureCause) => {
    ctx.experience?.record({
      kind: "job",
      capability,
      orchestrator: d.transcoder,
      outcome: cause === "no-capacity" ? "busy" : "failed",
      error: err instanceof Error ? err.message : String(err),
    });
    if (cause === "no-capacity") {
      busy.add(d.transcoder);
      metrics.failovers.inc({ ...labels, action: "busy" });
      return;
    }
    pool.recordFailure(d.transcoder, err);
    if (action === "suspend") suspender.suspend(d.transcoder, AI_SESSION_PENALTY);
    metrics.failovers.inc({ ...labels, action: action === "suspend" ? "suspend" : "switch" });
  };
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const list = await candidates(ctx, job, tried);
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
      const cause = failureCauseOf(err);
      failed(d, err, failureAction(cause), cause);
      log.warn({ err, attempt }, "could not prepare the job for this orchestrator; trying the next one");
      continue;
    }
    try {
      upstream = await ctx.http.send(url, {
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
      failed(d, err, "suspend");
      log.warn({ err, attempt }, "orchestrator unreachable; trying the next one");
      continue;
    }
    const status = upstream.statusCode ?? 502;
    if (status >= 500) {
      const text = await readText(upstream).catch(() => "");
      lastRefusal = refusalOf(d.transcoder, status, text);
      lastError = `HTTP ${status}: ${lastRefusal.code ? `${lastRefusal.code}: ` : ""}${lastRefusal.message}`;
      const cause = failureCauseOf(text);
      const action = failureAction(cause);
      failed(d, new Error(lastError), action, cause);
      log.warn({ status, action, cause, attempt }, "orchestrator failed the job; trying the next one");
      continue;
    }
    pool.recordSuccess(d.transcoder, performance.now() - callStarted);
    ctx.experience?.record({
      kind: "job",
      capability,
      orchestrator: d.transcoder,
      outcome: status < 400 ? "ok" : "client_error",
      latencyMs: performance.now() - callStarted,
    });
    // Health is what was measured: an orchestrator that answered is no longer suspended.
    suspender.release(d.transcoder);
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
    await pipeAnswer(upstream, res);
    return;
  }
  if (tried.size > 0 && busy.size === tried.size) {
    metrics.jobs.inc({ ...labels, outcome: "busy" });
    throw busyError(wanted(job), busy.size);
  }
  metrics.jobs.inc({ ...labels, outcome: "failed" });
  throw new TributaryError(
    "ALL_ORCHESTRATORS_FAILED",
    `every orchestrator tried (${tried.size}) failed the job; last error: ${lastError || "none"}`,
    { status: 502, ...(lastRefusal && { details: { orchestrator: lastRefusal } }) },
  );
}

/** Streams the orchestrator's answer to the client (with back-pressure); resolves when it ended. */
function pipeAnswer(upstream: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
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
}

/** Marks `err` with the job's trace, so its answer carries `X-Trace-Id`. */
function withTrace(err: unknown, trace: TraceContext): unknown {
  if (err && typeof err === "object") (err as { trace?: TraceContext }).trace = trace;
  return err;
}

/** The trace an error was marked with by {@link runJob}, if any. */
export function traceOfError(err: unknown): TraceContext | undefined {
  return (err as { trace?: TraceContext } | null)?.trace;
}
