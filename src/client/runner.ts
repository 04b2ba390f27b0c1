/**
 * Live runner apps called directly on an orchestrator (go-livepeer's Live Runner API):
 *
 * | call | wire |
 * |---|---|
 * | {@link RunnerClient.discover} | `GET {orch}/discovery` → `[{address, runners: [{url, app, mode, capacity…, price_info?}]}]` |
 * | {@link RunnerClient.call} | single-shot: `ANY {orch}/apps/{id}/app/{path}` |
 * | {@link RunnerClient.reserve} | `POST {orch}/apps/{id}/session` → `{session_id, app_url, control_url}`; a priced runner first answers 402 with a challenge (runner-payer.ts), paid by a retry carrying `Livepeer-Payment` + `Livepeer-Segment` |
 * | {@link RunnerSession.fetch}, {@link RunnerSession.events}, {@link RunnerSession.websocket} | `ANY {app_url}/{path}` (HTTP, SSE, WebSocket upgrade) |
 * | top-ups | `POST {payment_url or control_url/payment}` every `topUpEveryMs` while the session lives; a 404 means the orchestrator released it |
 * | {@link RunnerSession.stop} | `POST {control_url}/stop` (204, also for a session already gone) |
 *
 * Orchestrators use self-signed certificates: TLS is not verified unless `verifyTls` is set.
 * Errors are {@link GatewayError}s carrying the orchestrator's error envelope code.
 */
import type { Readable } from "node:stream";
import { payChallenge, RunnerTopUps } from "../payments/runner-payer.ts";
import { parseDiscovery, type RunnerInfo } from "../protocol/live-runners.ts";
import { readBytes, readText, TrickleHttpClient, type TrickleResponse } from "../trickle/http-client.ts";
import { GatewayError, parseSse, type SseEvent } from "./job.ts";
import {
  asGatewayError,
  PAYER_ADDRESS_HEADER,
  parseRunnerChallenge,
  type RunnerChallenge,
  type RunnerPayer,
} from "./runner-payer.ts";
import { openRunnerSocket, type RunnerSocket } from "./runner-socket.ts";

export { parseDiscovery, type RunnerInfo } from "../protocol/live-runners.ts";

/** Options of a {@link RunnerClient}. */
export interface RunnerClientOptions {
  /** Pays priced runners; without it a priced runner's 402 becomes a `PAYMENT_REQUIRED` error. */
  payer?: RunnerPayer;
  /** Seconds of the runner's price paid with the reservation (default 10). */
  upfrontSeconds?: number;
  /** How often a paid session is topped up (default 5000 ms, the orchestrator's metering period). */
  topUpEveryMs?: number;
  /** Seconds paid by each top-up (default: `topUpEveryMs` rounded up to whole seconds). */
  topUpSeconds?: number;
  /** Verify the orchestrator's TLS certificate (default false: orchestrators are self-signed). */
  verifyTls?: boolean;
}

/** A request to a runner app. */
export interface RunnerRequest {
  method?: string;
  /** A JSON value sent as the body. */
  json?: unknown;
  /** A raw body (when `json` is undefined). */
  body?: Uint8Array | string;
  headers?: Record<string, string>;
}

/** A runner app's 2xx answer, its body unread. */
export interface RunnerAnswer {
  status: number;
  contentType: string;
  headers: Headers;
  readonly sse: boolean;
  body: Readable;
  json(): Promise<unknown>;
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
  events(): AsyncGenerator<SseEvent>;
}

const trimSlash = (s: string): string => s.replace(/\/+$/, "");
const joinPath = (base: string, path: string): string => {
  const q = path.indexOf("?");
  const p = q < 0 ? path : path.slice(0, q);
  return `${trimSlash(base)}/${p.replace(/^\/+/, "")}${q < 0 ? "" : path.slice(q)}`;
};

function answerOf(res: TrickleResponse): RunnerAnswer {
  const contentType = res.headers.get("content-type") ?? "";
  return {
    status: res.status,
    contentType,
    headers: res.headers,
    sse: contentType.toLowerCase().startsWith("text/event-stream"),
    body: res.body,
    json: async () => JSON.parse(await readText(res.body, 64 * 1024 * 1024)),
    text: () => readText(res.body, 64 * 1024 * 1024),
    bytes: () => readBytes(res.body),
    events: () => parseSse(res.body as AsyncIterable<Uint8Array>),
  };
}

