/**
 * Live runners on one orchestrator: the registry (registry.ts) wired to the trickle channels
 * (channels.ts), the heartbeat sweep and static health timers (unref'd, cleared on close), the static
 * configuration (`--live-runner-config`, hot reloaded like aiModels.json through the same watcher,
 * and `POST /registerLiveRunners`), and the URLs runners and clients are given.
 *
 * Two audiences, two addresses: clients get `{serviceUri}/apps/…` and public trickle URLs;
 * runners get `--live-runner-addr` (go-livepeer `-liveRunnerAddr`, default the service URI) in the
 * heartbeat answer, the `Livepeer-Session-Control` header and channels' `internal_url`.
 */
import type { EthUsdSource } from "../../chain/price-feed.ts";
import { type Logger, silentLogger } from "../../node/logger.ts";
import type { TrickleServer } from "../../trickle/server.ts";
import { type AiModelsWatcher, watchConfigFile } from "../config.ts";
import { type O2rChannel, RunnerChannels } from "./channels.ts";
import { loadRunnersConfig, parseRunnersConfig, type RunnerPricing, type StaticRunner } from "./config.ts";
import { checkStaticRunners, DEFAULT_RUNNER_HEALTH_INTERVAL_MS, probeStatus } from "./health.ts";
import { type OperatorListener, startOperatorListener } from "./operator.ts";
import { ProxyTemplate } from "./proxy.ts";
import { type Runner, RunnerRegistry, type RunnerSession } from "./registry.ts";
import { deriveSecret } from "./secrets.ts";

/** How often withdrawn dynamic runners are removed and their sessions released (go-livepeer: 5 s). */
export const SWEEP_INTERVAL_MS = 1000;

/** Options of {@link LiveRunners} (the orchestrator's `liveRunners` option). */
export interface LiveRunnerOptions {
  /** Static runners file (`--live-runner-config`): loaded at start, hot reloaded. */
  configPath?: string;
  /** Runner-facing orchestrator URL (`--live-runner-addr`); default the service URI. */
  runnerAddr?: string;
  /** Generated proxy URL template (`--live-runner-proxy-url`); default `{serviceUri}/run/{proxy}`. */
  proxyUrl?: string;
  heartbeatIntervalMs?: number;
  heartbeatTtlMs?: number;
  healthIntervalMs?: number;
  /** Health probe (tests); default a GET with a 3 s timeout. */
  probe?: (url: string) => Promise<number | undefined>;
  /** Clock (tests). */
  now?: () => number;
  /**
   * Port of the operator listener (`POST /registerLiveRunners`, operator.ts) on `operatorHost`
   * (default 127.0.0.1); undefined: none. The CLI's `--cli-addr` default is 127.0.0.1:7935.
   */
  operatorPort?: number;
  operatorHost?: string;
  /** runners.json reload: debounce and SIGHUP (default on). */
  reload?: { debounceMs?: number; sighup?: boolean };
  /**
   * ETH/USD for runners priced in USD on a paid node (`--price-feed-addr`, src/chain/price-feed.ts);
   * without it such runners are refused at registration.
   */
  priceFeed?: EthUsdSource;
}

/** Live runners of one orchestrator. */
export class LiveRunners {
  readonly registry: RunnerRegistry;
  readonly channels: RunnerChannels;
  readonly options: LiveRunnerOptions;
  /** The bootstrap secret of dynamic runners (the orchestrator secret). */
  readonly secret: string | undefined;
  /** Truthy on a paid node; `"usd"` when it has a price feed (runners/config.ts `RunnerPricing`). */
  readonly paid: RunnerPricing;
  readonly #log: Logger;
  readonly #o2r = new Map<Runner, O2rChannel>();
  readonly #timers: NodeJS.Timeout[] = [];
  #serviceUri = "";
  #template: ProxyTemplate | undefined;
  #watcher: AiModelsWatcher | undefined;
  #operator: OperatorListener | undefined;

