/**
 * A small router for the nodes' HTTP ports.
 *
 * - **Routes** by exact path (one `Map` lookup) or by prefix (checked longest first), optionally
 *   limited to some methods (other methods answer 405 with `Allow`). The query string is ignored.
 * - **Groups** keep their own error shape, as Hono's mounted sub-apps keep their error handler: a
 *   route's errors are answered by its group's `formatError` (go-livepeer's plain text for the BYOC
 *   routes, our JSON envelope for our own), with no `if` chain in a central handler. An error thrown
 *   after the answer started cannot be answered: the response is destroyed instead.
 * - **Hooks**, as fastify's, on the router (every request) and on a group (its routes):
 *   `onRequest` before the handler (auth: throw to refuse), `onError` when a handler or hook threw
 *   (logging), `onResponse` once the request was handled (metrics). `around` wraps the whole handling
 *   of a request, not-found answers included (an `AsyncLocalStorage` scope for its trace id).
 *   Order: router `onRequest`, the method check, group `onRequest`, the handler; on a throw the
 *   group's `onError`, then the router's; then group and router `onResponse`.
 *
 * A request costs a path slice, one `Map` lookup (a prefix scan on a miss) and the hooks that are
 * set: nothing is allocated per request for hooks that are not.
 */
import { NotFoundError, TributaryError } from "../errors.ts";
import type { NodeRequest, NodeResponse } from "../server.ts";

/** What a handler learns about the route that matched. */
export interface RouteMatch {
  /** The request path, without the query string. */
  readonly path: string;
  /** For a prefix route, the path after the prefix; "" for an exact route. */
  readonly rest: string;
  /** The group of the route (the router's own group for not-found answers). */
  readonly group: RouteGroup;
}

/** A route's handler. */
export type RouteHandler = (req: NodeRequest, res: NodeResponse, match: RouteMatch) => unknown;

/** Answers an error in a group's shape (the response has not started). */
export type ErrorFormatter = (res: NodeResponse, err: unknown, req: NodeRequest) => void;

/** Hooks of a router or of a group. */
export interface RouteHooks {
  /**
   * Before the handler; throw to refuse (answered by the group's formatter). The router's runs before
   * the method check (so a 405 carries its trace id), a group's after it (a 405 comes before auth).
   */
  onRequest?: (req: NodeRequest, res: NodeResponse, match: RouteMatch) => void | Promise<void>;
  /** A hook or the handler threw: called before the error is answered (or the response destroyed). */
  onError?: (err: unknown, req: NodeRequest, res: NodeResponse, match: RouteMatch) => void;
  /** The request was handled (answered, refused or failed). */
  onResponse?: (req: NodeRequest, res: NodeResponse, match: RouteMatch) => void;
}

/** Options of {@link Router.group}. */
export interface RouteGroupOptions extends RouteHooks {
  /** A name for logs and metrics. */
  name: string;
  /** How this group's errors are answered; default the router's. */
  formatError?: ErrorFormatter;
}

/** Options of a route. */
export interface RouteOptions {
  /** The methods it takes; others answer 405 `Method not allowed` with `Allow`. Default: any. */
  methods?: readonly string[];
}

/** Options of {@link Router}. */
export interface RouterOptions extends RouteHooks {
  /** How errors of the router's own group (not found, hooks of the router) are answered. */
  formatError: ErrorFormatter;
  /** Wraps the handling of every request (call `next` once and return its promise). */
  around?: (req: NodeRequest, res: NodeResponse, next: () => Promise<void>) => Promise<void>;
  /** Answers paths no route matches; default throws a 404 `no route <METHOD> <path>`. */
  notFound?: RouteHandler;
}

/** The method is not one the route takes (405). */
export class MethodNotAllowedError extends TributaryError {
  readonly allow: readonly string[];
  constructor(allow: readonly string[]) {
    super("METHOD_NOT_ALLOWED", "Method not allowed", { status: 405, details: { allow } });
    this.allow = allow;
  }
}

interface Route {
  readonly group: RouteGroup;
  readonly handler: RouteHandler;
  readonly methods: readonly string[] | undefined;
}

/** A group of routes sharing an error shape and hooks. */
export class RouteGroup {
  readonly name: string;
  readonly formatError: ErrorFormatter;
  readonly hooks: RouteHooks;
  readonly #router: Router;

  constructor(router: Router, options: RouteGroupOptions, fallback: ErrorFormatter) {
    this.#router = router;
    this.name = options.name;
    this.formatError = options.formatError ?? fallback;
    this.hooks = { onRequest: options.onRequest, onError: options.onError, onResponse: options.onResponse };
  }

