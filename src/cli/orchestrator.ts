/**
 * `tributary orchestrator`: the orchestrator node on one TLS service port. go-livepeer's single-dash
 * camelCase flags (`-aiModels`, `-serviceAddr`, `-orchSecret`, `-network`, …) are accepted as aliases
 * of our kebab-case flags, so an existing go-livepeer command line works unchanged.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type Address, getAddress, isAddress } from "viem";
import { DEFAULT_PRICE_FEED_MAX_AGE_MS, defaultPriceFeedAddress, PriceFeed } from "../chain/price-feed.ts";
import { createLogger } from "../node/logger.ts";
import {
  DEFAULT_HEALTH_FAILURES,
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_OPERATOR_PORT,
  DEFAULT_SERVICE_PORT,
  type Network,
  startOrchestrator,
} from "../orchestrator/index.ts";
import { type OnchainPayments, startOnchainPayments } from "../orchestrator/onchain.ts";
import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from "../orchestrator/streams.ts";
import { DEFAULT_MAX_CHAIN_STALENESS_MS } from "../payments/chain-facts.ts";
import { DEFAULT_TICKET_EV, MAX_SENDER_NONCES } from "../payments/constants.ts";
import { DEFAULT_TARGET_TICKETS_PER_PAYMENT } from "../payments/index.ts";
import type { Rat } from "../payments/rational.ts";
import { MAX_JOB_TIMEOUT_SECONDS } from "../protocol/job-header.ts";
import { addHttpLimitOptions, type HttpLimitCliOptions, httpLimitsOf } from "./http-limits.ts";
import {
  ethAcctAddrOption,
  type KeyCliOptions,
  loadNodeKey,
  NODE_GO_FLAG_ALIASES,
  passwordOption,
} from "./key-options.ts";
import {
  addNodeOptions,
  COMMON_IGNORED_GO_FLAGS,
  durationLabel,
  GoCompatibleCommand,
  type GoFlagAliases,
  type IgnoredGoFlags,
  parseDuration,
  parseHostPort,
  parsePrice,
  parseWei,
  startFailureMessage,
  untilStopSignal,
  verbosityToLogLevel,
} from "./options.ts";

/** go-livepeer flag → our flag (`undefined`: accepted and ignored, it is implied). */
export const GO_FLAG_ALIASES: GoFlagAliases = {
  aiModels: "--ai-models",
  serviceAddr: "--service-addr",
  orchSecret: "--orch-secret",
  ...NODE_GO_FLAG_ALIASES,
  pricePerUnit: "--price-per-unit",
  datadir: "--data-dir",
  v: { flag: "--log-level", value: verbosityToLogLevel },
  liveAITrickleHostForRunner: "--trickle-host-for-runner",
  ticketEV: "--ticket-ev",
  maxFaceValue: "--max-face-value",
  useLiveRunners: "--use-live-runners",
  liveRunnerConfig: "--live-runner-config",
  liveRunnerAddr: "--live-runner-addr",
  liveRunnerProxyUrl: "--live-runner-proxy-url",
  priceFeedAddr: "--price-feed-addr",
  cliAddr: "--cli-addr",
  orchestrator: undefined,
  aiWorker: undefined,
};

/**
 * go-livepeer orchestrator flags with no meaning here: each is warned about and ignored (refused with
 * --strict-flags), so a go-livepeer command line starts as it is.
 */
