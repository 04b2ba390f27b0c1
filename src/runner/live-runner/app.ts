/**
 * A live runner app: plain HTTP routes (JSON, streamed answers, SSE) served on the toolkit's
 * {@link Router}, registered dynamically with an orchestrator (register.ts), and the session of each
 * proxied request (session.ts) for its trickle channels and proxies.
 *
 * ```ts
 * import { defineRunnerApp, startLiveRunner } from "tributary/runner";
 * const app = defineRunnerApp({
 *   app: "acme/echo",
 *   routes: { "POST /echo": async (call) => ({ echo: await call.json() }) },
 * });
 * await startLiveRunner(app, { port: 9000, orchUrl: "https://orch:8935", orchSecret: "…" });
 * ```
 *
 * Route keys are `"METHOD /path"` or `"/path"` (any method); a path ending in `/*` takes every path
 * under it (`call.rest` is the part after). A handler answers through `call.res`, `call.sse()`, or by
 * returning a value (sent as JSON with 200; `undefined` with nothing written sends 204). Errors are
 * answered in Tributary's JSON envelope. `GET /health` answers `{"status":"OK"}` unless the app
 * defines it. WebSocket (HTTP/1.1 upgrades) goes to the app's `upgrade` hook.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { TributaryError } from "../../node/errors.ts";
import { readBody } from "../../node/http/body.ts";
import { clientErrorListener, http1ServerOptions, resolveHttpLimits } from "../../node/http/limits.ts";
import { closeServer, listen } from "../../node/http/listen.ts";
import { MethodNotAllowedError, type RouteHandler, Router } from "../../node/http/router.ts";
import { sendError, sendJson } from "../../node/http/send.ts";
import { SseWriter, type SseWriterOptions } from "../../node/http/sse.ts";
import { type Logger, silentLogger } from "../../node/logger.ts";
import { parseJson } from "../http.ts";
import {
  type HeartbeatLoop,
  type HeartbeatOptions,
  type RunnerAdvert,
  type SessionEvent,
  startHeartbeats,
} from "./register.ts";
import { RunnerSession, type SessionCallOptions } from "./session.ts";

/** One request to a runner app. */
export interface RunnerCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request path (no query). */
  readonly path: string;
  /** For a `/*` route: the path after the prefix; "" otherwise. */
  readonly rest: string;
  readonly query: URLSearchParams;
  /** The orchestrator session the request belongs to; undefined for a direct call. */
  readonly session: RunnerSession | undefined;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  /** The body as JSON (400 when it is not). */
  json<T = unknown>(): Promise<T>;
  /** The body's bytes. */
  bytes(): Promise<Buffer>;
  /** Starts a Server-Sent Events answer. */
  sse(options?: SseWriterOptions): SseWriter;
}

/** A route handler. */
export type RunnerHandler = (call: RunnerCall) => unknown;

/** A runner app: what it advertises and its routes. */
export interface RunnerAppDefinition extends Omit<RunnerAdvert, "runnerUrl"> {
  routes: Record<string, RunnerHandler>;
  /** Sessions reserved and released on the orchestrator (o2r events and heartbeat answers). */
  onSession?: (event: SessionEvent) => unknown;
  /** Largest request body {@link RunnerCall.json} reads; default 10 MiB. */
  maxBodyBytes?: number;
  /**
   * HTTP/1.1 upgrade requests (WebSocket), which the orchestrator's proxy forwards with the session
   * headers: the hook owns the socket (answer `101` and speak the protocol, or refuse). Without it
   * upgrades answer 404.
   */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer, session: RunnerSession | undefined) => void;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** A route key that cannot be served (thrown by {@link defineRunnerApp}). */
export class RunnerAppDefinitionError extends TributaryError {
  constructor(message: string) {
    super("INVALID_RUNNER_APP", message, { status: 400 });
  }
}

interface ParsedRoute {
  method: string | undefined;
  path: string;
  prefix: boolean;
}

function parseRouteKey(key: string): ParsedRoute {
  const parts = key.trim().split(/\s+/);
  const [method, path] =
    parts.length === 2 ? [parts[0]?.toUpperCase(), parts[1] as string] : [undefined, parts[0] ?? ""];
  if (parts.length > 2 || (method !== undefined && !METHODS.has(method)) || !path.startsWith("/"))
    throw new RunnerAppDefinitionError(
      `route ${JSON.stringify(key)} must be "METHOD /path" or "/path" (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)`,
    );
  const prefix = path.endsWith("/*");
  return { method, path: prefix ? path.slice(0, -1) : path, prefix };
}

/** Checks an app definition (routes, app id, capacity) and returns it. */
export function defineRunnerApp<T extends RunnerAppDefinition>(def: T): T {
  if (typeof def.app !== "string" || def.app.trim() === "" || def.app !== def.app.trim())
    throw new RunnerAppDefinitionError("app is required and must be trimmed (e.g. acme/echo)");
  if (def.capacity !== undefined && (!Number.isInteger(def.capacity) || def.capacity < 1))
    throw new RunnerAppDefinitionError("capacity must be a positive integer");
  const seen = new Set<string>();
  for (const key of Object.keys(def.routes)) {
    const r = parseRouteKey(key);
    const id = `${r.method ?? "*"} ${r.path}${r.prefix ? "*" : ""}`;
    if (seen.has(id)) throw new RunnerAppDefinitionError(`route ${JSON.stringify(key)} is given twice`);
    seen.add(id);
  }
  return def;
}

