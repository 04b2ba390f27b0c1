/**
 * The live runner registry: which runners exist, which are ready, their sessions (capacity is counted
 * in sessions, not connections), and each session's channels and generated proxies.
 *
 * - **Dynamic runners** register with `POST /runners/heartbeat` (heartbeat.ts): bootstrap with the
 *   orchestrator secret, then the derived heartbeat secret. One that sends no valid heartbeat for
 *   `heartbeatTtlMs` (20 s, go-livepeer's) is withdrawn: hidden at once, then removed by the sweep
 *   (every second, service.ts; go-livepeer: every 5 s) with its sessions released and its channels closed.
 * - **Static runners** come from `runners.json` or `/registerLiveRunners` (upsert by label: the id and
 *   the sessions of a known label survive). Their `health_url` is polled (health.ts); an unhealthy one
 *   is hidden and its sessions released; it does not expire.
 *
 * The clock is injectable (`now`), so TTL withdrawal is tested on a fake clock. Every lookup that
 * routes answers 404 `RUNNER_NOT_FOUND` for a runner that is missing, withdrawn or not `ready`.
 */
import { BadRequestError, TributaryError } from "../../node/errors.ts";
import { type Logger, silentLogger } from "../../node/logger.ts";
import { NoCapacityError } from "../http.ts";
import type { SessionChannel } from "./channels.ts";
import type { RunnerAdvert, StaticRunner } from "./config.ts";
import { deriveSecret, newProxyId, newRunnerId, newSeed, newSessionId } from "./secrets.ts";

/** Default heartbeat period told to runners (go-livepeer: 5 s). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5000;
/** Default heartbeat TTL (go-livepeer: 20 s). */
export const DEFAULT_HEARTBEAT_TTL_MS = 20_000;

/** No such runner here, or it is withdrawn or not ready (404). */
export class RunnerNotFoundError extends TributaryError {
  constructor(message = "runner not found") {
    super("RUNNER_NOT_FOUND", message, { status: 404 });
  }
}

/** No such session on this runner (404). */
export class RunnerSessionNotFoundError extends TributaryError {
  constructor(message = "runner session not found") {
    super("RUNNER_SESSION_NOT_FOUND", message, { status: 404 });
  }
}

/** A wrong or missing heartbeat secret, orchestrator secret or session token (401). */
export class RunnerUnauthorizedError extends TributaryError {
  constructor(message = "invalid authorization") {
    super("RUNNER_UNAUTHORIZED", message, { status: 401 });
  }
}

/** One session of a runner. */
export interface RunnerSession {
  readonly id: string;
  readonly createdAt: number;
  /** Channels by short name. */
  readonly channels: Map<string, SessionChannel>;
  /** Generated proxies: id → target URL (no trailing slash). */
  readonly proxies: Map<string, string>;
  /** Aborted when the session is released: proxied connections of the session end with it. */
  readonly ended: AbortController;
}

/** One registered runner. */
export interface Runner {
  readonly id: string;
  /** The path segment clients use: the id, or the label of a static runner routed by label. */
  route: string;
  readonly seed: Buffer;
  readonly isStatic: boolean;
  advert: RunnerAdvert;
  lastBeat: number;
  removed: boolean;
  readonly sessions: Map<string, RunnerSession>;
  /** Static runners: their health check and where they came from. */
  health?: { url: string; status: number; source: "file" | "api" };
}

/** The registry's hooks into channels (channels.ts), kept out so the registry stays pure. */
export interface RunnerHooks {
  /** A session was reserved or released (the o2r message). */
  sessionEvent?(runner: Runner, event: "reserved" | "released", sessionId: string): void;
  /** A session's channels must be closed. */
  closeChannels?(session: RunnerSession): void;
  /** A runner is gone (close its o2r channel). */
  runnerRemoved?(runner: Runner): void;
}

/** Options of {@link RunnerRegistry}. */
export interface RunnerRegistryOptions {
  now?: () => number;
  heartbeatIntervalMs?: number;
  heartbeatTtlMs?: number;
  hooks?: RunnerHooks;
  logger?: Logger;
}

/** What discovery says about a runner (the URL is added by the route, which knows the service URI). */
export interface DiscoveredRunner {
  route: string;
  gpu?: RunnerAdvert["gpu"];
  app: string;
  version?: string;
  metadata?: string;
  mode: string;
  capacity: number;
  capacity_used: number;
  capacity_available: number;
  /**
   * On a paid node: the runner's price, which the route quotes into go-livepeer's converted
   * `price_info` (wei per charged unit, runners/payments.ts) and does not send as such.
   */
  price?: RunnerAdvert["price"];
}

const isReady = (r: Runner): boolean => r.advert.status === "" || r.advert.status === "ready";

