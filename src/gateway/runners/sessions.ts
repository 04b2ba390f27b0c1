/**
 * Live runner sessions the gateway holds for its users, and their payments.
 *
 * {@link RunnerSessions.reserve} picks among the orchestrators' runners of an app (discovery/runners.ts:
 * the most free capacity first) and reserves on the first that accepts; a full runner (503), one
 * withdrawn since the last listing (404), a bad gateway (502) or an unreachable orchestrator fail over
 * to the next. A priced runner answers 402 with a challenge: the gateway pays it with its own payer
 * (runners/payer.ts: its key or its remote signer; src/payments/runner-payer.ts) — `upfrontSeconds`
 * of the price with the reservation (a `fixed` price once) — and then keeps paying `topUpEveryMs` at
 * the challenge's `payment_url` (else `{control_url}/payment`) while the session lives.
 *
 * The session gets the gateway's own id (random, 128 bits: an orchestrator cannot choose it), and the
 * user calls it at the gateway (routes/live-runners.ts), which proxies to the orchestrator's
 * `app_url`. The session ends — top-ups stop, `POST {control_url}/stop` at the orchestrator, its
 * proxied connections are cut — when the user stops it, when no call has been in flight for
 * `idleTimeoutMs`, when the orchestrator says it is gone (a top-up's 404) or refuses a top-up, and
 * when the gateway closes.
 *
 * {@link RunnerSessions.callOnce} serves single-shot runners: the call goes to the runner's `…/app`
 * URL with the request body (buffered, so it can be retried after the challenge and on another
 * orchestrator); a 402 is paid upfront (a `fixed` price once) and, for a metered price, topped up
 * while the answer streams, as upstream clients do.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { TributaryError } from "../../node/errors.ts";
import { httpsAgent } from "../../node/http/agents.ts";
import { forwardHeaders, relayAnswer } from "../../node/http/proxy.ts";
import type { Logger } from "../../node/logger.ts";
import {
  PAYER_ADDRESS_HEADER,
  parseRunnerChallenge,
  payChallenge,
  paymentTypeOfUnit,
  type RunnerChallenge,
  type RunnerPayer,
  RunnerTopUps,
} from "../../payments/runner-payer.ts";
import type { RunnerInfo } from "../../protocol/live-runners.ts";
import type { RunnerDirectory } from "../discovery/runners.ts";
import { type OrchestratorHttp, readText } from "../orch-http.ts";
import type { RunnerPayers } from "./payer.ts";

/** A session with no call in flight is stopped after this long, ms. */
export const DEFAULT_RUNNER_IDLE_TIMEOUT_MS = 60_000;
/** Top-up period of a paid session, ms (the orchestrator's default metering period). */
export const DEFAULT_RUNNER_TOP_UP_MS = 5_000;
/** Seconds of the price paid with a reservation. */
export const DEFAULT_RUNNER_UPFRONT_SECONDS = 10;
/** Most sessions the gateway holds at once (each may be paid for). */
export const DEFAULT_MAX_RUNNER_SESSIONS = 256;
/** Time allowed for an orchestrator's reservation or stop answer, ms. */
const CONTROL_TIMEOUT_MS = 10_000;
/** Time allowed for a stop answer while the gateway closes, ms. */
const CLOSE_STOP_TIMEOUT_MS = 2_000;

/** Headers a user cannot send on to a runner through the gateway: payment and session headers are the gateway's and the orchestrator's. */
export const GATEWAY_OWNED_HEADERS: ReadonlySet<string> = new Set([
  "livepeer-payment",
  "livepeer-segment",
  "livepeer-payer-address",
  "livepeer-runner-route",
  "livepeer-session-id",
  "livepeer-session-token",
  "livepeer-session-control",
]);

/** Options of {@link RunnerSessions}. */
export interface RunnerSessionsOptions {
  http: OrchestratorHttp;
  runners: RunnerDirectory;
  /** Undefined: the gateway pays nobody, priced runners are refused (402). */
  payers: RunnerPayers | undefined;
  log: Logger;
  idleTimeoutMs?: number;
  /** Most sessions held at once; default {@link DEFAULT_MAX_RUNNER_SESSIONS}. */
  maxSessions?: number;
  topUpEveryMs?: number;
  upfrontSeconds?: number;
  /** Time to the answer headers of a single-shot call, ms. */
  callTimeoutMs?: number;
}

