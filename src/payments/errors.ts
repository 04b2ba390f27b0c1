/**
 * Typed payment errors. Each carries a stable `code`, an actionable message, and `upstream`: the
 * exact go-livepeer error text, which compatibility routes answer with (go-livepeer answers
 * payment failures as plain text with HTTP 400; header decode failures with 402).
 * `fatal` mirrors go-livepeer's `FatalReceiveErr`: the whole payment is aborted, not just one ticket.
 */
import { TributaryError } from "../node/errors.ts";

/** Stable codes of {@link PaymentError}. */
export type PaymentErrorCode =
  | "TICKET_EXPIRED"
  | "INVALID_TICKET_RECIPIENT"
  | "INVALID_TICKET_SENDER"
  | "INVALID_RECIPIENT_RAND"
  | "INVALID_SIGNATURE"
  | "NONCE_REUSED"
  | "TOO_MANY_NONCES"
  | "SENDER_UNLOCKING"
  | "SENDER_INFO_UNAVAILABLE"
  | "INSUFFICIENT_SENDER_RESERVE"
  | "NO_SENDER_RESERVE"
  | "NO_SENDER_DEPOSIT"
  | "FACE_VALUE_TOO_LOW"
  | "TICKET_EV_TOO_HIGH"
  | "TOTAL_EV_TOO_HIGH"
  | "FACE_VALUE_ABOVE_DEPOSIT"
  | "INVALID_TICKET_PARAMS"
  | "INVALID_PRICE"
  | "MISSING_SENDER"
  | "INSUFFICIENT_BALANCE"
  | "UNKNOWN_SESSION"
  | "PRICE_INCREASED"
  | "TOO_MANY_TICKETS";

/** Options of {@link PaymentError}. */
export interface PaymentErrorOptions {
  /** go-livepeer's error text for the same condition. */
  upstream: string;
  /** Abort the whole payment (go-livepeer `FatalReceiveErr`). Default false. */
  fatal?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
  /** HTTP status. Default 400. */
  status?: number;
}

/** A payment was refused or cannot be made. */
export class PaymentError extends TributaryError {
  declare readonly code: PaymentErrorCode;
  /** go-livepeer's text for this condition (what a Go peer would see). */
  readonly upstream: string;
  /** True when the whole payment must be aborted. */
  readonly fatal: boolean;

  constructor(code: PaymentErrorCode, message: string, options: PaymentErrorOptions) {
    super(code, message, { details: options.details, cause: options.cause, status: options.status ?? 400 });
    this.upstream = options.upstream;
    this.fatal = options.fatal ?? false;
  }
}
