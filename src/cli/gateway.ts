import { type Command, InvalidArgumentError, Option } from "commander";
import { connectChain } from "../chain/clients.ts";
import { defaultPriceFeedAddress, PriceFeed } from "../chain/price-feed.ts";
import { DEFAULT_REFRESH_INTERVAL_MS } from "../gateway/discovery/index.ts";
import { DEFAULT_GATEWAY_PORT, type RunningGateway, startGateway } from "../gateway/index.ts";
import {
  DEFAULT_BYOC_PAYMENT_INTERVAL_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
} from "../gateway/live/index.ts";
import { type GatewayOnchain, startGatewayOnchain } from "../gateway/onchain.ts";
import {
  connectRemoteSigner,
  parseSignerHeaders,
  type RemoteSignerClient,
} from "../gateway/remote-signer.ts";
import { DEFAULT_MAX_RUNNER_SESSIONS, DEFAULT_RUNNER_IDLE_TIMEOUT_MS } from "../gateway/runners/sessions.ts";
import { DEFAULT_PROBABILITY_WEIGHTS, DEFAULT_STRATEGY, STRATEGY_NAMES } from "../gateway/selection/index.ts";
import { parseIceServers } from "../gateway/webrtc/peer.ts";
import { DEFAULT_MAX_WHEP_VIEWERS } from "../gateway/webrtc/whep.ts";
import { WHIP_SILENT_MS } from "../gateway/webrtc/whip.ts";
import { createLogger } from "../node/logger.ts";
import { DEFAULT_MAX_TICKET_EV, DEFAULT_MAX_TOTAL_EV, MAX_SENDER_NONCES } from "../payments/constants.ts";
import { DEFAULT_MAX_TICKETS_PER_PAYMENT } from "../payments/sender.ts";
import { noUsdOption, priceFeedAddrOption, priceFeedMaxAgeOption } from "./explorer.ts";
import { GATEWAY_GO_FLAG_ALIASES, GATEWAY_IGNORED_GO_FLAGS } from "./gateway-flags.ts";
import {
  parseBlocklist,
  parseBool,
  parseMaxPricePerCapability,
  parsePixelsPerUnit,
  parseWeight,
  type SelectionCliOptions,
  selectionOptionsOf,
} from "./gateway-selection.ts";
import { addHttpLimitOptions, type HttpLimitCliOptions, httpLimitsOf, parseCount } from "./http-limits.ts";
import {
  ethAcctAddrOption,
  type KeyCliOptions,
  keyFileOf,
  loadNodeKey,
  passwordOption,
} from "./key-options.ts";
import {
  addNodeOptions,
  durationLabel,
  GoCompatibleCommand,
  parseDuration,
  parseHostPort,
  parsePrice,
  parseWei,
  startFailureMessage,
  untilStopSignal,
} from "./options.ts";

export { GATEWAY_GO_FLAG_ALIASES, GATEWAY_IGNORED_GO_FLAGS } from "./gateway-flags.ts";
export { parseBlocklist, parseMaxPricePerCapability, selectionOptionsOf } from "./gateway-selection.ts";

interface GatewayCliOptions extends KeyCliOptions, HttpLimitCliOptions, SelectionCliOptions {
  priceFeedAddr?: `0x${string}`;
  priceFeedMaxAge: number;
  usd: boolean;
  orchAddr?: string;
  orchWebhookUrl?: string;
  httpAddr: { host: string; port: number };
  gatewayHost?: string;
  dataDir: string;
  network: "offchain" | "devnet" | "arbitrum-one";
  ethUrl?: string;
  keyFile?: string;
  maxTicketEv?: bigint;
  maxTotalEv?: bigint;
  maxTicketsPerPayment: number;
  liveEventTimeout: number;
  liveIdleTimeout: number;
  iceServers: { urls: string | string[]; username?: string; credential?: string }[];
  maxWhepViewers: number;
  whipSilenceTimeout: number;
  byocStreamPaymentInterval: number;
  tokenReuse: number;
  refreshInterval: number;
  liveRunnerDiscovery?: number;
  liveRunnerIdleTimeout: number;
  maxLiveRunnerSessions: number;
  remoteSignerUrl?: string;
  remoteSignerHeaders?: Record<string, string>;
  logLevel?: string;
}

/** `--max-tickets-per-payment`: 1 to 600 (what an orchestrator accepts on one set of ticket params). */
function parseTicketCount(value: string): number {
  const n = parseCount(value);
  if (n > MAX_SENDER_NONCES) throw new InvalidArgumentError(`expected 1 to ${MAX_SENDER_NONCES}`);
  return n;
}

