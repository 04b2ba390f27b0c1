/**
 * The gateway's live page as a mountable HTTP handler: a browser picks a live model, publishes its
 * camera by WHIP, watches the processed output by WHEP beside the input, changes params while it runs
 * and sees fps, glass-to-glass latency and what it costs so far. It serves:
 *
 * - `GET /live` (and `/live/`): the page (static HTML, vanilla JS modules, the pages' shared
 *   stylesheet and its own; nothing external loads, and a Content-Security-Policy forbids it);
 * - `/live/page/live.js`, `/live/page/stamp.js`, `/live/page/live.css`: the static files from
 *   `./static/`, and `/live/page/base.css` (served as every gateway page's files are: ../static-page.ts);
 * - `/live/page/models`: the live models the discovery pool offers now ({@link liveModelsOf}) as JSON.
 *
 * Everything else the page does goes through the gateway's own routes: `POST /live/video-to-video/
 * <name>/whip`, the WHEP URL the WHIP answer gives, `…/status` and `…/update` with the stream's key,
 * `DELETE` on the `Location`s. Methods other than GET/HEAD answer 405; other paths under
 * `/live/page/` a JSON 404. `handle` returns false for paths that are not the page's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Rat } from "../../payments/rational.ts";
import type { OrchestratorInfo } from "../../protocol/gen/lp_rpc_pb.ts";
import { offersOf } from "../dashboard/state.ts";
import { createStaticPage, sendPageJson } from "../static-page.ts";

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

/** Creates the page's handler; reads the static files once. */
export function createLivePage(options: LivePageOptions): LivePage {
  return createStaticPage({
    name: "live page",
    dir: new URL("./static/", import.meta.url),
    path: LIVE_PAGE_PATH,
    assets: LIVE_PAGE_ASSETS,
    html: "live.html",
    files: ["live.js", "stamp.js", "live.css"],
    // media-src for the <video>s fed by MediaStreams; WebRTC itself is not governed by CSP.
    csp: ["media-src 'self' blob: mediastream:"],
    route: (req, res, path) => {
      if (path !== `${LIVE_PAGE_ASSETS}models`) return false;
      sendPageJson(req, res, { pipeline: LIVE_PIPELINE, models: options.models() });
      return true;
    },
  });
}
