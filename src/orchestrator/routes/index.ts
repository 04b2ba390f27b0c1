/**
 * The orchestrator's HTTP routes, registered in one place over the context. BYOC routes answer
 * errors as go-livepeer's plain text; our own routes in the JSON envelope `{"error":{"code","message"}}`.
 *
 * | route | handler | group |
 * |---|---|---|
 * | `POST /capability/register`, `/capability/unregister` | byoc-registration.ts | operator (auth hook) |
 * | `GET /process/token` | byoc-registration.ts | byoc |
 * | `POST /process/request/…` | byoc-jobs.ts | byoc |
 * | `/ai/stream/start`, `stop`, `update`, `payment` | byoc-streams.ts | byoc |
 * | `POST /<pipeline>` (native AI batch) | ai-batch.ts | own |
 * | `POST /live-video-to-video`, `POST /payment` | live-video.ts | own |
 * | `GET /capabilities`, `/metrics`, `/health` | here | own |
 * | `/discovery`, `/runners/…`, `/apps/…` (Live Runner API) | live-runners.ts | live-runners |
 * | `/runner/…` (live runner session callbacks) | live-runner-callbacks.ts | live-runners |
 * | anything else | 404 `no route <METHOD> <path>` | router (JSON) |
 *
 * Every answer carries `X-Trace-Id` (the caller's when well-formed, else a new one), which the
 * request's log lines and its container calls carry too (the router's `around` hook). The trickle
 * mount (`/ai/trickle/`) is served before the router (orchestrator.ts) and has no trace id.
 */
import { randomBytes } from "node:crypto";
import { TributaryError } from "../../node/errors.ts";
import { Router } from "../../node/http/router.ts";
import { writeMetrics } from "../../node/metrics.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { isOperator, type OrchestratorContext, requestLog } from "../context.ts";
import { header, sendError, sendErrorText, sendJson } from "../http.ts";
import { capabilitiesJson } from "../info.ts";
import { NATIVE_BATCH_PIPELINES, nativeBatch } from "./ai-batch.ts";
import { processRequest } from "./byoc-jobs.ts";
import { processToken, register, requireOperator, unregister } from "./byoc-registration.ts";
import { streamPayment, streamStart, streamStop, streamUpdate } from "./byoc-streams.ts";
import { runnerCallbacks } from "./live-runner-callbacks.ts";
import { apps, discovery, runnerHeartbeat, runnersPath } from "./live-runners.ts";
import { liveVideoToVideo, payment } from "./live-video.ts";

/** A well-formed caller trace id. */
const TRACE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Logs what is not one of our errors (those are the caller's and answered as such). */
const logUnexpected =
  (ctx: OrchestratorContext, message: string) =>
  (err: unknown): void => {
    if (!(err instanceof TributaryError)) requestLog(ctx).error({ err }, message);
  };

/** The orchestrator's router over `ctx` (its `handle` serves every path but the trickle mount). */
export function createRouter(ctx: OrchestratorContext): Router {
  const router = new Router({
    formatError: sendError,
    around: (req, res, next) => {
      const given = header(req.headers, "x-trace-id");
      const traceId = TRACE_ID.test(given) ? given : randomBytes(8).toString("hex");
      res.setHeader("X-Trace-Id", traceId);
      return ctx.scope.run({ traceId, log: ctx.log.child({ trace_id: traceId }) }, next);
    },
  });
  type Handler = (ctx: OrchestratorContext, req: NodeRequest, res: NodeResponse) => Promise<void>;
  const on = (fn: Handler) => (req: NodeRequest, res: NodeResponse) => fn(ctx, req, res);

  router
    .group({
      name: "byoc-registration",
      formatError: sendErrorText,
      onRequest: (req) => requireOperator(ctx, req),
      onError: logUnexpected(ctx, "BYOC route failed"),
    })
    .route("/capability/register", on(register), { methods: ["POST"] })
    .route("/capability/unregister", on(unregister), { methods: ["POST"] });

  const jobs = (req: NodeRequest, res: NodeResponse, m: { rest: string }) =>
    processRequest(ctx, req, res, m.rest);
  router
    .group({
      name: "byoc",
      formatError: sendErrorText,
      onError: logUnexpected(ctx, "BYOC route failed"),
    })
    .route("/process/token", on(processToken), { methods: ["GET"] })
    .route("/process/request", jobs, { methods: ["POST"] })
    .prefix("/process/request/", jobs, { methods: ["POST"] })
    .route("/ai/stream/start", on(streamStart))
    .route("/ai/stream/stop", on(streamStop))
    .route("/ai/stream/update", on(streamUpdate))
    .route("/ai/stream/payment", on(streamPayment));

  const own = router
    .group({
      name: "own",
      formatError: sendError,
      onError: logUnexpected(ctx, "route failed"),
    })
    .route("/live-video-to-video", on(liveVideoToVideo))
    .route("/payment", on(payment))
    .route("/capabilities", (req, res) =>
      sendJson(res, 200, capabilitiesJson(ctx.info, { includeContainers: isOperator(ctx, req) })),
    )
    .route("/metrics", (_req, res) => writeMetrics(ctx.metrics.registry, res))
    .route("/health", (_req, res) => sendJson(res, 200, { status: "ok" }));
  type PrefixHandler = (
    ctx: OrchestratorContext,
    req: NodeRequest,
    res: NodeResponse,
    rest: string,
  ) => Promise<void>;
  const under = (fn: PrefixHandler) => (req: NodeRequest, res: NodeResponse, m: { rest: string }) =>
    fn(ctx, req, res, m.rest);
  router
    .group({
      name: "live-runners",
      formatError: sendError,
      onError: logUnexpected(ctx, "live runner route failed"),
    })
    .route("/discovery", on(discovery), { methods: ["GET"] })
    .route("/runners/heartbeat", on(runnerHeartbeat), { methods: ["POST"] })
    .prefix("/runners/", under(runnersPath), { methods: ["POST"] })
    .prefix("/apps/", under(apps))
    .prefix("/runner/", under(runnerCallbacks), { methods: ["POST", "DELETE"] });
  for (const pipeline of NATIVE_BATCH_PIPELINES)
    own.route(`/${pipeline}`, (req, res) => nativeBatch(ctx, req, res, pipeline));
  return router;
}