  /**
   * @param trickleBase the trickle mount's path (`/ai/trickle/`)
   */
  constructor(
    trickle: TrickleServer,
    trickleBase: string,
    options: LiveRunnerOptions,
    secret: string | undefined,
    paid: boolean,
    log?: Logger,
  ) {
    this.options = options;
    this.secret = secret;
    this.paid = paid && options.priceFeed !== undefined ? "usd" : paid;
    this.#log = log ?? silentLogger();
    this.channels = new RunnerChannels(
      trickle,
      this.#log,
      () => `${this.#serviceUri}${trickleBase}`,
      () => `${this.runnerFacingUrl()}${trickleBase}`,
    );
    this.registry = new RunnerRegistry({
      now: options.now,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      heartbeatTtlMs: options.heartbeatTtlMs,
      logger: this.#log,
      hooks: {
        sessionEvent: (runner, event, session) =>
          this.#o2r
            .get(runner)
            ?.send({ event, session, timestamp: new Date(this.registry.now()).toISOString() }),
        closeChannels: (session) => {
          for (const ch of session.channels.values()) this.channels.remove(ch.channel_name);
        },
        runnerRemoved: (runner) => {
          this.#o2r.get(runner)?.close();
          this.#o2r.delete(runner);
        },
      },
    });
  }

  /** The runner-facing orchestrator URL. */
  runnerFacingUrl(): string {
    return (this.options.runnerAddr ?? this.#serviceUri).replace(/\/+$/, "");
  }

  /** The public service URI. */
  get serviceUri(): string {
    return this.#serviceUri;
  }

  /** `http://host:port` of the operator listener, when there is one. */
  get operatorUrl(): string | undefined {
    return this.#operator?.url;
  }

  /** The generated proxy template; undefined until {@link start} (the port is bound a moment before). */
  get template(): ProxyTemplate | undefined {
    return this.#template;
  }

  /** Opens the o2r channel of a new dynamic runner and describes it. */
  openO2r(runner: Runner) {
    const name = `${runner.id}-${deriveSecret(runner.seed, "trickle:o2r").slice(0, 16)}-o2r`;
    this.#o2r.set(runner, this.channels.openO2r(name));
    return this.channels.describeO2r(name);
  }

  /** The trickle channel name of a session channel. */
  channelName(runner: Runner, session: RunnerSession, name: string): string {
    return `${session.id}-${deriveSecret(runner.seed, `channel:${session.id}`).slice(0, 16)}-${name}`;
  }

  /** `Livepeer-Session-Control`: where the runner calls back for this session. */
  sessionControl(runner: Runner, sessionId: string): string {
    return `${this.runnerFacingUrl()}/runner/${encodeURIComponent(runner.route)}/session/${encodeURIComponent(sessionId)}`;
  }

  /** Validates and upserts a static configuration document (whole or nothing), health checked first. */
  async registerStatic(doc: unknown) {
    return this.#apply(parseRunnersConfig(doc, this.paid), "api");
  }

  async #apply(entries: StaticRunner[], source: "file" | "api") {
    const probe = this.options.probe ?? ((url: string) => probeStatus(url));
    const healthy = await Promise.all(
      entries.map(async (e) => (await probe(e.healthUrl)) === e.healthyStatusCode),
    );
    return this.registry.upsertStatic(entries, healthy, source);
  }

  /** Once the port is bound: the URLs, the static config, the timers and the reload watcher. */
  async start(serviceUri: string): Promise<void> {
    this.#serviceUri = serviceUri.replace(/\/+$/, "");
    this.#template = new ProxyTemplate(this.options.proxyUrl, this.#serviceUri);
    const path = this.options.configPath;
    if (path !== undefined) {
      await this.#apply(await loadRunnersConfig(path, this.paid), "file");
      this.#watcher = watchConfigFile(
        path,
        (p) => loadRunnersConfig(p, this.paid),
        async (entries) => {
          await this.#apply(entries, "file");
          this.#log.info({ runners: entries.length }, "live runner config reloaded");
        },
        (err) => this.#log.error({ err }, "live runner config reload failed; keeping the previous one"),
        { ...this.options.reload, logger: this.#log },
      );
    }
    const every = (ms: number, fn: () => unknown): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.#timers.push(t);
    };
    // Hidden at the TTL already (lookups check it); the sweep releases sessions within a second after.
    every(Math.min(SWEEP_INTERVAL_MS, this.registry.heartbeatIntervalMs), () => this.registry.sweep());
    every(this.options.healthIntervalMs ?? DEFAULT_RUNNER_HEALTH_INTERVAL_MS, () =>
      checkStaticRunners(this.registry, this.options.probe),
    );
    if (this.options.operatorPort !== undefined)
      this.#operator = await startOperatorListener(
        this,
        this.options.operatorHost ?? "127.0.0.1",
        this.options.operatorPort,
      );
  }

  /** Stops the timers, the watcher and the operator listener; releases every session, closes every o2r channel. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    this.#watcher?.close();
    this.registry.close();
    await this.#operator?.close();
  }
}
