/**
 * The remote signer node: holds the key and the deposit, signs for clients that hold none.
 *
 *   await using s = await startSigner({ dataDir, privateKey, network: "devnet", ethUrl, port: 0 });
 *
 * Plain HTTP on `host:port` (default 127.0.0.1:8936, the port between the orchestrator's 8935 and the
 * gateway's 8937). The data directory is locked first (a second signer on it is refused with
 * `DATA_DIR_LOCKED`), then the store in it is opened. On chain, the ticket Sender runs on the
 * gateway's on-chain assembly (`startGatewayOnchain`: chain facts, deposit checks); offchain there is
 * no Sender and payments answer 503. With `discovery`, the gateway's discovery pool (static list or
 * the chain's pool, asked over gRPC with self-signed certificates accepted) backs
 * `/discover-orchestrators`, with each orchestrator's priced live runners (runners.ts).
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ContractAddresses } from "../chain/addresses.ts";
import { listModelOffers } from "../gateway/capabilities.ts";
import {
  chainSource,
  createGrpcOrchestratorClient,
  DEFAULT_REFRESH_INTERVAL_MS,
  getRunnerDiscovery,
  OrchestratorPool,
  signRequestCredentials,
  staticSource,
} from "../gateway/discovery/index.ts";
import { type GatewayOnchain, startGatewayOnchain } from "../gateway/onchain.ts";
import { createOrchestratorHttp } from "../gateway/orch-http.ts";
import { type DataDirLock, lockDataDir } from "../node/data-dir.ts";
import { TributaryError } from "../node/errors.ts";
import { http1ServerOptions, resolveHttpLimits } from "../node/http/limits.ts";
import { closeServer, listen, originOf } from "../node/http/listen.ts";
import { Router } from "../node/http/router.ts";
import { sendError, sendJson } from "../node/http/send.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { writeMetrics } from "../node/metrics.ts";
import type { NodeRequest, NodeResponse } from "../node/server.ts";
import type { Rat } from "../payments/rational.ts";
import { orchestratorRequestPayload, signPayload } from "../payments/signature.ts";
import { CAPABILITY } from "../protocol/capabilities.ts";
import { checkExposure, SignerAuth } from "./auth.ts";
import type { DiscoveredOrchestrator, SignerContext } from "./context.ts";
import { SignerMetrics } from "./metrics.ts";
import {
  discoverOrchestrators,
  generateLivePayment,
  REFRESH_URL_HEADER,
  signByocJob,
  signOrchestratorInfo,
} from "./routes.ts";
import {
  mergeRunners,
  RUNNER_DISCOVERY_MAX_BYTES,
  RUNNER_DISCOVERY_TIMEOUT_MS,
  RunnerDiscovery,
} from "./runners.ts";
import { openSignerStore, type SignerStore } from "./store.ts";

/** Default port of the signer (go-livepeer has none of its own: its signer takes `-httpAddr`). */
export const DEFAULT_SIGNER_PORT = 8936;
/** Sessions idle this long are forgotten (their clients start new ones). */
const SESSION_IDLE_MS = 24 * 3600_000;
/** Nonce counters untouched this long are dropped (ticket params expire within hours). */
const NONCE_IDLE_MS = 7 * 24 * 3600_000;

/** Options of {@link startSigner}. */
export interface SignerOptions {
  host?: string;
  port?: number;
  /** Locked for this process; holds `signer.db`. */
  dataDir: string;
  network: "offchain" | "devnet" | "arbitrum-one";
  privateKey: Hex;
  ethUrl?: string;
  contracts?: ContractAddresses;
  maxTicketEV?: bigint;
  maxTotalEV?: bigint;
  maxTicketsPerPayment?: number;
  /** Chain facts refresh period, ms. */
  pollIntervalMs?: number;
  /** Bearer token → app. */
  tokens?: ReadonlyMap<string, string>;
  webhookUrl?: string;
  webhookHeaders?: Readonly<Record<string, string>>;
  /** Serve without auth on a non-loopback address (logs a warning). */
  allowNoAuth?: boolean;
  maxPricePerUnit?: Rat;
  /** Most wei of ticket EV one app may spend per window. */
  maxSpendPerApp?: bigint;
  /** Most wei of ticket EV all apps together may spend per window. */
  maxSpend?: bigint;
  /** Spending window, ms; default 24 h. */
  spendWindowMs?: number;
  /** `--remote-discovery`: a static list, else (on chain) the chain's pool. */
  discovery?: { orchAddr?: string | readonly string[]; refreshIntervalMs?: number };
  logger?: Logger;
}