/** Why a session ended. */
export type SessionEnd = "stopped" | "idle" | "released" | "refused" | "closed";

/** A session reserved for a user. */
export class GatewayRunnerSession {
  /** The gateway's id (the user's handle). */
  readonly id: string;
  /** The app as the user named it. */
  readonly app: string;
  readonly runner: RunnerInfo;
  /** The orchestrator's session id (the payment manifest of a paid session). */
  readonly orchestratorSessionId: string;
  /** The orchestrator's `app_url` and `control_url`. */
  readonly appUrl: string;
  readonly controlUrl: string;
  /** The top-up loop of a metered paid session. */
  readonly topUps: RunnerTopUps | undefined;
  /** Who paid it and for which manifest (told to forget it when the session ends). */
  readonly paidBy: { payer: RunnerPayer; manifestId: string } | undefined;
  /** Aborted when the session ended at the gateway (its proxied connections are cut). */
  readonly ended = new AbortController();
  /** Why it ended, once it did. */
  endedBy: SessionEnd | undefined;
  /** Calls and sockets in flight. */
  inFlight = 0;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    id: string,
    app: string,
    runner: RunnerInfo,
    answer: { session_id: string; app_url: string; control_url: string },
    topUps: RunnerTopUps | undefined,
    paidBy: { payer: RunnerPayer; manifestId: string } | undefined,
  ) {
    this.id = id;
    this.app = app;
    this.runner = runner;
    this.orchestratorSessionId = answer.session_id;
    this.appUrl = answer.app_url;
    this.controlUrl = answer.control_url;
    this.topUps = topUps;
    this.paidBy = paidBy;
  }
}

/** A reservation answer's three URLs and id. */
function sessionAnswer(text: string): { session_id: string; app_url: string; control_url: string } {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // checked below
  }
  const out: Record<string, string> = {};
  for (const k of ["session_id", "app_url", "control_url"]) {
    const v = body[k];
    if (typeof v !== "string" || v.trim() === "")
      throw new TributaryError(
        "BAD_ORCHESTRATOR_ANSWER",
        `the orchestrator's reservation answer has no ${k}`,
        {
          status: 502,
        },
      );
    out[k] = v.trim();
  }
  return out as { session_id: string; app_url: string; control_url: string };
}

