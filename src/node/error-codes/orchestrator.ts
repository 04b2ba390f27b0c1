/** Error codes: orchestrator. Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const ORCHESTRATOR_ERROR_CODES = {
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
    meaning:
      "This model or live runner is priced and the request carries no payment (or one the payer could not make); pay with tickets, or give the client or gateway a key or remote signer.",
    components: ["orchestrator", "client", "gateway", "payments"],
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
      "The live runner session does not exist (stopped, released or never reserved; at a gateway also stopped when idle); reserve a new one.",
    components: ["orchestrator", "gateway"],
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
  FIXED_PRICE_SESSION: {
    status: 409,
    meaning:
      "A top-up was sent for a live runner session with a fixed price, which was paid in full when it was reserved; send none.",
    components: ["orchestrator"],
  },
  PRICE_BELOW_ONE_WEI: {
    status: 503,
    meaning:
      "A live runner's USD price converts to less than one wei per charged unit at the current ETH/USD: the runner is not sold until its price is raised.",
    components: ["orchestrator"],
  },
} as const satisfies Record<string, ErrorCodeInfo>;
