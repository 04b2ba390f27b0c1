/**
 * The gateway's live page as a mountable HTTP handler: a browser picks a live model, publishes its
 * camera by WHIP, watches the processed output by WHEP beside the input, changes params while it runs
 * and sees fps, glass-to-glass latency and what it costs so far. It serves:
 *
 * - `GET /live` (and `/live/`): the page (static HTML, vanilla JS modules, one stylesheet; nothing
 *   external loads, and a Content-Security-Policy forbids it);
 * - `/live/page/live.js`, `/live/page/stamp.js`, `/live/page/live.css`: the static files from `./static/`;
 * - `/live/page/models`: the live models the discovery pool offers now ({@link liveModelsOf}) as JSON.
 *
 * Everything else the page does goes through the gateway's own routes: `POST /live/video-to-video/
 * <name>/whip`, the WHEP URL the WHIP answer gives, `…/status` and `…/update` with the stream's key,
 * `DELETE` on the `Location`s. Methods other than GET/HEAD answer 405; other paths under
 * `/live/page/` a JSON 404. `handle` returns false for paths that are not the page's.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorBody, NotFoundError, TributaryError } from "../../node/errors.ts";
import { sendJson } from "../../node/http/send.ts";
import { Rat } from "../../payments/rational.ts";
import type { OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import { offersOf } from "../dashboard/state.ts";

/** Where the page is. */
export const LIVE_PAGE_PATH = "/live";
/** Prefix of its static files and JSON. */
export const LIVE_PAGE_ASSETS = "/live/page/";
/** The pipeline whose models the page offers (WHIP starts native live-video-to-video streams). */
export const LIVE_PIPELINE = "live-video-to-video";

/** One model the page offers, over every orchestrator of the pool that lists it. */
export interface LiveModel {
  model_id: string;
  /** Orchestrators listing it. */
  orchestrators: number;
  /** Of those, how many have it warm. */
  warm: number;
  /** Free slots over them (capacity − in use). */
  free: number;
  /** The lowest price among them, in words (e.g. `"0.2 wei/pixel (2.2 gwei per second of 720p30)"`); absent when none is quoted. */
  price?: string;
}

/** The live models offered by `infos` (orchestrators' answers), sorted by id. */
export function liveModelsOf(infos: Iterable<OrchestratorInfo>): LiveModel[] {
  const models = new Map<string, LiveModel & { best?: Rat }>();
  for (const info of infos)
    for (const o of offersOf(info)) {
      if (o.pipeline !== LIVE_PIPELINE) continue;
      const m = models.get(o.modelId) ?? { model_id: o.modelId, orchestrators: 0, warm: 0, free: 0 };
      m.orchestrators++;
      if (o.warm) m.warm++;
      m.free += Math.max(0, o.capacity - o.capacityInUse);
      if (o.price) {
        const wei = Rat.parse(o.price.weiPerUnit);
        if (m.best === undefined || wei.cmp(m.best) < 0) {
          m.best = wei;
          m.price = o.price.displayScaled ? `${o.price.display} (${o.price.displayScaled})` : o.price.display;
        }
      }
      models.set(o.modelId, m);
    }
  return [...models.values()]
    .map(({ best: _best, ...m }) => m)
    .sort((a, b) => a.model_id.localeCompare(b.model_id));
}

/** Options of {@link createLivePage}. */
export interface LivePageOptions {
  /** The models to offer, asked at every `/live/page/models`. */
  models: () => LiveModel[];
}

/** The mounted page. */
export interface LivePage {
  /** Answers `req` if its path is the page's and returns true; false (without touching `res`) otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

// media-src for the <video>s fed by MediaStreams; WebRTC itself is not governed by CSP.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob: mediastream:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const COMMON_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const JS = "text/javascript; charset=utf-8";

function loadStatic(name: string): Buffer {
  return readFileSync(new URL(`./static/${name}`, import.meta.url));
}

/** Creates the page's handler; reads the static files once. */
export function createLivePage(options: LivePageOptions): LivePage {
  const html = { body: loadStatic("live.html"), type: "text/html; charset=utf-8" };
  const files = new Map<string, { body: Buffer; type: string }>([
    [LIVE_PAGE_PATH, html],
    [`${LIVE_PAGE_PATH}/`, html],
    [`${LIVE_PAGE_ASSETS}live.js`, { body: loadStatic("live.js"), type: JS }],
    [`${LIVE_PAGE_ASSETS}stamp.js`, { body: loadStatic("stamp.js"), type: JS }],
    [`${LIVE_PAGE_ASSETS}live.css`, { body: loadStatic("live.css"), type: "text/css; charset=utf-8" }],
  ]);
  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer | string,
    headers: Record<string, string>,
  ) => {
    res.writeHead(200, { ...COMMON_HEADERS, ...headers, "content-length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const sendError = (res: ServerResponse, err: TributaryError, headers: Record<string, string> = {}) =>
    sendJson(res, err.status, errorBody(err), { ...COMMON_HEADERS, ...headers, "cache-control": "no-store" });

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    let path: string;
    try {
      path = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      return false;
    }
    if (path !== LIVE_PAGE_PATH && path !== `${LIVE_PAGE_PATH}/` && !path.startsWith(LIVE_PAGE_ASSETS))
      return false;
    req.resume();
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(
        res,
        new TributaryError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on the live page; use GET`, {
          status: 405,
        }),
        { allow: "GET, HEAD" },
      );
      return true;
    }
    const file = files.get(path);
    if (file !== undefined) {
      send(req, res, file.body, {
        "content-type": file.type,
        "cache-control": "no-cache",
        ...(file === html && { "content-security-policy": CSP, "x-frame-options": "DENY" }),
      });
      return true;
    }
    if (path === `${LIVE_PAGE_ASSETS}models`) {
      send(req, res, JSON.stringify({ pipeline: LIVE_PIPELINE, models: options.models() }), {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
      });
      return true;
    }
    sendError(res, new NotFoundError(`no live page resource at ${path}`));
    return true;
  };
  return { handle };
}