/** A 4xx/5xx answer as a GatewayError with the envelope's code. */
async function errorOf(res: TrickleResponse, what: string): Promise<GatewayError> {
  const text = await readText(res.body).catch(() => "");
  let code = `HTTP_${res.status}`;
  let message = text.trim().slice(0, 500) || "no body";
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === "string") code = e.code;
    if (typeof e?.message === "string") message = e.message;
  } catch {
    // plain text
  }
  return new GatewayError(code, `${what}: ${res.status} ${code}: ${message}`, res.status);
}

/** Calls runner apps on orchestrators; {@link RunnerClient.close} ends its connections. */
export class RunnerClient implements AsyncDisposable {
  readonly #http: TrickleHttpClient;
  readonly #options: RunnerClientOptions;
  readonly #sessions = new Set<RunnerSession>();

  constructor(options: RunnerClientOptions = {}) {
    this.#options = options;
    this.#http = new TrickleHttpClient({ tls: { insecure: !(options.verifyTls ?? false) } });
  }

  /** One request; transport failures become `GATEWAY_UNREACHABLE` (status 0). */
  async request(
    url: string,
    req: RunnerRequest = {},
    extra: Record<string, string> = {},
  ): Promise<TrickleResponse> {
    const headers: Record<string, string> = { accept: "*/*", ...req.headers, ...extra };
    let body: Uint8Array | undefined;
    if (req.json !== undefined) {
      body = Buffer.from(JSON.stringify(req.json));
      headers["content-type"] ??= "application/json";
    } else if (req.body !== undefined) body = typeof req.body === "string" ? Buffer.from(req.body) : req.body;
    try {
      return await this.#http.request(url, { method: req.method ?? (body ? "POST" : "GET"), headers, body })
        .response;
    } catch (err) {
      throw new GatewayError(
        "GATEWAY_UNREACHABLE",
        `cannot reach ${new URL(url).origin} (${(err as Error).message}); is the orchestrator running?`,
        0,
        err,
      );
    }
  }

  /** The ready runners of an orchestrator (`GET /discovery`). */
  async discover(orchUrl: string): Promise<RunnerInfo[]> {
    const res = await this.request(`${trimSlash(orchUrl)}/discovery`, {
      headers: { accept: "application/json" },
    });
    if (res.status !== 200) throw await errorOf(res, "live runner discovery");
    return parseDiscovery(JSON.parse(await readText(res.body, 16 * 1024 * 1024)));
  }

  /**
   * The runners serving `app` (its route or app name) that `baseUrl`'s `/discovery` lists: an
   * orchestrator's, or a gateway's over all its orchestrators. Route matches first, then the most
   * free capacity first (unknown counts as free).
   */
  async candidates(baseUrl: string, app: string): Promise<RunnerInfo[]> {
    const runners = await this.discover(baseUrl);
    const free = (r: RunnerInfo) => r.capacityAvailable ?? Number.MAX_SAFE_INTEGER;
    const byRoute = runners.filter((r) => r.route === app);
    const list = byRoute.length > 0 ? byRoute : runners.filter((r) => r.app === app);
    if (list.length === 0)
      throw new GatewayError(
        "RUNNER_NOT_FOUND",
        `no ready live runner for ${app} at ${baseUrl} (discovery lists: ${runners.map((r) => `${r.app} as ${r.route}`).join(", ") || "none"})`,
        404,
      );
    return list.sort((a, b) => free(b) - free(a));
  }

  /** The best runner serving `app` at `baseUrl` ({@link RunnerClient.candidates}' first); 404 `RUNNER_NOT_FOUND` when none. */
  async find(baseUrl: string, app: string): Promise<RunnerInfo> {
    return (await this.candidates(baseUrl, app))[0] as RunnerInfo;
  }