export const IGNORED_GO_FLAGS: IgnoredGoFlags = {
  ...COMMON_IGNORED_GO_FLAGS,
  transcoder: { why: "transcoding is not supported; AI and BYOC work runs in containers", value: false },
  testTranscoder: { why: "transcoding is not supported", value: false },
  nvidia: { why: "containers pick their own GPUs", value: true },
  netint: { why: "containers pick their own hardware", value: true },
  aiModelsDir: { why: "models live in your containers; aiModels.json gives their URLs", value: true },
  aiRunnerImage: { why: "containers are started by you, not by the orchestrator", value: true },
  aiRunnerImageOverrides: { why: "containers are started by you, not by the orchestrator", value: true },
  aiRunnerContainersPerGPU: { why: "containers are started by you, not by the orchestrator", value: true },
  aiVerboseLogs: { why: "container logs are the containers' own", value: false },
  autoAdjustPrice: { why: "prices are fixed: price_per_unit per aiModels.json entry", value: false },
  pixelsPerUnit: { why: "set pixels_per_unit per aiModels.json entry", value: true },
  pricePerGateway: { why: "set a gateway's price per aiModels.json entry (gateway)", value: true },
  maxSessions: { why: "capacity is set per aiModels.json entry (capacity)", value: true },
  ethOrchAddr: { why: "the orchestrator's address is its key's address", value: true },
  reward: { why: "reward calls are not made", value: false },
  redeemer: { why: "winning tickets are redeemed in-process", value: false },
  redeemerAddr: { why: "winning tickets are redeemed in-process", value: true },
  httpAddr: { why: "the orchestrator serves everything on -serviceAddr", value: true },
};

/**
 * go-livepeer's legacy `-aiModels pipeline:model_id:warm[,…]` string names models that go-livepeer
 * starts in its own runner containers; here each entry needs the URL of a container you run. Returns the
 * hint for such a value (one that is not an existing file), else undefined.
 */
export function legacyAiModelsHint(value: string): string | undefined {
  if (
    existsSync(value) ||
    /\.json$/i.test(value) ||
    !/^[a-z0-9-]+:[^:,\s]+(:(true|false))?(,[a-z0-9-]+:[^:,\s]+(:(true|false))?)*$/i.test(value)
  )
    return undefined;
  const entries = value.split(",").map((e) => {
    const [pipeline, modelId, warm] = e.split(":");
    return {
      pipeline,
      model_id: modelId,
      url: "http://<container>:8000",
      ...(warm === "true" ? { warm: true } : {}),
    };
  });
  return (
    `-aiModels ${JSON.stringify(value)} is go-livepeer's legacy pipeline:model:warm string; Tributary needs a ` +
    `JSON file whose entries carry the URL of a container serving each model, e.g. aiModels.json:\n` +
    `${JSON.stringify(entries, null, 2)}\nthen pass -aiModels aiModels.json`
  );
}

/** `--use-live-runners` alone, or with a value as go-livepeer's `-useLiveRunners=true|false`. */
function parseBool(value: string): boolean {
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw new InvalidArgumentError("expected true or false");
}

/** An absolute http(s) URL (`--live-runner-addr`). */
function parseHttpUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol === "http:" || u.protocol === "https:") return value.replace(/\/+$/, "");
  } catch {
    // reported below
  }
  throw new InvalidArgumentError("expected an absolute http(s) URL, e.g. http://orchestrator:8935");
}

/** `--price-feed-addr`: a 0x address. */
function parseAddress(value: string): Address {
  if (!isAddress(value, { strict: false }))
    throw new InvalidArgumentError("expected a 0x-prefixed 20-byte address");
  return getAddress(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError("expected a positive integer");
  return Number(value);
}

/** `--target-tickets-per-payment`: 0 (off) to 600 (what an orchestrator takes on one set of params). */
function parseTarget(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > MAX_SENDER_NONCES)
    throw new InvalidArgumentError(`expected an integer from 0 to ${MAX_SENDER_NONCES}`);
  return Number(value);
}

/** `--max-job-timeout`: a duration (plain numbers are seconds) of whole seconds, at most one day. */
function parseJobTimeout(value: string): number {
  const ms = parseDuration(value);
  if (ms % 1000 !== 0 || ms > MAX_JOB_TIMEOUT_SECONDS * 1000)
    throw new InvalidArgumentError(`expected whole seconds between 1 and ${MAX_JOB_TIMEOUT_SECONDS}`);
  return ms / 1000;
}

