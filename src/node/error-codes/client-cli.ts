/** Error codes: client library and CLI. Part of the registry in ../error-codes.ts (see there). */
import type { ErrorCodeInfo } from "../error-codes.ts";

export const CLIENT_CLI_ERROR_CODES = {
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
} as const satisfies Record<string, ErrorCodeInfo>;
