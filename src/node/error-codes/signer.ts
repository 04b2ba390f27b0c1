/** Error codes: remote signer. Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const SIGNER_ERROR_CODES = {
  BAD_SIGNER_REQUEST: {
    status: 400,
    meaning:
      "A remote signer request is malformed (no OrchestratorInfo, no price or ticket params, an unknown payment type, a job without id or timeout); fix the request.",
    components: ["signer"],
  },
  BAD_SIGNER_STATE: {
    status: 400,
    meaning:
      "The payment state sent back to the remote signer was not issued by it or its session expired; start a new session without state.",
    components: ["signer"],
  },
  SIGNER_UNAUTHORIZED: {
    status: 401,
    meaning:
      "The remote signer needs a known bearer token (Authorization: Bearer <token>); send one from its --auth-tokens file.",
    components: ["signer"],
  },
  SIGNER_REFUSED: {
    status: 403,
    meaning:
      "The remote signer's auth webhook refused the payment (its status and reason are answered as given); ask the webhook's operator.",
    components: ["signer"],
  },
  SIGNER_WEBHOOK_FAILED: {
    status: 500,
    meaning:
      "The remote signer's auth webhook failed, answered non-200 or no valid JSON status; the payment is refused until it works.",
    components: ["signer"],
  },
  SIGNER_NO_AUTH: {
    status: 500,
    meaning:
      "A remote signer without --auth-tokens or --remote-signer-webhook-url would listen on a non-loopback address; add auth, listen on 127.0.0.1, or pass --remote-signer-allow-no-auth.",
    components: ["signer"],
  },
  BAD_AUTH_TOKENS: {
    status: 400,
    meaning:
      'A line of the signer\'s --auth-tokens file is not "<app> <token>" with a token of at least 16 characters; fix the file.',
    components: ["signer"],
  },
  BAD_HEADERS: {
    status: 400,
    meaning:
      'A header list flag (--remote-signer-webhook-headers) has an item that is not "Name: value"; fix the flag.',
    components: ["signer"],
  },
  SPEND_LIMIT_REACHED: {
    status: 429,
    meaning:
      "The payment would take an app (or the whole signer) over its spending limit for the current window; wait for the next window or raise --max-spend-per-app / --max-spend.",
    components: ["signer"],
  },
  SIGNER_REFRESH_SESSION: {
    status: 480,
    meaning:
      "The ticket params are about to expire or used up their nonces; get a fresh OrchestratorInfo (Livepeer-Orchestrator-URL names the orchestrator) and ask again.",
    components: ["signer"],
  },
  PRICE_EXCEEDED: {
    status: 481,
    meaning:
      "The orchestrator's price is above a ceiling (the signer's --max-price-per-unit, the auth webhook's or the client's maxPrice) or more than doubled in the session; pick another orchestrator.",
    components: ["signer"],
  },
  NO_TICKETS: {
    status: 482,
    meaning: "The session's credit already covers this period; skip this payment cycle.",
    components: ["signer"],
  },
  SIGNER_OFFCHAIN: {
    status: 503,
    meaning:
      "The remote signer runs offchain and makes no tickets; start it with --network devnet|arbitrum-one and --eth-url.",
    components: ["signer"],
  },
  SIGNER_NO_DISCOVERY: {
    status: 503,
    meaning: "Discovery through this remote signer is off; start it with --remote-discovery.",
    components: ["signer"],
  },
  SIGNER_DISCOVERY_EMPTY: {
    status: 503,
    meaning:
      "The remote signer's discovery has found no orchestrator yet; retry shortly, or check --orch-addr.",
    components: ["signer"],
  },
  SIGNER_DISCOVERY_CONFIG: {
    status: 400,
    meaning:
      "--remote-discovery on an offchain signer needs --orch-addr (on chain the pool is read from the chain).",
    components: ["signer"],
  },
  ETH_URL_REQUIRED: {
    status: 400,
    meaning: "An on-chain remote signer needs --eth-url.",
    components: ["signer"],
  },
} as const satisfies Record<string, ErrorCodeInfo>;