/** `-orchSecret` is a value or a file holding it (go-livepeer `common.ReadFromFile`). */
function readSecret(value: string): string {
  try {
    if (existsSync(value) && statSync(value).isFile()) return readFileSync(value, "utf8").trim();
  } catch {
    // not a readable file: the value itself is the secret
  }
  return value;
}

interface OrchestratorCliOptions extends KeyCliOptions, HttpLimitCliOptions {
  aiModels?: string;
  serviceAddr: { host: string; port: number };
  serviceUri?: string;
  orchSecret?: string;
  dataDir: string;
  network: Network;
  ethUrl?: string;
  keyFile?: string;
  pricePerUnit?: Rat;
  ticketEv?: bigint;
  maxFaceValue?: bigint;
  targetTicketsPerPayment?: number;
  maxJobTimeout: number;
  maxChainStaleness: number;
  trickleHostForRunner?: string;
  healthInterval: number;
  healthTimeout: number;
  healthFailures: number;
  containerKeepAlive?: boolean;
  streamIdleTimeout: number;
  useLiveRunners?: boolean;
  liveRunnerConfig?: string;
  liveRunnerAddr?: string;
  liveRunnerProxyUrl?: string;
  priceFeedAddr?: Address;
  priceFeedMaxAge: number;
  cliAddr: { host: string; port: number };
  logLevel?: string;
}