/** The live runner registry. */
export class RunnerRegistry {
  readonly now: () => number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTtlMs: number;
  readonly #byRoute = new Map<string, Runner>();
  readonly #hooks: RunnerHooks;
  readonly #log: Logger;

  constructor(options: RunnerRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.heartbeatTtlMs = options.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS;
    this.#hooks = options.hooks ?? {};
    this.#log = options.logger ?? silentLogger();
  }

  /** True when a dynamic runner missed its TTL. */
  expired(r: Runner): boolean {
    return !r.isStatic && this.now() - r.lastBeat > this.heartbeatTtlMs;
  }

  /** The runner under `route`, even withdrawn (heartbeat.ts decides what to do with it). */
  get(route: string): Runner | undefined {
    return this.#byRoute.get(route);
  }

  /** Every runner (for the health poller and tests). */
  all(): Runner[] {
    return [...this.#byRoute.values()];
  }

  /** A new dynamic runner (heartbeat.ts checked the bootstrap secret). */
  addDynamic(id: string, advert: RunnerAdvert): Runner {
    const runner: Runner = {
      id,
      route: id,
      seed: newSeed(),
      isStatic: false,
      advert,
      lastBeat: this.now(),
      removed: false,
      sessions: new Map(),
    };
    this.#byRoute.set(id, runner);
    this.#log.info({ runner_id: id, app: advert.app, mode: advert.mode }, "live runner registered");
    return runner;
  }

  /**
   * Upserts static runners by label (ids and sessions of known labels survive); `healthy[i]` is the
   * first health result of `entries[i]`. With `source: "file"`, file runners missing from `entries`
   * are removed (a reload of runners.json); the API never removes (go-livepeer's upsert).
   */
  upsertStatic(
    entries: readonly StaticRunner[],
    healthy: readonly boolean[],
    source: "file" | "api",
  ): {
    runner_id: string;
    label: string;
    app: string;
    runner_url: string;
    mode: string;
    health_url: string;
    healthy_status_code: number;
    healthy: boolean;
  }[] {
    const byLabel = new Map<string, Runner>();
    for (const r of this.#byRoute.values()) if (r.isStatic) byLabel.set(r.advert.label, r);
    // Checked before anything changes, so a refused batch registers nothing.
    for (const entry of entries) {
      if (entry.routing !== "label") continue;
      const taken = this.#byRoute.get(entry.label);
      if (taken !== undefined && taken !== byLabel.get(entry.label))
        throw new BadRequestError(`route ${JSON.stringify(entry.label)} is used by another runner`);
    }
    const out = entries.map((entry, i) => {
      const ok = healthy[i] === true;
      let runner = byLabel.get(entry.label);
      if (runner === undefined) {
        let id = newRunnerId();
        while (this.#byRoute.has(id)) id = newRunnerId();
        runner = {
          id,
          route: id,
          seed: newSeed(),
          isStatic: true,
          advert: entry,
          lastBeat: this.now(),
          removed: false,
          sessions: new Map(),
        };
        this.#log.info({ runner_id: id, app: entry.app, healthy: ok }, "static live runner registered");
      }
      const route = entry.routing === "label" ? entry.label : runner.id;
      const taken = this.#byRoute.get(route);
      if (taken !== undefined && taken !== runner)
        throw new BadRequestError(`route ${JSON.stringify(route)} is used by another runner`);
      if (runner.route !== route) this.#byRoute.delete(runner.route);
      runner.route = route;
      runner.advert = { ...entry, status: ok ? "ready" : "unavailable" };
      runner.health = { url: entry.healthUrl, status: entry.healthyStatusCode, source };
      if (!ok) for (const id of [...runner.sessions.keys()]) this.release(runner, id);
      this.#byRoute.set(route, runner);
      return {
        runner_id: runner.id,
        label: entry.label,
        app: entry.app,
        runner_url: entry.runnerUrl,
        mode: entry.mode,
        health_url: entry.healthUrl,
        healthy_status_code: entry.healthyStatusCode,
        healthy: ok,
      };
    });
    if (source === "file") {
      const kept = new Set(entries.map((e) => e.label));
      for (const r of this.all())
        if (r.isStatic && r.health?.source === "file" && !kept.has(r.advert.label)) this.remove(r, "config");
    }
    return out;
  }

  /** Sets a static runner's health (health.ts); an unhealthy one loses its sessions. */
  setHealthy(runner: Runner, healthy: boolean): void {
    if (runner.removed) return;
    const status = healthy ? "ready" : "unavailable";
    if (runner.advert.status !== status)
      this.#log.info(
        { runner_id: runner.id, app: runner.advert.app, status },
        "static live runner health changed",
      );
    runner.advert = { ...runner.advert, status };
    if (!healthy) for (const id of [...runner.sessions.keys()]) this.release(runner, id);
  }

  /** A routable runner: present, not withdrawn, ready; else 404. */
  ready(route: string): Runner {
    const r = this.#byRoute.get(route);
    if (r === undefined || r.removed || this.expired(r) || !isReady(r)) throw new RunnerNotFoundError();
    return r;
  }

  /** A session of a routable runner; else 404. */
  session(route: string, sessionId: string): { runner: Runner; session: RunnerSession } {
    const runner = this.ready(route);
    const session = runner.sessions.get(sessionId);
    if (session === undefined) throw new RunnerSessionNotFoundError();
    return { runner, session };
  }

  /** Reserves a session: 404 no runner, 503 full, 409 the given id is in use. */
  reserve(route: string, sessionId?: string): { runner: Runner; session: RunnerSession } {
    const runner = this.ready(route);
    if (runner.sessions.size >= runner.advert.capacity)
      throw new NoCapacityError("no capacity available for runner", { runner: route });
    let id = sessionId ?? newSessionId();
    if (sessionId !== undefined && runner.sessions.has(id))
      throw new TributaryError("RUNNER_SESSION_EXISTS", "session already exists", { status: 409 });
    while (runner.sessions.has(id)) id = newSessionId();
    const session: RunnerSession = {
      id,
      createdAt: this.now(),
      channels: new Map(),
      proxies: new Map(),
      ended: new AbortController(),
    };
    runner.sessions.set(id, session);
    this.#hooks.sessionEvent?.(runner, "reserved", id);
    return { runner, session };
  }

  /** Releases a session (its channels and proxies go with it); a missing one is a no-op. */
  release(runner: Runner, sessionId: string): void {
    const session = runner.sessions.get(sessionId);
    if (session === undefined) return;
    runner.sessions.delete(sessionId);
    this.#hooks.sessionEvent?.(runner, "released", sessionId);
    this.#hooks.closeChannels?.(session);
    session.channels.clear();
    session.proxies.clear();
    session.ended.abort();
  }

  /** The token a session's runner callbacks carry. */
  sessionToken(runner: Runner, sessionId: string): string {
    return deriveSecret(runner.seed, `session:${sessionId}`);
  }

  /** Removes a runner, releasing its sessions. */
  remove(runner: Runner, reason: string): void {
    if (runner.removed) return;
    for (const id of [...runner.sessions.keys()]) this.release(runner, id);
    runner.removed = true;
    if (this.#byRoute.get(runner.route) === runner) this.#byRoute.delete(runner.route);
    this.#hooks.runnerRemoved?.(runner);
    this.#log.info({ runner_id: runner.id, app: runner.advert.app, reason }, "live runner deregistered");
  }

  /** Removes the dynamic runners past their TTL; returns their ids. */
  sweep(): string[] {
    const gone: string[] = [];
    for (const r of this.all())
      if (!r.removed && this.expired(r)) {
        this.remove(r, "heartbeat timeout");
        gone.push(r.id);
      }
    return gone;
  }

  /** The ready runners, for `GET /discovery`. */
  discovery(): DiscoveredRunner[] {
    const out: DiscoveredRunner[] = [];
    for (const r of this.#byRoute.values()) {
      if (r.removed || this.expired(r) || !isReady(r)) continue;
      const a = r.advert;
      out.push({
        route: r.route,
        ...(a.gpu !== undefined && Object.keys(a.gpu).length > 0 ? { gpu: a.gpu } : {}),
        app: a.app,
        ...(a.version !== "" ? { version: a.version } : {}),
        ...(a.metadata !== "" ? { metadata: a.metadata } : {}),
        mode: a.mode,
        capacity: a.capacity,
        capacity_used: r.sessions.size,
        capacity_available: Math.max(0, a.capacity - r.sessions.size),
        ...(a.price !== undefined ? { price: a.price } : {}),
      });
    }
    return out;
  }

  /** Finds a generated proxy by id among ready runners' sessions. */
  findProxy(proxyId: string): { runner: Runner; session: RunnerSession; target: string } | undefined {
    for (const runner of this.#byRoute.values()) {
      if (runner.removed || this.expired(runner) || !isReady(runner)) continue;
      for (const session of runner.sessions.values()) {
        const target = session.proxies.get(proxyId);
        if (target !== undefined) return { runner, session, target };
      }
    }
    return undefined;
  }

  /** Adds a generated proxy to `target` to a session; returns its id. */
  addProxy(session: RunnerSession, target: string): string {
    let id = newProxyId();
    while (session.proxies.has(id)) id = newProxyId();
    session.proxies.set(id, target.replace(/\/+$/, ""));
    return id;
  }

  /** Releases every session and removes every runner (node shutdown). */
  close(): void {
    for (const r of this.all()) this.remove(r, "orchestrator closing");
  }
}
