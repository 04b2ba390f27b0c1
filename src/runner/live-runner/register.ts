/**
 * Dynamic registration of a live runner (the Live Runner API's `POST /runners/heartbeat`):
 *
 * - the first beat carries the orchestrator's secret (`Authorization: <secret>`, raw); its answer
 *   gives the runner id, `heartbeat_secret`, `heartbeat_interval`, `heartbeat_ttl` and the `o2r`
 *   channel; later beats carry the heartbeat secret;
 * - beats go every `heartbeat_interval` (at most a third of the TTL, so two lost beats do not
 *   withdraw the runner); a failed beat is retried after an exponential backoff with full jitter,
 *   capped below the TTL while registered;
 * - a 401 to the heartbeat secret means the orchestrator forgot the runner (restarted, or the TTL
 *   passed): the runner bootstraps again at once with the orchestrator's secret, keeping its id;
 * - the o2r channel (a trickle channel of JSON messages) brings `reserved` / `released` session events
 *   as they happen; every heartbeat answer lists the runner's sessions too, and the two are reconciled
 *   (an o2r event is never undone by an answer that predates it);
 * - {@link HeartbeatLoop.close} (or the signal) stops the beats and unregisters
 *   (`POST /runners/{id}/unregister` with the heartbeat secret).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TributaryError } from "../../node/errors.ts";
import { type Logger, silentLogger } from "../../node/logger.ts";
import { TrickleSubscriber } from "../../trickle/subscriber.ts";
import { answerMessage, callOrchestrator } from "./http.ts";

/** What the runner advertises in each beat (go-livepeer `LiveRunnerHeartbeatRequest`). */
export interface RunnerAdvert {
  /** Where the orchestrator reaches this runner (http/https). */
  runnerUrl: string;
  /** The app id clients ask for, e.g. `acme/echo` (discovery's `app`). */
  app: string;
  /** Default `persistent`. */
  mode?: "persistent" | "single-shot";
  /** Concurrent sessions; default 1. */
  capacity?: number;
  /** A stable id; default the one the orchestrator assigns on the first beat. */
  runnerId?: string;
  label?: string;
  version?: string;
  /** Public text shown in discovery (at most 1024 bytes). */
  metadata?: string;
  /** `ready` (default) or anything else to be listed but not routed. */
  status?: string;
  gpu?: { id?: string; name?: string; vram_mb?: number };
  /** Price on a paid orchestrator, e.g. `{price: "1000", currency: "wei", unit: "seconds"}`. */
  priceInfo?: { price: string | number; currency?: string; unit?: string };
}

/** A session event from the o2r channel or a heartbeat answer. */
export interface SessionEvent {
  event: "reserved" | "released";
  session: string;
  /** From the o2r message; undefined for events derived from a heartbeat answer. */
  timestamp?: string;
}

/** Options of {@link startHeartbeats}. */
export interface HeartbeatOptions {
  /** The orchestrator's base URL (https://host:8935). */
  orchUrl: string;
  /** The orchestrator's secret (`-orchSecret`). */
  orchSecret: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Called for every session reserved or released (errors are logged, not thrown). */
  onSession?: (e: SessionEvent) => unknown;
  /** Period when the orchestrator names none; default 5000 ms. Also an override with `forceInterval`. */
  intervalMs?: number;
  /** Use `intervalMs` whatever the orchestrator says (tests). */
  forceInterval?: boolean;
  /** First retry delay after a failed beat; default 500 ms. Doubles per failure. */
  retryDelayMs?: number;
  /** Largest retry delay; default 30 000 ms (and a third of the TTL while registered). */
  maxRetryDelayMs?: number;
  /** Per-request timeout; default 5000 ms. */
  timeoutMs?: number;
  verifyTls?: boolean;
  /** Random source of the jitter (tests); default Math.random. */
  random?: () => number;
}

/** Counters of a loop. */
export interface HeartbeatStats {
  /** Beats answered 200. */
  beats: number;
  /** Beats that failed (network, non-200). */
  failures: number;
  /** Bootstraps answered 200 (the first registration and every re-registration). */
  registrations: number;
}

/** A running heartbeat loop. */
export interface HeartbeatLoop extends AsyncDisposable {
  /** Resolves true after the first registration, false if closed before one. */
  readonly registered: Promise<boolean>;
  /** The runner id (once registered). */
  readonly runnerId: string | undefined;
  /** The orchestrator URL the runner talks to (the answer's `orchestrator` once registered). */
  readonly orchestrator: string;
  /** Sessions the runner holds now. */
  readonly sessions: ReadonlySet<string>;
  readonly stats: HeartbeatStats;
  /** Stops the beats and the o2r reader, then unregisters (best effort). Idempotent. */
  close(): Promise<void>;
}

