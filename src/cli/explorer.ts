/**
 * `tributary explorer`: the network capabilities dashboard on its own, against a network's active set
 * (read from the chain) or a list of orchestrators, without acting as a paying gateway.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { type Address, getAddress, isAddress } from "viem";
import { ARBITRUM_ONE_ADDRESSES } from "../chain/addresses.ts";
import { connectChain } from "../chain/clients.ts";
import { DEVNET_DEFAULT_ADDRESSES } from "../chain/devnet.ts";
import { DEFAULT_PRICE_FEED_MAX_AGE_MS, defaultPriceFeedAddress, PriceFeed } from "../chain/price-feed.ts";
import { normalizeOrchestratorUrl } from "../gateway/discovery/uri.ts";
import { startExplorer } from "../gateway/explorer/server.ts";
import { EXPLORER_INTERVAL_MS, EXPLORER_PROBE_TIMEOUT_MS } from "../gateway/explorer/source.ts";
import { createLogger } from "../node/logger.ts";
import {
  durationLabel,
  GoCompatibleCommand,
  type GoFlagAliases,
  parseDuration,
  parseHostPort,
  startFailureMessage,
  untilStopSignal,
} from "./options.ts";

/** go-livepeer flag → our flag. */
export const EXPLORER_GO_FLAG_ALIASES: GoFlagAliases = {
  orchAddr: "--orch-addr",
  httpAddr: "--http-addr",
  network: "--network",
  ethUrl: "--eth-url",
  priceFeedAddr: "--price-feed-addr",
};

/** Default address of the explorer's page. */
export const DEFAULT_EXPLORER_ADDR = "127.0.0.1:8939";

interface ExplorerCliOptions {
  network: "offchain" | "devnet" | "arbitrum-one";
  ethUrl?: string;
  orchAddr?: string;
  httpAddr: { host: string; port: number };
  interval: number;
  probeTimeout: number;
  priceFeedAddr?: Address;
  priceFeedMaxAge: number;
  usd: boolean;
  logLevel?: string;
}

/** `--price-feed-addr`: a 0x address. */
export function parseAddress(value: string): Address {
  if (!isAddress(value, { strict: false }))
    throw new InvalidArgumentError("expected a 0x-prefixed 20-byte address");
  return getAddress(value);
}

/** `--price-feed-addr` of the nodes whose dashboard shows prices in US dollars too (explorer, gateway). */
export function priceFeedAddrOption(): Option {
  return new Option(
    "--price-feed-addr <address>",
    "ETH/USD aggregator read to show dashboard prices in US dollars too (on-chain networks); default Chainlink's on arbitrum-one, the devnet's PriceFeed on devnet",
  )
    .env("TRIBUTARY_PRICE_FEED_ADDR")
    .argParser(parseAddress);
}

/** `--price-feed-max-age`: past it, no dollar figure is shown. */
export function priceFeedMaxAgeOption(): Option {
  return new Option(
    "--price-feed-max-age <duration>",
    "largest age of the ETH/USD feed's answer; older, no dollar figures are shown until it updates",
  )
    .env("TRIBUTARY_PRICE_FEED_MAX_AGE")
    .default(DEFAULT_PRICE_FEED_MAX_AGE_MS, durationLabel(DEFAULT_PRICE_FEED_MAX_AGE_MS))
    .argParser(parseDuration);
}

/** `--no-usd`: do not read the feed. */
export function noUsdOption(): Option {
  return new Option("--no-usd", "do not read the ETH/USD price feed (dashboard prices in wei only)");
}

