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
 * released (its `ended` signal).
 *
 * Generated proxy URLs follow `--live-runner-proxy-url` (go-livepeer `-liveRunnerProxyUrl`): an
 * absolute http(s) template with exactly one `{proxy}`, in the host or as the final path segment;
 * default `{serviceUri}/run/{proxy}`. Targets must be absolute http(s) URLs without a fragment whose
 * hostname is the runner's (port and path may differ).
 */
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { BadRequestError } from "../../node/errors.ts";
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

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "http2-settings",
  "livepeer-runner-route",
  "livepeer-session-id",
  "livepeer-session-token",
  "livepeer-session-control",
]);

const HOP_BY_HOP_ANSWER = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The request headers sent on: end-to-end ones plus the session headers. */
function outgoingHeaders(
  headers: IncomingHttpHeaders,
  s: SessionHeaders,
  keepUpgrade: boolean,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.startsWith(":") || HOP_BY_HOP.has(k)) continue;
    out[k] = v;
  }
  if (keepUpgrade) {
    out.connection = "Upgrade";
    out.upgrade = String(headers.upgrade ?? "");
  }
  if (s.traceId !== undefined && out["x-trace-id"] === undefined) out["x-trace-id"] = s.traceId;
  out["livepeer-runner-route"] = s.route;
  out["livepeer-session-id"] = s.sessionId;
  out["livepeer-session-token"] = s.token;
  out["livepeer-session-control"] = s.control;
  return out;
}

/** The runner URL of `appPath` under `base` (paths joined with one `/`), with the client's query. */
export function targetUrl(base: string, appPath: string, query: string): URL {
  const u = new URL(base);
  const path = `${u.pathname.replace(/\/+$/, "")}/${appPath.replace(/^\/+/, "")}`;
  u.pathname = path === "/" ? "/" : path;
  u.search = query;
  return u;
}

function open(target: URL, method: string, headers: Record<string, string | string[]>) {
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return request(target, { method, headers, agent: false, rejectUnauthorized: false });
}

/** Proxies one request to `target`; rejects with 502 before the answer started, else cuts the answer. */
export function proxyHttp(
  req: NodeRequest,
  res: NodeResponse,
  target: URL,
  session: SessionHeaders,
  ended?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const up = open(target, req.method ?? "GET", outgoingHeaders(req.headers, session, false));
    let answered = false;
    const cut = (): void => {
      up.destroy();
      if (!res.writableEnded) (res as { destroy?: () => void }).destroy?.();
    };
    ended?.addEventListener("abort", cut, { once: true });
    res.on("close", () => {
      ended?.removeEventListener("abort", cut);
      if (!res.writableFinished) up.destroy();
    });
    up.on("error", (err) => {
      if (!answered) reject(new ContainerError("live runner unreachable", err));
      else cut();
      resolve();
    });
    up.on("response", (answer: IncomingMessage) => {
      answered = true;
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers))
        if (v !== undefined && !HOP_BY_HOP_ANSWER.has(k)) headers[k] = v;
      const out = res as ServerResponse;
      // The headers go out at once and the body follows in its own writes (SSE): without TCP_NODELAY
      // (the HTTP/2 server's HTTP/1.1 connections do not set it) each write after the first waits
      // for the client's delayed ACK, about 40 ms.
      if ((req as IncomingMessage).httpVersionMajor === 1) out.socket?.setNoDelay(true);
      out.writeHead(answer.statusCode ?? 502, headers);
      (res as { flushHeaders?: () => void }).flushHeaders?.();
      answer.on("data", (chunk: Buffer) => {
        if (!out.write(chunk)) {
          answer.pause();
          res.once("drain", () => answer.resume());
        }
      });
      answer.on("end", () => {
        res.end();
        resolve();
      });
      answer.on("error", () => {
        cut();
        resolve();
      });
    });
    (req as NodeJS.ReadableStream).pipe(up);
  });
}

/** Writes a plain HTTP/1.1 JSON error answer on a raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, message: string, code = "NOT_FOUND"): void {
  answerUpgrade(socket, status, { error: { code, message } });
}

/** Writes a plain HTTP/1.1 JSON answer (`json`) on a raw socket instead of the upgrade, and closes it. */
export function answerUpgrade(socket: Duplex, status: number, json: unknown): void {
  const body = JSON.stringify(json);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function rawHeaders(status: number, message: string, headers: IncomingHttpHeaders): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) head += `${k}: ${one}\r\n`;
  }
  return `${head}\r\n`;
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
  const up = open(target, req.method ?? "GET", outgoingHeaders(req.headers, session, true));
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    socket.destroy();
    done?.();
  };
  ended?.addEventListener(
    "abort",
    () => {
      up.destroy();
      finish();
    },
    { once: true },
  );
  socket.on("error", () => up.destroy());
  socket.on("close", () => {
    up.destroy();
    finish();
  });
  up.on("error", () => {
    if (!socket.destroyed) refuseUpgrade(socket, 502, "live runner unreachable", "CONTAINER_UNAVAILABLE");
    finish();
  });
  up.on("response", (answer) => {
    // The runner refused the upgrade: pass its answer on as is.
    socket.write(rawHeaders(answer.statusCode ?? 502, answer.statusMessage ?? "", answer.headers));
    answer.pipe(socket);
    answer.on("end", finish);
  });
  up.on("upgrade", (answer, upSocket, upHead) => {
    socket.write(rawHeaders(101, "Switching Protocols", answer.headers));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    upSocket.on("error", finish);
    upSocket.on("close", finish);
  });
  up.end();
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
