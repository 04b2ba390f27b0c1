/**
 * The gateway node: a plain-HTTP user API (default 127.0.0.1:8937) in front of the orchestrators that
 * discovery finds (docs/spec/orchestrator-gateway.md#gateway-byoc-routes,
 * docs/spec/orchestrator-gateway.md#ai-batch-request-end-to-end). This file assembles it: the
 * context built once (context.ts: pool, selector, suspender, payments, metrics, dashboard, live), the
 * routes registered over it (routes/), listening and shutdown. The retry loop of batch jobs is
 * jobs.ts; live video and BYOC streams are live/.
 *
 * Payments: with `options.payments` (see onchain.ts), BYOC, native AI and live jobs are signed and
 * paid per send (payments.ts). Without it the gateway is offchain, as go-livepeer offchain.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Registry } from "prom-client";
import type { EthUsdSource } from "../chain/price-feed.ts";
import { TributaryError } from "../node/errors.ts";
import {
  clientErrorListener,
  type HttpLimits,
  http1ServerOptions,
  resolveHttpLimits,
} from "../node/http/limits.ts";
import { closeServer, listen, originOf } from "../node/http/listen.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { createMetricsRegistry } from "../node/metrics.ts";
import type { Rat } from "../payments/rational.ts";
import type { Sender } from "../payments/sender.ts";
import type { MessageSigner } from "../payments/signature.ts";
import { type GatewayContext, gatewayMetrics, traceOf } from "./context.ts";
import { createDashboard, createPoolDashboardSource } from "./dashboard/index.ts";
import {
  createGrpcOrchestratorClient,
  type DiscoveryConfig,
  type DiscoverySource,
  discoverySourceFromConfig,
  type OrchestratorInfoFetcher,
  OrchestratorPool,
  type PoolEvent,
  RunnerDirectory,
  signRequestCredentials,
} from "./discovery/index.ts";
import { UsdPerEthCache } from "./explorer/usd.ts";
import { poolExplorerViews } from "./explorer/views.ts";
import { EXPERIENCE_FILE, ExperienceHistory, StreamWatcher } from "./history/index.ts";
import { createLive, type LiveManager } from "./live/index.ts";
import { createOrchestratorHttp } from "./orch-http.ts";
import { type GatewayPayer, GatewayPayments } from "./payments.ts";
import { RemotePayments, type RemoteSignerClient } from "./remote-signer.ts";
import { createRouter } from "./routes/index.ts";
import { runnerUpgrade } from "./routes/live-runners.ts";
import { gatewayRunnerPayers } from "./runners/payer.ts";
import { RunnerSessions } from "./runners/sessions.ts";
import {
  createSelector,
  DEFAULT_STRATEGY,
  type ProbabilityWeights,
  type SelectorOptions,
  Suspender,
  strategyByName,
} from "./selection/index.ts";

export { modelIdOf } from "./routes/ai-batch.ts";
export { type ClientJobRequest, DEFAULT_BYOC_TIMEOUT_SECONDS } from "./routes/byoc-jobs.ts";

/** Default user API port (conventions). */
export const DEFAULT_GATEWAY_PORT = 8937;
/** Time to response headers for native AI jobs, ms. */
export const DEFAULT_AI_TIMEOUT_MS = 120_000;

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; default {@link DEFAULT_GATEWAY_PORT}; 0 picks one. */
  port?: number;
  /** Where orchestrators come from: a discovery config, or a ready source. */
  discovery: DiscoveryConfig | { source: DiscoverySource };
  /** `GetOrchestrator` implementation; default a gRPC client that does not verify certificates. */
  fetchInfo?: OrchestratorInfoFetcher;
  /** Selection strategy name (`probability`, `stake`, `random`, `price`, `latency`); default `latency`. */
  strategy?: string;
  /** Highest price in wei per unit the gateway pays (`-maxPricePerUnit`); default no limit. */
  maxPricePerUnit?: Rat;
  /**
   * The selection filters beyond the global max price: per-capability max prices
   * (`-maxPricePerCapability`), `-ignoreMaxPriceIfNeeded`, `-minPerfScore`, `-orchBlocklist` (exclude).
   */
  selection?: Pick<
    SelectorOptions,
    "maxPricePerCapability" | "ignoreMaxPriceIfNeeded" | "minPerfScore" | "exclude"
  >;
  /** Weights of the `probability` strategy (`-selectStakeWeight`, …) and `-selectPriceExpFactor`. */
  strategyWeights?: Partial<ProbabilityWeights>;
  /** Pool refresh period, ms (default 5 min). */
  refreshIntervalMs?: number;
  /**
   * Ask the pool's orchestrators for their live runners (`GET /discovery`) this often, ms, and list
   * them on the dashboard (discovery/runners.ts); off by default.
   */
  liveRunnerDiscoveryIntervalMs?: number;
  /**
   * Live runner sessions the gateway holds for its users (with `liveRunnerDiscoveryIntervalMs`,
   * runners/sessions.ts): stop one with no call in flight this long, ms (default 60 s); most held at
   * once (default 256); top-up period of paid ones, ms (default 5 s); seconds paid upfront (10).
   */
  liveRunnerSessions?: {
    idleTimeoutMs?: number;
    maxSessions?: number;
    topUpEveryMs?: number;
    upfrontSeconds?: number;
  };
  /** Time to response headers of native AI jobs, ms; default {@link DEFAULT_AI_TIMEOUT_MS}. */
  aiTimeoutMs?: number;
  /** Live streams: seconds without an event before moving the stream to another orchestrator. */
  liveEventTimeoutMs?: number;
  /** Live streams: stop one whose input got nothing this long, ms; default 60 s; 0 = never. */
  liveIdleTimeoutMs?: number;
  /** STUN/TURN servers of WHIP/WHEP peer connections; none by default (host candidates only). */
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  /** Most WHEP viewers of one stream at once; default 8 (`DEFAULT_MAX_WHEP_VIEWERS`). */
  maxWhepViewers?: number;
  /** Stop a WHIP stream whose publisher sent no video this long, ms; default 10 s (`WHIP_SILENT_MS`). */
  whipSilenceTimeoutMs?: number;
  /** Live top-up period when paying, ms; default 5 s. */
  livePaymentIntervalMs?: number;
  /** BYOC stream top-up period when paying, ms; default 50 s (go-livepeer's). */
  byocStreamPaymentIntervalMs?: number;
  /** Public base URL put in live stream URLs; default `http://<host>:<port>`. */
  publicUrl?: string;
  /**
   * On-chain BYOC payments: the gateway's key and ticket sender. Jobs are then signed and paid
   * (payments.ts); GetOrchestrator requests are signed. Without it the gateway is offchain.
   * `tokenReuseMs`: see `GatewayPaymentsOptions.tokenReuseMs` (default 0, a `/process/token` per job).
   */
  payments?: { signer: MessageSigner; sender: Sender; tokenReuseMs?: number };
  /**
   * Pay through a remote signer instead (remote-signer.ts, `--remote-signer-url`): it holds the key and
   * deposit, the gateway none. Exclusive with `payments` (REMOTE_SIGNER_WITH_KEY).
   */
  remoteSigner?: RemoteSignerClient;
  /**
   * The data directory: the dashboard's experience history is kept there (`dashboard-history.json`)
   * so a restart keeps its charts; without it the history lives in memory only.
   */
  historyDir?: string;
  /** The chain's ETH/USD price feed: the dashboard then shows prices in US dollars too (none while stale). */
  priceFeed?: EthUsdSource;
  /** Head size and headers timeout of the user API (src/node/http/limits.ts; 1 MiB, 30 s). */
  limits?: Pick<HttpLimits, "maxHeaderBytes" | "headersTimeoutMs">;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A running gateway. */
