/**
 * A streaming HTTP/1.1 reverse proxy hop: {@link proxyRequest} forwards one request (method, query,
 * end-to-end headers, the body as it arrives) and streams the answer back as it is written (headers
 * flushed at once, so SSE events pass one by one); {@link proxyUpgrade} relays an `Upgrade`
 * (WebSocket): the upstream's 101 and both byte streams, or its refusal as is. Hop-by-hop headers
 * (RFC 9110 §7.6.1), `Host` (the target's) and HTTP/2 pseudo-headers are not forwarded; callers
 * drop more names and add their own headers. HTTPS targets are not verified unless an agent says so
 * (orchestrators are self-signed). An upstream that cannot be reached rejects before anything was
 * written (the caller answers its typed error); a connection cut after the answer started is cut on
 * the other side too, and so are both when the hop's `ended` signal fires. The client side may be
 * HTTP/1.1 or HTTP/2 (the upstream is HTTP/1.1); upgrades are HTTP/1.1 only.
 */
import {
  type Agent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import type { NodeRequest, NodeResponse } from "../server.ts";

/** Request headers never forwarded. */
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
]);

/** Answer headers never forwarded. */
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

/** How one hop is made. */
export interface ProxyHop {
  /** Header names (lower case) not forwarded, beyond the hop-by-hop ones. */
  drop?: ReadonlySet<string>;
  /** Headers added (replacing any the client sent). */
  add?: Readonly<Record<string, string>>;
  /** Cuts the exchange when aborted (e.g. the session ended). */
  ended?: AbortSignal;
  /** The agent of http(s) requests; default none (one connection per request, TLS unverified). */
  agent?: Agent | HttpsAgent;
  /**
   * Turn Nagle off on the client's HTTP/1.1 connection before the answer's headers go out: the
   * headers are flushed at once and the body follows in its own writes (SSE), so on a connection
   * that left it on (node:http2's HTTP/1.1 fallback) each write after the first waits for the
   * client's delayed ACK, about 40 ms.
   */
  noDelay?: boolean;
}

/** The request headers sent on. */
export function forwardHeaders(
  headers: IncomingHttpHeaders,
  hop: ProxyHop,
  keepUpgrade = false,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.startsWith(":") || HOP_BY_HOP.has(k) || hop.drop?.has(k)) continue;
    out[k] = v;
  }
  if (keepUpgrade) {
    out.connection = "Upgrade";
    out.upgrade = String(headers.upgrade ?? "");
  }
  for (const [k, v] of Object.entries(hop.add ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function open(
  target: URL,
  method: string,
  headers: Record<string, string | string[]>,
  agent: ProxyHop["agent"],
) {
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return request(target, { method, headers, agent: agent ?? false, rejectUnauthorized: false });
}

/**
 * Streams an upstream answer to `res`: its status and end-to-end headers (flushed at once), then its
 * body chunk by chunk as it arrives, paused while `res` is full; `res` ends with it. `cut` runs when
 * the answer fails.
 */
function streamAnswer(answer: IncomingMessage, res: NodeResponse, cut: () => void): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(answer.headers))
    if (v !== undefined && !HOP_BY_HOP_ANSWER.has(k)) headers[k] = v;
  // Typed as HTTP/1.1's: an HTTP/2 answer has the same calls (`flushHeaders` untyped there).
  const out = res as ServerResponse;
  out.writeHead(answer.statusCode ?? 502, headers);
  out.flushHeaders();
  answer.on("data", (chunk: Buffer) => {
    if (!out.write(chunk)) {
      answer.pause();
      res.once("drain", () => answer.resume());
    }
  });
  answer.on("end", () => res.end());
  answer.on("error", cut);
}

/**
 * Streams an upstream answer already received (status, end-to-end headers, body chunk by chunk) to
 * `res`; resolves when it ended or either side was cut.
 */
export function relayAnswer(answer: IncomingMessage, res: NodeResponse): Promise<void> {
  return new Promise((resolve) => {
    streamAnswer(answer, res, () => {
      answer.destroy();
      if (!res.writableEnded) res.destroy();
    });
    res.on("close", () => {
      if (!res.writableFinished) answer.destroy();
      resolve();
    });
  });
}

/**
 * Proxies `req` (HTTP/1.1 or HTTP/2) to `target`. Resolves with the upstream's status once the
 * client's answer closed (ended or cut); rejects with `unreachable(err)` when the upstream failed
 * before answering.
 */
export function proxyRequest(
  req: NodeRequest,
  res: NodeResponse,
  target: URL,
  hop: ProxyHop,
  unreachable: (err: Error) => Error,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const up = open(target, req.method ?? "GET", forwardHeaders(req.headers, hop), hop.agent);
    let status = 0;
    const cut = (): void => {
      up.destroy();
      if (!res.writableEnded) res.destroy();
    };
    hop.ended?.addEventListener("abort", cut, { once: true });
    res.on("close", () => {
      hop.ended?.removeEventListener("abort", cut);
      if (!res.writableFinished) up.destroy();
      resolve(status);
    });
    up.on("error", (err) => {
      if (status === 0) reject(unreachable(err));
      else cut();
    });
    up.on("response", (answer: IncomingMessage) => {
      status = answer.statusCode ?? 502;
      if (hop.noDelay && req.httpVersionMajor === 1) (res as ServerResponse).socket?.setNoDelay(true);
      streamAnswer(answer, res, cut);
    });
    req.pipe(up);
  });
}

/** Writes a plain HTTP/1.1 JSON error answer (our envelope) on a raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
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

function rawHead(status: number, message: string, headers: IncomingHttpHeaders): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) head += `${k}: ${one}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Relays an HTTP/1.1 upgrade to `target`; an unreachable upstream gets `unreachable` as a JSON answer
 * on the socket. `done` runs once, when both sides closed.
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: URL,
  hop: ProxyHop,
  unreachable: { status: number; code: string; message: string },
  done?: () => void,
): void {
  const up = open(target, req.method ?? "GET", forwardHeaders(req.headers, hop, true), hop.agent);
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    socket.destroy();
    done?.();
  };
  hop.ended?.addEventListener(
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
    if (!socket.destroyed) refuseUpgrade(socket, unreachable.status, unreachable.code, unreachable.message);
    finish();
  });
  up.on("response", (answer) => {
    // The upstream refused the upgrade: pass its answer on as is.
    socket.write(rawHead(answer.statusCode ?? 502, answer.statusMessage ?? "", answer.headers));
    answer.pipe(socket);
    answer.on("end", finish);
  });
  up.on("upgrade", (answer, upSocket, upHead) => {
    socket.write(rawHead(101, "Switching Protocols", answer.headers));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    upSocket.on("error", finish);
    upSocket.on("close", finish);
  });
  up.end();
}
