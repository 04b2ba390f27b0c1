/** Error codes: container SDK (runner). Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const RUNNER_ERROR_CODES = {
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
} as const satisfies Record<string, ErrorCodeInfo>;
