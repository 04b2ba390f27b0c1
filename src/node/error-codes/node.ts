/** Error codes: shared (src/node). Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const NODE_ERROR_CODES = {
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
} as const satisfies Record<string, ErrorCodeInfo>;