  /**
   * Runs `fn` on each candidate in turn until one answers: a full runner (503), one withdrawn since
   * discovery (404), a bad gateway (502) or an unreachable orchestrator (status 0) fail over to the
   * next; any other error (a 402 without payer, a 4xx of the app) is thrown at once.
   */
  async failover<T>(
    candidates: readonly RunnerInfo[],
    fn: (r: RunnerInfo) => Promise<T>,
  ): Promise<{ runner: RunnerInfo; value: T }> {
    let last: unknown;
    for (const runner of candidates) {
      try {
        return { runner, value: await fn(runner) };
      } catch (err) {
        const status = err instanceof GatewayError ? err.httpStatus : -1;
        if (![0, 404, 502, 503].includes(status)) throw err;
        last = err;
      }
    }
    throw last ?? new GatewayError("RUNNER_NOT_FOUND", "no live runner candidates", 404);
  }

  /** Reserves a session of `app` on the first of `baseUrl`'s candidates that accepts one. */
  async reserveAny(baseUrl: string, app: string): Promise<RunnerSession> {
    const list = (await this.candidates(baseUrl, app)).filter((r) => r.mode === "persistent");
    if (list.length === 0)
      throw new GatewayError("RUNNER_NOT_FOUND", `${app} has only single-shot runners: use call`, 404);
    return (await this.failover(list, (r) => this.reserve(r.url))).value;
  }

  /**
   * A single-shot call: `{orch}/apps/{route}/app/{path}` (or `url` = a discovery `…/app` URL). A 402
   * is paid once with `upfrontSeconds` when a payer is set.
   */
  async call(url: string, path: string, req: RunnerRequest = {}): Promise<RunnerAnswer> {
    const target = joinPath(url, path);
    const payer = this.#options.payer;
    const extra: Record<string, string> = payer ? { [PAYER_ADDRESS_HEADER]: payer.address } : {};
    let res = await this.request(target, req, extra);
    if (res.status === 402 && payer !== undefined) {
      const challenge = parseRunnerChallenge(await readText(res.body));
      const paid = await this.#payUpfront(payer, challenge);
      res = await this.request(target, req, { ...extra, ...paid });
    }
    if (res.status >= 300) throw await errorOf(res, "live runner call");
    return answerOf(res);
  }

  /**
   * Reserves a persistent session of `app` at `orchUrl` (or at a discovery `…/session` URL when
   * `app` is omitted), paying it when the runner is priced.
   */
  async reserve(orchUrl: string, app?: string): Promise<RunnerSession> {
    const url =
      app === undefined
        ? trimSlash(orchUrl)
        : `${trimSlash(orchUrl)}/apps/${encodeURIComponent(app)}/session`;
    const payer = this.#options.payer;
    const extra: Record<string, string> = payer ? { [PAYER_ADDRESS_HEADER]: payer.address } : {};
    let res = await this.request(url, { method: "POST" }, extra);
    let challenge: RunnerChallenge | undefined;
    if (res.status === 402) {
      challenge = parseRunnerChallenge(await readText(res.body));
      if (payer === undefined)
        throw new GatewayError(
          "PAYMENT_REQUIRED",
          "this live runner is priced: give the client a payer (a local key or a remote signer)",
          402,
        );
      const paid = await this.#payUpfront(payer, challenge);
      res = await this.request(url, { method: "POST" }, { ...extra, ...paid });
    }
    if (res.status !== 200) throw await errorOf(res, "live runner reservation");
    const body = JSON.parse(await readText(res.body)) as Record<string, unknown>;
    const str = (k: string): string => {
      const v = body[k];
      if (typeof v !== "string" || v.trim() === "")
        throw new GatewayError("BAD_GATEWAY_ANSWER", `live runner reservation answer has no ${k}`, 502);
      return v.trim();
    };
    const session = new RunnerSession(this, str("session_id"), str("app_url"), str("control_url"), {
      challenge,
      payer,
      topUpEveryMs: this.#options.topUpEveryMs ?? 5000,
      topUpSeconds: this.#options.topUpSeconds ?? Math.ceil((this.#options.topUpEveryMs ?? 5000) / 1000),
      insecure: !(this.#options.verifyTls ?? false),
      forget: () => this.#sessions.delete(session),
    });
    this.#sessions.add(session);
    return session;
  }

  async #payUpfront(payer: RunnerPayer, challenge: RunnerChallenge): Promise<Record<string, string>> {
    try {
      return await payChallenge(payer, challenge, this.#options.upfrontSeconds ?? 10);
    } catch (err) {
      throw asGatewayError(err);
    }
  }

  /** Stops every session still open and closes the connections. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#sessions].map((s) => s.stop()));
    this.#http.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

interface SessionOptions {
  challenge: RunnerChallenge | undefined;
  payer: RunnerPayer | undefined;
  topUpEveryMs: number;
  topUpSeconds: number;
  insecure: boolean;
  forget: () => void;
}

/** A reserved persistent session; stop it (or `await using`) when done. */
export class RunnerSession implements AsyncDisposable {
  readonly id: string;
  readonly appUrl: string;
  readonly controlUrl: string;
  readonly #client: RunnerClient;
  readonly #options: SessionOptions;
  readonly #released = new AbortController();
  /** The top-up loop of a paid session (src/payments/runner-payer.ts). */
  readonly #payments: RunnerTopUps | undefined;

  constructor(client: RunnerClient, id: string, appUrl: string, controlUrl: string, options: SessionOptions) {
    this.#client = client;
    this.id = id;
    this.appUrl = appUrl;
    this.controlUrl = controlUrl;
    this.#options = options;
    const { challenge, payer } = options;
    if (challenge !== undefined && payer !== undefined)
      this.#payments = new RunnerTopUps({
        payer,
        challenge,
        controlUrl,
        everyMs: options.topUpEveryMs,
        seconds: options.topUpSeconds,
        post: async (url, headers) => {
          const res = await this.#client.request(url, { method: "POST" }, headers);
          return { status: res.status, body: await readBytes(res.body) };
        },
        onGone: () => this.#release(),
      });
  }