/** The envelope code of an error answer's text, if any. */
function codeOf(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

/** A short, non-secret form of a session id for logs (the id is a bearer handle). */
export const logId = (id: string): string => `${id.slice(0, 8)}…`;

/** See the module documentation. */
export class RunnerSessions implements AsyncDisposable {
  readonly #o: RunnerSessionsOptions;
  readonly #sessions = new Map<string, GatewayRunnerSession>();
  /** Keep-alive connections to orchestrators for proxied calls (self-signed: not verified). */
  readonly agent = httpsAgent({ rejectUnauthorized: false });
  #closed = false;

  constructor(options: RunnerSessionsOptions) {
    this.#o = options;
  }

  /** Sessions alive now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** A live session by the gateway's id. */
  get(id: string): GatewayRunnerSession | undefined {
    return this.#sessions.get(id);
  }

  /**
   * The runners of `app` in `mode` with free capacity, the most free first; 404 `RUNNER_NOT_FOUND` when
   * none is listed, 503 `ORCHESTRATORS_BUSY` when all listed are full.
   */
  #candidates(app: string, mode: RunnerInfo["mode"]): RunnerInfo[] {
    const list = this.#o.runners.candidates(app).filter((r) => r.mode === mode);
    if (list.length > 0) return list;
    if (this.#o.runners.listed(app).some((r) => r.mode === mode))
      throw new TributaryError(
        "ORCHESTRATORS_BUSY",
        `every ${mode} live runner of ${app} is at capacity; retry later`,
        { status: 503, details: { retryAfterSeconds: 5 } },
      );
    throw new TributaryError(
      "RUNNER_NOT_FOUND",
      `no orchestrator lists a ${mode} live runner for ${app}; see GET /discovery`,
      { status: 404 },
    );
  }

  #payer(runner: RunnerInfo): RunnerPayer | undefined {
    return this.#o.payers?.(paymentTypeOfUnit(runner.priceInfo?.unit));
  }

  #noPayer(app: string): TributaryError {
    return new TributaryError(
      "PAYMENT_REQUIRED",
      `${app} is priced and this gateway pays no runner: start it on chain with a key or --remote-signer-url`,
      { status: 402 },
    );
  }

  /** Pays a challenge upfront: `upfrontSeconds` of a metered price, a fixed price once. */
  async #payUpfront(runner: RunnerInfo, challenge: RunnerChallenge): Promise<Record<string, string>> {
    const payer = this.#payer(runner);
    if (payer === undefined) throw this.#noPayer(runner.app);
    const fixed = paymentTypeOfUnit(runner.priceInfo?.unit) === "fixed";
    return payChallenge(
      payer,
      challenge,
      fixed ? 1 : (this.#o.upfrontSeconds ?? DEFAULT_RUNNER_UPFRONT_SECONDS),
    );
  }

  /** The top-ups of a metered paid session at `controlUrl`; none for a fixed price. */
  #topUps(runner: RunnerInfo, challenge: RunnerChallenge, controlUrl: string, onGone: () => void) {
    const payer = this.#payer(runner);
    if (payer === undefined || paymentTypeOfUnit(runner.priceInfo?.unit) === "fixed") return undefined;
    const everyMs = this.#o.topUpEveryMs ?? DEFAULT_RUNNER_TOP_UP_MS;
    return new RunnerTopUps({
      payer,
      challenge,
      controlUrl,
      everyMs,
      seconds: Math.ceil(everyMs / 1000),
      post: async (url, headers) => {
        const res = await this.#o.http.send(url, {
          method: "POST",
          headers,
          headersTimeoutMs: CONTROL_TIMEOUT_MS,
        });
        const chunks: Buffer[] = [];
        for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
        return { status: res.statusCode ?? 0, body: Buffer.concat(chunks) };
      },
      onGone,
    });
  }

  /**
   * Reserves a persistent session of `app` (its route or app name) on the first orchestrator that
   * accepts, paying a priced runner. Throws 404 `RUNNER_NOT_FOUND`, 402 `PAYMENT_REQUIRED` (priced,
   * and no payer) or 503 `ORCHESTRATORS_BUSY` (every one refused).
   */
  async reserve(app: string, signal?: AbortSignal): Promise<GatewayRunnerSession> {
    if (this.#closed) throw new TributaryError("GATEWAY_CLOSING", "the gateway is closing", { status: 503 });
    const max = this.#o.maxSessions ?? DEFAULT_MAX_RUNNER_SESSIONS;
    if (this.#sessions.size >= max)
      throw new TributaryError(
        "RUNNER_SESSIONS_FULL",
        `this gateway already holds ${max} live runner sessions (--max-live-runner-sessions); stop one or retry later`,
        { status: 503, details: { retryAfterSeconds: 5 } },
      );
    const candidates = this.#candidates(app, "persistent");
    const tried: string[] = [];
    for (const runner of candidates) {
      const payer = this.#payer(runner);
      const base: Record<string, string> = { accept: "application/json", "content-length": "0" };
      if (payer !== undefined) base[PAYER_ADDRESS_HEADER] = payer.address;
      const post = async (headers: Record<string, string>) => {
        const res = await this.#o.http.send(runner.url, {
          method: "POST",
          headers,
          headersTimeoutMs: CONTROL_TIMEOUT_MS,
          signal,
        });
        return { status: res.statusCode ?? 0, text: await readText(res, 64 * 1024) };
      };
      let answer: { status: number; text: string };
      let challenge: RunnerChallenge | undefined;
      try {
        answer = await post(base);
        if (answer.status === 402) {
          if (payer === undefined) throw this.#noPayer(app);
          challenge = parseRunnerChallenge(answer.text);
          answer = await post({ ...base, ...(await this.#payUpfront(runner, challenge)) });
        }
      } catch (err) {
        if (challenge !== undefined) payer?.end?.(challenge.manifestId);
        if (err instanceof TributaryError && err.status < 500 && err.code !== "ORCHESTRATOR_UNREACHABLE")
          throw err;
        tried.push(`${runner.orchestrator}: ${(err as Error).message}`);
        continue;
      }
      if (answer.status === 200) {
        try {
          return this.#open(app, runner, sessionAnswer(answer.text), challenge);
        } catch (err) {
          if (challenge !== undefined) payer?.end?.(challenge.manifestId);
          tried.push(`${runner.orchestrator}: ${(err as Error).message}`);
          continue;
        }
      }
      if (challenge !== undefined) payer?.end?.(challenge.manifestId);
      const code = codeOf(answer.text);
      tried.push(`${runner.orchestrator}: ${answer.status} ${code ?? ""}`.trim());
      if (answer.status !== 404 && answer.status !== 502 && answer.status !== 503)
        throw new TributaryError(
          "RUNNER_SESSION_REJECTED",
          `${runner.orchestrator} refused the ${app} session: ${answer.status} ${code ?? ""} ${answer.text.slice(0, 300)}`,
          { status: answer.status >= 400 && answer.status < 500 ? answer.status : 502 },
        );
    }
    throw new TributaryError(
      "ORCHESTRATORS_BUSY",
      `no orchestrator reserved a ${app} session (${tried.join("; ")}); retry later`,
      { status: 503, details: { retryAfterSeconds: 5 } },
    );
  }

  #open(
    app: string,
    runner: RunnerInfo,
    answer: { session_id: string; app_url: string; control_url: string },
    challenge: RunnerChallenge | undefined,
  ): GatewayRunnerSession {
    const id = randomBytes(16).toString("hex");
    let session: GatewayRunnerSession | undefined;
    const gone = () => {
      if (session !== undefined) void this.#end(session, "released", false);
    };
    const topUps = challenge && this.#topUps(runner, challenge, answer.control_url, gone);
    const payer = challenge && this.#payer(runner);
    const paidBy = challenge && payer ? { payer, manifestId: challenge.manifestId } : undefined;
    session = new GatewayRunnerSession(id, app, runner, answer, topUps, paidBy);
    this.#sessions.set(id, session);
    this.#armIdle(session);
    this.#o.log.info(
      {
        session: logId(id),
        orchestrator: runner.orchestrator,
        runner_route: runner.route,
        paid: challenge !== undefined,
      },
      "live runner session reserved",
    );
    return session;
  }

  #armIdle(s: GatewayRunnerSession): void {
    if (s.idleTimer !== undefined) clearTimeout(s.idleTimer);
    s.idleTimer = setTimeout(
      () => void this.#end(s, "idle", true),
      this.#o.idleTimeoutMs ?? DEFAULT_RUNNER_IDLE_TIMEOUT_MS,
    );
    s.idleTimer.unref();
  }

  /** A call (or socket) of `s` starts; the function returned says it ended. */
  begin(s: GatewayRunnerSession): () => void {
    s.inFlight++;
    if (s.idleTimer !== undefined) clearTimeout(s.idleTimer);
    s.idleTimer = undefined;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      s.inFlight--;
      if (s.inFlight === 0 && s.endedBy === undefined) this.#armIdle(s);
    };
  }

  /** Stops a session for its user: no more payments, released at the orchestrator. */
  stop(s: GatewayRunnerSession): Promise<void> {
    return this.#end(s, "stopped", true);
  }

  async #end(s: GatewayRunnerSession, why: SessionEnd, atOrchestrator: boolean): Promise<void> {
    if (s.endedBy !== undefined) return;
    s.endedBy = why;
    if (s.idleTimer !== undefined) clearTimeout(s.idleTimer);
    s.topUps?.stop();
    s.paidBy?.payer.end?.(s.paidBy.manifestId);
    this.#sessions.delete(s.id);
    s.ended.abort(new Error(`live runner session ${why}`));
    this.#o.log.info(
      {
        session: logId(s.id),
        orchestrator: s.runner.orchestrator,
        ended_by: why,
        top_ups: s.topUps?.accepted ?? 0,
      },
      "live runner session ended",
    );
    if (!atOrchestrator) return;
    try {
      const res = await this.#o.http.send(`${s.controlUrl}/stop`, {
        method: "POST",
        headers: { "content-length": "0" },
        // At close the gateway does not wait long on an orchestrator that does not answer.
        headersTimeoutMs: why === "closed" ? CLOSE_STOP_TIMEOUT_MS : CONTROL_TIMEOUT_MS,
      });
      res.resume();
    } catch (err) {
      this.#o.log.warn({ session: logId(s.id), err }, "live runner session stop at the orchestrator failed");
    }
  }

  /**
   * A single-shot call of `app` with `body`: on the first orchestrator that serves it, paid when
   * priced; the answer is streamed to `res`. Throws (before anything was written) 404
   * `RUNNER_NOT_FOUND`, 402 `PAYMENT_REQUIRED` or 503 `ORCHESTRATORS_BUSY`.
   */
  async callOnce(
    app: string,
    req: IncomingMessage,
    res: ServerResponse,
    appPath: string,
    body: Buffer,
    signal: AbortSignal,
  ): Promise<void> {
    const candidates = this.#candidates(app, "single-shot");
    const forwarded = forwardHeaders(req.headers, { drop: GATEWAY_OWNED_HEADERS });
    delete forwarded["content-length"];
    const tried: string[] = [];
    for (const runner of candidates) {
      const payer = this.#payer(runner);
      const base = { ...forwarded, ...(payer !== undefined && { [PAYER_ADDRESS_HEADER]: payer.address }) };
      const url = `${runner.url.replace(/\/+$/, "")}/${appPath.replace(/^\/+/, "")}`;
      const send = (headers: Record<string, string | string[]>) =>
        this.#o.http.send(url, {
          method: req.method ?? "GET",
          headers: { ...headers, "content-length": String(body.length) },
          body,
          headersTimeoutMs: this.#o.callTimeoutMs ?? 120_000,
          signal,
        });
      let answer: IncomingMessage;
      let topUps: RunnerTopUps | undefined;
      let paidFor: string | undefined;
      try {
        answer = await send(base);
        if (answer.statusCode === 402) {
          const challenge = parseRunnerChallenge(await readText(answer, 64 * 1024));
          paidFor = challenge.manifestId;
          answer = await send({ ...base, ...(await this.#payUpfront(runner, challenge)) });
          const orchestrator = runner.url.replace(/\/apps\/[^/]+\/app\/?$/, "");
          const control = `${orchestrator}/apps/${encodeURIComponent(runner.route)}/session/${encodeURIComponent(challenge.manifestId)}`;
          if ((answer.statusCode ?? 500) < 400) topUps = this.#topUps(runner, challenge, control, () => {});
        }
      } catch (err) {
        if (paidFor !== undefined) payer?.end?.(paidFor);
        if (err instanceof TributaryError && err.status < 500 && err.code !== "ORCHESTRATOR_UNREACHABLE")
          throw err;
        if (signal.aborted) throw err;
        tried.push(`${runner.orchestrator}: ${(err as Error).message}`);
        continue;
      }
      const status = answer.statusCode ?? 502;
      const forget = () => {
        topUps?.stop();
        if (paidFor !== undefined) payer?.end?.(paidFor);
      };
      if (status === 503 || status === 404) {
        const text = await readText(answer, 64 * 1024);
        const code = codeOf(text);
        forget();
        if (status === 503 || code === "RUNNER_NOT_FOUND" || code === "LIVE_RUNNERS_DISABLED") {
          tried.push(`${runner.orchestrator}: ${status} ${code ?? ""}`.trim());
          continue;
        }
        res.writeHead(status, { "content-type": answer.headers["content-type"] ?? "text/plain" });
        res.end(text);
        return;
      }
      try {
        await relayAnswer(answer, res);
      } finally {
        forget();
      }
      return;
    }
    throw new TributaryError(
      "ORCHESTRATORS_BUSY",
      `no orchestrator took the ${app} call (${tried.join("; ")}); retry later`,
      { status: 503, details: { retryAfterSeconds: 5 } },
    );
  }

  /** Ends every session (stopped at the orchestrators) and the connections. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#sessions.values()].map((s) => this.#end(s, "closed", true)));
    this.agent.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