/** A running signer. */
export interface RunningSigner extends AsyncDisposable {
  url: string;
  port: number;
  address: string;
  context: SignerContext;
  close(): Promise<void>;
}

/** Builds the router over a context (tests use it without a server). */
export function createSignerRouter(ctx: SignerContext): Router {
  const formatError = (res: NodeResponse, err: unknown): void => {
    const url = err instanceof TributaryError ? err.details?.refreshUrl : undefined;
    if (typeof url === "string" && url !== "") res.setHeader(REFRESH_URL_HEADER, url);
    sendError(res, err);
  };
  const router = new Router({
    formatError,
    onError: (err, req) => {
      const status = err instanceof TributaryError ? err.status : 500;
      if (status >= 500 && status < 600) ctx.logger.warn({ err, path: req.url }, "signer request failed");
      else
        ctx.logger.info(
          { code: (err as TributaryError).code, path: req.url, status },
          "signer request refused",
        );
    },
  });
  const on =
    (h: (ctx: SignerContext, req: NodeRequest, res: NodeResponse) => Promise<void>) =>
    (req: NodeRequest, res: NodeResponse) =>
      h(ctx, req, res);
  router
    .group({ name: "signer" })
    .route("/sign-orchestrator-info", on(signOrchestratorInfo), { methods: ["POST"] })
    .route("/generate-live-payment", on(generateLivePayment), { methods: ["POST"] })
    .route("/sign-byoc-job", on(signByocJob), { methods: ["POST"] })
    .route("/discover-orchestrators", on(discoverOrchestrators), { methods: ["GET"] })
    .route("/health", (_req, res) => sendJson(res, 200, { status: "ok", address: ctx.signer.address }), {
      methods: ["GET"],
    })
    .route("/metrics", (_req, res) => writeMetrics(ctx.metrics.registry, res), { methods: ["GET"] });
  return router;
}

/** Capabilities of an orchestrator as `/discover-orchestrators` lists them. */
function capabilitiesOf(
  info: Parameters<typeof listModelOffers>[0],
  prices: { capability: number; constraint: string }[],
): string[] {
  const out = new Set(listModelOffers(info).map((o) => `${o.pipeline}/${o.modelId}`));
  for (const p of prices) if (p.capability === CAPABILITY.BYOC && p.constraint !== "") out.add(p.constraint);
  return [...out];
}

