/**
 * Live runner sessions through the gateway (with `--live-runner-discovery`): `POST
 * /apps/{app}/session` picks among the orchestrators' runners of `app` (its route or app name; the
 * most free capacity first, discovery/runners.ts) and reserves on the first that accepts: a full
 * runner (503), one withdrawn since the last listing (404) or an unreachable orchestrator fails over
 * to the next. The answer is the orchestrator's own `{session_id, app_url, control_url}`: the client
 * then calls the app and stops the session there, as after a direct reservation.
 *
 * Offchain only: a priced runner's 402 challenge is answered 501 `NOT_IMPLEMENTED` (reserve on the
 * orchestrator with a payer: `tributary/client`'s RunnerClient). No single-shot calls through the
 * gateway yet.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { NotFoundError, TributaryError } from "../../node/errors.ts";
import { sendJson } from "../../node/http/send.ts";
import type { GatewayContext } from "../context.ts";
import { readText } from "../orch-http.ts";

/** Time allowed for an orchestrator's reservation answer, ms. */
const RESERVE_TIMEOUT_MS = 10_000;

/** `POST /apps/{app}/session`. */
export async function runnerSession(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const m = /^\/apps\/([^/]+)\/session$/.exec(path);
  if (ctx.runners === undefined || m === null || req.method !== "POST")
    throw new NotFoundError(
      `no route ${req.method} ${path}; live runner sessions are POST /apps/{app}/session`,
    );
  req.resume();
  let app: string;
  try {
    app = decodeURIComponent(m[1] as string);
  } catch {
    app = m[1] as string;
  }
  const candidates = ctx.runners.candidates(app).filter((r) => r.mode === "persistent");
  if (candidates.length === 0)
    throw new TributaryError(
      "RUNNER_NOT_FOUND",
      `no orchestrator lists a persistent live runner with free capacity for ${app}; see GET /discovery`,
      { status: 404 },
    );
  const tried: string[] = [];
  for (const runner of candidates) {
    let status: number;
    let text: string;
    try {
      const answer = await ctx.http.send(runner.url, {
        method: "POST",
        headers: { accept: "application/json", "content-length": "0" },
        headersTimeoutMs: RESERVE_TIMEOUT_MS,
        signal: ctx.signal,
      });
      status = answer.statusCode ?? 0;
      text = await readText(answer, 64 * 1024);
    } catch (err) {
      tried.push(`${runner.url}: ${(err as Error).message}`);
      continue;
    }
    if (status === 200) {
      ctx.log.info(
        { orchestrator: runner.orchestrator, runner_route: runner.route },
        "live runner session reserved",
      );
      sendJson(res, 200, JSON.parse(text));
      return;
    }
    if (status === 402)
      throw new TributaryError(
        "NOT_IMPLEMENTED",
        `${app} is priced: paid live runner sessions through the gateway are not implemented yet; reserve at ${runner.url} with a payer`,
        { status: 501 },
      );
    tried.push(`${runner.url}: ${status}`);
    if (status !== 404 && status !== 502 && status !== 503) break;
  }
  throw new TributaryError(
    "ORCHESTRATORS_BUSY",
    `no orchestrator reserved a ${app} session (${tried.join("; ")}); retry later`,
    { status: 503, details: { retryAfterSeconds: 5 } },
  );
}
