/**
 * The session a request belongs to, and the session callbacks of the Live Runner API.
 *
 * The orchestrator's reverse proxy adds four headers to every request it forwards to a runner:
 * `Livepeer-Runner-Route` (the runner id or label), `Livepeer-Session-Id`, `Livepeer-Session-Token`
 * (the session's secret) and `Livepeer-Session-Control` (`{orchestrator}/runner/{route}/session/{sid}`,
 * the runner-facing base of the callbacks). With them a runner calls back, authorized by the token:
 *
 * - `POST {control}/channels` `{"channels":[{name, mime_type}]}` → trickle channels on the
 *   orchestrator's trickle server (at most 25 per session; idempotent per name): `url` for clients,
 *   `internal_url` for the runner;
 * - `DELETE {control}/channels` `{"channels":[name…]}`;
 * - `POST {control}/proxy` `{"target_url"?}` → `{proxy_id, url}`, a session-scoped public URL that
 *   reaches the runner (or a URL on the runner's host);
 * - `POST {control}/stop`: the runner ends its own session.
 *
 * Channel URLs, proxy URLs and the token are credentials: never log them.
 */
import { BadRequestError, TributaryError } from "../../node/errors.ts";
import type { SessionChannel } from "../../protocol/live-runners.ts";
import { answerMessage, type CallOptions, callOrchestrator } from "./http.ts";

/** The session headers, lower-cased as node gives them. */
export const SESSION_HEADERS = {
  route: "livepeer-runner-route",
  id: "livepeer-session-id",
  token: "livepeer-session-token",
  control: "livepeer-session-control",
} as const;

/** A trickle channel a runner asks for. */
export interface ChannelRequest {
  /** Letters, digits, `_` and `-` (at most 64). */
  name: string;
  /** Default `application/octet-stream`. */
  mime_type?: string;
}

export type { SessionChannel } from "../../protocol/live-runners.ts";

/** A session-scoped proxy URL. */
export interface SessionProxy {
  proxy_id: string;
  /** The public URL (a secret). */
  url: string;
}

/** A session callback answered with an error (its status is kept in `details`). */
export class SessionCallbackError extends TributaryError {
  constructor(what: string, status: number, message: string) {
    super("LIVE_RUNNER_CALLBACK_FAILED", `the orchestrator refused ${what} (${status}): ${message}`, {
      status: 502,
      details: { orchestratorStatus: status },
    });
  }
}

type HeaderBag = Record<string, string | string[] | undefined>;

function one(headers: HeaderBag, name: string): string {
  const v = headers[name];
  return (Array.isArray(v) ? (v[0] ?? "") : (v ?? "")).trim();
}

/** Options of the callbacks (TLS, timeout). */
export type SessionCallOptions = Pick<CallOptions, "timeoutMs" | "verifyTls" | "signal">;

/** One session of this runner, as the orchestrator's headers describe it. */
export class RunnerSession {
  readonly route: string;
  readonly id: string;
  readonly #token: string;
  readonly #control: string;
  readonly #opts: SessionCallOptions;

  constructor(
    fields: { route: string; id: string; token: string; control: string },
    options: SessionCallOptions = {},
  ) {
    this.route = fields.route;
    this.id = fields.id;
    this.#token = fields.token;
    this.#control = fields.control.replace(/\/+$/, "");
    this.#opts = options;
  }

  /**
   * The session of a proxied request, or undefined when the request did not come through an
   * orchestrator's session proxy (no `Livepeer-Session-Id`).
   * @throws BadRequestError when the id comes without its token or control URL.
   */
  static fromHeaders(headers: HeaderBag, options: SessionCallOptions = {}): RunnerSession | undefined {
    const id = one(headers, SESSION_HEADERS.id);
    if (id === "") return undefined;
    const token = one(headers, SESSION_HEADERS.token);
    const control = one(headers, SESSION_HEADERS.control);
    if (token === "" || control === "")
      throw new BadRequestError(
        "Livepeer-Session-Id comes without Livepeer-Session-Token or Livepeer-Session-Control; call the runner through its orchestrator",
      );
    return new RunnerSession({ route: one(headers, SESSION_HEADERS.route), id, token, control }, options);
  }

  async #call(what: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const answer = await callOrchestrator(`${this.#control}/${path}`, {
      ...this.#opts,
      method,
      headers: { "livepeer-session-token": this.#token },
      ...(body !== undefined ? { body } : {}),
    });
    if (answer.status < 200 || answer.status > 299)
      throw new SessionCallbackError(what, answer.status, answerMessage(answer.text));
    return answer.text === "" ? undefined : JSON.parse(answer.text);
  }

  /** Creates (or finds) trickle channels of this session on the orchestrator. */
  async createChannels(channels: ChannelRequest[]): Promise<SessionChannel[]> {
    const doc = (await this.#call("the trickle channels", "POST", "channels", { channels })) as {
      channels?: SessionChannel[];
    };
    return doc.channels ?? [];
  }

  /** Deletes trickle channels of this session by name. */
  async deleteChannels(names: string[]): Promise<void> {
    await this.#call("the channel deletion", "DELETE", "channels", { channels: names });
  }

  /** A session-scoped proxy URL to this runner (`targetUrl` omitted) or a URL on its host. */
  async createProxy(targetUrl?: string): Promise<SessionProxy> {
    return (await this.#call(
      "the proxy",
      "POST",
      "proxy",
      targetUrl ? { target_url: targetUrl } : {},
    )) as SessionProxy;
  }

  /** Ends this session on the orchestrator (its channels and proxies go with it). */
  async stop(): Promise<void> {
    await this.#call("the session stop", "POST", "stop");
  }
}
