/**
 * The Live Runner API (go-livepeer `doc/live-runner.md`, HTTP reference), over `ctx.runners`
 * (runners/service.ts; undefined without `--use-live-runners` / `--live-runner-config`: every route
 * answers 404 `LIVE_RUNNERS_DISABLED`). Errors are our JSON envelope.
 *
 * | route | answers |
 * |---|---|
 * | `GET /discovery` | `[{address, runners: [{url, gpu?, app, version?, metadata?, mode, capacity, capacity_used, capacity_available}]}]`, ready runners only; `url` ends in `/session` (persistent) or `/app` (single-shot), never the runner's own URL |
 * | `POST /runners/heartbeat` | runners/heartbeat.ts: 200, 400, 401, 404 |
 * | `POST /runners/{id}/unregister` | 204, 400, 401, 404 |
 * | `POST /apps/{id}/session` | `{session_id, app_url, control_url}` (`app_url` a generated proxy URL for a runner with `proxy: true`); 400 a single-shot runner; 404 no ready runner; 503 `NO_CAPACITY`; 402 challenge on a paid node (runners/payments.ts) |
 * | `POST /apps/{id}/session/{sid}/stop` | 204 (also for a session already gone); 404 no runner |
 * | `POST /apps/{id}/session/{sid}/payment` | protobuf `PaymentResult`; 403 manifest ≠ session; 404 no session; 501 offchain |
 * | `ANY /apps/{id}/session/{sid}/app/{path…}` | the runner's answer (runners/proxy.ts); 404; 502 |
 * | `ANY /apps/{id}/app/{path…}` | single-shot: a session for this one request (HTTP or a WebSocket upgrade); 400 not single-shot; 402 challenge on a paid node; 503; 502 |
 * | `/runner/{id}/session/{sid}/channels`, `…/proxy`, `…/stop` | the runner callbacks: live-runner-callbacks.ts |
 * | `ANY {--live-runner-proxy-url}/{path…}` | the generated proxy's target (before the router, {@link tryGeneratedProxy}); for a single-shot runner with `proxy: true` the proxy id is its route and the call is its `/apps/{route}/app/{path…}` (discovery gives that URL) |
 *
 * Runner callbacks need `Livepeer-Session-Token` (401 otherwise). On a paid node sessions and
 * single-shot calls are paid (runners/payments.ts): a 402 challenge, then the call with
 * `Livepeer-Payment`/`Livepeer-Segment`, charged once (`fixed`) or metered while it runs; a
 * `fixed` session takes no top-up (409). A single-shot WebSocket upgrade is paid the same way, as
 * go-livepeer does (one handler for both): the 402 challenge is answered on the raw socket, the
 * upgrade with the payment headers is relayed and metered while the socket is open, and the first
 * period its credit cannot cover releases the call's session, which closes both sockets.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { create, toBinary } from "@bufbuild/protobuf";
import { BadRequestError, NotFoundError, TributaryError } from "../../node/errors.ts";
import { answerUpgrade, refuseUpgrade } from "../../node/http/proxy.ts";
import { pathOf } from "../../node/http/router.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { OrchestratorRequestSchema, PaymentResultSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { type OrchestratorContext, readJsonBody, requestLog } from "../context.ts";
import { header, sendError, sendJson } from "../http.ts";
import { buildOrchestratorInfo } from "../info.ts";
import { heartbeat, unregister } from "../runners/heartbeat.ts";
import {
  carriesPayment,
  discoveryPriceInfo,
  meterSession,
  PAYER_ADDRESS_HEADER,
  quoteRunnerPrice,
  runnerChallenge,
  takeRunnerPayment,
} from "../runners/payments.ts";
import { proxyHttp, proxyUpgrade, type SessionHeaders, targetUrl } from "../runners/proxy.ts";
import type { Runner, RunnerSession } from "../runners/registry.ts";
import {
  hostOf,
  noContent,
  queryOf,
  runnersOf,
  seg,
  sessionHeaders,
  underRunners,
} from "../runners/routing.ts";
import type { LiveRunners } from "../runners/service.ts";

/**
 * `GET /discovery`. On a paid node each price is quoted now (wei per charged unit, USD through the
 * price feed); a runner whose price cannot be quoted (stale feed) is left out and logged.
 */
