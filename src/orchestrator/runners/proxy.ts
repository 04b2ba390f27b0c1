/**
 * The reverse proxy in front of live runners and the generated proxy URLs.
 *
 * {@link proxyHttp} forwards one request (HTTP/1.1 or HTTP/2 from the client; HTTP/1.1 to the runner):
 * method, the query string, the headers (minus hop-by-hop ones and HTTP/2 pseudo-headers; `Host` is
 * the runner's), the body streamed as it arrives, and the answer streamed back as the runner writes it
 * (headers flushed at once, so SSE events pass one by one), with the four session headers added:
 * `Livepeer-Runner-Route`, `Livepeer-Session-Id`, `Livepeer-Session-Token`, `Livepeer-Session-Control`
 * (any client-sent values are replaced). {@link proxyUpgrade} relays an HTTP/1.1 `Upgrade`
 * (WebSocket) on the service port's `upgrade` event: the runner's 101 and both byte streams. HTTP/2 has
 * no upgrade (RFC 8441 extended CONNECT is not supported): WebSocket clients use HTTP/1.1, as they do
 * by default. A runner that cannot be reached answers 502 `CONTAINER_UNAVAILABLE`; a connection cut
 * after the answer started is cut on the other side too. A session's connections end when it is
 * released (its `ended` signal). Both are the generic hop of node/http/proxy.ts with the session's
 * headers, its `ended` signal and Nagle off on the client's HTTP/1.1 connection.
 *
 * Generated proxy URLs follow `--live-runner-proxy-url` (go-livepeer `-liveRunnerProxyUrl`): an
 * absolute http(s) template with exactly one `{proxy}`, in the host or as the final path segment;
 * default `{serviceUri}/run/{proxy}`. Targets must be absolute http(s) URLs without a fragment whose
 * hostname is the runner's (port and path may differ).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { BadRequestError } from "../../node/errors.ts";
import { type ProxyHop, proxyRequest, proxyUpgrade as relayUpgrade } from "../../node/http/proxy.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { ContainerError } from "../http.ts";

/** The headers every proxied request gets. */
export interface SessionHeaders {
  route: string;
  sessionId: string;
  token: string;
  control: string;
  /** The request's trace id (the router's), sent as `X-Trace-Id` when the client gave none. */
  traceId?: string;
}

/** The session headers' names: a client's values are dropped (ours are added after the rest). */
const SESSION_HEADER_NAMES: ReadonlySet<string> = new Set([
  "livepeer-runner-route",
  "livepeer-session-id",
  "livepeer-session-token",
  "livepeer-session-control",
]);

/** What the client is answered when the runner cannot be reached. */
const UNREACHABLE = { status: 502, code: "CONTAINER_UNAVAILABLE", message: "live runner unreachable" };

/** The hop to a runner: the session headers (and the trace id) added, cut when `ended` fires. */
function runnerHop(headers: NodeRequest["headers"], s: SessionHeaders, ended?: AbortSignal): ProxyHop {
  const add: Record<string, string> = {};
  if (s.traceId !== undefined && headers["x-trace-id"] === undefined) add["x-trace-id"] = s.traceId;
  add["livepeer-runner-route"] = s.route;
  add["livepeer-session-id"] = s.sessionId;
  add["livepeer-session-token"] = s.token;
  add["livepeer-session-control"] = s.control;
  return { drop: SESSION_HEADER_NAMES, add, ended, noDelay: true };
}

/** The runner URL of `appPath` under `base` (paths joined with one `/`), with the client's query. */
export function targetUrl(base: string, appPath: string, query: string): URL {
  const u = new URL(base);
  const path = `${u.pathname.replace(/\/+$/, "")}/${appPath.replace(/^\/+/, "")}`;
  u.pathname = path === "/" ? "/" : path;
  u.search = query;
  return u;
}

/** Proxies one request to `target`; rejects with 502 before the answer started, else cuts the answer. */
export async function proxyHttp(
  req: NodeRequest,
  res: NodeResponse,
  target: URL,
  session: SessionHeaders,
  ended?: AbortSignal,
): Promise<void> {
  await proxyRequest(
    req,
    res,
    target,
    runnerHop(req.headers, session, ended),
    (err) => new ContainerError(UNREACHABLE.message, err),
  );
}

