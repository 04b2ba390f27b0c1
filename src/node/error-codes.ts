/**
 * Every error code Tributary throws or answers with: its HTTP status, what it means and what to do,
 * and the components that raise it. Plain data, one file per component under `error-codes/`, put
 * together here. docs/errors.md is generated from it (`npm run gen:errors`), and
 * src/node/error-codes.test.ts checks it against the source, so a new code, a changed status or a
 * code no longer used fails the test until the registry follows.
 */

import { CHAIN_ERROR_CODES } from "./error-codes/chain.ts";
import { CLIENT_CLI_ERROR_CODES } from "./error-codes/client-cli.ts";
import { GATEWAY_ERROR_CODES } from "./error-codes/gateway.ts";
import { NODE_ERROR_CODES } from "./error-codes/node.ts";
import { ORCHESTRATOR_ERROR_CODES } from "./error-codes/orchestrator.ts";
import { PAYMENTS_ERROR_CODES } from "./error-codes/payments.ts";
import { PROTOCOL_ERROR_CODES } from "./error-codes/protocol.ts";
import { RUNNER_ERROR_CODES } from "./error-codes/runner.ts";
import { SIGNER_ERROR_CODES } from "./error-codes/signer.ts";
import { TRICKLE_ERROR_CODES } from "./error-codes/trickle.ts";

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
  ...NODE_ERROR_CODES,
  ...PROTOCOL_ERROR_CODES,
  ...PAYMENTS_ERROR_CODES,
  ...CHAIN_ERROR_CODES,
  ...TRICKLE_ERROR_CODES,
  ...RUNNER_ERROR_CODES,
  ...ORCHESTRATOR_ERROR_CODES,
  ...GATEWAY_ERROR_CODES,
  ...SIGNER_ERROR_CODES,
  ...CLIENT_CLI_ERROR_CODES,
} as const satisfies Record<string, ErrorCodeInfo>);

/** A registered code. */
export type ErrorCode = keyof typeof ERROR_CODES;
