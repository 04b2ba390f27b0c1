/**
 * The network capabilities dashboard as a mountable HTTP handler. Under `basePath` (default
 * `/dashboard`) it serves:
 *
 * - `GET {base}` and `{base}/`: the page (static HTML, one vanilla JS module, the pages' shared
 *   stylesheet and its own; nothing external loads, and a Content-Security-Policy forbids it);
 * - `{base}/app.js`, `{base}/style.css`: the static files from `./static/`, and `{base}/base.css`
 *   (served as every gateway page's files are: ../static-page.ts);
 * - `{base}/api/state`: the current {@link DashboardState} as JSON;
 * - `{base}/api/<name>`: each of `views` (e.g. the explorer's `orchestrators` and `capabilities`) as JSON;
 * - `{base}/events`: Server-Sent Events, one `state` event (the whole state, `id` = its version) on
 *   connect and after every change, a comment heartbeat every 15 s.
 *
 * Anything else under the base answers a JSON 404; methods other than GET/HEAD answer 405. Paths
 * outside the base are left to the caller (`handle` returns false). The page renders every value with
 * `textContent`/DOM nodes, never as markup, so names coming from the network cannot inject script.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { TributaryError } from "../../node/errors.ts";
import { SseWriter } from "../../node/http/sse.ts";
import { createStaticPage, PAGE_HEADERS, sendPageError, sendPageJson } from "../static-page.ts";
import type { DashboardSource } from "./source.ts";
import type { DashboardState } from "./state.ts";

/** Default mount point. */
export const DASHBOARD_BASE_PATH = "/dashboard";
/** Interval of the SSE heartbeat comment, ms. */
export const SSE_HEARTBEAT_MS = 15_000;
/** Concurrent event streams allowed; more answer 503. */
export const DEFAULT_MAX_EVENT_CLIENTS = 64;

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  source: DashboardSource;
  /** Mount point: `/segment[/segment…]` of URL-safe characters, no trailing slash; default `/dashboard`. */
  basePath?: string;
  /** Concurrent `events` streams; default {@link DEFAULT_MAX_EVENT_CLIENTS}. */
  maxEventClients?: number;
  /** SSE heartbeat interval, ms; default {@link SSE_HEARTBEAT_MS}. */
  heartbeatMs?: number;
  /** More JSON views, served at `{base}/api/<name>` (names of `[a-z-]` only; `state` is taken). */
  views?: Readonly<Record<string, () => unknown>>;
}

/** A mounted dashboard. */
export interface Dashboard extends Disposable {
  /**
   * Answers `req` if its path is under the base path and returns true; returns false (without touching
   * `res`) otherwise, so the caller can route it elsewhere.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Number of open event streams. */
  readonly eventClients: number;
  /** Ends every event stream. Idempotent; later page and JSON requests still work, later event streams answer 503. */
  close(): void;
}

/** Creates the dashboard handler; reads the static files once. Throws RangeError on a bad `basePath`. */
export function createDashboard(options: DashboardOptions): Dashboard {
  const base = options.basePath ?? DASHBOARD_BASE_PATH;
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(base))
    throw new RangeError(`dashboard basePath must look like "/dashboard", got ${JSON.stringify(base)}`);
  const maxClients = options.maxEventClients ?? DEFAULT_MAX_EVENT_CLIENTS;
  const heartbeatMs = options.heartbeatMs ?? SSE_HEARTBEAT_MS;
  const clients = new Set<() => void>();
  let closed = false;

  const serveEvents = (req: IncomingMessage, res: ServerResponse) => {
    if (closed || clients.size >= maxClients) {
      sendPageError(
        res,
        new TributaryError("DASHBOARD_BUSY", "too many dashboard event streams; retry later", {
          status: 503,
        }),
        { "retry-after": "5" },
      );
      return;
    }
    const head = req.method === "HEAD";
    const sse = new SseWriter(res, {
      headers: {
        ...PAGE_HEADERS,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
      },
      ...(head ? {} : { retryMs: 2000, heartbeatMs }),
    });
    if (head) {
      sse.end();
      return;
    }
    res.socket?.setNoDelay(true);
    // While the client's buffer is full only the newest state waits: each event holds the whole state.
    let latest: DashboardState | undefined;
    const send = (state: DashboardState) => {
      if (sse.blocked) latest = state;
      else sse.send({ id: state.version, event: "state", data: state });
    };
    const onDrain = () => {
      if (latest !== undefined) {
        const s = latest;
        latest = undefined;
        send(s);
      }
    };
    res.on("drain", onDrain);
    send(options.source.snapshot());
    const unsubscribe = options.source.subscribe(send);
    const end = () => {
      if (!clients.delete(end)) return;
      unsubscribe();
      res.off("drain", onDrain);
      sse.end();
    };
    clients.add(end);
    res.on("close", end);
    req.on("close", end);
  };

  // Its resources beside the static files, under `{base}/`.
  const route = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const sub = path.slice(base.length);
    if (sub === "/api/state") {
      sendPageJson(req, res, options.source.snapshot());
      return true;
    }
    const view = sub.startsWith("/api/") ? sub.slice(5) : "";
    if (options.views && /^[a-z-]+$/.test(view) && Object.hasOwn(options.views, view)) {
      sendPageJson(req, res, options.views[view]?.());
      return true;
    }
    if (sub === "/events") {
      serveEvents(req, res);
      return true;
    }
    return false;
  };
  // The base path is validated above, so it is safe inside an HTML attribute; the page asks only for
  // views that exist (names are `[a-z-]`, safe inside an attribute).
  const viewNames = Object.keys(options.views ?? {}).filter((n) => /^[a-z-]+$/.test(n));
  const { handle } = createStaticPage({
    name: "dashboard",
    dir: new URL("./static/", import.meta.url),
    path: base,
    assets: `${base}/`,
    html: "index.html",
    vars: { BASE: base, VIEWS: viewNames.join(",") },
    files: ["app.js", "style.css"],
    route,
  });

  const close = () => {
    closed = true;
    for (const end of [...clients]) end();
  };

  return {
    handle,
    get eventClients() {
      return clients.size;
    },
    close,
    [Symbol.dispose]: close,
  };
}