/** Relays an HTTP/1.1 upgrade (WebSocket) to `target`; `done` runs once both sockets closed. */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: URL,
  session: SessionHeaders,
  ended?: AbortSignal,
  done?: () => void,
): void {
  relayUpgrade(req, socket, head, target, runnerHop(req.headers, session, ended), UNREACHABLE, done);
}

/** A parsed `--live-runner-proxy-url` template. */
export class ProxyTemplate {
  readonly raw: string;
  readonly #inHost: boolean;
  readonly #hostPrefix: string;
  readonly #hostSuffix: string;
  readonly #host: string;
  readonly #pathPrefix: string;

  /** Parses a template (empty: `{serviceUri}/run/{proxy}`); throws 400 `BAD_REQUEST` when invalid. */
  constructor(template: string | undefined, serviceUri: string) {
    const raw = template?.trim() || `${serviceUri.replace(/\/+$/, "")}/run/{proxy}`;
    if (raw.split("{proxy}").length !== 2)
      throw new BadRequestError("live runner proxy url must contain exactly one {proxy} placeholder");
    const mark = "proxy-placeholder";
    let u: URL;
    try {
      u = new URL(raw.replace("{proxy}", mark));
    } catch {
      throw new BadRequestError("live runner proxy url must be an absolute URL");
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new BadRequestError("live runner proxy url scheme must be http or https");
    const inHost = u.host.includes(mark);
    if (inHost === u.pathname.includes(mark))
      throw new BadRequestError("live runner proxy url placeholder must be in the host or path");
    this.raw = raw;
    this.#inHost = inHost;
    const [hp = "", hs = ""] = u.host.toLowerCase().split(mark);
    this.#hostPrefix = inHost ? hp : "";
    this.#hostSuffix = inHost ? hs : "";
    this.#host = u.host.toLowerCase();
    const [pp = "", ps = ""] = u.pathname.split(mark);
    if (!inHost && (!pp.endsWith("/") || (ps !== "" && ps !== "/")))
      throw new BadRequestError("live runner proxy url path placeholder must be the final path segment");
    this.#pathPrefix = inHost ? u.pathname.replace(/\/+$/, "") : pp;
  }

  /** The public URL of a proxy id. */
  url(id: string): string {
    return this.raw.replace("{proxy}", id);
  }

  /** The proxy id and the app path a request (Host header, path) addresses, if it matches. */
  match(host: string, path: string): { id: string; appPath: string } | undefined {
    const h = host.toLowerCase();
    if (this.#inHost) {
      const name = h.replace(/:\d+$/, "");
      const pre = this.#hostPrefix.replace(/:\d+$/, "");
      const suf = this.#hostSuffix.replace(/:\d+$/, "");
      if (!name.startsWith(pre) || !name.endsWith(suf) || name.length <= pre.length + suf.length)
        return undefined;
      const id = name.slice(pre.length, name.length - suf.length);
      if (this.#pathPrefix === "") return { id, appPath: path.replace(/^\/+/, "") };
      if (path === this.#pathPrefix) return { id, appPath: "" };
      if (!path.startsWith(`${this.#pathPrefix}/`)) return undefined;
      return { id, appPath: path.slice(this.#pathPrefix.length + 1) };
    }
    if (h !== this.#host || !path.startsWith(this.#pathPrefix)) return undefined;
    const rest = path.slice(this.#pathPrefix.length);
    const slash = rest.indexOf("/");
    const id = slash === -1 ? rest : rest.slice(0, slash);
    if (id === "") return undefined;
    return { id, appPath: slash === -1 ? "" : rest.slice(slash + 1) };
  }
}

/** Checks a generated proxy's target against the runner's URL; returns it without a trailing slash. */
export function checkProxyTarget(raw: unknown, runnerUrl: string): string {
  const text = typeof raw === "string" ? raw.trim() : "";
  if (text === "") throw new BadRequestError("target_url is required");
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new BadRequestError("target_url must be an absolute URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new BadRequestError("target_url scheme must be http or https");
  if (text.includes("#")) throw new BadRequestError("target_url must not include a fragment");
  if (u.hostname.toLowerCase() !== new URL(runnerUrl).hostname.toLowerCase())
    throw new BadRequestError("target_url hostname must match registered runner_url hostname");
  return text.replace(/\/+$/, "");
}
