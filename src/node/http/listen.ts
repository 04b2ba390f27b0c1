/**
 * Starting and stopping a server: {@link listen} binds and tracks every connection from then on;
 * {@link closeServer} stops listening, lets the answers in flight finish for a grace period, then
 * destroys every connection left (long-lived ones included: trickle subscribers, SSE feeds, idle
 * keep-alive sockets, HTTP/2 sessions). Works for node:http, node:https and node:http2 servers.
 */
import type { Http2Session } from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";

interface Tracked {
  sockets: Set<Socket>;
  sessions: Set<Http2Session>;
}

const tracked = new WeakMap<NetServer, Tracked>();

/** Tracks the server's connections (and HTTP/2 sessions) so {@link closeServer} can end them. Idempotent. */
export function trackConnections(server: NetServer): void {
  if (tracked.has(server)) return;
  const t: Tracked = { sockets: new Set(), sessions: new Set() };
  tracked.set(server, t);
  // "connection" also gives a TLS server's sockets before their handshake ends.
  server.on("connection", (socket: Socket) => {
    t.sockets.add(socket);
    socket.once("close", () => t.sockets.delete(socket));
  });
  server.on("session", (session: Http2Session) => {
    t.sessions.add(session);
    session.once("close", () => t.sessions.delete(session));
  });
}

/** The connections a tracked server has open now (for tests and shutdown logs). */
export function openConnections(server: NetServer): number {
  return tracked.get(server)?.sockets.size ?? 0;
}

/**
 * Binds `server` to `host:port` (0 picks a free port) and resolves with the bound port; rejects with
 * the listen error (`EADDRINUSE`, `EACCES`, …). Connections are tracked for {@link closeServer}.
 */
export function listen(server: NetServer, host: string, port: number): Promise<number> {
  trackConnections(server);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** `scheme://host:port`, with an IPv6 host in brackets. */
export function originOf(scheme: "http" | "https", host: string, port: number): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Options of {@link closeServer}. */
export interface CloseServerOptions {
  /**
   * How long requests in flight may go on before their connections are destroyed; default 0 (only
   * the answers already written are flushed, one turn of the event loop).
   */
  graceMs?: number;
}

/**
 * Stops listening, closes idle keep-alive connections at once, and destroys every connection still
 * open after `graceMs`. Resolves once the server has closed. Safe on a server that is not listening.
 */
export function closeServer(server: NetServer, options: CloseServerOptions = {}): Promise<void> {
  const t = tracked.get(server);
  const graceMs = options.graceMs ?? 0;
  return new Promise((resolve) => {
    const destroyAll = (): void => {
      for (const s of t?.sessions ?? []) s.destroy();
      for (const s of t?.sockets ?? []) s.destroy();
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    };
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    server.close(() => {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      resolve();
    });
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    if (graceMs > 0) {
      timer = setTimeout(destroyAll, graceMs);
      timer.unref();
    } else immediate = setImmediate(destroyAll);
  });
}
