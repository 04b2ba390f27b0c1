/** Error codes: gateway. Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const GATEWAY_ERROR_CODES = {
  WHEP_VIEWERS_FULL: {
    status: 503,
    meaning:
      "The stream already has --max-whep-viewers WHEP viewers; retry when one leaves (DELETE its Location) or raise the flag.",
    components: ["gateway"],
  },
  WHEP_VIEWER_NOT_FOUND: {
    status: 404,
    meaning: "A WHEP DELETE named no current viewer of the stream; DELETE the Location the WHEP answer gave.",
    components: ["gateway"],
  },
  ICE_SESSION_NOT_FOUND: {
    status: 404,
    meaning:
      "A trickle ICE PATCH reached no open WHIP/WHEP session; PATCH the Location of the 201 answer while its session runs.",
    components: ["gateway"],
  },
  ICE_ETAG_MISMATCH: {
    status: 412,
    meaning:
      "A trickle ICE PATCH's If-Match names another entity-tag than the session's; send the ETag of the 201 answer.",
    components: ["gateway"],
  },
  ICE_RESTART_UNSUPPORTED: {
    status: 422,
    meaning:
      "A PATCH asked for an ICE restart (If-Match: *, or new ICE credentials); this gateway supports trickle ICE only: start a new session.",
    components: ["gateway"],
  },
  BAD_SDPFRAG: {
    status: 422,
    meaning:
      "A trickle ICE PATCH body is not a usable application/trickle-ice-sdpfrag (no candidates, an unknown mid, a candidate that does not parse, or more than 32 candidates PATCHed into one session); send the fragment RFC 8840 describes.",
    components: ["gateway"],
  },
  NO_DISCOVERY_SOURCE: {
    status: 400,
    meaning:
      "The gateway has no way to find orchestrators; pass --orch-addr, --orch-webhook-url or an Ethereum RPC.",
    components: ["gateway"],
  },
  INVALID_ORCHESTRATOR_ADDRESS: {
    status: 400,
    meaning:
      "An orchestrator address is not host:port or an http(s) URL; fix --orch-addr or the webhook's answer.",
    components: ["gateway"],
  },
  DISCOVERY_FAILED: {
    status: 503,
    meaning: "Orchestrator discovery failed; the message says which source and why.",
    components: ["gateway"],
  },
  DISCOVERY_WEBHOOK_FAILED: {
    status: 503,
    meaning: "The orchestrator webhook could not be read or answered badly; check --orch-webhook-url.",
    components: ["gateway"],
  },
  DISCOVERY_CHAIN_FAILED: {
    status: 503,
    meaning:
      "On-chain discovery could not read the BondingManager's pool; check --eth-url and the contract addresses.",
    components: ["gateway"],
  },
  ORCHESTRATOR_REQUEST_FAILED: {
    status: 502,
    meaning:
      "GetOrchestrator to an orchestrator failed (the gRPC code is in the message); the gateway tries others.",
    components: ["gateway"],
  },
  ORCHESTRATOR_UNREACHABLE: {
    status: 502,
    meaning: "An HTTP call to an orchestrator failed or timed out; the gateway tries another orchestrator.",
    components: ["gateway"],
  },
  NO_ORCHESTRATORS: {
    status: 503,
    meaning:
      "No orchestrator offers this capability or model within the price limit; the message gives each one's reason.",
    components: ["gateway"],
  },
  MODEL_NOT_OFFERED: {
    status: 404,
    meaning:
      "No orchestrator the gateway knows offers this model or capability; check the model id, or GET /dashboard for what the network offers.",
    components: ["gateway"],
  },
  BAD_ORCHESTRATOR_ANSWER: {
    status: 502,
    meaning:
      "An orchestrator's answer to a live runner reservation lacks session_id, app_url or control_url; the gateway does not use that orchestrator for the session.",
    components: ["gateway"],
  },
  RUNNER_SESSIONS_FULL: {
    status: 503,
    meaning:
      "The gateway already holds --max-live-runner-sessions live runner sessions (each may be paid for); stop one, wait for idle ones to end, or raise the flag.",
    components: ["gateway"],
  },
  GATEWAY_CLOSING: {
    status: 503,
    meaning:
      "The gateway is shutting down and reserves no new live runner session; retry on another gateway or after its restart.",
    components: ["gateway"],
  },
  ORCHESTRATORS_BUSY: {
    status: 503,
    meaning:
      "Every orchestrator offering this model is at capacity; retry after the `Retry-After` seconds (busy orchestrators are not suspended).",
    components: ["gateway"],
  },
  PRICE_ABOVE_LIMIT: {
    status: 503,
    meaning:
      "Every orchestrator offering this model asks more than your price limit; raise --max-price-per-unit or --max-price-per-capability.",
    components: ["gateway"],
  },
  ALL_ORCHESTRATORS_FAILED: {
    status: 502,
    meaning: "Every orchestrator tried failed the job; the message has the last error.",
    components: ["gateway"],
  },
  NO_TICKET_PARAMS: {
    status: 502,
    meaning:
      "A priced orchestrator sent no ticket params, so the gateway cannot pay it; it tries another orchestrator.",
    components: ["gateway"],
  },
  TOKEN_FAILED: {
    status: 502,
    meaning: "The orchestrator's /process/token answered an error; the gateway tries another orchestrator.",
    components: ["gateway"],
  },
  REMOTE_SIGNER_WITH_KEY: {
    status: 400,
    meaning:
      "The gateway was given both its own key and a remote signer; a gateway paying through a signer holds no key: drop --key-file or --remote-signer-url.",
    components: ["gateway"],
  },
  REMOTE_SIGNER_UNREACHABLE: {
    status: 502,
    meaning:
      "The gateway's remote signer could not be reached or answered something other than the signer protocol; check --remote-signer-url and that the signer runs.",
    components: ["gateway", "payments"],
  },
  REMOTE_SIGNER_REFUSED: {
    status: 402,
    otherStatuses: [502],
    meaning:
      "The gateway's remote signer refused a signature or payment; the message carries its status and reason. 402 (auth, spend limit): fix --remote-signer-headers or ask the signer's operator; 502 (the signer's 480 refresh or 481 price ceiling): the job moves to another orchestrator.",
    components: ["gateway"],
  },
  REMOTE_SIGNER_FREE: {
    status: 502,
    meaning:
      "A gateway paying through a remote signer met an orchestrator quoting no price for a native AI or live model; the signer signs only with a payment, so the job moves to another orchestrator.",
    components: ["gateway"],
  },
  BAD_SIGNER_HEADERS: {
    status: 400,
    meaning:
      'The gateway\'s --remote-signer-url is not an http(s) URL or --remote-signer-headers is neither "Name:value,Name2:value2" nor a JSON object of strings; fix the flag.',
    components: ["gateway"],
  },
  RUNNER_SESSION_REJECTED: {
    status: 400,
    otherStatuses: [401, 402, 403, 409, 502],
    meaning:
      "The orchestrator refused the live runner reservation the gateway paid or asked for with a 4xx (passed through; 502 for other answers); the message has its status, code and reason.",
    components: ["gateway"],
  },
  LIVE_START_REJECTED: {
    status: 400,
    meaning:
      "The orchestrator refused the live stream with a 4xx (the status is passed through); the message has its reason.",
    components: ["gateway"],
  },
  BAD_JSON: {
    status: 400,
    meaning: "The request body is not a valid JSON object; send one.",
    components: ["gateway", "node", "protocol"],
  },
  BAD_PARAMS: {
    status: 400,
    meaning: "The stream's params are not a JSON object (or a string holding one); send an object.",
    components: ["gateway"],
  },
  BAD_STREAM: {
    status: 400,
    meaning:
      "The stream_id or stream_name is not allowed; use letters, digits, '.', '_' and '-' (not ending in -out).",
    components: ["gateway"],
  },
  BAD_TIMEOUT: {
    status: 400,
    meaning: "X-Timeout-Seconds is not a positive integer; send one.",
    components: ["gateway"],
  },
  BAD_URL: {
    status: 400,
    meaning: "The request target is not a valid URL path; fix the request line.",
    components: ["gateway"],
  },
  NOT_READY: {
    status: 503,
    meaning: "The stream is not running yet (starting or moving to another orchestrator); retry shortly.",
    components: ["gateway"],
  },
  STREAM_ENDED: {
    status: 409,
    meaning: "The stream ended (its input ended and the output drained); start a new stream.",
    components: ["gateway"],
  },
  NO_DATA: {
    status: 503,
    meaning: "The stream has no data channel; start it with enable_data_output.",
    components: ["gateway"],
  },
  DASHBOARD_BUSY: {
    status: 503,
    meaning: "Too many dashboard event streams are open; retry later.",
    components: ["gateway"],
  },
} as const satisfies Record<string, ErrorCodeInfo>;