  /** Adds a route for exactly `path`. */
  route(path: string, handler: RouteHandler, options: RouteOptions = {}): this {
    this.#router.add("exact", path, { group: this, handler, methods: options.methods });
    return this;
  }

  /** Adds a route for every path that starts with `prefix` (the handler gets the rest). */
  prefix(prefix: string, handler: RouteHandler, options: RouteOptions = {}): this {
    this.#router.add("prefix", prefix, { group: this, handler, methods: options.methods });
    return this;
  }
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

const notFound: RouteHandler = (req, _res, match) => {
  throw new NotFoundError(`no route ${req.method} ${match.path}`);
};

/** Routes requests to handlers; {@link Router.handle} is a node request handler. */
export class Router {
  readonly #exact = new Map<string, Route>();
  /** Prefix routes, longest prefix first. */
  #prefixes: { prefix: string; route: Route }[] = [];
  readonly #hooks: RouteHooks;
  readonly #around: RouterOptions["around"];
  readonly #fallback: Route;

  constructor(options: RouterOptions) {
    this.#hooks = { onRequest: options.onRequest, onError: options.onError, onResponse: options.onResponse };
    this.#around = options.around;
    const own = new RouteGroup(this, { name: "router" }, options.formatError);
    this.#fallback = { group: own, handler: options.notFound ?? notFound, methods: undefined };
  }

  /** A new group of routes (errors answered by `formatError`, or the router's). */
  group(options: RouteGroupOptions): RouteGroup {
    return new RouteGroup(this, options, this.#fallback.group.formatError);
  }

  /** Used by {@link RouteGroup}; throws on a path or prefix given twice. */
  add(kind: "exact" | "prefix", path: string, route: Route): void {
    if (!path.startsWith("/")) throw new TypeError(`route ${path} must start with /`);
    if (kind === "exact") {
      if (this.#exact.has(path)) throw new TypeError(`route ${path} is given twice`);
      this.#exact.set(path, route);
      return;
    }
    if (this.#prefixes.some((p) => p.prefix === path)) throw new TypeError(`prefix ${path} is given twice`);
    this.#prefixes = [...this.#prefixes, { prefix: path, route }].sort(
      (a, b) => b.prefix.length - a.prefix.length,
    );
  }

  /** The route of a path and the rest after its prefix. */
  match(path: string): { route: Route; rest: string } {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return { route: exact, rest: "" };
    for (const p of this.#prefixes)
      if (path.startsWith(p.prefix)) return { route: p.route, rest: path.slice(p.prefix.length) };
    return { route: this.#fallback, rest: "" };
  }

  /** Handles one request: the node server's handler. Never rejects. */
  readonly handle = (req: NodeRequest, res: NodeResponse): Promise<void> =>
    this.#around === undefined
      ? this.#dispatch(req, res)
      : this.#around(req, res, () => this.#dispatch(req, res));

  async #dispatch(req: NodeRequest, res: NodeResponse): Promise<void> {
    const path = pathOf(req.url);
    const { route, rest } = this.match(path);
    const group = route.group;
    const match: RouteMatch = { path, rest, group };
    const hooks = this.#hooks;
    try {
      if (hooks.onRequest !== undefined) await hooks.onRequest(req, res, match);
      if (route.methods !== undefined && !route.methods.includes(req.method ?? ""))
        throw new MethodNotAllowedError(route.methods);
      if (group.hooks.onRequest !== undefined) await group.hooks.onRequest(req, res, match);
      await route.handler(req, res, match);
    } catch (err) {
      group.hooks.onError?.(err, req, res, match);
      hooks.onError?.(err, req, res, match);
      answerError(group, req, res, err);
    }
    if (group.hooks.onResponse !== undefined || hooks.onResponse !== undefined) {
      try {
        group.hooks.onResponse?.(req, res, match);
        hooks.onResponse?.(req, res, match);
      } catch {
        // a metrics hook must not fail the request
      }
    }
  }
}

/** Answers `err` in the group's shape, or destroys a response that already started. */
function answerError(group: RouteGroup, req: NodeRequest, res: NodeResponse, err: unknown): void {
  if (res.headersSent) {
    (res as { destroy?: () => void }).destroy?.();
    return;
  }
  if (err instanceof MethodNotAllowedError) res.setHeader("Allow", err.allow.join(", "));
  try {
    group.formatError(res, err, req);
  } catch {
    (res as { destroy?: () => void }).destroy?.();
  }
}