export interface RunningGateway extends AsyncDisposable {
  /** `http://host:port`. */
  url: string;
  port: number;
  pool: OrchestratorPool;
  suspender: Suspender;
  metrics: Registry;
  live: LiveManager;
  close(): Promise<void>;
}

/** Starts the gateway. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  if (options.payments && options.remoteSigner)
    throw new TributaryError(
      "REMOTE_SIGNER_WITH_KEY",
      "the gateway was given both a key and a remote signer: pay with one, drop --key-file or --remote-signer-url",
      { status: 400 },
    );
  const baseLog = options.logger ?? silentLogger();
  const closer = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, closer.signal]) : closer.signal;
  const source =
    "source" in options.discovery
      ? options.discovery.source
      : discoverySourceFromConfig({
          ...options.discovery,
          onWarning: (message, error) => baseLog.warn({ err: error }, message),
        }).source;
  const grpc = options.fetchInfo ? undefined : createGrpcOrchestratorClient();
  const suspender = new Suspender();
  const http = createOrchestratorHttp();
  // Who pays is chosen here, once: the gateway's own key and Sender, a remote signer, or nobody.
  const payments: GatewayPayer | undefined = options.remoteSigner
    ? new RemotePayments({ signer: options.remoteSigner, http })
    : options.payments && new GatewayPayments({ ...options.payments, http });
  const credentials = options.remoteSigner
    ? options.remoteSigner.credentials
    : options.payments
      ? await signRequestCredentials(options.payments.signer)
      : undefined;
  let dashSource: ReturnType<typeof createPoolDashboardSource> | undefined;
  const pool = new OrchestratorPool({
    source,
    fetchInfo: options.fetchInfo ?? (grpc as NonNullable<typeof grpc>).getOrchestrator,
    suspender,
    signal,
    credentials,
    refreshIntervalMs: options.refreshIntervalMs,
    onEvent: (e: PoolEvent) => {
      if (e.type === "refresh-failed") baseLog.warn({ err: e.error }, "orchestrator discovery failed");
      else if (e.type === "rejected")
        baseLog.debug({ orchestrator: e.url, reason: e.reason }, "orchestrator rejected");
      else
        baseLog.debug(
          { orchestrators: e.orchestrators, candidates: e.candidates, duration_ms: Math.round(e.durationMs) },
          "orchestrator pool refreshed",
        );
      dashSource?.observe(e);
    },
  });
  const runnerDirectory =
    options.liveRunnerDiscoveryIntervalMs === undefined
      ? undefined
      : new RunnerDirectory({
          http,
          orchestrators: () => pool.snapshot().map((d) => d.transcoder || d.url),
          intervalMs: options.liveRunnerDiscoveryIntervalMs,
        });
  dashSource = createPoolDashboardSource({
    pool,
    suspender,
    signal,
    ...(runnerDirectory && { runners: () => runnerDirectory.dashboard() }),
  });
  const selector = createSelector({
    strategy: strategyByName(options.strategy ?? DEFAULT_STRATEGY, options.strategyWeights),
    maxPricePerUnit: options.maxPricePerUnit,
    ...options.selection,
    suspender,
  });
  let publicUrl = "";
  const live = createLive({
    pool,
    selector,
    suspender,
    http,
    logger: baseLog,
    signal,
    eventTimeoutMs: options.liveEventTimeoutMs,
    idleTimeoutMs: options.liveIdleTimeoutMs,
    iceServers: options.iceServers,
    maxWhepViewers: options.maxWhepViewers,
    whipSilenceTimeoutMs: options.whipSilenceTimeoutMs,
    payments,
    paymentIntervalMs: options.livePaymentIntervalMs,
    byocPaymentIntervalMs: options.byocStreamPaymentIntervalMs,
    baseUrl: () => publicUrl,
    traceOf: (req, capability) => traceOf(baseLog, req, capability),
  });
  const history = new ExperienceHistory({
    ...(options.historyDir !== undefined && { file: join(options.historyDir, EXPERIENCE_FILE) }),
    onError: (err, message) => baseLog.warn({ err }, message),
  });
  const streamWatcher = new StreamWatcher(history);
  const usd =
    options.priceFeed &&
    new UsdPerEthCache(options.priceFeed, {
      onError: (err) =>
        baseLog.warn({ err }, "the ETH/USD price feed cannot be used; dashboard prices in wei only"),
    });
  // Streams are counted when seen running or failed: looked at on each page read and every 2 s.
  const streamSampler = setInterval(() => streamWatcher.observe(live.statuses()), 2000);
  streamSampler.unref();
  const ctx: GatewayContext = {
    log: baseLog,
    signal,
    pool,
    selector,
    suspender,
    http,
    payments,
    metrics: gatewayMetrics(createMetricsRegistry({ defaultLabels: { node: "gateway" } })),
    dashboard: createDashboard({
      source: dashSource,
      views: {
        ...poolExplorerViews(pool, runnerDirectory, Date.now, usd && (() => usd.read())),
        experience: () => history.view(streamWatcher.observe(live.statuses())),
      },
    }),
    experience: history,
    ...(runnerDirectory && {
      runners: runnerDirectory,
      runnerSessions: new RunnerSessions({
        http,
        runners: runnerDirectory,
        payers: gatewayRunnerPayers(options),
        log: baseLog,
        ...options.liveRunnerSessions,
      }),
    }),
    publicUrl: () => publicUrl,
    live,
    aiTimeoutMs: options.aiTimeoutMs ?? DEFAULT_AI_TIMEOUT_MS,
  };

  const limits = resolveHttpLimits(options.limits);
  // Heads up to 1 MiB, 30 s to send them, no whole-request timeout (long live and SSE answers).
  const server: Server = createServer(http1ServerOptions(limits), createRouter(ctx).handle);
  server.on("clientError", clientErrorListener(limits));
  server.on("upgrade", (req, socket, head) => runnerUpgrade(ctx, req, socket, head));
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, host, options.port ?? DEFAULT_GATEWAY_PORT);
  const url = originOf("http", host, port);
  publicUrl = (options.publicUrl ?? url).replace(/\/+$/, "");
  pool.start();
  runnerDirectory?.start();
  baseLog.info({ address: url }, "gateway listening");

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(streamSampler);
      streamWatcher.observe(live.statuses());
      await live.close();
      history.close();
      usd?.close();
      closer.abort(new Error("gateway closed"));
      ctx.dashboard.close();
      dashSource?.close();
      runnerDirectory?.close();
      await ctx.runnerSessions?.close();
      pool.close();
      grpc?.close();
      await closeServer(server, { graceMs: 1000 });
      http.close();
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return {
    url,
    port,
    pool,
    suspender,
    metrics: ctx.metrics.registry,
    live,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A random hex id of `bytes` bytes. */
export function randomId(bytes = 8): string {
  return randomBytes(bytes).toString("hex");
}