export async function discovery(
  ctx: OrchestratorContext,
  _req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const runners = runnersOf(ctx);
  const base = runners.serviceUri;
  const list = [];
  for (const { route, price, ...r } of runners.registry.discovery()) {
    let priceInfo: ReturnType<typeof discoveryPriceInfo> | undefined;
    if (price !== undefined && ctx.gate !== undefined) {
      try {
        priceInfo = discoveryPriceInfo(await quoteRunnerPrice(price, runners.options.priceFeed));
      } catch (err) {
        requestLog(ctx).warn(
          { err, runner: route },
          "live runner left out of discovery: its price cannot be quoted",
        );
        continue;
      }
    }
    list.push({
      url: proxiedSingleShot(runners, route)
        ? (runners.template?.url(encodeURIComponent(route)) ?? "")
        : `${base}/apps/${encodeURIComponent(route)}/${r.mode === "single-shot" ? "app" : "session"}`,
      ...r,
      ...(priceInfo !== undefined ? { price_info: priceInfo } : {}),
    });
  }
  sendJson(res, 200, [{ address: base, runners: list }]);
}

/** `POST /runners/heartbeat`. */
export async function runnerHeartbeat(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const runners = runnersOf(ctx);
  const body = await readJsonBody(ctx, req);
  const answer = heartbeat(
    {
      registry: runners.registry,
      secret: runners.secret,
      paid: runners.paid,
      runnerFacingUrl: () => runners.runnerFacingUrl(),
      openO2r: (r) => runners.openO2r(r),
    },
    body,
    header(req.headers, "authorization"),
  );
  sendJson(res, 200, answer);
}

/** `POST /runners/{id}/unregister`. */
export const runnersPath = underRunners(async ({ runners, rest, parts }, req, res) => {
  if (parts.length !== 2 || parts[1] !== "unregister" || req.method !== "POST")
    throw new NotFoundError(`no route ${req.method} /runners/${rest}`);
  unregister(runners.registry, seg(parts[0]), header(req.headers, "authorization"));
  noContent(res);
});

/** Everything under `/apps/`. */
export const apps = underRunners(async ({ ctx, runners, rest, parts }, req, res) => {
  const { registry } = runners;
  const route = seg(parts[0]);
  const method = req.method ?? "GET";
  const notFound = (): never => {
    throw new NotFoundError(`no route ${method} /apps/${rest}`);
  };
  if (parts[1] === "session" && parts.length === 2) {
    if (method !== "POST") notFound();
    if (registry.ready(route).advert.mode === "single-shot")
      throw new BadRequestError("only persistent runners have sessions: call /apps/{id}/app/… instead");
    const reserved = await reserveSession(ctx, runners, req, route);
    if (reserved.challenge !== undefined) return sendJson(res, 402, reserved.challenge);
    const { runner, session } = reserved;
    requestLog(ctx).info({ runner_id: runner.id, session_id: session.id }, "live runner session reserved");
    const base = `${runners.serviceUri}/apps/${encodeURIComponent(runner.route)}/session/${session.id}`;
    // `proxy: true`: the session's app URL is a generated proxy to the runner's URL.
    const proxied = runner.advert.proxy
      ? runners.template?.url(registry.addProxy(session, runner.advert.runnerUrl))
      : undefined;
    return sendJson(res, 200, {
      session_id: session.id,
      app_url: proxied ?? `${base}/app`,
      control_url: base,
    });
  }
  if (parts[1] === "session" && parts.length >= 4) {
    const sid = seg(parts[2]);
    if (parts[3] === "stop" && parts.length === 4 && method === "POST") {
      const runner = registry.ready(route);
      registry.release(runner, sid);
      noContent(res);
      return;
    }
    if (parts[3] === "payment" && parts.length === 4 && method === "POST") {
      const { runner } = registry.session(route, sid);
      const gate = ctx.gate;
      if (gate === undefined)
        throw new TributaryError(
          "NOT_IMPLEMENTED",
          "this orchestrator is offchain: live runner sessions are free",
          {
            status: 501,
          },
        );
      if (runner.advert.price?.unit === "fixed")
        throw new TributaryError(
          "FIXED_PRICE_SESSION",
          "this session has a fixed price, paid when it was reserved: it takes no top-ups",
          { status: 409 },
        );
      const { sender, paymentValue } = await takeRunnerPayment(ctx, req, sid);
      req.resume();
      await gate.receive(paymentValue, sid);
      const info = await buildOrchestratorInfo(
        ctx.info,
        create(OrchestratorRequestSchema, { address: Buffer.from(sender.slice(2), "hex") }),
      );
      (res as ServerResponse).writeHead(200, { "Content-Type": "application/octet-stream" });
      res.end(toBinary(PaymentResultSchema, create(PaymentResultSchema, { info })));
      return;
    }
    if (parts[3] === "app") {
      const { runner, session } = registry.session(route, sid);
      const target = targetUrl(runner.advert.runnerUrl, parts.slice(4).join("/"), queryOf(req.url));
      return proxyHttp(req, res, target, sessionHeaders(runners, runner, session, ctx), session.ended.signal);
    }
    notFound();
  }
  if (parts[1] === "app") {
    const runner = registry.ready(route);
    if (runner.advert.mode !== "single-shot") throw new BadRequestError("runner is not single-shot");
    // Paid like a session: the 402 challenge, then this call with the payment (runners/payments.ts).
    const reserved = await reserveSession(ctx, runners, req, route);
    if (reserved.challenge !== undefined) return sendJson(res, 402, reserved.challenge);
    const { session } = reserved;
    res.on("close", () => registry.release(runner, session.id));
    const target = targetUrl(runner.advert.runnerUrl, parts.slice(2).join("/"), queryOf(req.url));
    return proxyHttp(req, res, target, sessionHeaders(runners, runner, session, ctx), session.ended.signal);
  }
  notFound();
});