/** Options of {@link startLiveRunner}. */
export interface LiveRunnerOptions {
  /** Port; 0 picks a free one. Default 9000. */
  port?: number;
  /** Interface; default 127.0.0.1. */
  host?: string;
  /** The orchestrator to register with; without it (or the secret) the app is served unregistered. */
  orchUrl?: string;
  orchSecret?: string;
  /** Where the orchestrator reaches this runner; default the bound `http://host:port`. */
  runnerUrl?: string;
  /** Heartbeat tuning (intervals, backoff, TLS). */
  heartbeat?: Omit<HeartbeatOptions, "orchUrl" | "orchSecret" | "logger" | "signal" | "onSession">;
  /** Options of the session callbacks (TLS, timeout). */
  callbacks?: SessionCallOptions;
  logger?: Logger;
  /** Aborting closes the runner. */
  signal?: AbortSignal;
}

/** A running live runner. */
export interface RunningLiveRunner extends AsyncDisposable {
  /** `http://host:port`. */
  readonly url: string;
  /** The heartbeat loop; undefined when not registering. */
  readonly heartbeats: HeartbeatLoop | undefined;
  /** Unregisters, then stops serving (calls in flight get a second). Idempotent. */
  close(): Promise<void>;
}

/** Default port of a live runner. */
export const DEFAULT_LIVE_RUNNER_PORT = 9000;

function makeCall(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  rest: string,
  def: RunnerAppDefinition,
  callbacks: SessionCallOptions,
): RunnerCall {
  const gone = new AbortController();
  res.once("close", () => gone.abort());
  let body: Promise<Buffer> | undefined;
  const bytes = (): Promise<Buffer> => {
    body ??= readBody(req, def.maxBodyBytes);
    return body;
  };
  const q = (req.url ?? "").indexOf("?");
  return {
    req,
    res,
    path,
    rest,
    query: new URLSearchParams(q === -1 ? "" : (req.url ?? "").slice(q + 1)),
    session: RunnerSession.fromHeaders(req.headers, callbacks),
    signal: gone.signal,
    bytes,
    json: async <T>() => parseJson(await bytes()) as T,
    sse: (options) => new SseWriter(res, options),
  };
}

/** The app's router (exported for tests that serve it their own way). */
export function runnerAppRouter(def: RunnerAppDefinition, callbacks: SessionCallOptions = {}): Router {
  const router = new Router({ formatError: (res, err) => sendError(res, err) });
  const group = router.group({ name: "app" });
  const byPath = new Map<string, { prefix: boolean; methods: Map<string, RunnerHandler> }>();
  for (const [key, handler] of Object.entries(def.routes)) {
    const r = parseRouteKey(key);
    const id = `${r.prefix ? "p" : "e"}${r.path}`;
    const entry = byPath.get(id) ?? { prefix: r.prefix, methods: new Map() };
    entry.methods.set(r.method ?? "*", handler);
    byPath.set(id, entry);
  }
  if (!byPath.has("e/health"))
    byPath.set("e/health", { prefix: false, methods: new Map([["GET", () => ({ status: "OK" })]]) });
  for (const [id, { prefix, methods }] of byPath) {
    const handle: RouteHandler = async (req, res, match) => {
      const method = req.method ?? "GET";
      const handler =
        methods.get(method) ?? (method === "HEAD" ? methods.get("GET") : undefined) ?? methods.get("*");
      if (handler === undefined) throw new MethodNotAllowedError([...methods.keys()]);
      const nodeRes = res as ServerResponse;
      const call = makeCall(req as IncomingMessage, nodeRes, match.path, match.rest, def, callbacks);
      const value = await handler(call);
      if (nodeRes.headersSent || nodeRes.writableEnded) return;
      if (value === undefined) {
        nodeRes.writeHead(204);
        nodeRes.end();
      } else sendJson(nodeRes, 200, value);
    };
    if (prefix) group.prefix(id.slice(1), handle);
    else group.route(id.slice(1), handle);
  }
  return router;
}

/** Serves `def` and, with `orchUrl` and `orchSecret`, registers it with heartbeats. */
export async function startLiveRunner(
  def: RunnerAppDefinition,
  options: LiveRunnerOptions = {},
): Promise<RunningLiveRunner> {
  const log = options.logger ?? silentLogger();
  const router = runnerAppRouter(def, options.callbacks);
  const limits = resolveHttpLimits();
  const server: Server = createServer(http1ServerOptions(limits), router.handle);
  server.on("clientError", clientErrorListener(limits));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    let session: RunnerSession | undefined;
    try {
      session = RunnerSession.fromHeaders(req.headers, options.callbacks);
    } catch {
      refuse("400 Bad Request");
      return;
    }
    if (def.upgrade === undefined) refuse("404 Not Found");
    else def.upgrade(req, socket, head, session);
  });
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_LIVE_RUNNER_PORT;
  try {
    await listen(server, host, port);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TributaryError(
      code === "EADDRINUSE" ? "PORT_IN_USE" : "LISTEN_FAILED",
      code === "EADDRINUSE"
        ? `port ${port} on ${host} is already in use; pick another with --port`
        : `cannot listen on ${host}:${port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  log.info({ port: addr.port, app: def.app }, "live runner listening");
  const { routes: _routes, onSession, maxBodyBytes: _max, upgrade: _upgrade, ...advert } = def;
  const heartbeats =
    options.orchUrl && options.orchSecret
      ? startHeartbeats(
          { ...advert, runnerUrl: options.runnerUrl ?? url },
          {
            ...options.heartbeat,
            orchUrl: options.orchUrl,
            orchSecret: options.orchSecret,
            logger: log,
            ...(onSession !== undefined ? { onSession } : {}),
          },
        )
      : undefined;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      await heartbeats?.close();
      await closeServer(server, { graceMs: 1000 });
    })();
    return closed;
  };
  const onAbort = (): void => void close();
  if (options.signal?.aborted) await close();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  return { url, heartbeats, close, [Symbol.asyncDispose]: close };
}
