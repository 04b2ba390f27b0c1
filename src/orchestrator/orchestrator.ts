/**
 * The orchestrator node: one TLS service port (docs/spec/orchestrator-gateway.md#service-port-and-tls) serving gRPC
 * `Orchestrator.GetOrchestrator`/`Ping`, the HTTP routes and the trickle server under `/ai/trickle/`,
 * over a capability registry fed by `aiModels.json` (hot reloaded) and BYOC registrations, with a
 * health monitor deciding what is advertised and routed to.
 *
 * This file assembles the node and closes it: the context (context.ts: registry, payment gate,
 * trickle server, stream table, metrics, health monitor), the routes over it (routes/, registered in
 * routes/index.ts), the TLS server, the aiModels.json reload. Routes (status codes in the route
 * modules and in the README of this folder):
 * - BYOC (docs/spec/orchestrator-gateway.md#orchestrator-byoc-routes): `POST /capability/register|unregister`, `GET /process/token`,
 *   `POST /process/request/*` (batch and SSE passthrough), `/ai/stream/start|stop|update|payment`;
 * - native AI batch (docs/spec/orchestrator-gateway.md#ai-routes): `POST /<pipeline>` with `model_id` from the body;
 * - live (docs/spec/orchestrator-gateway.md#live-video-to-video): `POST /live-video-to-video`;
 * - live runners (`liveRunners`, routes/live-runners.ts): `/discovery`, `/runners/…`, `/apps/…`, `/runner/…`,
 *   generated proxy URLs (served before the router) and WebSocket upgrades (the port's `upgrade` event);
 * - ours: `GET /capabilities`, `GET /metrics`, `GET /health`.
 *
 * **Payments.** Offchain (no `payments` gate): prices are advertised as 0, no ticket params are
 * sent, no payment or signature is required (docs/spec/README.md#network-modes). With a gate
 * (`devnet`/`arbitrum-one`, see onchain.ts): BYOC jobs and streams are paid, charged per second and
 * stopped when the balance runs out; GetOrchestrator is signed and carries ticket params; native AI
 * batch and LV2V take `Livepeer-Payment` and `Livepeer-Segment` and are charged per go-livepeer
 * unit (audio-to-text: whole seconds of the decoded duration × 1000, audio-duration.ts); LV2V is
 * debited on a timer per `price_unit` and topped up with `POST /payment`. **Not done:** priced images
 * other than PNG/JPEG answer 501 while payments are on.
 *
 * Deliberate differences from go-livepeer: capacity is enforced on the orchestrator (503 when no
 * slot is free; upstream only lets the gateway filter), unhealthy containers are withdrawn by polling
 * rather than by de-registering on the first transport error, and trickle channel names carry 128
 * random bits (upstream uses the stream id). A wrong orchestrator secret answers 400, as upstream does:
 * pytrickle's registration helper stops on 400 and would retry a 401.
 */
import type { Address } from "viem";
import { TributaryError } from "../node/errors.ts";
import type { HttpLimits } from "../node/http/limits.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { type RunningNodeServer, startNodeServer, type TlsMaterial } from "../node/server.ts";
import type { Rat } from "../payments/rational.ts";
import type { TrickleServer } from "../trickle/server.ts";
import { type AiModelsWatcher, loadAiModels, type ModelConfig, watchAiModels } from "./config.ts";
import { closeContext, createContext, TRICKLE_BASE_PATH, withDefaultPrice } from "./context.ts";
import type { HealthMonitor, HealthMonitorOptions } from "./health.ts";
import type { OrchestratorMetrics } from "./metrics.ts";
import type { PaymentGate } from "./payments.ts";
import type { CapabilityRegistry } from "./registry.ts";
import { grpcRoutes } from "./routes/grpc.ts";
import { createRouter } from "./routes/index.ts";
import { liveRunnerUpgrade, tryGeneratedProxy } from "./routes/live-runners.ts";
import type { LiveRunnerOptions, LiveRunners } from "./runners/service.ts";

