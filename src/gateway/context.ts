/**
 * What the gateway's routes share: the context `startGateway` builds once (gateway.ts) and hands to
 * every handler (`(ctx, req, res)`, routes/): the orchestrator pool, selector and suspender, the
 * HTTPS client toward orchestrators, payments, metrics, the dashboard and the live manager.
 */
import type { IncomingMessage } from "node:http";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Logger } from "../node/logger.ts";
import type { Dashboard } from "./dashboard/index.ts";
import type { OrchestratorPool } from "./discovery/index.ts";
import type { RunnerDirectory } from "./discovery/runners.ts";
import type { ExperienceRecorder } from "./history/experience.ts";
import type { LiveManager } from "./live/index.ts";
import { headerValue, type OrchestratorHttp } from "./orch-http.ts";
import type { GatewayPayer } from "./payments.ts";
import type { RunnerSessions } from "./runners/sessions.ts";
import type { Selector, Suspender } from "./selection/index.ts";
import { startTrace, type TraceContext } from "./tracing.ts";

/** Metrics of the gateway. */
export interface GatewayMetrics {
  registry: Registry;
  jobs: Counter<"pipeline" | "model_id" | "outcome">;
  duration: Histogram<"pipeline" | "model_id">;
  failovers: Counter<"pipeline" | "model_id" | "action">;
}

/** The gateway's shared state, built once. */
export interface GatewayContext {
  log: Logger;
  /** Aborted when the gateway closes. */
  signal: AbortSignal;
  pool: OrchestratorPool;
  selector: Selector;
  suspender: Suspender;
  http: OrchestratorHttp;
  /** On-chain payments; undefined offchain. */
  payments: GatewayPayer | undefined;
  metrics: GatewayMetrics;
  dashboard: Dashboard;
  /** The orchestrators' live runners (`liveRunnerDiscoveryIntervalMs`); undefined when off. */
  runners?: RunnerDirectory;
  /** Live runner sessions the gateway holds and pays for its users (with `runners`). */
  runnerSessions?: RunnerSessions;
  /** The gateway's public base URL (`publicUrl`, else its listening URL), for URLs it answers. */
  publicUrl?: () => string;
  live: LiveManager;
  /** Where job attempts are reported for the dashboard's experience charts (history/). */
  experience?: ExperienceRecorder;
  /** Time to response headers of native AI jobs, ms. */
  aiTimeoutMs: number;
}

/** Registers the gateway's metrics on `registry`. */
export function gatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    registry,
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

/** A job's trace (the client's `traceparent` continued, else a new one) and its logger. */
export function traceOf(
  log: Logger,
  req: IncomingMessage,
  capability: string,
): { trace: TraceContext; log: Logger } {
  const trace = startTrace(headerValue(req.headers, "traceparent"));
  return { trace, log: log.child({ trace_id: trace.traceId, capability }) };
}

/** The client's `Content-Type` and `Accept`, passed on to the orchestrator. */
export function forwardedType(req: IncomingMessage): Record<string, string> {
  const h: Record<string, string> = {};
  const type = headerValue(req.headers, "content-type");
  if (type) h["content-type"] = type;
  const accept = headerValue(req.headers, "accept");
  if (accept) h.accept = accept;
  return h;
}

/** Aborted when the client goes away before its answer was written. */
export function clientGone(res: {
  on(event: "close", fn: () => void): unknown;
  writableFinished: boolean;
}): AbortSignal {
  const gone = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) gone.abort(new Error("client went away"));
  });
  return gone.signal;
}
