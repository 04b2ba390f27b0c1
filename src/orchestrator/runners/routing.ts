/**
 * Small steps the live runner route modules share (routes/live-runners.ts, routes/live-runner-callbacks.ts):
 * the node's live runners or 404, path segments and queries, the session headers of a proxied
 * request, a 204.
 */
import type { ServerResponse } from "node:http";
import { BadRequestError, NotFoundError } from "../../node/errors.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { decodePathSegment } from "../../protocol/uri.ts";
import type { OrchestratorContext } from "../context.ts";
import type { SessionHeaders } from "./proxy.ts";
import type { Runner, RunnerSession } from "./registry.ts";
import type { LiveRunners } from "./service.ts";

/** Answers 204 without a body. */
export function noContent(res: NodeResponse): void {
  (res as ServerResponse).writeHead(204);
  res.end();
}

/** The live runners of the node, or 404 `LIVE_RUNNERS_DISABLED`. */
export function runnersOf(ctx: OrchestratorContext): LiveRunners {
  if (ctx.runners === undefined)
    throw new NotFoundError(
      "live runners are not supported: start the orchestrator with --use-live-runners",
      {
        code: "LIVE_RUNNERS_DISABLED",
      },
    );
  return ctx.runners;
}

/** A request under a live runner prefix (`/runners/`, `/apps/`, `/runner/`): the node, its live runners and the path after the prefix. */
export interface RunnerPath {
  ctx: OrchestratorContext;
  runners: LiveRunners;
  /** The path after the prefix, and it split at `/`. */
  rest: string;
  parts: string[];
}

/**
 * A prefix handler `(ctx, req, res, rest)` over `fn`, which is given the {@link RunnerPath} (404
 * `LIVE_RUNNERS_DISABLED` without live runners).
 */
export function underRunners(
  fn: (at: RunnerPath, req: NodeRequest, res: NodeResponse) => Promise<void>,
): (ctx: OrchestratorContext, req: NodeRequest, res: NodeResponse, rest: string) => Promise<void> {
  return async (ctx, req, res, rest) =>
    fn({ ctx, runners: runnersOf(ctx), rest, parts: rest.split("/") }, req, res);
}

/** A decoded path segment (400 when its escapes are bad). */
export const seg = (s: string | undefined): string => {
  const decoded = decodePathSegment(s ?? "");
  if (decoded === undefined) throw new BadRequestError("bad path segment");
  return decoded;
};

/** The query string of a request URL, with its `?` ("" when none). */
export const queryOf = (url: string | undefined): string => {
  const q = (url ?? "").indexOf("?");
  return q === -1 ? "" : (url ?? "").slice(q);
};

/** The four session headers (and the trace id) of a proxied request. */
export function sessionHeaders(
  runners: LiveRunners,
  runner: Runner,
  session: RunnerSession,
  ctx?: OrchestratorContext,
): SessionHeaders {
  const traceId = ctx?.scope.getStore()?.traceId;
  return {
    route: runner.route,
    sessionId: session.id,
    token: runners.registry.sessionToken(runner, session.id),
    control: runners.sessionControl(runner, session.id),
    ...(traceId !== undefined ? { traceId } : {}),
  };
}

/** The request's host: HTTP/2 `:authority`, else `Host`. */
export const hostOf = (req: NodeRequest): string =>
  String(req.headers[":authority"] ?? req.headers.host ?? "");