/** The 402 answer of a paid reservation without payment: go-livepeer's challenge plus the top-up URL. */
type RunnerChallengeAnswer = Awaited<ReturnType<typeof runnerChallenge>> & { payment_url: string };

/** A reservation: the session, or on a paid node without payment the challenge to answer with 402. */
type Reservation =
  | { runner: Runner; session: RunnerSession; challenge?: undefined }
  | { runner: Runner; session?: undefined; challenge: RunnerChallengeAnswer };

/**
 * Reserves a session (persistent, or a single-shot call's, HTTP or WebSocket): free offchain or for
 * an unpriced runner; on a paid node a priced runner first gets the 402 challenge (returned, for the
 * caller to answer), then takes the payment and charges the session (runners/payments.ts).
 */
async function reserveSession(
  ctx: OrchestratorContext,
  runners: LiveRunners,
  req: NodeRequest,
  route: string,
): Promise<Reservation> {
  const { registry } = runners;
  const gate = ctx.gate;
  const runner = registry.ready(route);
  const price = runner.advert.price;
  if (gate === undefined || price === undefined) return registry.reserve(route);
  const quoted = await quoteRunnerPrice(price, runners.options.priceFeed);
  if (!carriesPayment(req)) {
    const challenge = await runnerChallenge(ctx, header(req.headers, PAYER_ADDRESS_HEADER), quoted);
    // go-livepeer names the top-up endpoint too (livepeer-gateway's client requires it).
    const paymentUrl = `${runners.serviceUri}/apps/${encodeURIComponent(runner.route)}/session/${challenge.manifest_id}/payment`;
    return { runner, challenge: { ...challenge, payment_url: paymentUrl } };
  }
  const { sender, manifestId, paymentValue } = await takeRunnerPayment(ctx, req);
  const reserved = registry.reserve(route, manifestId);
  try {
    await gate.receive(paymentValue, manifestId);
    meterSession(
      gate,
      registry,
      reserved.runner,
      reserved.session,
      { sender, manifestId, price: quoted },
      ctx.settings.livePaymentIntervalMs,
      requestLog(ctx),
    );
  } catch (err) {
    registry.release(reserved.runner, manifestId);
    throw err;
  }
  return reserved;
}

/**
 * A single-shot runner registered with `proxy: true`: discovery gives the proxy URL of its route, which
 * serves as its `/apps/{route}/app` (go-livepeer's runner-level proxy).
 */
function proxiedSingleShot(runners: LiveRunners, route: string): boolean {
  const r = runners.registry.get(route);
  return r !== undefined && !r.removed && r.advert.proxy && r.advert.mode === "single-shot";
}

