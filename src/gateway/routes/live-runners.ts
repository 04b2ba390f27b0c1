/**
 * Live runner apps through the gateway (with `--live-runner-discovery`), for users who hold no key:
 * the gateway reserves, pays (its key or remote signer) and carries the traffic (runners/sessions.ts).
 *
 * | route | answers |
 * |---|---|
 * | `POST /apps/{app}/session` | `{session_id, app_url, control_url}`, all the gateway's: a session reserved on the first orchestrator that accepts (failover), paid when priced; 404 `RUNNER_NOT_FOUND`, 402 `PAYMENT_REQUIRED` (priced, gateway offchain), 503 `ORCHESTRATORS_BUSY` |
 * | `ANY /apps/{app}/session/{sid}/app/{path}` | the runner's answer, proxied to the orchestrator's `app_url` (method, query, headers, streamed body and answer, SSE; WebSocket upgrades on the `upgrade` event: {@link runnerUpgrade}); 404 `RUNNER_SESSION_NOT_FOUND` for an id the gateway does not hold |
 * | `POST /apps/{app}/session/{sid}/stop` | 204: the gateway stops paying and stops the session at the orchestrator; 404 `RUNNER_SESSION_NOT_FOUND` |
 * | `ANY /apps/{app}/app/{path}` | single-shot: the call on the first orchestrator that serves it, paid when priced |
 *
 * Payment and session headers a user sends (`Livepeer-Payment`, `Livepeer-Session-*`, …) are not
 * passed on: they are the gateway's and the orchestrator's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { NotFoundError, TributaryError } from "../../node/errors.ts";
import { proxyRequest, proxyUpgrade, refuseUpgrade } from "../../node/http/proxy.ts";
import { pathOf } from "../../node/http/router.ts";
import { sendJson } from "../../node/http/send.ts";
import { decodePathSegment } from "../../protocol/uri.ts";
import { clientGone, type GatewayContext } from "../context.ts";
import { OrchestratorTransportError } from "../orch-http.ts";
import { MAX_REQUEST_BODY_BYTES, readBody } from "../read-body.ts";
import {
  GATEWAY_OWNED_HEADERS,
  type GatewayRunnerSession,
  type RunnerSessions,
} from "../runners/sessions.ts";

/** Public base URL of the gateway as the user reached it. */
function baseOf(ctx: GatewayContext, req: IncomingMessage): string {
  return ctx.publicUrl?.() || `http://${req.headers.host ?? "127.0.0.1"}`;
}

/** A path segment decoded, or as written when its escapes are malformed (it then names nothing). */
function decode(segment: string): string {
  return decodePathSegment(segment) ?? segment;
}

/** The query string of a request target (with its `?`), or "". */
function queryOf(url: string | undefined): string {
  const q = (url ?? "").indexOf("?");
  return q < 0 ? "" : (url ?? "").slice(q);
}

/** The session `sid` of `app`; 404 `RUNNER_SESSION_NOT_FOUND` when the gateway holds none. */
function sessionOf(sessions: RunnerSessions, app: string, sid: string): GatewayRunnerSession {
  const s = sessions.get(sid);
  if (s === undefined || s.app !== app)
    throw new TributaryError(
      "RUNNER_SESSION_NOT_FOUND",
      `this gateway holds no live runner session ${sid.slice(0, 8)}… of ${app} (stopped, idle, released or never reserved); reserve one with POST /apps/${encodeURIComponent(app)}/session`,
      { status: 404 },
    );
  return s;
}

/** The orchestrator URL of `{app_url}/{appPath}` with the user's query. */
function targetOf(s: GatewayRunnerSession, appPath: string, query: string): URL {
  return new URL(`${s.appUrl.replace(/\/+$/, "")}/${appPath}${query}`);
}

/** Everything under `/apps/`. */
export async function runnerSession(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const sessions = ctx.runnerSessions;
  const method = req.method ?? "GET";
  const parts = path.slice("/apps/".length).split("/");
  const notFound = (): never => {
    throw new NotFoundError(
      `no route ${method} ${path}; live runners are POST /apps/{app}/session, /apps/{app}/session/{id}/app/…, POST /apps/{app}/session/{id}/stop and /apps/{app}/app/…`,
    );
  };
  if (sessions === undefined || parts.length < 2 || parts[0] === "") notFound();
  const runners = sessions as RunnerSessions;
  const app = decode(parts[0] as string);
  const kind = parts[1];

  if (kind === "session" && parts.length === 2) {
    if (method !== "POST") notFound();
    req.resume();
    const s = await runners.reserve(app, clientGone(res));
    const control = `${baseOf(ctx, req)}/apps/${encodeURIComponent(app)}/session/${s.id}`;
    sendJson(res, 200, { session_id: s.id, app_url: `${control}/app`, control_url: control });
    return;
  }
  if (kind === "session" && parts.length >= 4) {
    const s = sessionOf(runners, app, decode(parts[2] as string));
    if (parts[3] === "stop" && parts.length === 4) {
      if (method !== "POST") notFound();
      req.resume();
      await runners.stop(s);
      res.writeHead(204).end();
      return;
    }
    if (parts[3] !== "app") notFound();
    const done = runners.begin(s);
    try {
      await proxyRequest(
        req,
        res,
        targetOf(s, parts.slice(4).join("/"), queryOf(req.url)),
        { drop: GATEWAY_OWNED_HEADERS, ended: s.ended.signal, agent: runners.agent },
        (err) => new OrchestratorTransportError(s.runner.orchestrator, err.message, err),
      );
    } finally {
      done();
    }
    return;
  }
  if (kind === "app") {
    const gone = clientGone(res);
    const body = await readBody(req, MAX_REQUEST_BODY_BYTES);
    await runners.callOnce(app, req, res, `${parts.slice(2).join("/")}${queryOf(req.url)}`, body, gone);
    return;
  }
  notFound();
}

/**
 * The gateway's `upgrade` listener: a WebSocket to `/apps/{app}/session/{sid}/app/{path}` is relayed
 * to the orchestrator's `app_url` (the session counts as busy while it is open); anything else is
 * refused with our JSON envelope.
 */
export function runnerUpgrade(ctx: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const sessions = ctx.runnerSessions;
  const parts = pathOf(req.url).split("/");
  // ["", "apps", app, "session", sid, "app", …]
  if (sessions === undefined || parts[1] !== "apps" || parts[3] !== "session" || parts[5] !== "app") {
    refuseUpgrade(
      socket,
      404,
      "NOT_FOUND",
      "no upgrade here; WebSockets go to /apps/{app}/session/{id}/app/…",
    );
    return;
  }
  let s: GatewayRunnerSession;
  try {
    s = sessionOf(sessions, decode(parts[2] ?? ""), decode(parts[4] ?? ""));
  } catch (err) {
    const e = err as TributaryError;
    refuseUpgrade(socket, e.status, e.code, e.message);
    return;
  }
  const done = sessions.begin(s);
  proxyUpgrade(
    req,
    socket,
    head,
    targetOf(s, parts.slice(6).join("/"), queryOf(req.url)),
    { drop: GATEWAY_OWNED_HEADERS, ended: s.ended.signal, agent: sessions.agent },
    {
      status: 502,
      code: "ORCHESTRATOR_UNREACHABLE",
      message: `orchestrator ${s.runner.orchestrator} unreachable`,
    },
    done,
  );
}