/** Builds the `gateway` subcommand. */
export function gatewayCommand(): Command {
  const command = addNodeOptions(
    new GoCompatibleCommand("gateway", GATEWAY_GO_FLAG_ALIASES, GATEWAY_IGNORED_GO_FLAGS)
      .description(
        "Run a gateway: a plain-HTTP user API for AI batch jobs, BYOC jobs and live video, sent to orchestrators " +
          "found by discovery, with failover, tracing, a dashboard and metrics.",
      )
      .addOption(
        new Option("--orch-addr <list>", "orchestrators, comma-separated host:port or https URLs").env(
          "TRIBUTARY_ORCH_ADDR",
        ),
      )
      .addOption(
        new Option("--orch-webhook-url <url>", "discovery webhook answering a JSON list of {address}").env(
          "TRIBUTARY_ORCH_WEBHOOK_URL",
        ),
      )
      .addOption(
        new Option("--http-addr <host:port>", "address of the user API")
          .env("TRIBUTARY_HTTP_ADDR")
          .default(parseHostPort(`127.0.0.1:${DEFAULT_GATEWAY_PORT}`), `127.0.0.1:${DEFAULT_GATEWAY_PORT}`)
          .argParser((v) => parseHostPort(v, `127.0.0.1:${DEFAULT_GATEWAY_PORT}`)),
      )
      .addOption(
        new Option(
          "--gateway-host <host[:port]>",
          "public host put in live stream URLs (default: --http-addr)",
        ).env("TRIBUTARY_GATEWAY_HOST"),
      ),
    { node: "gateway", dataDir: "data directory", onchain: "jobs paid with tickets" },
  )
    .addOption(passwordOption())
    .addOption(ethAcctAddrOption())
    .addOption(priceFeedAddrOption())
    .addOption(priceFeedMaxAgeOption())
    .addOption(noUsdOption())
    .addOption(
      new Option(
        "--max-price-per-unit <wei>",
        "highest price in wei per unit to pay (integer, decimal or n/d)",
      )
        .env("TRIBUTARY_MAX_PRICE_PER_UNIT")
        .argParser(parsePrice),
    )
    .addOption(
      new Option(
        "--max-ticket-ev <wei>",
        `highest EV of one ticket the gateway sends (default ${DEFAULT_MAX_TICKET_EV})`,
      )
        .env("TRIBUTARY_MAX_TICKET_EV")
        .argParser(parseWei),
    )
    .addOption(
      new Option("--max-total-ev <wei>", `highest EV of one ticket batch (default ${DEFAULT_MAX_TOTAL_EV})`)
        .env("TRIBUTARY_MAX_TOTAL_EV")
        .argParser(parseWei),
    )
    .addOption(
      new Option(
        "--max-tickets-per-payment <n>",
        "most tickets in one payment (1 to 600): a BYOC payment over it is trimmed when it still covers " +
          "the orchestrator's minimum balance, else refused (TOO_MANY_TICKETS), as is an AI fee over it",
      )
        .env("TRIBUTARY_MAX_TICKETS_PER_PAYMENT")
        .default(DEFAULT_MAX_TICKETS_PER_PAYMENT)
        .argParser(parseTicketCount),
    )
    .addOption(
      new Option(
        "--pixels-per-unit <n>",
        "--max-price-per-unit is per this many units (go-livepeer -pixelsPerUnit): the limit is their quotient",
      )
        .env("TRIBUTARY_PIXELS_PER_UNIT")
        .default(1n, "1")
        .argParser(parsePixelsPerUnit),
    )
    .addOption(
      new Option(
        "--max-price-per-capability <json|file>",
        'max prices per pipeline and model, over --max-price-per-unit: {"capabilities_prices": [{"pipeline", ' +
          '"model_id" (or "default"), "price_per_unit", "pixels_per_unit"}]} inline or in a file',
      )
        .env("TRIBUTARY_MAX_PRICE_PER_CAPABILITY")
        .argParser(parseMaxPricePerCapability),
    )
    .addOption(
      new Option(
        "--ignore-max-price-if-needed [enabled]",
        "when no orchestrator is at or under the max price, use the others rather than fail",
      )
        .env("TRIBUTARY_IGNORE_MAX_PRICE_IF_NEEDED")
        .argParser(parseBool),
    )
    .addOption(
      new Option(
        "--min-perf-score <score>",
        "leave out orchestrators whose performance score is under this (0 to 1; ignored when none pass or no scores are known)",
      )
        .env("TRIBUTARY_MIN_PERF_SCORE")
        .argParser(parseWeight),
    )
    .addOption(
      new Option(
        "--orch-blocklist <list>",
        "never use these orchestrators: comma-separated addresses (or service URLs)",
      )
        .env("TRIBUTARY_ORCH_BLOCKLIST")
        .argParser(parseBlocklist),
    )
    .addOption(
      new Option("--selection-strategy <name>", "how orchestrators are ranked")
        .choices([...STRATEGY_NAMES])
        .env("TRIBUTARY_SELECTION_STRATEGY")
        .default(DEFAULT_STRATEGY),
    )
    .addOption(
      new Option(
        "--select-stake-weight <w>",
        `probability strategy: weight of stake (default ${DEFAULT_PROBABILITY_WEIGHTS.stakeWeight}; the three weights sum to 1; any of them selects the probability strategy unless --selection-strategy is given)`,
      )
        .env("TRIBUTARY_SELECT_STAKE_WEIGHT")
        .argParser(parseWeight),
    )
    .addOption(
      new Option(
        "--select-price-weight <w>",
        `probability strategy: weight of price (default ${DEFAULT_PROBABILITY_WEIGHTS.priceWeight})`,
      )
        .env("TRIBUTARY_SELECT_PRICE_WEIGHT")
        .argParser(parseWeight),
    )
    .addOption(
      new Option(
        "--select-rand-weight <w>",
        `probability strategy: weight of chance (default ${DEFAULT_PROBABILITY_WEIGHTS.randWeight})`,
      )
        .env("TRIBUTARY_SELECT_RAND_WEIGHT")
        .argParser(parseWeight),
    )
    .addOption(
      new Option(
        "--select-price-exp-factor <f>",
        `probability and price strategies: how steeply a higher price lowers the odds (default ${DEFAULT_PROBABILITY_WEIGHTS.priceExpFactor})`,
      )
        .env("TRIBUTARY_SELECT_PRICE_EXP_FACTOR")
        .argParser(parseWeight),
    )
    .addOption(
      new Option(
        "--live-event-timeout <duration>",
        "move a live stream when its orchestrator is silent this long",
      )
        .default(DEFAULT_EVENT_TIMEOUT_MS, durationLabel(DEFAULT_EVENT_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--live-idle-timeout <duration>",
        "stop a live or BYOC stream whose input got nothing this long (never fed, or the client went away): " +
          "frees the orchestrator's slot and stops paying (0 = never)",
      )
        .default(DEFAULT_IDLE_TIMEOUT_MS, durationLabel(DEFAULT_IDLE_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--ice-servers <servers>",
        "STUN/TURN servers for WHIP/WHEP peers: comma-separated stun:/turn: URLs (turn:user:pass@host:3478) " +
          "or a JSON array of RTCIceServer",
      )
        .default([], "none: host candidates only")
        .argParser((v: string) => {
          try {
            return parseIceServers(v);
          } catch (err) {
            throw new InvalidArgumentError((err as Error).message);
          }
        }),
    )
    .addOption(
      new Option(
        "--max-whep-viewers <n>",
        "most WHEP viewers of one stream at once (each costs a peer connection and a trickle reader); " +
          "the next one is answered 503 WHEP_VIEWERS_FULL",
      )
        .default(DEFAULT_MAX_WHEP_VIEWERS)
        .argParser(parseCount),
    )
    .addOption(
      new Option(
        "--whip-silence-timeout <duration>",
        "stop a WHIP stream whose publisher sent no video this long (it stops paying); 0 = only --live-idle-timeout",
      )
        .default(WHIP_SILENT_MS, durationLabel(WHIP_SILENT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--token-reuse <duration>",
        "on-chain: reuse an orchestrator's /process/token (price, ticket params, balance) for batch jobs " +
          "for this long instead of asking for one per job (0 = one per job, as go-livepeer); saves a " +
          "round trip per job, but a price change is seen up to this long later",
      )
        .env("TRIBUTARY_TOKEN_REUSE")
        .default(0, "0")
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--byoc-stream-payment-interval <duration>",
        "on-chain: how often a BYOC stream's balance is checked and topped up (POST /ai/stream/payment, " +
          "when under 120 × price); go-livepeer's period is 50s",
      )
        .env("TRIBUTARY_BYOC_STREAM_PAYMENT_INTERVAL")
        .default(DEFAULT_BYOC_PAYMENT_INTERVAL_MS, durationLabel(DEFAULT_BYOC_PAYMENT_INTERVAL_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--refresh-interval <duration>", "how often orchestrators are asked again")
        .default(DEFAULT_REFRESH_INTERVAL_MS, durationLabel(DEFAULT_REFRESH_INTERVAL_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--live-runner-discovery <duration>",
        "ask the orchestrators for their live runners (GET /discovery) this often: the gateway's own " +
          "GET /discovery and the dashboard list them (off by default)",
      )
        .env("TRIBUTARY_LIVE_RUNNER_DISCOVERY")
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--live-runner-idle-timeout <duration>",
        "with --live-runner-discovery: stop a live runner session the gateway holds (and pays) for a user " +
          "when none of its calls has been in flight this long",
      )
        .env("TRIBUTARY_LIVE_RUNNER_IDLE_TIMEOUT")
        .default(DEFAULT_RUNNER_IDLE_TIMEOUT_MS, durationLabel(DEFAULT_RUNNER_IDLE_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--max-live-runner-sessions <n>",
        "with --live-runner-discovery: most live runner sessions the gateway holds (and pays for) at once; " +
          "the next reservation is answered 503 RUNNER_SESSIONS_FULL",
      )
        .env("TRIBUTARY_MAX_LIVE_RUNNER_SESSIONS")
        .default(DEFAULT_MAX_RUNNER_SESSIONS)
        .argParser(parseCount),
    )
    .addOption(
      new Option(
        "--remote-signer-url <url>",
        "pay through a remote signer (tributary signer or go-livepeer -remoteSigner) that holds the key and " +
          "deposit; the gateway holds no key (no --key-file); without --orch-addr or --orch-webhook-url it " +
          "discovers orchestrators through the signer (GET /discover-orchestrators)",
      ).env("TRIBUTARY_REMOTE_SIGNER_URL"),
    )
    .addOption(
      new Option(
        "--remote-signer-headers <list>",
        'headers sent on every signer call: "Name:value,Name2:value2" (go-livepeer\'s format) or a JSON object',
      )
        .env("TRIBUTARY_REMOTE_SIGNER_HEADERS")
        .argParser((v) => {
          try {
            return parseSignerHeaders(v);
          } catch (err) {
            throw new InvalidArgumentError((err as Error).message);
          }
        }),
    )
    .addOption(new Option("--log-level <level>", "pino log level").env("TRIBUTARY_LOG_LEVEL"))
    .addHelpText(
      "after",
      `
go-livepeer spellings are accepted: -orchAddr, -orchWebhookUrl, -httpAddr, -network, -ethUrl,
-ethKeystorePath, -datadir (or -dataDir), -maxPricePerUnit, -pixelsPerUnit, -maxPricePerCapability,
-ignoreMaxPriceIfNeeded, -minPerfScore, -orchBlocklist, -selectStakeWeight, -selectPriceWeight,
-selectRandWeight, -selectPriceExpFactor, -maxTicketEV, -maxTotalEV, -v <level> (as --log-level),
-gatewayHost, -remoteSignerUrl, -remoteSignerHeaders, -ethPassword, -ethAcctAddr (also as -flag=value); -ethKeystorePath (--key-file) takes a hex
key file, a V3 JSON keystore (password: --password, a file or the value) or a keystore directory;
-gateway and -broadcaster are implied and ignored. go-livepeer flags with no meaning here (-monitor,
-orchPerfStatsUrl, -httpIngest, …) are warned about and ignored; --strict-flags refuses them. Every
unknown flag is reported at once.

Routes (plain HTTP on --http-addr):
  POST /<ai pipeline>              text-to-image, image-to-image, llm, … (model_id in the body or X-Model-Id)
  POST /<name>                     a BYOC capability (X-Model-Id, else body model_id, else <name>)
  POST /process/request/<route>    BYOC with a go-livepeer Livepeer header
  POST /live/video-to-video        {model_id, params} → publish_url, subscribe_url, update/status/stop URLs
  GET  /dashboard, /metrics, /health
A 5xx or an unreachable orchestrator moves the job to the next one; a 4xx goes back to the client.
A traceparent header is continued (or created) and forwarded; X-Trace-Id names the trace.

Examples:
  tributary gateway --orch-addr 127.0.0.1:8935
  tributary gateway -gateway -orchAddr 10.0.0.5:8935,10.0.0.6:8935 -httpAddr 0.0.0.0:8937 -network offchain`,
    )
    .action(async (opts: GatewayCliOptions, cmd: Command) => {
      const remote = opts.remoteSignerUrl !== undefined;
      if (remote && keyFileOf(opts) !== undefined)
        cmd.error(
          "error: --remote-signer-url and --key-file both given: a gateway paying through a remote signer holds no key; drop one",
          { exitCode: 2 },
        );
      if (!remote && opts.remoteSignerHeaders !== undefined)
        cmd.error("error: --remote-signer-headers needs --remote-signer-url", { exitCode: 2 });
      if (!remote && opts.network === "offchain" && !opts.orchAddr && !opts.orchWebhookUrl)
        cmd.error("error: give --orch-addr host:port[,…] or --orch-webhook-url URL", { exitCode: 2 });
      if (
        !remote &&
        opts.network !== "offchain" &&
        (opts.ethUrl === undefined || keyFileOf(opts) === undefined)
      )
        cmd.error(`error: --network ${opts.network} needs --eth-url and --key-file`, { exitCode: 2 });
      let selection: ReturnType<typeof selectionOptionsOf>;
      try {
        selection = selectionOptionsOf(opts, cmd.getOptionValueSource("selectionStrategy") !== "default");
      } catch (err) {
        cmd.error(`error: ${(err as Error).message}`, { exitCode: 2 });
      }
      const logger = createLogger({ name: "gateway", level: opts.logLevel });
      const { host, port } = opts.httpAddr;
      let running: RunningGateway;
      let onchain: GatewayOnchain | undefined;
      let signer: RemoteSignerClient | undefined;
      try {
        if (remote)
          signer = await connectRemoteSigner({
            url: opts.remoteSignerUrl as string,
            headers: opts.remoteSignerHeaders,
          });
        else if (opts.network !== "offchain")
          onchain = await startGatewayOnchain({
            network: opts.network,
            ethUrl: opts.ethUrl as string,
            privateKey: await loadNodeKey(opts),
            maxTicketEV: opts.maxTicketEv,
            maxTotalEV: opts.maxTotalEv,
            maxTicketsPerPayment: opts.maxTicketsPerPayment,
            dataDir: opts.dataDir,
            logger,
          });
        running = await startGateway({
          host,
          port,
          discovery: {
            orchAddr: opts.orchAddr,
            orchWebhookUrl: opts.orchWebhookUrl,
            ...(onchain ? { chain: onchain.chainSource } : {}),
            // Without --orch-addr or --orch-webhook-url: the signer's GET /discover-orchestrators.
            ...(signer ? { remoteSignerUrl: signer.url, remoteSignerHeaders: opts.remoteSignerHeaders } : {}),
          },
          payments: onchain ? { ...onchain.payments, tokenReuseMs: opts.tokenReuse } : undefined,
          remoteSigner: signer,
          ...selection,
          liveEventTimeoutMs: opts.liveEventTimeout,
          liveIdleTimeoutMs: opts.liveIdleTimeout,
          iceServers: opts.iceServers,
          maxWhepViewers: opts.maxWhepViewers,
          whipSilenceTimeoutMs: opts.whipSilenceTimeout,
          byocStreamPaymentIntervalMs: opts.byocStreamPaymentInterval,
          refreshIntervalMs: opts.refreshInterval,
          ...(opts.liveRunnerDiscovery ? { liveRunnerDiscoveryIntervalMs: opts.liveRunnerDiscovery } : {}),
          liveRunnerSessions: {
            idleTimeoutMs: opts.liveRunnerIdleTimeout,
            maxSessions: opts.maxLiveRunnerSessions,
          },
          limits: httpLimitsOf(opts),
          historyDir: opts.dataDir,
          // On chain (with its own key): dashboard prices in US dollars too, from the ETH/USD feed.
          ...(onchain && opts.usd && opts.network !== "offchain"
            ? {
                priceFeed: new PriceFeed({
                  clients: await connectChain({ rpcUrl: opts.ethUrl as string }),
                  address: opts.priceFeedAddr ?? defaultPriceFeedAddress(opts.network),
                  maxAgeMs: opts.priceFeedMaxAge,
                }),
              }
            : {}),
          publicUrl: opts.gatewayHost
            ? /^https?:\/\//.test(opts.gatewayHost)
              ? opts.gatewayHost
              : `http://${opts.gatewayHost}`
            : undefined,
          logger,
        });
      } catch (err) {
        await onchain?.close();
        cmd.error(`error: ${startFailureMessage(err, "--http-addr")}`, { exitCode: 1 });
      }
      process.stdout.write(
        `gateway listening on ${running.url} (dashboard at ${running.url}/dashboard)${onchain ? `, paying as ${onchain.address}` : ""}${signer ? `, paying through the remote signer ${signer.url} as ${signer.address}` : ""}\n`,
      );
      await untilStopSignal();
      await running.close();
      await onchain?.close();
    });
  return addHttpLimitOptions(command, false);
}
