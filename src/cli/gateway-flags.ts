/** The go-livepeer gateway flags `tributary gateway` accepts as aliases, and those it accepts and ignores. */
import { NODE_GO_FLAG_ALIASES } from "./key-options.ts";
import {
  COMMON_IGNORED_GO_FLAGS,
  type GoFlagAliases,
  type IgnoredGoFlags,
  verbosityToLogLevel,
} from "./options.ts";

/** go-livepeer gateway flag → our flag (`undefined`: accepted and ignored, it is implied). */
export const GATEWAY_GO_FLAG_ALIASES: GoFlagAliases = {
  orchAddr: "--orch-addr",
  orchWebhookUrl: "--orch-webhook-url",
  httpAddr: "--http-addr",
  ...NODE_GO_FLAG_ALIASES,
  maxPricePerUnit: "--max-price-per-unit",
  maxTicketEV: "--max-ticket-ev",
  maxTotalEV: "--max-total-ev",
  maxPricePerCapability: "--max-price-per-capability",
  pixelsPerUnit: "--pixels-per-unit",
  ignoreMaxPriceIfNeeded: "--ignore-max-price-if-needed",
  minPerfScore: "--min-perf-score",
  orchBlocklist: "--orch-blocklist",
  selectStakeWeight: "--select-stake-weight",
  selectPriceWeight: "--select-price-weight",
  selectRandWeight: "--select-rand-weight",
  selectPriceExpFactor: "--select-price-exp-factor",
  datadir: "--data-dir",
  v: { flag: "--log-level", value: verbosityToLogLevel },
  gatewayHost: "--gateway-host",
  remoteSignerUrl: "--remote-signer-url",
  remoteSignerHeaders: "--remote-signer-headers",
  priceFeedAddr: "--price-feed-addr",
  gateway: undefined,
  broadcaster: undefined,
};

/**
 * go-livepeer gateway flags with no meaning here: each is warned about and ignored (refused with
 * --strict-flags), so a go-livepeer command line starts as it is.
 */
export const GATEWAY_IGNORED_GO_FLAGS: IgnoredGoFlags = {
  ...COMMON_IGNORED_GO_FLAGS,
  orchPerfStatsUrl: {
    why: "performance scores are not fetched, so -minPerfScore has no scores to filter on",
    value: true,
  },
  region: { why: "performance scores are not fetched", value: true },
  depositMultiplier: { why: "the ticket EV limits are -maxTicketEV and -maxTotalEV", value: true },
  discoveryTimeout: { why: "discovery waits per orchestrator with its own timeouts", value: true },
  extraNodes: { why: "only the listed or discovered orchestrators are asked", value: true },
  authWebhookUrl: { why: "no stream authentication webhook", value: true },
  liveAIAuthWebhookUrl: { why: "no stream authentication webhook", value: true },
  transcoder: { why: "transcoding is not supported", value: false },
};