/** The heartbeat answer is not what the protocol says (502). */
export class HeartbeatAnswerError extends TributaryError {
  constructor(message: string) {
    super("LIVE_RUNNER_HEARTBEAT_FAILED", message, { status: 502 });
  }
}

/** Parses a go `time.Duration` string ("5s", "1.5s", "250ms", "1m0s"); undefined when it is not one. */
export function parseGoDuration(value: unknown): number | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const scale: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  let total = 0;
  let rest = value.trim();
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (m === null) return undefined;
    total += Number(m[1]) * (scale[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** The JSON body of a beat. */
export function heartbeatBody(
  advert: RunnerAdvert,
  runnerId: string | undefined,
  sessions: Iterable<string>,
) {
  const body: Record<string, unknown> = {
    runner_url: advert.runnerUrl,
    app: advert.app,
    mode: advert.mode ?? "persistent",
    capacity: advert.capacity ?? 1,
    session_ids: [...sessions],
    status: advert.status ?? "ready",
  };
  const id = runnerId ?? advert.runnerId;
  if (id) body.runner_id = id;
  if (advert.label) body.label = advert.label;
  if (advert.version) body.version = advert.version;
  if (advert.metadata) body.metadata = advert.metadata;
  if (advert.gpu) body.gpu = advert.gpu;
  if (advert.priceInfo) body.price_info = advert.priceInfo;
  return body;
}

/** Registers `advert` and keeps it registered until closed. */
export function startHeartbeats(advert: RunnerAdvert, options: HeartbeatOptions): HeartbeatLoop {
  const log = (options.logger ?? silentLogger()).child({ app: advert.app });
  const stop = new AbortController();
  const onAbort = (): void => void close();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const random = options.random ?? Math.random;
  const baseRetry = options.retryDelayMs ?? 500;
  const maxRetry = options.maxRetryDelayMs ?? 30_000;
  const stats: HeartbeatStats = { beats: 0, failures: 0, registrations: 0 };
  let orchestrator = options.orchUrl.replace(/\/+$/, "");
  let runnerId: string | undefined = advert.runnerId;
  let secret: string | undefined;
  let intervalMs = options.intervalMs ?? 5000;
  let ttlMs: number | undefined;
  /** Session id → the beat count when it was reserved (an answer sent before cannot release it). */
  const sessions = new Map<string, number>();
  /** Session id → the beat count when it was released (an answer sent before cannot bring it back). */
  const released = new Map<string, number>();
  let sent = 0;
  let o2r: TrickleSubscriber | undefined;
  let settle: (ok: boolean) => void = () => {};
  const registered = new Promise<boolean>((resolve) => {
    settle = resolve;
  });

  const emit = (e: SessionEvent): void => {
    if (e.event === "reserved") {
      if (sessions.has(e.session)) return;
      sessions.set(e.session, sent);
      released.delete(e.session);
    } else {
      if (!sessions.delete(e.session)) return;
      released.set(e.session, sent);
    }
    log.info({ session_id: e.session, event: e.event }, "live runner session event");
    try {
      Promise.resolve(options.onSession?.(e)).catch((err: unknown) =>
        log.warn({ err, session_id: e.session }, "session event handler failed"),
      );
    } catch (err) {
      log.warn({ err, session_id: e.session }, "session event handler failed");
    }
  };

  const readO2r = async (url: string): Promise<void> => {
    o2r?.close();
    const sub = new TrickleSubscriber(url, {
      start: 0,
      signal: stop.signal,
      tls: { insecure: !options.verifyTls },
      logger: log,
    });
    o2r = sub;
    try {
      for await (const segment of sub) {
        const text = new TextDecoder().decode(await segment.bytes());
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(text) as Record<string, unknown>;
        } catch {
          log.warn("o2r message is not JSON; ignored");
          continue;
        }
        if (msg.keep === "alive") continue;
        const session = typeof msg.session === "string" ? msg.session.trim() : "";
        if ((msg.event === "reserved" || msg.event === "released") && session !== "")
          emit({
            event: msg.event,
            session,
            ...(typeof msg.timestamp === "string" ? { timestamp: msg.timestamp } : {}),
          });
        else log.debug("unknown o2r message ignored");
      }
    } catch (err) {
      if (!stop.signal.aborted) log.warn({ err }, "o2r channel ended; sessions follow the heartbeat answers");
    } finally {
      if (o2r === sub) o2r = undefined;
    }
  };

  const post = async (auth: string) => {
    const at = ++sent;
    const answer = await callOrchestrator(`${orchestrator}/runners/heartbeat`, {
      body: heartbeatBody(advert, runnerId, sessions.keys()),
      headers: { authorization: auth },
      timeoutMs: options.timeoutMs ?? 5000,
      ...(options.verifyTls !== undefined ? { verifyTls: options.verifyTls } : {}),
      signal: stop.signal,
    });
    return { answer, at };
  };

  const beat = async (): Promise<void> => {
    const bootstrap = secret === undefined;
    let { answer, at } = await post(secret ?? options.orchSecret);
    let fresh = bootstrap;
    if (answer.status === 401 && !bootstrap) {
      log.info(
        { runner_id: runnerId },
        "heartbeat secret refused (orchestrator restarted or TTL passed); registering again",
      );
      secret = undefined;
      fresh = true;
      ({ answer, at } = await post(options.orchSecret));
    }
    if (answer.status !== 200)
      throw new HeartbeatAnswerError(
        `the orchestrator answered the heartbeat with ${answer.status}: ${answerMessage(answer.text)}`,
      );
    const doc = JSON.parse(answer.text) as Record<string, unknown>;
    const id = typeof doc.runner_id === "string" ? doc.runner_id.trim() : "";
    if (id === "") throw new HeartbeatAnswerError("the heartbeat answer has no runner_id");
    runnerId = id;
    if (typeof doc.orchestrator === "string" && doc.orchestrator.trim() !== "")
      orchestrator = doc.orchestrator.trim().replace(/\/+$/, "");
    ttlMs = parseGoDuration(doc.heartbeat_ttl);
    if (!options.forceInterval) {
      const named = parseGoDuration(doc.heartbeat_interval) ?? options.intervalMs ?? 5000;
      intervalMs = ttlMs !== undefined ? Math.min(named, ttlMs / 3) : named;
    }
    if (fresh) {
      const given = typeof doc.heartbeat_secret === "string" ? doc.heartbeat_secret.trim() : "";
      if (given === "") throw new HeartbeatAnswerError("the registration answer has no heartbeat_secret");
      secret = given;
      stats.registrations++;
      log.info({ runner_id: id, orchestrator }, "live runner registered");
      const ch = doc.o2r as { url?: unknown } | undefined;
      if (typeof ch?.url === "string" && ch.url !== "") void readO2r(ch.url);
      settle(true);
    }
    stats.beats++;
    if (Array.isArray(doc.session_ids)) {
      const listed = new Set(doc.session_ids.filter((s): s is string => typeof s === "string"));
      for (const s of listed) if ((released.get(s) ?? -1) < at) emit({ event: "reserved", session: s });
      for (const [s, since] of sessions)
        if (!listed.has(s) && since < at) emit({ event: "released", session: s });
      for (const [s, when] of released) if (when < at && !listed.has(s)) released.delete(s);
    }
  };

  const loop = (async () => {
    let failures = 0;
    while (!stop.signal.aborted) {
      let wait: number;
      try {
        await beat();
        failures = 0;
        wait = intervalMs;
      } catch (err) {
        if (stop.signal.aborted) break;
        stats.failures++;
        failures++;
        const cap = secret !== undefined && ttlMs !== undefined ? Math.min(maxRetry, ttlMs / 3) : maxRetry;
        const ceiling = Math.min(cap, baseRetry * 2 ** (failures - 1));
        wait = Math.max(10, Math.round(ceiling * random()));
        log.warn({ err, retry_in_ms: wait, failures }, "live runner heartbeat failed");
      }
      try {
        await sleep(wait, undefined, { signal: stop.signal });
      } catch {
        break;
      }
    }
    settle(false);
  })();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      options.signal?.removeEventListener("abort", onAbort);
      stop.abort();
      o2r?.close();
      await loop;
      if (secret === undefined || runnerId === undefined) return;
      try {
        const answer = await callOrchestrator(
          `${orchestrator}/runners/${encodeURIComponent(runnerId)}/unregister`,
          {
            headers: { authorization: secret },
            timeoutMs: options.timeoutMs ?? 5000,
            ...(options.verifyTls !== undefined ? { verifyTls: options.verifyTls } : {}),
          },
        );
        if (answer.status === 204) log.info({ runner_id: runnerId }, "live runner unregistered");
        else log.warn({ status: answer.status }, "live runner unregister refused");
      } catch (err) {
        log.warn({ err }, "live runner unregister failed");
      }
      secret = undefined;
    })();
    return closed;
  };

  return {
    registered,
    get runnerId() {
      return runnerId;
    },
    get orchestrator() {
      return orchestrator;
    },
    get sessions() {
      return new Set(sessions.keys());
    },
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}
