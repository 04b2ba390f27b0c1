/**
 * The gateway's user API, registered in one place over the context. Every group answers errors in
 * our JSON envelope `{"error":{"code","message"}}` (with the job's `X-Trace-Id` when it had one).
 *
 * | route | handler | group |
 * |---|---|---|
 * | `/dashboard`, `/dashboard/…` | dashboard/ | system |
 * | `GET /live`, `/live/page/…` | live-page/ (WHIP/WHEP in a browser) | system |
 * | `GET /metrics`, `GET /health` | here | system |
 * | `GET /getNetworkCapabilities` | network-capabilities.ts (go-livepeer's shape) | system |
 * | `GET /discovery` | the orchestrators' live runners (discovery/runners.ts); 404 unless `liveRunnerDiscoveryIntervalMs` | system |
 * | `/apps/{app}/session`, `…/session/{id}/app/…`, `…/session/{id}/stop`, `/apps/{app}/app/…` | live-runners.ts: sessions reserved (failover), paid and carried for the user; single-shot calls; WebSocket upgrades on the server's `upgrade` event | jobs |
 * | `/live/…`, `/process/stream/…` | live/ (its own routes) | live |
 * | `POST /process/request`, `/process/request/<route>` | byoc-jobs.ts | jobs |
 * | `POST /<ai pipeline>` | ai-batch.ts | jobs |
 * | `POST /<name>` (any other name) | byoc-jobs.ts | jobs |
 * | anything else | 404 `no route <METHOD> <path>; see GET /dashboard …` | jobs |
 *
 * The request target is parsed as a URL once (a malformed one is a 400 `BAD_URL`); its normalised
 * path (`/a/../b` is `/b`, an absolute-form target its path) is what routes.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadRequestError, httpStatusOf, TributaryError } from "../../node/errors.ts";
import { pathOf, Router } from "../../node/http/router.ts";
import { envelopeError, sendFormattedError, sendJson } from "../../node/http/send.ts";
import { writeMetrics } from "../../node/metrics.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { PIPELINE_CAPABILITY } from "../capabilities.ts";
import type { GatewayContext } from "../context.ts";
import { traceOfError } from "../jobs.ts";
import { createLivePage, LIVE_PAGE_ASSETS, LIVE_PAGE_PATH, liveModelsOf } from "../live-page/index.ts";
import { aiBatch } from "./ai-batch.ts";
import { answerUsePost, namedByocJob, processRequest } from "./byoc-jobs.ts";
import { runnerSession } from "./live-runners.ts";
import { answerNetworkCapabilities } from "./network-capabilities.ts";

/** Where the dashboard is mounted. */
const DASHBOARD = "/dashboard";
/** Paths that are never pipeline or BYOC names. */
const RESERVED = new Set([
  "health",
  "metrics",
  "dashboard",
  "process",
  "live",
  "favicon.ico",
  "getNetworkCapabilities",
  "discovery",
  "apps",
]);
/** A one-segment path: a pipeline or BYOC name. */
const NAME = /^\/([A-Za-z0-9][A-Za-z0-9._-]*)$/;

/** A gateway handler over the context (the gateway serves HTTP/1.1 only). */
type Handler = (ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string) => unknown;