/** Builds the `explorer` subcommand. */
export function explorerCommand(): Command {
  return new GoCompatibleCommand("explorer", EXPLORER_GO_FLAG_ALIASES)
    .description(
      "Run the network capabilities dashboard on its own: the active set from the chain (stake, cuts, service URI) " +
        "or a list of orchestrators, each probed for what it offers, warm and cold, capacity and price. " +
        "It pays nobody and sends no jobs.",
    )
    .addOption(
      new Option("--network <name>", "offchain (needs --orch-addr) | devnet | arbitrum-one (needs --eth-url)")
        .choices(["offchain", "devnet", "arbitrum-one"])
        .env("TRIBUTARY_NETWORK")
        .default("offchain"),
    )
    .addOption(
      new Option(
        "--eth-url <url>",
        "Ethereum JSON-RPC URL to read the active set from (on-chain networks)",
      ).env("TRIBUTARY_ETH_URL"),
    )
    .addOption(
      new Option(
        "--orch-addr <list>",
        "orchestrators to probe, comma-separated host:port or https URLs (added to the active set on chain)",
      ).env("TRIBUTARY_ORCH_ADDR"),
    )
    .addOption(
      new Option("--http-addr <host:port>", "address of the page and its JSON API")
        .env("TRIBUTARY_HTTP_ADDR")
        .default(parseHostPort(DEFAULT_EXPLORER_ADDR), DEFAULT_EXPLORER_ADDR)
        .argParser((v) => parseHostPort(v, DEFAULT_EXPLORER_ADDR)),
    )
    .addOption(
      new Option("--interval <duration>", "how often the set is read and every orchestrator probed")
        .env("TRIBUTARY_EXPLORER_INTERVAL")
        .default(EXPLORER_INTERVAL_MS, durationLabel(EXPLORER_INTERVAL_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--probe-timeout <duration>", "deadline of one orchestrator's answer")
        .env("TRIBUTARY_EXPLORER_PROBE_TIMEOUT")
        .default(EXPLORER_PROBE_TIMEOUT_MS, durationLabel(EXPLORER_PROBE_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(priceFeedAddrOption())
    .addOption(priceFeedMaxAgeOption())
    .addOption(noUsdOption())
    .addOption(new Option("--log-level <level>", "pino log level").env("TRIBUTARY_LOG_LEVEL"))
    .addHelpText(
      "after",
      `
Routes: /dashboard (the page), /dashboard/api/explorer, /dashboard/api/orchestrators,
/dashboard/api/capabilities, /dashboard/api/state, /dashboard/events (SSE), /getNetworkCapabilities.

Examples:
  tributary explorer --network devnet --eth-url http://127.0.0.1:8545
  tributary explorer --network arbitrum-one --eth-url https://arb1.arbitrum.io/rpc
  tributary explorer --orch-addr 10.0.0.5:8935,10.0.0.6:8935`,
    )
    .action(async (opts: ExplorerCliOptions, cmd: Command) => {
      const orchestrators = (opts.orchAddr ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      if (opts.network === "offchain" && orchestrators.length === 0)
        cmd.error("error: give --orch-addr host:port[,…], or --network devnet|arbitrum-one with --eth-url", {
          exitCode: 2,
        });
      for (const o of orchestrators)
        try {
          normalizeOrchestratorUrl(o);
        } catch {
          cmd.error(`error: --orch-addr: ${JSON.stringify(o)} is not a host:port or https URL`, {
            exitCode: 2,
          });
        }
      if (opts.network === "offchain" && opts.priceFeedAddr !== undefined)
        cmd.error("error: --price-feed-addr needs --network devnet|arbitrum-one and --eth-url", {
          exitCode: 2,
        });
      if (opts.network !== "offchain" && opts.ethUrl === undefined)
        cmd.error(`error: --network ${opts.network} needs --eth-url`, { exitCode: 2 });
      const logger = createLogger({ name: "explorer", level: opts.logLevel });
      let running: Awaited<ReturnType<typeof startExplorer>>;
      try {
        const network = opts.network;
        const chain =
          network === "offchain"
            ? undefined
            : {
                publicClient: (await connectChain({ rpcUrl: opts.ethUrl as string })).publicClient,
                contracts: network === "devnet" ? DEVNET_DEFAULT_ADDRESSES : ARBITRUM_ONE_ADDRESSES,
              };
        const priceFeed =
          chain && network !== "offchain" && opts.usd
            ? new PriceFeed({
                clients: { publicClient: chain.publicClient },
                address: opts.priceFeedAddr ?? defaultPriceFeedAddress(network),
                maxAgeMs: opts.priceFeedMaxAge,
              })
            : undefined;
        running = await startExplorer({
          host: opts.httpAddr.host,
          port: opts.httpAddr.port,
          ...(orchestrators.length > 0 && { orchestrators }),
          ...(chain && { chain }),
          ...(priceFeed && { priceFeed }),
          intervalMs: opts.interval,
          probeTimeoutMs: opts.probeTimeout,
          logger,
        });
      } catch (err) {
        cmd.error(`error: ${startFailureMessage(err, "--http-addr")}`, { exitCode: 1 });
      }
      process.stdout.write(`explorer listening on ${running.url} (dashboard at ${running.url}/dashboard)\n`);
      await untilStopSignal();
      await running.close();
    });
}
