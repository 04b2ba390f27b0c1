/**
 * Serving one of the gateway's pages (the dashboard, the live page): its bundled static files, read
 * once from its folder, and its own JSON or event routes beside them.
 *
 * - the HTML at `path` and `path/`, each other file at `assets` + its name, with its content type (by
 *   extension), `cache-control: no-cache`, and on the HTML the page's Content-Security-Policy and
 *   `x-frame-options: DENY`;
 * - every page's HTML has `{{HEAD}}` first in its `<head>`: the shared head (charset, viewport, no
 *   favicon request, and the stylesheet `base.css` from `src/gateway/static/`, which every page serves
 *   among its assets: palette, typography, reset), before the page's title and its own links;
 * - methods other than GET/HEAD answer a JSON 405 with `Allow`; HEAD answers the headers only; paths
 *   under `assets` that are neither a file nor one of the page's routes a JSON 404. Other paths are left
 *   to the caller (`handle` returns false).
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname } from "node:path";
import { errorBody, NotFoundError, TributaryError } from "../node/errors.ts";
import { sendJson } from "../node/http/send.ts";

/** Head fields of every answer of a page (files, JSON, errors, event streams). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** The stylesheet every page serves among its assets and links first, from `src/gateway/static/`. */
export const BASE_STYLESHEET = "base.css";

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

const SHARED = new URL("./static/", import.meta.url);

/**
 * The Content-Security-Policy of a page's HTML: everything from its own origin only, no plugins, no
 * base or form targets, no framing; `extra` directives (e.g. `media-src` for `<video>`s of
 * MediaStreams) go before the last three.
 */
export function pageCsp(extra: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    ...extra,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** The shared head that replaces `{{HEAD}}`, for a page whose assets are under `assets`. */
export function pageHead(assets: string): string {
  return [
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="${assets}${BASE_STYLESHEET}">`,
  ].join("\n");
}

/** Options of {@link createStaticPage}. */
export interface StaticPageOptions {
  /** The page in error messages: `"dashboard"` gives "… is not allowed on the dashboard". */
  name: string;
  /** Its folder of static files (a `file:` URL ending in `/`). */
  dir: URL;
  /** Where the HTML is (also with a trailing slash): `/segment[/segment…]`. */
  path: string;
  /** Prefix of its other files and routes, ending in `/` (may be `path/`). */
  assets: string;
  /** The HTML's file name in `dir`. */
  html: string;
  /** `{{NAME}}` placeholders of the HTML and their values (safe inside an attribute). */
  vars?: Readonly<Record<string, string>>;
  /** The other files of `dir` it serves, at `assets` + name (`.js`, `.css`). */
  files: readonly string[];
  /** Directives its HTML's Content-Security-Policy adds to the strict one ({@link pageCsp}). */
  csp?: readonly string[];
  /**
   * Its other resources under `assets` (GET or HEAD only): answers and returns true, or returns false
   * for a 404. `path` is the request's path without the query.
   */
  route?: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
}

/** A mounted page. */
export interface StaticPage {
  /** Answers `req` if its path is the page's and returns true; false (without touching `res`) otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Answers 200 with `body` (none to HEAD) and the page's head fields. */
export function sendPageBody(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer | string,
  headers: Readonly<Record<string, string>>,
): void {
  res.writeHead(200, { ...PAGE_HEADERS, ...headers, "content-length": Buffer.byteLength(body) });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Answers `value` as JSON, not to be cached. */
export function sendPageJson(req: IncomingMessage, res: ServerResponse, value: unknown): void {
  sendPageBody(req, res, JSON.stringify(value), {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  });
}

/** Answers `err` in our JSON envelope with its status, not to be cached, with extra head fields. */
export function sendPageError(
  res: ServerResponse,
  err: TributaryError,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendJson(res, err.status, errorBody(err), {
    ...PAGE_HEADERS,
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
  });
}

interface StaticFile {
  body: Buffer;
  type: string;
}

function load(dir: URL, name: string): StaticFile {
  const type = TYPES[extname(name)];
  if (type === undefined) throw new RangeError(`no content type for ${name}`);
  return { body: readFileSync(new URL(name, dir)), type };
}

/** Creates the page's handler; reads its files once. Throws when the HTML has not one `{{HEAD}}`. */
export function createStaticPage(options: StaticPageOptions): StaticPage {
  const { name, path: page, assets, route } = options;
  const csp = pageCsp(options.csp);
  const template = load(options.dir, options.html).body.toString("utf8");
  const parts = template.split("{{HEAD}}");
  if (parts.length !== 2) throw new Error(`${options.html} must hold {{HEAD}} once, in its <head>`);
  let text = parts.join(pageHead(assets));
  for (const [key, value] of Object.entries(options.vars ?? {})) text = text.replaceAll(`{{${key}}}`, value);
  const html = { body: Buffer.from(text), type: TYPES[".html"] as string };
  const files = new Map<string, StaticFile>([
    [page, html],
    [`${page}/`, html],
    [`${assets}${BASE_STYLESHEET}`, load(SHARED, BASE_STYLESHEET)],
  ]);
  for (const file of options.files) {
    if (file === BASE_STYLESHEET) throw new RangeError(`${BASE_STYLESHEET} is the shared stylesheet`);
    files.set(`${assets}${file}`, load(options.dir, file));
  }

  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    let path: string;
    try {
      path = new URL(req.url ?? "/", "http://localhost").pathname;
    } catch {
      return false;
    }
    if (path !== page && path !== `${page}/` && !path.startsWith(assets)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      // Its body is discarded unread. (Not a GET's: a request read to its end emits `close`, which an event
      // stream takes for the client leaving.)
      req.resume();
      sendPageError(
        res,
        new TributaryError("METHOD_NOT_ALLOWED", `${req.method} is not allowed on the ${name}; use GET`, {
          status: 405,
        }),
        { allow: "GET, HEAD" },
      );
      return true;
    }
    const file = files.get(path);
    if (file !== undefined) {
      sendPageBody(req, res, file.body, {
        "content-type": file.type,
        "cache-control": "no-cache",
        ...(file === html && { "content-security-policy": csp, "x-frame-options": "DENY" }),
      });
      return true;
    }
    if (route?.(req, res, path)) return true;
    sendPageError(res, new NotFoundError(`no ${name} resource at ${path}`));
    return true;
  };
  return { handle };
}