/** Starts the signer; rejects with an actionable error (a held data directory, no auth on a public address, …). */
export async function startSigner(options: SignerOptions): Promise<RunningSigner> {
  const logger = options.logger ?? silentLogger();
  const host = options.host ?? "127.0.0.1";
  checkExposure(
    host,
    { tokens: options.tokens, webhookUrl: options.webhookUrl },
    options.allowNoAuth === true,
    logger,
  );
  await using stack = new AsyncDisposableStack();
  const account = privateKeyToAccount(options.privateKey);
  let onchain: GatewayOnchain | undefined;
  if (options.network === "offchain") {
    const lock: DataDirLock = lockDataDir(options.dataDir);
    stack.defer(() => lock.release());
  } else {
    if (options.ethUrl === undefined)
      throw new TributaryError("ETH_URL_REQUIRED", "an on-chain signer needs --eth-url", { status: 400 });
    onchain = await startGatewayOnchain({
      network: options.network,
      ethUrl: options.ethUrl,
      privateKey: options.privateKey,
      dataDir: options.dataDir,
      ...(options.contracts ? { contracts: options.contracts } : {}),
      maxTicketEV: options.maxTicketEV,
      maxTotalEV: options.maxTotalEV,
      maxTicketsPerPayment: options.maxTicketsPerPayment,
      pollIntervalMs: options.pollIntervalMs,
      logger,
    });
    stack.defer(() => onchain?.close());
  }
  const store: SignerStore = stack.use(
    openSignerStore({
      dataDir: options.dataDir,
      ...(options.spendWindowMs ? { windowMs: options.spendWindowMs } : {}),
    }),
  );
  store.prune(SESSION_IDLE_MS, NONCE_IDLE_MS);
  const pruner = setInterval(() => store.prune(SESSION_IDLE_MS, NONCE_IDLE_MS), 3600_000);
  pruner.unref();
  stack.defer(() => clearInterval(pruner));
  const metrics = new SignerMetrics();
  metrics.restore(store.totals());

  let discovery: SignerContext["discovery"];
  if (options.discovery) {
    const source =
      options.discovery.orchAddr !== undefined && options.discovery.orchAddr.length > 0
        ? staticSource(options.discovery.orchAddr)
        : onchain
          ? chainSource(onchain.chainSource)
          : undefined;
    if (source === undefined)
      throw new TributaryError("SIGNER_DISCOVERY_CONFIG", "--remote-discovery offchain needs --orch-addr", {
        status: 400,
      });
    const grpc = createGrpcOrchestratorClient();
    stack.defer(() => grpc.close());
    const pool = new OrchestratorPool({
      source,
      fetchInfo: grpc.getOrchestrator,
      credentials: await signRequestCredentials(account),
      ...(options.discovery.refreshIntervalMs
        ? { refreshIntervalMs: options.discovery.refreshIntervalMs }
        : {}),
      onEvent: (e) => {
        if (e.type !== "refreshed") logger.warn({ event: e }, "signer discovery");
      },
    });
    stack.defer(() => pool.close());
    pool.start();
    const http = createOrchestratorHttp();
    stack.defer(() => http.close());
    const runnerDiscovery = new RunnerDiscovery({
      // A 404 ("disabled": no live runners) lists no runners, as a failure does.
      get: (url) =>
        getRunnerDiscovery(http, url, {
          timeoutMs: RUNNER_DISCOVERY_TIMEOUT_MS,
          maxBytes: RUNNER_DISCOVERY_MAX_BYTES,
          signal: AbortSignal.timeout(RUNNER_DISCOVERY_TIMEOUT_MS),
        }),
      refreshMs: options.discovery.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS,
    });
    discovery = {
      list: async (): Promise<DiscoveredOrchestrator[]> => {
        const orchestrators = (await pool.current()).map((d) => ({
          address: d.url,
          capabilities: capabilitiesOf(d.info.capabilities, d.info.capabilitiesPrices),
        }));
        const answers = await runnerDiscovery.answers(orchestrators.map((o) => o.address));
        return mergeRunners(orchestrators, answers, options.maxPricePerUnit, logger);
      },
    };
  }

  let infoSig: Promise<Hex> | undefined;
  const ctx: SignerContext = {
    signer: account,
    sender: onchain?.payments.sender,
    store,
    auth: new SignerAuth({
      tokens: options.tokens,
      webhookUrl: options.webhookUrl,
      webhookHeaders: options.webhookHeaders,
      logger,
    }),
    limits: { perApp: options.maxSpendPerApp, total: options.maxSpend },
    ...(options.maxPricePerUnit ? { maxPricePerUnit: options.maxPricePerUnit } : {}),
    ...(discovery ? { discovery } : {}),
    metrics,
    logger,
    infoSig: () => {
      infoSig ??= signPayload(account, orchestratorRequestPayload(account.address));
      return infoSig;
    },
    lastSeenL1Block: () => onchain?.facts.lastSeenL1Block() ?? 0n,
    now: Date.now,
    newId: () => randomBytes(16).toString("hex"),
  };
  const server: Server = createServer(
    http1ServerOptions(resolveHttpLimits()),
    createSignerRouter(ctx).handle,
  );
  const port = await listen(server, host, options.port ?? DEFAULT_SIGNER_PORT);
  const owned = stack.move();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await closeServer(server, { graceMs: 2000 });
      await owned.disposeAsync();
    })();
    return closing;
  };
  logger.info(
    { url: originOf("http", host, port), address: account.address, network: options.network },
    "signer listening",
  );
  return {
    url: originOf("http", host, port),
    port,
    address: account.address,
    context: ctx,
    close,
    [Symbol.asyncDispose]: close,
  };
}