export { TRICKLE_BASE_PATH } from "./context.ts";

/** Network modes (docs/spec/README.md#network-modes). */
export type Network = "offchain" | "devnet" | "arbitrum-one";

/** Default orchestrator service port (conventions). */
export const DEFAULT_SERVICE_PORT = 8935;

/** Options of {@link startOrchestrator}. */
export interface OrchestratorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Service port; default 8935; 0 picks one. */
  port?: number;
  /** The URI advertised to gateways (`transcoder`, `service_addr`); default `https://host:port`. */
  serviceUri?: string;
  /** `aiModels.json` path: loaded at start and hot reloaded. */
  aiModelsPath?: string;
  /** Models given in code (instead of a file). */
  models?: ModelConfig[];
  /** Secret BYOC containers register with (`Authorization: <secret>`). Without it registration is off. */
  orchSecret?: string;
  /** Keeps the generated TLS certificate. */
  dataDir?: string;
  tls?: TlsMaterial;
  network?: Network;
  health?: HealthMonitorOptions;
  /** aiModels.json reload: debounce and SIGHUP (default on). */
  reload?: { debounceMs?: number; sighup?: boolean };
  /** Host:port put in trickle URLs given to containers (`-liveAITrickleHostForRunner`). */
  trickleHostForRunner?: string;
  /** Largest JSON/multipart body read into memory; default 10 MiB. */
  maxBodyBytes?: number;
  /**
   * Keep connections to containers open between calls (http.ts `ContainerAgents`); default true.
   * false opens a new connection per call. A call that meets a socket the container had just closed
   * is sent again on a new connection only under http.ts `callContainer`'s stale-socket rule.
   */
  containerKeepAlive?: boolean;
  /** Header size, slow-client and HTTP/2 limits of the service port (src/node/http/limits.ts). */
  limits?: HttpLimits;
  /** How often live streams are checked for closed channels; default 2000 ms. */
  streamCheckIntervalMs?: number;
  /** End a stream whose input channel got no write this long, ms; default 60 s (streams.ts); 0 = never. */
  streamIdleTimeoutMs?: number;
  /**
   * The payment path (on-chain networks). Without it the node is offchain: prices 0, no tickets.
   * With it, BYOC jobs and streams verify the V0 job signature, take `Livepeer-Payment`, require
   * 60 × price of credit and are debited per second (docs/spec/payments.md#byoc-payments).
   */
  payments?: PaymentGate;
  /** Price (wei per unit) of aiModels.json entries without `price_per_unit` (`-pricePerUnit`). */
  defaultPricePerUnit?: Rat;
  /** The orchestrator's signing address, advertised in `OrchestratorInfo.address`. */
  address?: Address;
  /** BYOC stream debit period; default 23 s (go-livepeer `monitorOrchStream`). */
  streamDebitIntervalMs?: number;
  /**
   * How often a running priced BYOC batch job (SSE or not) is debited and its credit checked; default
   * 5 s (go-livepeer's SSE period in `processJob`). See payments.ts `JobMeter`.
   */
  sseDebitIntervalMs?: number;
  /**
   * Largest `timeout_seconds` a BYOC batch job may ask for (`--max-job-timeout`); default and maximum
   * {@link MAX_JOB_TIMEOUT_SECONDS} (one day). Longer asks answer 400 `JOB_TIMEOUT_TOO_LONG`.
   */
  maxJobTimeoutSeconds?: number;
  /** LV2V debit period; default 5 s (go-livepeer `-livePaymentInterval`). */
  livePaymentIntervalMs?: number;
  /**
   * Live runners (`--use-live-runners`, `--live-runner-config`): the Live Runner API routes, dynamic
   * registration with `orchSecret`, static runners from `configPath`. Undefined: off (404).
   */
  liveRunners?: LiveRunnerOptions;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A running orchestrator. */