/** The gateway's router over `ctx`. */
export function createRouter(ctx: GatewayContext): Router {
  const formatError = (res: NodeResponse, err: unknown, req: NodeRequest) => answerError(req, res, err);
  const router = new Router({
    formatError,
    around: (req, res, next) => {
      // Not new URL(target, base): a target such as "//" or "//host/x" reads as a host, and throws or reroutes.
      const target = req.url ?? "/";
      let path: string;
      let search: string;
      try {
        ({ pathname: path, search } = new URL(target.startsWith("/") ? `http://gateway${target}` : target));
      } catch {
        const err = new BadRequestError(`malformed request target ${JSON.stringify(target.slice(0, 100))}`, {
          code: "BAD_URL",
        });
        answerError(req, res, err);
        return Promise.resolve();
      }
      if (path !== pathOf(target)) req.url = path + search;
      return next();
    },
    onError: (err, req) => {
      if (httpStatusOf(err) >= 500)
        ctx.log.warn({ err, trace_id: traceOfError(err)?.traceId, path: req.url }, "request failed");
    },
  });
  const on =
    (fn: Handler) =>
    (req: NodeRequest, res: NodeResponse, match: { path: string }): unknown =>
      fn(ctx, req as IncomingMessage, res as ServerResponse, match.path);

  const livePage = createLivePage({ models: () => liveModelsOf(ctx.pool.snapshot().map((d) => d.info)) });
  const page = on((_ctx, req, res, path) => livePage.handle(req, res) || notFound(req, path));
  router
    .group({ name: "system" })
    .route(DASHBOARD, on(dashboard))
    .prefix(`${DASHBOARD}/`, on(dashboard))
    .route(LIVE_PAGE_PATH, page)
    .route(`${LIVE_PAGE_PATH}/`, page)
    .prefix(LIVE_PAGE_ASSETS, page)
    .route("/metrics", on(metrics))
    .route("/health", on(health))
    .route("/getNetworkCapabilities", on(networkCapabilities))
    .route("/discovery", on(runnerDiscovery));
  router
    .group({ name: "live" })
    .prefix(
      "/live/",
      on((ctx, req, res, path) => ctx.live.handle(req, res, path)),
    )
    .prefix(
      "/process/stream/",
      on((ctx, req, res, path) => ctx.live.handle(req, res, path)),
    );
  router
    .group({ name: "jobs" })
    .route(
      "/process/request",
      on((ctx, req, res) => processRequest(ctx, req, res, "")),
    )
    .prefix("/process/request/", (req, res, m) =>
      processRequest(ctx, req as IncomingMessage, res as ServerResponse, m.rest),
    )
    .prefix("/apps/", on(runnerSession))
    .prefix("/", on(named));
  return router;
}

/**
 * Answers an error in our envelope (with the job's trace id); the request body is drained, but not a
 * refused one's. An orchestrator's refusal travels as the structured `error.orchestrator`
 * (`{url, status, code?, message}`), a busy answer carries `Retry-After`.
 */
function answerError(req: NodeRequest, res: NodeResponse, err: unknown): void {
  const trace = traceOfError(err);
  const details = err instanceof TributaryError ? err.details : undefined;
  const headers: Record<string, string> = trace ? { "x-trace-id": trace.traceId } : {};
  if (typeof details?.retryAfterSeconds === "number")
    headers["retry-after"] = String(details.retryAfterSeconds);
  const format: typeof envelopeError = details?.orchestrator
    ? (e) => {
        const { status, body } = envelopeError(e);
        const envelope = body as { error: Record<string, unknown> };
        return { status, body: { error: { ...envelope.error, orchestrator: details.orchestrator } } };
      }
    : envelopeError;
  // A body refused as too large (often before any of it was read) is not drained: the
  // connection closes after the answer (sendJson adds `Connection: close` to a 413).
  sendFormattedError(res, err, format, headers);
  if (httpStatusOf(err) !== 413) req.resume();
}

function runnerDiscovery(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string): void {
  if (ctx.runners === undefined || (req.method !== "GET" && req.method !== "HEAD")) notFound(req, path);
  else sendJson(res, 200, ctx.runners.discovery());
}

function dashboard(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string): void {
  if (!ctx.dashboard.handle(req, res)) notFound(req, path);
}

function metrics(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string) {
  if (req.method !== "GET") notFound(req, path);
  return writeMetrics(ctx.metrics.registry, res);
}

function health(_ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string): void {
  if (req.method !== "GET") notFound(req, path);
  sendJson(res, 200, { status: "ok" });
}

/** `GET /getNetworkCapabilities`: the discovery pool's orchestrators in go-livepeer's JSON shape. */
async function networkCapabilities(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
) {
  if (req.method !== "GET") notFound(req, path);
  const snapshot = await ctx.pool.current(ctx.signal).catch(() => ctx.pool.snapshot());
  answerNetworkCapabilities(res, snapshot);
}

/** `POST /<name>`: a native AI pipeline, else a BYOC job; other paths are not found. */
function named(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string) {
  const name = NAME.exec(path)?.[1];
  if (name === undefined || RESERVED.has(name)) notFound(req, path);
  if (req.method !== "POST") return answerUsePost(res);
  if (Object.hasOwn(PIPELINE_CAPABILITY, name) && name !== "byoc" && name !== "live-video-to-video")
    return aiBatch(ctx, req, res, name);
  return namedByocJob(ctx, req, res, name);
}

function notFound(req: IncomingMessage, path: string): never {
  throw new TributaryError(
    "NOT_FOUND",
    `no route ${req.method} ${path}; see GET /dashboard for what the network offers`,
    { status: 404 },
  );
}
