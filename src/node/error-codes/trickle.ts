/** Error codes: trickle. Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const TRICKLE_ERROR_CODES = {
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
} as const satisfies Record<string, ErrorCodeInfo>;
