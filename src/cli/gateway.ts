import { type Command, InvalidArgumentError, Option } from "commander";
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
import { DEFAULT_STRATEGY, STRATEGY_NAMES } from "../gateway/selection/index.ts";
import { createLogger } from "../node/logger.ts";
import { DEFAULT_MAX_TICKET_EV, DEFAULT_MAX_TOTAL_EV, MAX_SENDER_NONCES } from "../payments/constants.ts";
import type { Rat } from "../payments/rational.ts";
import { DEFAULT_MAX_TICKETS_PER_PAYMENT } from "../payments/sender.ts";
import { addHttpLimitOptions, type HttpLimitCliOptions, httpLimitsOf, parseCount } from "./http-limits.ts";
import {
  ethAcctAddrOption,
  KEY_GO_FLAG_ALIASES,
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
} from "./options.ts";

/** go-livepeer gateway flag → our flag (`undefined`: accepted and ignored, it is implied). */
export const GATEWAY_GO_FLAG_ALIASES: Readonly<Record<string, string | undefined>> = {
  orchAddr: "--orch-addr",
  orchWebhookUrl: "--orch-webhook-url",
  httpAddr: "--http-addr",
  network: "--network",
  ethUrl: "--eth-url",
  ethKeystorePath: "--key-file",
  ...KEY_GO_FLAG_ALIASES,
  dataDir: "--data-dir",
  maxPricePerUnit: "--max-price-per-unit",
  maxTicketEV: "--max-ticket-ev",
  maxTotalEV: "--max-total-ev",
  selectionAlgorithm: "--selection-strategy",
  gatewayHost: "--gateway-host",
  remoteSignerUrl: "--remote-signer-url",
  remoteSignerHeaders: "--remote-signer-headers",
  gateway: undefined,
  broadcaster: undefined,
};

interface GatewayCliOptions extends KeyCliOptions, HttpLimitCliOptions {
  orchAddr?: string;
  orchWebhookUrl?: string;
  httpAddr: { host: string; port: number };
  gatewayHost?: string;
  dataDir: string;
  network: "offchain" | "devnet" | "arbitrum-one";
  ethUrl?: string;
  keyFile?: string;
  maxPricePerUnit?: Rat;
  maxTicketEv?: bigint;
  maxTotalEv?: bigint;
  maxTicketsPerPayment: number;
  selectionStrategy: string;
  liveEventTimeout: number;
  liveIdleTimeout: number;
  byocStreamPaymentInterval: number;
  tokenReuse: number;
  refreshInterval: number;
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
    new GoCompatibleCommand("gateway", GATEWAY_GO_FLAG_ALIASES)
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
      new Option("--selection-strategy <name>", "how orchestrators are ranked")
        .choices([...STRATEGY_NAMES])
        .env("TRIBUTARY_SELECTION_STRATEGY")
        .default(DEFAULT_STRATEGY),
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
        "--remote-signer-url <url>",
        "pay through a remote signer (tributary signer or go-livepeer -remoteSigner) that holds the key and " +
          "deposit; the gateway holds no key (no --key-file) and needs --orch-addr or --orch-webhook-url",
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
-ethKeystorePath, -dataDir, -maxPricePerUnit, -maxTicketEV, -maxTotalEV, -selectionAlgorithm,
-gatewayHost, -remoteSignerUrl, -remoteSignerHeaders, -ethPassword, -ethAcctAddr (also as -flag=value); -ethKeystorePath (--key-file) takes a hex
key file, a V3 JSON keystore (password: --password, a file or the value) or a keystore directory;
-gateway and -broadcaster are implied and ignored.

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
      if (remote && !opts.orchAddr && !opts.orchWebhookUrl)
        cmd.error("error: --remote-signer-url needs --orch-addr host:port[,…] or --orch-webhook-url URL", {
          exitCode: 2,
        });
      if (!remote && opts.remoteSignerHeaders !== undefined)
        cmd.error("error: --remote-signer-headers needs --remote-signer-url", { exitCode: 2 });
      if (opts.network === "offchain" && !opts.orchAddr && !opts.orchWebhookUrl)
        cmd.error("error: give --orch-addr host:port[,…] or --orch-webhook-url URL", { exitCode: 2 });
      if (
        !remote &&
        opts.network !== "offchain" &&
        (opts.ethUrl === undefined || keyFileOf(opts) === undefined)
      )
        cmd.error(`error: --network ${opts.network} needs --eth-url and --key-file`, { exitCode: 2 });
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
          },
          payments: onchain ? { ...onchain.payments, tokenReuseMs: opts.tokenReuse } : undefined,
          remoteSigner: signer,
          strategy: opts.selectionStrategy,
          maxPricePerUnit: opts.maxPricePerUnit,
          liveEventTimeoutMs: opts.liveEventTimeout,
          liveIdleTimeoutMs: opts.liveIdleTimeout,
          byocStreamPaymentIntervalMs: opts.byocStreamPaymentInterval,
          refreshIntervalMs: opts.refreshInterval,
          limits: httpLimitsOf(opts),
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
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          resolve();
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      await running.close();
      await onchain?.close();
    });
  return addHttpLimitOptions(command, false);
}
