/**
 * `tributary signer`: the remote signer (src/signer). go-livepeer's spelling `-remoteSigner` is
 * implied and accepted, as are its `-remoteSignerWebhookUrl`, `-remoteSignerWebhookHeaders`,
 * `-remoteSignerAllowNoAuth`, `-remoteDiscovery` and the key and network flags.
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import type { Hex } from "viem";
import { createLogger } from "../node/logger.ts";
import type { Rat } from "../payments/rational.ts";
import { parseHeaderList, parseTokenFile } from "../signer/auth.ts";
import { DEFAULT_SIGNER_PORT, type RunningSigner, startSigner } from "../signer/signer.ts";
import {
  ethAcctAddrOption,
  type KeyCliOptions,
  keyFileOf,
  loadNodeKey,
  NODE_GO_FLAG_ALIASES,
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

/** go-livepeer flag → our flag (`undefined`: accepted and ignored, it is implied). */
export const SIGNER_GO_FLAG_ALIASES: Readonly<Record<string, string | undefined>> = {
  httpAddr: "--http-addr",
  ...NODE_GO_FLAG_ALIASES,
  orchAddr: "--orch-addr",
  maxPricePerUnit: "--max-price-per-unit",
  maxTicketEV: "--max-ticket-ev",
  maxTotalEV: "--max-total-ev",
  remoteSignerWebhookUrl: "--remote-signer-webhook-url",
  remoteSignerWebhookHeaders: "--remote-signer-webhook-headers",
  remoteSignerAllowNoAuth: "--remote-signer-allow-no-auth",
  remoteDiscovery: "--remote-discovery",
  remoteSigner: undefined,
};

interface SignerCliOptions extends KeyCliOptions {
  httpAddr: { host: string; port: number };
  dataDir: string;
  network: "offchain" | "devnet" | "arbitrum-one";
  ethUrl?: string;
  authTokens?: string;
  remoteSignerWebhookUrl?: string;
  remoteSignerWebhookHeaders?: string;
  remoteSignerAllowNoAuth?: boolean;
  remoteDiscovery?: boolean;
  orchAddr?: string;
  maxPricePerUnit?: Rat;
  maxTicketEv?: bigint;
  maxTotalEv?: bigint;
  maxSpendPerApp?: bigint;
  maxSpend?: bigint;
  spendWindow: number;
  logLevel?: string;
}