/** Builds the `orchestrator` subcommand. */
export function orchestratorCommand(): Command {
  const command = addNodeOptions(
    new GoCompatibleCommand("orchestrator", GO_FLAG_ALIASES, IGNORED_GO_FLAGS)
      .description(
        "Run an orchestrator: one TLS port serving gRPC GetOrchestrator, the BYOC, AI batch and live routes, " +
          "and trickle under /ai/trickle/, in front of containers from aiModels.json and BYOC registrations.",
      )
      .addOption(
        new Option(
          "--ai-models <file>",
          "aiModels.json: pipelines, models and container URLs (hot reloaded)",
        ).env("TRIBUTARY_AI_MODELS"),
      )
      .addOption(
        new Option("--service-addr <host:port>", "address to listen on and advertise")
          .env("TRIBUTARY_SERVICE_ADDR")
          .default(parseHostPort(`127.0.0.1:${DEFAULT_SERVICE_PORT}`), `127.0.0.1:${DEFAULT_SERVICE_PORT}`)
          .argParser((v) => parseHostPort(v)),
      )
      .addOption(
        new Option("--service-uri <url>", "URI advertised to gateways when it differs (NAT, proxy)").env(
          "TRIBUTARY_SERVICE_URI",
        ),
      )
      .addOption(
        new Option("--orch-secret <secret|file>", "secret BYOC containers register with; off without it").env(
          "TRIBUTARY_ORCH_SECRET",
        ),
      ),
    {
      node: "orchestrator",
      dataDir: "keeps the TLS certificate and the payment store",
      onchain: "tickets validated, winners redeemed",
    },
  )
    .addOption(passwordOption())
    .addOption(ethAcctAddrOption())
    .addOption(
      new Option(
        "--price-per-unit <wei>",
        "price in wei per unit of aiModels.json entries without price_per_unit (on-chain networks; offchain prices are 0)",
      )
        .env("TRIBUTARY_PRICE_PER_UNIT")
        .argParser(parsePrice),
    )
    .addOption(
      new Option(
        "--ticket-ev <wei>",
        `expected value of one ticket the orchestrator asks for (default ${DEFAULT_TICKET_EV})`,
      )
        .env("TRIBUTARY_TICKET_EV")
        .argParser(parseWei),
    )
    .addOption(
      new Option("--max-face-value <wei>", "cap on a ticket's face value (default: none)")
        .env("TRIBUTARY_MAX_FACE_VALUE")
        .argParser(parseWei),
    )
    .addOption(
      new Option(
        "--target-tickets-per-payment <n>",
        `for prices where a gateway's usual payment would take more tickets than this, quote tickets worth more (within --max-face-value and the sender's float); 0 = always --ticket-ev (default ${DEFAULT_TARGET_TICKETS_PER_PAYMENT})`,
      )
        .env("TRIBUTARY_TARGET_TICKETS_PER_PAYMENT")
        .argParser(parseTarget),
    )
    .addOption(
      new Option(
        "--max-chain-staleness <duration>",
        "how long cached chain facts are trusted while the chain RPC fails; then paid work is refused (503 CHAIN_FACTS_STALE) until it answers",
      )
        .env("TRIBUTARY_MAX_CHAIN_STALENESS")
        .default(DEFAULT_MAX_CHAIN_STALENESS_MS, durationLabel(DEFAULT_MAX_CHAIN_STALENESS_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--max-job-timeout <duration>",
        "largest timeout_seconds a BYOC batch job may ask for (e.g. 600, 10m); longer asks answer 400",
      )
        .env("TRIBUTARY_MAX_JOB_TIMEOUT")
        .default(MAX_JOB_TIMEOUT_SECONDS, "1 day (86400 s)")
        .argParser(parseJobTimeout),
    )
    .addOption(
      new Option(
        "--trickle-host-for-runner <host:port>",
        "host:port put in trickle URLs given to containers",
      ).env("TRIBUTARY_TRICKLE_HOST_FOR_RUNNER"),
    )
    .addOption(
      new Option("--health-interval <duration>", "time between container health polls")
        .default(DEFAULT_HEALTH_INTERVAL_MS, durationLabel(DEFAULT_HEALTH_INTERVAL_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--health-timeout <duration>", "timeout of one health poll")
        .default(DEFAULT_HEALTH_TIMEOUT_MS, durationLabel(DEFAULT_HEALTH_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--health-failures <n>", "consecutive failed polls before a container is withdrawn")
        .default(DEFAULT_HEALTH_FAILURES)
        .argParser(parseCount),
    )
    .addOption(
      new Option(
        "--container-keep-alive [enabled]",
        "keep connections to containers open between calls (default true; =false opens one per call)",
      )
        .env("TRIBUTARY_CONTAINER_KEEP_ALIVE")
        .argParser(parseBool),
    )
    .addOption(
      new Option(
        "--stream-idle-timeout <duration>",
        "end a live or BYOC stream whose input channel got nothing this long (never fed, or its gateway went away) and free its slot (0 = never)",
      )
        .default(DEFAULT_STREAM_IDLE_TIMEOUT_MS, durationLabel(DEFAULT_STREAM_IDLE_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--use-live-runners [enabled]",
        "serve the Live Runner API: /discovery, dynamic runners (POST /runners/heartbeat with --orch-secret), /apps/… sessions and proxy",
      )
        .env("TRIBUTARY_USE_LIVE_RUNNERS")
        .argParser(parseBool),
    )
    .addOption(
      new Option(
        "--live-runner-config <file>",
        "runners.json of static live runners (hot reloaded; implies --use-live-runners)",
      ).env("TRIBUTARY_LIVE_RUNNER_CONFIG"),
    )
    .addOption(
      new Option(
        "--live-runner-addr <url>",
        "orchestrator URL live runners reach (heartbeat answer, session callbacks, internal trickle URLs); default the service URI",
      )
        .env("TRIBUTARY_LIVE_RUNNER_ADDR")
        .argParser(parseHttpUrl),
    )
    .addOption(
      new Option(
        "--live-runner-proxy-url <template>",
        "public URL template of generated runner proxies, one {proxy} in the host or last path segment; default {service URI}/run/{proxy}",
      ).env("TRIBUTARY_LIVE_RUNNER_PROXY_URL"),
    )
    .addOption(
      new Option(
        "--price-feed-addr <address>",
        "Chainlink-style ETH/USD aggregator read to price live runners in USD (on-chain networks); default Chainlink's on arbitrum-one, the devnet's PriceFeed on devnet",
      )
        .env("TRIBUTARY_PRICE_FEED_ADDR")
        .argParser(parseAddress),
    )
    .addOption(
      new Option(
        "--price-feed-max-age <duration>",
        "largest age of the ETH/USD feed's answer; older, USD-priced runners are refused (503 PRICE_FEED_STALE) until it updates",
      )
        .env("TRIBUTARY_PRICE_FEED_MAX_AGE")
        .default(DEFAULT_PRICE_FEED_MAX_AGE_MS, durationLabel(DEFAULT_PRICE_FEED_MAX_AGE_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--cli-addr <host:port>",
        "operator listener (plain HTTP, keep it on loopback) for POST /registerLiveRunners, started with live runners",
      )
        .env("TRIBUTARY_CLI_ADDR")
        .default(parseHostPort(`127.0.0.1:${DEFAULT_OPERATOR_PORT}`), `127.0.0.1:${DEFAULT_OPERATOR_PORT}`)
        .argParser((v) => parseHostPort(v, `127.0.0.1:${DEFAULT_OPERATOR_PORT}`)),
    )
    .addOption(new Option("--log-level <level>", "pino log level").env("TRIBUTARY_LOG_LEVEL"))
    .addHelpText(
      "after",
      `
go-livepeer spellings are accepted: -aiModels, -serviceAddr, -orchSecret, -network, -pricePerUnit,
-ethUrl, -ethKeystorePath, -datadir (or -dataDir), -liveAITrickleHostForRunner, -ticketEV, -maxFaceValue,
-useLiveRunners, -liveRunnerConfig, -liveRunnerAddr, -liveRunnerProxyUrl, -priceFeedAddr, -cliAddr, -v <level> (as --log-level)
(also as -flag=value); -orchestrator and -aiWorker are implied and ignored. go-livepeer flags with no meaning
here (-transcoder, -nvidia, -aiModelsDir, -monitor, -autoAdjustPrice, -maxSessions, …) are warned about and
ignored; --strict-flags refuses them. Every unknown flag is reported at once. -ethKeystorePath (--key-file) takes a hex key file, a V3 JSON keystore (with -ethPassword/--password, a
file or the value) or a keystore directory (with -ethAcctAddr/--eth-acct-addr when it holds several); without it,
<data-dir>/keystore is used when that directory exists.

aiModels.json entries: pipeline, model_id, url (required), price_per_unit, warm, token, capacity,
pixels_per_unit, currency (wei|eth), gateway, optimization_flags, price_unit (pixel|frame|second, live).
The file is reloaded when it changes and on SIGHUP; running jobs are not dropped.

Routes on the service port (TLS, self-signed certificate kept in --data-dir):
  gRPC   net.Orchestrator/GetOrchestrator, Ping
  POST   /capability/register, /capability/unregister    (Authorization: <orch secret>)
  GET    /process/token    POST /process/request/*        BYOC jobs (Livepeer header)
  POST   /ai/stream/start|stop|update|payment            BYOC streams
  POST   /<pipeline>                                     AI batch (model_id in the body)
  POST   /live-video-to-video                            live video (trickle under /ai/trickle/)
  GET    /capabilities, /metrics, /health
  GET    /discovery   POST /runners/heartbeat   /apps/…   /runner/…   Live Runner API (--use-live-runners)

Examples:
  tributary orchestrator --ai-models ./aiModels.json --orch-secret s3cret
  tributary orchestrator -orchestrator -aiWorker -aiModels ./aiModels.json -serviceAddr 0.0.0.0:8935 -network offchain`,
    )
    .action(async (opts: OrchestratorCliOptions, cmd: Command) => {
      const legacy = opts.aiModels === undefined ? undefined : legacyAiModelsHint(opts.aiModels);
      if (legacy !== undefined) cmd.error(`error: ${legacy}`, { exitCode: 2 });
      const logger = createLogger({ name: "orchestrator", level: opts.logLevel });
      const { host, port } = opts.serviceAddr;
      let running: Awaited<ReturnType<typeof startOrchestrator>>;
      let onchain: OnchainPayments | undefined;
      try {
        if (opts.network !== "offchain") {
          if (opts.ethUrl === undefined)
            cmd.error(`error: --network ${opts.network} needs --eth-url`, { exitCode: 2 });
          onchain = await startOnchainPayments({
            network: opts.network,
            ethUrl: opts.ethUrl,
            privateKey: await loadNodeKey(opts),
            dataDir: opts.dataDir,
            ...(opts.ticketEv === undefined ? {} : { ticketEV: opts.ticketEv }),
            ...(opts.maxFaceValue === undefined ? {} : { maxFaceValue: opts.maxFaceValue }),
            ...(opts.targetTicketsPerPayment === undefined
              ? {}
              : { targetTicketsPerPayment: opts.targetTicketsPerPayment }),
            maxChainStalenessMs: opts.maxChainStaleness,
            logger,
          });
        }
        running = await startOrchestrator({
          payments: onchain?.gate,
          ...(opts.pricePerUnit === undefined ? {} : { defaultPricePerUnit: opts.pricePerUnit }),
          address: onchain?.address,
          host,
          port,
          serviceUri:
            opts.serviceUri ?? (port === 0 || host === "0.0.0.0" ? undefined : `https://${host}:${port}`),
          aiModelsPath: opts.aiModels,
          orchSecret: opts.orchSecret === undefined ? undefined : readSecret(opts.orchSecret),
          dataDir: opts.dataDir,
          network: opts.network,
          trickleHostForRunner: opts.trickleHostForRunner,
          maxJobTimeoutSeconds: opts.maxJobTimeout,
          health: {
            intervalMs: opts.healthInterval,
            timeoutMs: opts.healthTimeout,
            failureThreshold: opts.healthFailures,
          },
          containerKeepAlive: opts.containerKeepAlive !== false,
          streamIdleTimeoutMs: opts.streamIdleTimeout,
          ...(opts.useLiveRunners === true || opts.liveRunnerConfig !== undefined
            ? {
                liveRunners: {
                  ...(onchain === undefined
                    ? {}
                    : {
                        priceFeed: new PriceFeed({
                          clients: onchain.clients,
                          address:
                            opts.priceFeedAddr ??
                            defaultPriceFeedAddress(
                              opts.network === "arbitrum-one" ? "arbitrum-one" : "devnet",
                            ),
                          maxAgeMs: opts.priceFeedMaxAge,
                        }),
                      }),
                  configPath: opts.liveRunnerConfig,
                  runnerAddr: opts.liveRunnerAddr,
                  proxyUrl: opts.liveRunnerProxyUrl,
                  operatorHost: opts.cliAddr.host,
                  operatorPort: opts.cliAddr.port,
                },
              }
            : {}),
          limits: httpLimitsOf(opts),
          logger,
        });
      } catch (err) {
        await onchain?.close();
        const flag = (p?: number) =>
          p === opts.cliAddr.port && p !== port ? "--cli-addr" : "--service-addr";
        cmd.error(`error: ${startFailureMessage(err, flag)}`, { exitCode: 1 });
      }
      process.stdout.write(
        `orchestrator listening on ${running.url} (advertised as ${running.serviceUri})\n`,
      );
      if (opts.serviceUri === undefined && (host === "0.0.0.0" || host === "::"))
        process.stderr.write(
          `warning: gateways are told ${running.serviceUri}, which they cannot reach; set --service-uri to the public https://host:port\n`,
        );
      await untilStopSignal();
      await running.close();
      await onchain?.close();
    });
  return addHttpLimitOptions(command, true);
}