  /** Top-ups the orchestrator accepted. */
  get topUps(): number {
    return this.#payments?.accepted ?? 0;
  }

  /** The last top-up failure, if any (a 4xx other than 408/429 ends the top-ups). */
  get lastPaymentError(): Error | undefined {
    const err = this.#payments?.lastError;
    return err === undefined ? undefined : (asGatewayError(err) as Error);
  }

  /** True once stopped, or once the orchestrator said the session is gone (a top-up's 404). */
  get released(): boolean {
    return this.#released.signal.aborted;
  }

  /** Aborted when the session is released. */
  get signal(): AbortSignal {
    return this.#released.signal;
  }

  /** Pays one top-up now (the timer calls this); false when it was not accepted. */
  async topUp(): Promise<boolean> {
    if (this.released) return false;
    return (await this.#payments?.topUp()) ?? false;
  }

  /** A request to the app: `{app_url}/{path}`. */
  async fetch(path: string, req: RunnerRequest = {}): Promise<RunnerAnswer> {
    const res = await this.#client.request(joinPath(this.appUrl, path), req);
    if (res.status === 404) {
      const err = await errorOf(res, "live runner session call");
      if (err.code === "RUNNER_SESSION_NOT_FOUND") this.#release();
      throw err;
    }
    if (res.status >= 300) throw await errorOf(res, "live runner session call");
    return answerOf(res);
  }

  /** The Server-Sent Events of `path` (a GET with `Accept: text/event-stream` unless `req` says otherwise). */
  async *events(path: string, req: RunnerRequest = {}): AsyncGenerator<SseEvent> {
    const a = await this.fetch(path, { ...req, headers: { accept: "text/event-stream", ...req.headers } });
    yield* a.events();
  }

  /** A WebSocket to `{app_url}/{path}`. */
  websocket(path: string, headers: Record<string, string> = {}): Promise<RunnerSocket> {
    return openRunnerSocket(joinPath(this.appUrl, path), { headers, insecure: this.#options.insecure });
  }

  #stopPaying(): void {
    this.#payments?.stop();
  }

  #release(): void {
    this.#stopPaying();
    if (!this.released) this.#released.abort();
    this.#options.forget();
  }

  /** Stops paying and releases the session at the orchestrator (`POST {control_url}/stop`). */
  async stop(): Promise<void> {
    if (this.released) return;
    this.#stopPaying();
    try {
      const res = await this.#client.request(`${this.controlUrl}/stop`, { method: "POST" });
      if (res.status !== 204 && res.status !== 200 && res.status !== 404)
        throw await errorOf(res, "live runner session stop");
      res.discard();
    } finally {
      this.#release();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