/** Serves a generated proxy URL; false when the request is not one (the router takes it then). */
export function tryGeneratedProxy(ctx: OrchestratorContext, req: NodeRequest, res: NodeResponse): boolean {
  const runners = ctx.runners;
  if (runners === undefined) return false;
  const m = runners.template?.match(hostOf(req), pathOf(req.url));
  if (m === undefined) return false;
  const found = runners.registry.findProxy(m.id);
  const run = async (): Promise<void> => {
    if (found === undefined && proxiedSingleShot(runners, m.id))
      return apps(ctx, req, res, `${encodeURIComponent(m.id)}/app/${m.appPath}`);
    if (found === undefined) throw new NotFoundError("live runner proxy not found");
    const { runner, session, target } = found;
    await proxyHttp(
      req,
      res,
      targetUrl(target, m.appPath, queryOf(req.url)),
      sessionHeaders(runners, runner, session),
      session.ended.signal,
    );
  };
  run().catch((err: unknown) => {
    if (res.headersSent) (res as { destroy?: () => void }).destroy?.();
    else sendError(res, err);
  });
  return true;
}

interface UpgradeTarget {
  target: URL;
  headers: SessionHeaders;
  ended: AbortSignal;
  done?: () => void;
  /** A paid single-shot upgrade without payment: answer 402 with this instead. */
  challenge?: undefined;
}

/**
 * Where an upgrade request goes, or the 402 challenge of a paid single-shot one; throws
 * 404/400/402/403/503 as the HTTP routes do.
 */
async function upgradeTarget(
  ctx: OrchestratorContext,
  runners: LiveRunners,
  req: IncomingMessage,
): Promise<UpgradeTarget | { challenge: RunnerChallengeAnswer }> {
  const { registry } = runners;
  const path = pathOf(req.url);
  const query = queryOf(req.url);
  const m = runners.template?.match(hostOf(req), path);
  let parts = path.startsWith("/apps/") ? path.slice("/apps/".length).split("/") : [];
  if (m !== undefined) {
    const found = registry.findProxy(m.id);
    if (found !== undefined)
      return {
        target: targetUrl(found.target, m.appPath, query),
        headers: sessionHeaders(runners, found.runner, found.session),
        ended: found.session.ended.signal,
      };
    if (!proxiedSingleShot(runners, m.id)) throw new NotFoundError("live runner proxy not found");
    parts = [encodeURIComponent(m.id), "app", ...m.appPath.split("/")];
  }
  const route = seg(parts[0]);
  if (parts[1] === "session" && parts[3] === "app") {
    const { runner, session } = registry.session(route, seg(parts[2]));
    return {
      target: targetUrl(runner.advert.runnerUrl, parts.slice(4).join("/"), query),
      headers: sessionHeaders(runners, runner, session),
      ended: session.ended.signal,
    };
  }
  if (parts[1] === "app") {
    const runner = registry.ready(route);
    if (runner.advert.mode !== "single-shot") throw new BadRequestError("runner is not single-shot");
    const reserved = await reserveSession(ctx, runners, req, route);
    if (reserved.challenge !== undefined) return { challenge: reserved.challenge };
    const { session } = reserved;
    return {
      target: targetUrl(runner.advert.runnerUrl, parts.slice(2).join("/"), query),
      headers: sessionHeaders(runners, runner, session),
      ended: session.ended.signal,
      done: () => registry.release(runner, session.id),
    };
  }
  throw new NotFoundError(`no route ${req.method} ${path}`);
}

/** The service port's `upgrade` listener: WebSocket (HTTP/1.1) through the same routes. */
export function liveRunnerUpgrade(
  ctx: OrchestratorContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  const runners = ctx.runners;
  if (runners === undefined) {
    refuseUpgrade(socket, 404, "NOT_FOUND", "no upgrade here");
    return;
  }
  socket.on("error", () => {}); // a client gone while the target is looked up
  upgradeTarget(ctx, runners, req).then(
    (t) => {
      if (socket.destroyed) return t.challenge === undefined ? t.done?.() : undefined;
      if (t.challenge !== undefined) return answerUpgrade(socket, 402, t.challenge);
      proxyUpgrade(req, socket, head, t.target, t.headers, t.ended, t.done);
    },
    (err: unknown) => {
      const e = err instanceof TributaryError ? err : undefined;
      refuseUpgrade(socket, e?.status ?? 500, e?.code ?? "INTERNAL", e?.message ?? "internal error");
    },
  );
}
