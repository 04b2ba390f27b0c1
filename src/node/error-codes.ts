/**
 * Every error code Tributary throws or answers with: its HTTP status, what it means and what to do,
 * and the components that raise it. Plain data, no imports: docs/errors.md is generated from it
 * (`npm run gen:errors`), and src/node/error-codes.test.ts checks it against the source, so a new
 * code, a changed status or a code no longer used fails the test until this table follows.
 */

/** Where a code comes from: a folder of src/. */
export type ErrorComponent =
  | "node"
  | "protocol"
  | "payments"
  | "chain"
  | "trickle"
  | "media"
  | "runner"
  | "orchestrator"
  | "gateway"
  | "signer"
  | "client"
  | "cli"
  | "dev";

/** One registered code. */
export interface ErrorCodeInfo {
  /** The HTTP status an API answers with (for errors that never reach HTTP: the status they carry). */
  readonly status: number;
  /** Other statuses the same code is answered with, explained in `meaning`. */
  readonly otherStatuses?: readonly number[];
  /** One sentence: what happened and what to do. */
  readonly meaning: string;
  /** The components that raise it, the main one first. */
  readonly components: readonly ErrorComponent[];
}

/** The registry, by code. */
export const ERROR_CODES = Object.freeze({
  // ---------------------------------------------------------------- shared (src/node)
  BAD_REQUEST: {
    status: 400,
    meaning:
      "The request is malformed (a header, path parameter or body field); the message names it: fix the request.",
    components: ["node", "orchestrator", "protocol", "runner"],
  },
  NOT_FOUND: {
    status: 404,
    meaning:
      "No route, stream or resource at this path; check the method and the URL (stream URLs carry their key).",
    components: ["node", "orchestrator", "gateway", "runner"],
  },
  INTERNAL: {
    status: 500,
    meaning:
      "An unexpected failure inside the server; the answer hides the details, which are in the server's log.",
    components: ["node"],
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    meaning:
      "The route exists but not with this HTTP method; use the method named in the message (and the Allow header).",
    components: ["node", "gateway", "orchestrator", "runner"],
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning:
      "The request body is over the server's limit (10 MiB on the orchestrator and the gateway, --max-body-bytes on a container); send a smaller body.",
    components: ["node"],
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    meaning: "The request headers are over the server's header limit; send large data in the body instead.",
    components: ["node"],
  },
  HEADERS_TIMEOUT: {
    status: 408,
    meaning:
      "The request headers did not arrive within the server's headers timeout; send the whole head at once.",
    components: ["node"],
  },
  MALFORMED_REQUEST: {
    status: 400,
    meaning:
      "Node's HTTP/1.1 parser refused the request (request line or headers); check what the client sends.",
    components: ["node"],
  },
  DATA_DIR_LOCKED: {
    status: 500,
    meaning:
      "Another Tributary process uses this data directory; stop it or give this node its own --data-dir.",
    components: ["node"],
  },
  TLS_CONFIG: {
    status: 500,
    meaning:
      "The TLS server was given neither a certificate nor a data directory to keep one in; pass one of them.",
    components: ["node"],
  },
  STORE_SCHEMA_TOO_NEW: {
    status: 500,
    meaning:
      "The payment store in the data directory was written by a newer Tributary; upgrade Tributary to open it.",
    components: ["node"],
  },

  // ---------------------------------------------------------------- protocol (headers and wire formats)
  BAD_JOB_HEADER: {
    status: 400,
    meaning:
      "The BYOC `Livepeer` job header is not base64 JSON of the expected shape; the message names the field.",
    components: ["protocol"],
  },
  BAD_JOB_SENDER: {
    status: 400,
    meaning:
      "The `Livepeer-Eth-Address` header is missing or not a signed sender address; send the gateway's signed address.",
    components: ["protocol"],
  },
  BAD_PAYMENT: {
    status: 400,
    meaning:
      "A number in the payment does not fit its field (e.g. over 32 bytes for a uint256); send a valid payment.",
    components: ["protocol"],
  },
  BAD_PAYMENT_HEADER: {
    status: 402,
    meaning:
      "The `Livepeer-Payment` header is not base64 of a valid Payment protobuf; send one made from fresh ticket params.",
    components: ["protocol"],
  },
  BAD_SEGMENT_HEADER: {
    status: 403,
    meaning:
      "The `Livepeer-Segment` header is missing or undecodable; send the segment credentials with the payment.",
    components: ["protocol", "orchestrator"],
  },
  BAD_TICKET_PARAMS: {
    status: 400,
    meaning:
      "Ticket params in go-livepeer's JSON form are malformed; echo the params the orchestrator sent, unchanged.",
    components: ["protocol"],
  },

  // ---------------------------------------------------------------- payments (tickets)
  TICKET_EXPIRED: {
    status: 400,
    meaning:
      "The ticket params' expiration block has passed; fetch fresh ticket params (GetOrchestrator or /process/token).",
    components: ["payments"],
  },
  INVALID_TICKET_RECIPIENT: {
    status: 400,
    meaning:
      "The ticket is addressed to another orchestrator; use the ticket params this orchestrator quoted.",
    components: ["payments"],
  },
  INVALID_TICKET_SENDER: {
    status: 400,
    meaning: "The ticket's sender is the zero address; set the payment's sender.",
    components: ["payments"],
  },
  INVALID_RECIPIENT_RAND: {
    status: 400,
    meaning:
      "The ticket params do not match what this orchestrator quoted (or it restarted); fetch fresh params and echo them exactly.",
    components: ["payments"],
  },
  INVALID_SIGNATURE: {
    status: 400,
    meaning:
      "The ticket signature is not the sender's 65-byte low-s personal signature over the ticket hash; sign with the sender's key.",
    components: ["payments"],
  },
  NONCE_REUSED: {
    status: 400,
    meaning:
      "A ticket with this sender nonce was already received for these params; give each ticket a new nonce.",
    components: ["payments"],
  },
  TOO_MANY_NONCES: {
    status: 400,
    meaning:
      "These ticket params already carried the most tickets an orchestrator accepts; fetch fresh ticket params.",
    components: ["payments"],
  },
  SENDER_UNLOCKING: {
    status: 400,
    meaning:
      "The sender's deposit and reserve are unlocking; cancel the unlock (or fund again) before paying.",
    components: ["payments"],
  },
  SENDER_INFO_UNAVAILABLE: {
    status: 503,
    meaning: "The orchestrator could not read the sender's deposit and reserve from the chain; retry later.",
    components: ["payments"],
  },
  INSUFFICIENT_SENDER_RESERVE: {
    status: 400,
    otherStatuses: [503],
    meaning:
      "The sender's reserve share cannot back a ticket's face value (503 when asking for ticket params); fund more reserve.",
    components: ["payments", "orchestrator"],
  },
  NO_SENDER_RESERVE: {
    status: 400,
    meaning:
      "This gateway's account has no TicketBroker reserve; fund one (tributary deposit) before paying.",
    components: ["payments"],
  },
  NO_SENDER_DEPOSIT: {
    status: 400,
    meaning:
      "This gateway's account has no TicketBroker deposit; fund one (tributary deposit) before paying.",
    components: ["payments"],
  },
  FACE_VALUE_TOO_LOW: {
    status: 400,
    meaning:
      "The orchestrator's ticket face value is not above the ticket's expected value; its params are invalid.",
    components: ["payments"],
  },
  TICKET_EV_TOO_HIGH: {
    status: 400,
    meaning:
      "The orchestrator asks for a ticket EV above this gateway's --max-ticket-ev; raise it or use another orchestrator.",
    components: ["payments"],
  },
  TOO_MANY_TICKETS: {
    status: 400,
    meaning:
      "A payment needs more tickets than the gateway's --max-tickets-per-payment (the orchestrator's ticket EV is small for its price); raise the limit (at most 600) or use an orchestrator with a higher ticket EV.",
    components: ["payments", "signer"],
  },
  TOTAL_EV_TOO_HIGH: {
    status: 400,
    meaning:
      "One payment would carry more EV than this gateway's --max-total-ev; raise it or send smaller requests.",
    components: ["payments"],
  },
  FACE_VALUE_ABOVE_DEPOSIT: {
    status: 400,
    meaning:
      "The orchestrator's ticket face value is above what this gateway's deposit allows; fund more deposit.",
    components: ["payments"],
  },
  INVALID_TICKET_PARAMS: {
    status: 400,
    meaning: "The ticket params are unusable (e.g. no expiration block); fetch fresh ticket params.",
    components: ["payments"],
  },
  INVALID_PRICE: {
    status: 400,
    meaning:
      "The payment's expected price is missing or invalid; echo the price info that came with the ticket params.",
    components: ["payments"],
  },
  MISSING_SENDER: {
    status: 400,
    meaning: "The payment has ticket params but no sender; set Payment.sender.",
    components: ["payments"],
  },
  INSUFFICIENT_BALANCE: {
    status: 400,
    otherStatuses: [402],
    meaning:
      "The sender's credit does not cover the request (402 on BYOC stream routes); send tickets worth at least the amount missing.",
    components: ["payments", "orchestrator"],
  },
  UNKNOWN_SESSION: {
    status: 400,
    meaning:
      "The gateway has no payment session by that id; start one from the orchestrator's ticket params.",
    components: ["payments"],
  },
  PRICE_INCREASED: {
    status: 400,
    meaning:
      "The orchestrator's price more than doubled since the session began; start a new session or pick another orchestrator.",
    components: ["payments"],
  },
  CHAIN_FACTS_STALE: {
    status: 503,
    meaning:
      "The orchestrator has not read the chain for longer than its staleness limit and refuses paid work; check --eth-url.",
    components: ["payments", "chain"],
  },

  // ---------------------------------------------------------------- chain (keys, RPC, devnet)
  CHAIN_UNAVAILABLE: {
    status: 503,
    meaning:
      "The Ethereum RPC cannot be reached or timed out (ticket redemption retries it); check --eth-url.",
    components: ["chain", "payments"],
  },
  KEY_REQUIRED: {
    status: 400,
    meaning: "This --network needs the account's key; pass --key-file.",
    components: ["chain"],
  },
  KEY_FILE_UNREADABLE: {
    status: 400,
    meaning: "The key file (or keystore directory) cannot be read; check the path and its permissions.",
    components: ["chain"],
  },
  INVALID_PRIVATE_KEY: {
    status: 400,
    meaning:
      "The key file holds neither a 32-byte hex private key nor a V3 JSON keystore; give a valid key file.",
    components: ["chain"],
  },
  KEYSTORE_INVALID: {
    status: 400,
    meaning: "The JSON keystore is not a usable V3 keystore; the message says what is wrong with it.",
    components: ["chain"],
  },
  KEYSTORE_WRONG_PASSWORD: {
    status: 400,
    meaning: "The keystore's MAC check failed with the given password; check --password.",
    components: ["chain"],
  },
  KEYSTORE_PASSWORD_REQUIRED: {
    status: 400,
    meaning: "The key file is an encrypted keystore; give its password with --password.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_REQUIRED: {
    status: 400,
    meaning: "The keystore directory holds no keystore, or several; pick one with --eth-acct-addr.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_NOT_FOUND: {
    status: 400,
    meaning:
      "The keystore directory holds no keystore for --eth-acct-addr; check the address or the directory.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_INVALID: {
    status: 400,
    meaning: "--eth-acct-addr is not an Ethereum address; give a 0x-prefixed 20-byte address.",
    components: ["chain"],
  },
  KEYSTORE_ACCOUNT_MISMATCH: {
    status: 400,
    meaning: "The key file holds another account than --eth-acct-addr; give the matching key or address.",
    components: ["chain"],
  },
  CHAIN_NO_L1_BLOCK: {
    status: 502,
    meaning:
      "On Arbitrum One the RPC's latest block must carry l1BlockNumber (the tickets' clock) and it does not; use an Arbitrum RPC for --eth-url.",
    components: ["chain"],
  },
  BAD_SIGNER_SIGNATURE: {
    status: 500,
    meaning:
      "The configured signer returned something other than a 65-byte signature with v 27 or 28; use a standard Ethereum signer.",
    components: ["payments"],
  },
  REDEEM_REVERTED: {
    status: 502,
    meaning:
      "Redeeming a winning ticket reverted on chain (the contract's reason is in the message); the ticket is marked failed, or retried when the reason is temporary.",
    components: ["payments", "chain"],
  },
  FUNDING_FAILED: {
    status: 500,
    meaning:
      "Funding the TicketBroker deposit or reserve failed; the message says why (amounts, contract, balance).",
    components: ["chain"],
  },
  ANVIL_START_FAILED: {
    status: 500,
    meaning: "The local anvil devnet chain did not start; the message says why (binary missing, port, exit).",
    components: ["chain"],
  },
  DEVNET_DEPLOY_FAILED: {
    status: 500,
    meaning:
      "Deploying or driving the devnet's contracts failed (a transaction reverted or anvil refused); see the message and retry.",
    components: ["chain", "dev"],
  },

  // ---------------------------------------------------------------- trickle
  TRICKLE_STREAM_NOT_FOUND: {
    status: 404,
    meaning: "The trickle channel does not exist (never created, deleted or idle-swept); create it first.",
    components: ["trickle"],
  },
  TRICKLE_EOS: {
    status: 410,
    meaning: "The trickle channel is closed (end of stream); open a new channel to continue.",
    components: ["trickle"],
  },
  TRICKLE_SEGMENT_NOT_FOUND: {
    status: 470,
    meaning:
      "The trickle segment is too old or too far ahead; resume from the latest segment the error names.",
    components: ["trickle"],
  },
  TRICKLE_SEGMENT_EXISTS: {
    status: 409,
    meaning: "The trickle segment already has data; use one publisher per channel.",
    components: ["trickle"],
  },
  TRICKLE_SEGMENT_WRITE_FAILED: {
    status: 502,
    meaning:
      "A trickle segment POST (or the channel create) failed; the publisher retries, check the server if it persists.",
    components: ["trickle"],
  },
  TRICKLE_PUBLISHER_FAILED: {
    status: 502,
    meaning:
      "The trickle publisher gave up after several consecutive failed segments; check the trickle server.",
    components: ["trickle"],
  },
  TRICKLE_SUBSCRIBE_FAILED: {
    status: 502,
    meaning: "A trickle segment GET failed after its retries; check the trickle server and the channel URL.",
    components: ["trickle"],
  },
  TRICKLE_STALLED: {
    status: 504,
    meaning:
      "A trickle request body made no progress within the stall timeout; the peer is too slow or gone.",
    components: ["trickle"],
  },
  TRICKLE_REQUEST_REJECTED: {
    status: 400,
    meaning:
      "The trickle server (or its hook) refused the request with the 4xx status it carries; the message says why.",
    components: ["trickle"],
  },
  TRICKLE_SERVER_CLOSED: {
    status: 503,
    meaning: "The trickle server is closed; create a new one.",
    components: ["trickle"],
  },

  // ---------------------------------------------------------------- container SDK (runner)
  INVALID_STREAM_REQUEST: {
    status: 400,
    meaning:
      "The stream start or update request is invalid (params, width/height, URLs); the message names the field.",
    components: ["runner"],
  },
  STREAM_START_FAILED: {
    status: 400,
    meaning:
      "The pipeline's start handler threw; fix the params or the pipeline (the message has its error).",
    components: ["runner"],
  },
  PARAMS_UPDATE_FAILED: {
    status: 400,
    meaning:
      "The pipeline refused a params update, or the stream is stopping; the message has the pipeline's error.",
    components: ["runner"],
  },
  PIPELINE_LOADING: {
    status: 503,
    meaning: "The pipeline is still loading; retry when GET /health answers IDLE.",
    components: ["runner"],
  },
  PIPELINE_ERROR: {
    status: 503,
    meaning:
      "The pipeline failed to load; the message has its error: fix the pipeline and restart the container.",
    components: ["runner"],
  },
  UNAUTHORIZED: {
    status: 401,
    meaning: "The container wants a bearer token; send `Authorization: Bearer <token>`.",
    components: ["runner"],
  },
  INVALID_JSON: {
    status: 400,
    meaning: "The batch request body is empty or not valid JSON; send a JSON document.",
    components: ["runner"],
  },
  INVALID_FORM: {
    status: 400,
    meaning: "The multipart or urlencoded batch body could not be parsed; send a well-formed form.",
    components: ["runner"],
  },
  UNSUPPORTED_CONTENT_TYPE: {
    status: 400,
    meaning: "A stream route of the container got a body that is not JSON; send application/json.",
    components: ["runner"],
  },
  BODY_CUT_OFF: {
    status: 400,
    meaning: "The request body ended before its declared length; send the whole body.",
    components: ["node"],
  },
  MEDIA_DECODE_FAILED: {
    status: 502,
    meaning:
      "The container could not demux or decode the incoming MPEG-TS media; check what the publisher sends.",
    components: ["media"],
  },
  INVALID_REGISTRATION_CONFIG: {
    status: 400,
    meaning:
      "A CAPABILITY_* registration setting is invalid (e.g. not an int64); fix the environment variable named.",
    components: ["runner"],
  },
  REGISTRATION_REJECTED: {
    status: 400,
    meaning:
      "The orchestrator refused the capability registration; check ORCH_SECRET and the capability settings.",
    components: ["runner"],
  },
  REGISTRATION_FAILED: {
    status: 502,
    meaning:
      "The capability registration could not reach the orchestrator or got an unexpected answer; it is retried.",
    components: ["runner"],
  },
  LIVE_RUNNER_ORCHESTRATOR_UNREACHABLE: {
    status: 502,
    meaning:
      "A live runner could not reach its orchestrator (heartbeat or session callback); heartbeats are retried with backoff, check the orchestrator URL.",
    components: ["runner"],
  },
  LIVE_RUNNER_HEARTBEAT_FAILED: {
    status: 502,
    meaning:
      "The orchestrator refused a live runner's heartbeat or answered it malformed (the message has its status); it is retried with backoff, check the orchestrator secret and the advertised fields.",
    components: ["runner"],
  },
  LIVE_RUNNER_CALLBACK_FAILED: {
    status: 502,
    meaning:
      "The orchestrator refused a live runner's session callback (channels, proxy or stop; the orchestrator's status is in details): the session may be gone or over its 25 channels or proxies.",
    components: ["runner"],
  },
  INVALID_RUNNER_APP: {
    status: 400,
    meaning: 'A live runner app definition is invalid (app id, capacity or a route key not "METHOD /path").',
    components: ["runner"],
  },
  PORT_IN_USE: {
    status: 500,
    meaning: "The container's port is already in use; pick another with --port.",
    components: ["runner"],
  },
  LISTEN_FAILED: {
    status: 500,
    meaning:
      "The container's server could not listen on its host and port; the message has the system's reason.",
    components: ["runner"],
  },
  ENCODER_UNSUPPORTED: {
    status: 500,
    meaning:
      "The installed node-av lacks the encoder hook the runner needs to cut segments; install the node-av version package.json names.",
    components: ["media"],
  },

  // ---------------------------------------------------------------- orchestrator
  INVALID_AI_MODELS: {
    status: 400,
    meaning: "The aiModels.json configuration is invalid; the message lists each problem with its path.",
    components: ["orchestrator"],
  },
  CONFIG: {
    status: 500,
    meaning:
      "The orchestrator's configuration is inconsistent (e.g. --max-job-timeout out of range); fix the flag named.",
    components: ["orchestrator"],
  },
  NETWORK_NOT_SUPPORTED: {
    status: 500,
    meaning:
      "The orchestrator was started on a chain network without a payment gate; use --network offchain or configure payments.",
    components: ["orchestrator"],
  },
  BAD_SECRET_FILE: {
    status: 500,
    meaning:
      "The orchestrator's ticket secret file in the data directory is not 32 bytes; delete it to make a new one.",
    components: ["orchestrator"],
  },
  NO_CAPACITY: {
    status: 503,
    meaning:
      "No container for this capability or model has a free slot; retry later or use another orchestrator.",
    components: ["orchestrator"],
  },
  CONTAINER_UNAVAILABLE: {
    status: 502,
    meaning:
      "The orchestrator could not reach the capability's container or it failed mid-answer; check the container.",
    components: ["orchestrator"],
  },
  PAYMENT_REQUIRED: {
    status: 402,
    meaning: "This model is priced and the request carries no Livepeer-Payment header; pay with tickets.",
    components: ["orchestrator", "client"],
  },
  CREDIT_EXHAUSTED: {
    status: 402,
    meaning:
      "A running job was stopped because its credit no longer pays for the next seconds; send more tickets up front.",
    components: ["orchestrator"],
  },
  ORCHESTRATOR_INACTIVE: {
    status: 400,
    meaning:
      "The orchestrator is not in this round's active set and cannot take payments; bond enough stake to enter it.",
    components: ["orchestrator"],
  },
  BAD_SEGMENT_SIG: {
    status: 403,
    meaning: "The segment credentials are not signed by the payer; sign them with the paying account.",
    components: ["orchestrator"],
  },
  BAD_AUTH_TOKEN: {
    status: 403,
    meaning:
      "The segment's auth token is missing, expired or not from this orchestrator; get a fresh one from GetOrchestrator.",
    components: ["orchestrator"],
  },
  BAD_JOB_SIGNATURE: {
    status: 400,
    meaning:
      "The BYOC job request's signature does not verify for its sender; sign the job with the sender's key.",
    components: ["orchestrator"],
  },
  JOB_TIMEOUT_TOO_LONG: {
    status: 400,
    meaning:
      "The job's timeout_seconds is above this orchestrator's --max-job-timeout; send a shorter timeout.",
    components: ["orchestrator"],
  },
  MODEL_ID_REQUIRED: {
    status: 400,
    meaning:
      "The request names no model (the orchestrator needs one when it serves several, the gateway always); give model_id or an X-Model-Id header.",
    components: ["orchestrator", "gateway"],
  },
  BAD_AUDIO: {
    status: 400,
    meaning:
      "The audio field is missing or its duration cannot be read; send a decodable audio file of at least one second.",
    components: ["orchestrator"],
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning:
      "The body's content type is not one this route takes: a priced AI request must be JSON or multipart (so its units can be counted), a WHIP or WHEP offer application/sdp; send one of those.",
    components: ["orchestrator", "gateway"],
  },
  BAD_SDP: {
    status: 400,
    meaning:
      "The WHIP or WHEP body is not a usable SDP offer; send the offer your WebRTC client created (it starts with v=0).",
    components: ["gateway"],
  },
  NO_VIDEO_CHANNEL: {
    status: 409,
    meaning:
      "WHIP or WHEP asked of a BYOC stream started without video ingress (WHIP) or egress (WHEP); start it with enable_video_ingress / enable_video_egress.",
    components: ["gateway"],
  },
  PUBLISHER_EXISTS: {
    status: 409,
    meaning:
      "The stream already has a WHIP publisher; DELETE that session (its Location) before publishing again.",
    components: ["gateway"],
  },
  BAD_ICE_SERVERS: {
    status: 400,
    meaning:
      "--ice-servers holds something other than stun:/turn: URLs (turn:user:pass@host:port) or a JSON array of RTCIceServer; fix the flag.",
    components: ["gateway"],
  },
  STREAM_EXISTS: {
    status: 409,
    meaning: "A stream with this id already runs here; choose another id.",
    components: ["orchestrator", "gateway"],
  },
  STREAM_NOT_FOUND: {
    status: 404,
    meaning: "No stream with this id runs on this orchestrator; check the id (it may have stopped).",
    components: ["orchestrator"],
  },
  NOT_IMPLEMENTED: {
    status: 501,
    meaning:
      "The feature asked for is not implemented yet (the message names it); use the alternative it gives.",
    components: ["orchestrator", "gateway"],
  },
  LIVE_RUNNERS_DISABLED: {
    status: 404,
    meaning:
      "This orchestrator does not serve live runners; start it with --use-live-runners or --live-runner-config.",
    components: ["orchestrator"],
  },
  RUNNER_NOT_FOUND: {
    status: 404,
    meaning:
      "No ready live runner under this id or label (unknown, withdrawn after its heartbeat TTL, unhealthy or not ready); check /discovery, or re-register the runner.",
    components: ["orchestrator", "client", "gateway"],
  },
  RUNNER_SESSION_NOT_FOUND: {
    status: 404,
    meaning:
      "The live runner session does not exist (stopped, released or never reserved); reserve a new one.",
    components: ["orchestrator"],
  },
  RUNNER_SESSION_EXISTS: {
    status: 409,
    meaning: "A live runner session with this id already exists on the runner; use another id.",
    components: ["orchestrator"],
  },
  RUNNER_UNAUTHORIZED: {
    status: 401,
    meaning:
      "Wrong or missing orchestrator secret, heartbeat secret or Livepeer-Session-Token; a dynamic runner re-bootstraps with the orchestrator secret.",
    components: ["orchestrator"],
  },
  INVALID_RUNNERS_CONFIG: {
    status: 400,
    meaning:
      "The live runner configuration (runners.json or /registerLiveRunners) is invalid; the message names runners[i] and the field, and nothing was registered.",
    components: ["orchestrator"],
  },

  // ---------------------------------------------------------------- gateway
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
    components: ["gateway"],
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

  // ---------------------------------------------------------------- remote signer
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
  // ---------------------------------------------------------------- client library and CLI
  GATEWAY_UNREACHABLE: {
    status: 502,
    meaning: "The client cannot reach the gateway; start it (npm start) or pass --gateway with its URL.",
    components: ["client"],
  },
  BAD_GATEWAY_URL: {
    status: 400,
    meaning: "The gateway URL is not an http(s) URL; pass one such as http://127.0.0.1:8937.",
    components: ["client"],
  },
  BAD_GATEWAY_ANSWER: {
    status: 502,
    meaning:
      "The gateway's answer lacks a field the client needs; check that the URL is a Tributary gateway.",
    components: ["client"],
  },
  BAD_PIPELINE: {
    status: 400,
    meaning: "The pipeline name is not a valid name; give a capability or pipeline name.",
    components: ["client"],
  },
  MEDIA_INPUT_FAILED: {
    status: 400,
    meaning:
      "The client cannot read the media input (file, test pattern or device); check the input and its format.",
    components: ["client"],
  },
  BAD_DATA: {
    status: 400,
    meaning: "The file given with --data @path cannot be read; check the path.",
    components: ["cli"],
  },
  INVALID_PIPELINE_MODULE: {
    status: 400,
    meaning:
      "tributary serve cannot load the pipeline module (missing, no entry file or no valid default export); fix the path or the module.",
    components: ["cli"],
  },
  INIT_REFUSED: {
    status: 400,
    meaning:
      "tributary init refused the pipeline name or target directory; the message says why and which flag to change.",
    components: ["cli"],
  },
  DEV_NETWORK_FAILED: {
    status: 500,
    meaning:
      "The dev network's own check failed (the example container did not register, or the gateway cannot use the orchestrator); see the log (--log-level debug).",
    components: ["dev"],
  },
  DEV_COMPONENT_FAILED: {
    status: 500,
    meaning:
      "A component of the dev network failed to start or while running (the message names it and its error); fix that and run it again.",
    components: ["dev"],
  },
} as const satisfies Record<string, ErrorCodeInfo>);

/** A registered code. */
export type ErrorCode = keyof typeof ERROR_CODES;