/** Builds the `signer` subcommand. */
export function signerCommand(): Command {
  return addNodeOptions(
    new GoCompatibleCommand("signer", SIGNER_GO_FLAG_ALIASES)
      .description(
        "Run a remote signer: holds the key and deposit and signs orchestrator-info requests, BYOC jobs " +
          "and payment tickets for clients that hold no key (go-livepeer -remoteSigner, PyPI livepeer-gateway's signer_url).",
      )
      .addOption(
        new Option("--http-addr <host:port>", "address of the signer's HTTP API")
          .env("TRIBUTARY_HTTP_ADDR")
          .default(parseHostPort(`127.0.0.1:${DEFAULT_SIGNER_PORT}`), `127.0.0.1:${DEFAULT_SIGNER_PORT}`)
          .argParser((v) => parseHostPort(v, `127.0.0.1:${DEFAULT_SIGNER_PORT}`)),
      ),
    { node: "signer", dataDir: "data directory (sender state: nonces, sessions, spend)", onchain: "tickets" },
  )
    .addOption(passwordOption())
    .addOption(ethAcctAddrOption())
    .addOption(
      new Option(
        "--auth-tokens <file>",
        'bearer tokens: a file of "<app> <token>" lines; every request then needs Authorization: Bearer <token>',
      ).env("TRIBUTARY_SIGNER_AUTH_TOKENS"),
    )
    .addOption(
      new Option(
        "--remote-signer-webhook-url <url>",
        "auth webhook asked to approve each payment (may name the app and a price ceiling)",
      ).env("TRIBUTARY_SIGNER_WEBHOOK_URL"),
    )
    .addOption(
      new Option(
        "--remote-signer-webhook-headers <list>",
        'headers sent to the webhook: "Name: value, …"',
      ).env("TRIBUTARY_SIGNER_WEBHOOK_HEADERS"),
    )
    .addOption(
      new Option(
        "--remote-signer-allow-no-auth",
        "serve without tokens or webhook on a non-loopback address (anyone who reaches it can spend the deposit)",
      ),
    )
    .addOption(
      new Option(
        "--remote-discovery",
        "serve GET /discover-orchestrators from --orch-addr, else (on chain) the chain's pool",
      ),
    )
    .addOption(new Option("--orch-addr <list>", "orchestrators for --remote-discovery, comma-separated"))
    .addOption(
      new Option("--max-price-per-unit <wei>", "refuse (481) orchestrators priced above this, wei per unit")
        .env("TRIBUTARY_MAX_PRICE_PER_UNIT")
        .argParser(parsePrice),
    )
    .addOption(new Option("--max-ticket-ev <wei>", "highest EV of one ticket").argParser(parseWei))
    .addOption(new Option("--max-total-ev <wei>", "highest EV of one payment").argParser(parseWei))
    .addOption(
      new Option("--max-spend-per-app <wei>", "most wei of ticket EV one app may spend per --spend-window")
        .env("TRIBUTARY_SIGNER_MAX_SPEND_PER_APP")
        .argParser(parseWei),
    )
    .addOption(
      new Option("--max-spend <wei>", "most wei of ticket EV all apps together may spend per --spend-window")
        .env("TRIBUTARY_SIGNER_MAX_SPEND")
        .argParser(parseWei),
    )
    .addOption(
      new Option("--spend-window <duration>", "window of the spending limits")
        .default(24 * 3600_000, durationLabel(24 * 3600_000))
        .argParser(parseDuration),
    )
    .addOption(new Option("--log-level <level>", "pino log level").env("TRIBUTARY_LOG_LEVEL"))
    .addHelpText(
      "after",
      `
go-livepeer spellings are accepted: -remoteSigner (implied), -remoteSignerWebhookUrl,
-remoteSignerWebhookHeaders, -remoteSignerAllowNoAuth, -remoteDiscovery, -httpAddr, -network, -ethUrl,
-ethKeystorePath, -ethPassword, -ethAcctAddr, -dataDir, -orchAddr, -maxPricePerUnit, -maxTicketEV, -maxTotalEV.

Routes (plain HTTP on --http-addr, default 127.0.0.1:${DEFAULT_SIGNER_PORT}):
  POST /sign-orchestrator-info   {address, signature} for GetOrchestrator
  POST /generate-live-payment    {payment, segCreds, state} for lv2v, live, fixed and BYOC payments
  POST /sign-byoc-job            {sender, signature}: a V1 job signature
  GET  /discover-orchestrators   [{address, score, capabilities}] (--remote-discovery)
  GET  /metrics, /health

Example:
  tributary signer --network devnet --eth-url http://127.0.0.1:8545 --key-file gw.key --auth-tokens tokens.txt`,
    )
    .action(async (opts: SignerCliOptions, cmd: Command) => {
      if (keyFileOf(opts) === undefined) cmd.error("error: a signer needs --key-file", { exitCode: 2 });
      if (opts.network !== "offchain" && opts.ethUrl === undefined)
        cmd.error(`error: --network ${opts.network} needs --eth-url`, { exitCode: 2 });
      const logger = createLogger({ name: "signer", level: opts.logLevel });
      let running: RunningSigner;
      try {
        const privateKey = (await loadNodeKey(opts)) as Hex;
        running = await startSigner({
          host: opts.httpAddr.host,
          port: opts.httpAddr.port,
          dataDir: opts.dataDir,
          network: opts.network,
          privateKey,
          ethUrl: opts.ethUrl,
          maxTicketEV: opts.maxTicketEv,
          maxTotalEV: opts.maxTotalEv,
          ...(opts.authTokens ? { tokens: parseTokenFile(readFileSync(opts.authTokens, "utf8")) } : {}),
          webhookUrl: opts.remoteSignerWebhookUrl,
          ...(opts.remoteSignerWebhookHeaders
            ? { webhookHeaders: parseHeaderList(opts.remoteSignerWebhookHeaders) }
            : {}),
          allowNoAuth: opts.remoteSignerAllowNoAuth === true,
          maxPricePerUnit: opts.maxPricePerUnit,
          maxSpendPerApp: opts.maxSpendPerApp,
          maxSpend: opts.maxSpend,
          spendWindowMs: opts.spendWindow,
          ...(opts.remoteDiscovery
            ? { discovery: { ...(opts.orchAddr ? { orchAddr: opts.orchAddr } : {}) } }
            : {}),
          logger,
        });
      } catch (err) {
        cmd.error(`error: ${startFailureMessage(err, "--http-addr")}`, { exitCode: 1 });
      }
      process.stdout.write(`signer listening on ${running.url}, signing as ${running.address}\n`);
      await untilStopSignal();
      await running.close();
    });
}