export interface RunningOrchestrator extends AsyncDisposable {
  /** `https://host:port`. */
  url: string;
  serviceUri: string;
  port: number;
  /** The served certificate (PEM), for clients that pin it. */
  cert: string;
  registry: CapabilityRegistry;
  health: HealthMonitor;
  trickle: TrickleServer;
  /** Live runners, when enabled (`liveRunners`). */
  runners: LiveRunners | undefined;
  metrics: OrchestratorMetrics;
  /** Reloads aiModels.json now (as SIGHUP). */
  reload(): Promise<void>;
  /** Number of running live streams. */
  readonly streamCount: number;
  close(): Promise<void>;
}

/** Starts the orchestrator. Rejects on a bad configuration, an unsupported network or a busy port. */
export async function startOrchestrator(options: OrchestratorOptions = {}): Promise<RunningOrchestrator> {
  const log = options.logger ?? silentLogger();
  const network = options.network ?? (options.payments ? "devnet" : "offchain");
  const gate = options.payments;
  if (network !== "offchain" && gate === undefined)
    throw new TributaryError(
      "NETWORK_NOT_SUPPORTED",
      `network ${network} needs a payment gate (see startOnchainPayments in onchain.ts); use network offchain for none`,
      { status: 500 },
    );
  if (network === "offchain" && gate !== undefined)
    throw new TributaryError("CONFIG", "an offchain orchestrator takes no payment gate", { status: 500 });
  const initial = options.aiModelsPath ? await loadAiModels(options.aiModelsPath) : (options.models ?? []);
  const ctx = createContext(
    { ...options, containerKeepAlive: options.containerKeepAlive ?? true, logger: log },
    initial,
  );
  const { registry, health, trickle, metrics, streams } = ctx;
  const router = createRouter(ctx);

  let server: RunningNodeServer;
  try {
    server = await startNodeServer({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? DEFAULT_SERVICE_PORT,
      tls: options.tls,
      dataDir: options.dataDir,
      tlsHosts: options.serviceUri ? [new URL(options.serviceUri).hostname] : [],
      // the trickle mount first (no trace id, no router), then the routes
      handler: (req, res) =>
        trickle.handle(req, res) || tryGeneratedProxy(ctx, req, res) ? undefined : router.handle(req, res),
      ...(ctx.runners ? { upgrade: (req, socket, head) => liveRunnerUpgrade(ctx, req, socket, head) } : {}),
      grpc: grpcRoutes(ctx),
      limits: options.limits,
      streamingPaths: [TRICKLE_BASE_PATH],
      logger: log,
    });
  } catch (err) {
    await closeContext(ctx);
    throw err;
  }
  const serviceUri = (options.serviceUri ?? server.url).replace(/\/+$/, "");
  ctx.info.serviceUri = serviceUri;
  await health.start();
  try {
    await ctx.runners?.start(serviceUri);
  } catch (err) {
    await closeContext(ctx, () => server.close());
    throw err;
  }

  let watcher: AiModelsWatcher | undefined;
  const applyModels = (models: ModelConfig[]): void => {
    registry.setConfigModels(withDefaultPrice(models, options.defaultPricePerUnit));
    metrics.configReloads.inc({ result: "ok" });
    log.info({ models: models.length }, "aiModels.json reloaded");
  };
  const reloadFailed = (err: unknown): void => {
    metrics.configReloads.inc({ result: "invalid" });
    log.error({ err }, "aiModels.json reload failed; keeping the previous configuration");
  };
  if (options.aiModelsPath)
    watcher = watchAiModels(options.aiModelsPath, applyModels, reloadFailed, {
      ...options.reload,
      logger: log,
    });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      watcher?.close();
      await closeContext(ctx, () => server.close());
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  log.info({ service_uri: serviceUri, network, models: initial.length }, "orchestrator listening");
  return {
    url: server.url,
    serviceUri,
    port: server.port,
    cert: server.cert,
    registry,
    health,
    trickle,
    runners: ctx.runners,
    metrics,
    reload: async () => {
      if (watcher) await watcher.reload();
    },
    get streamCount() {
      return streams.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
