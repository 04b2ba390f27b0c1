/**
 * Typed errors shared by every Tributary component.
 *
 * Every error carries a stable machine-readable `code`, a one-line `message` that says what to do,
 * optional structured `details`, and an optional `cause`. HTTP layers map an error to a status with
 * {@link httpStatusOf} and to the JSON envelope `{"error":{"code","message"}}` with {@link errorBody}.
 */

/** Options accepted by {@link TributaryError}. */
export interface TributaryErrorOptions {
  /** Structured facts about the failure (amounts, names, limits); safe to log and to return. */
  details?: Record<string, unknown>;
  /** The lower-level error this one wraps. */
  cause?: unknown;
  /** HTTP status an API answers with when this error reaches it. Defaults to 500. */
  status?: number;
}

/** Base class of all Tributary errors. */
export class TributaryError extends Error {
  /** Stable code in UPPER_SNAKE, e.g. `INSUFFICIENT_BALANCE`. */
  readonly code: string;
  /** Structured facts about the failure. */
  readonly details: Record<string, unknown> | undefined;
  /** HTTP status for API responses. */
  readonly status: number;

  constructor(code: string, message: string, options: TributaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
    this.status = options.status ?? 500;
  }

  /** The first line of the message, without details: suitable for a UI or a log summary. */
  get shortMessage(): string {
    return this.message.split("\n", 1)[0] ?? this.message;
  }
}

/** A request was malformed: bad header, bad path parameter, bad body. Answers 400. */
export class BadRequestError extends TributaryError {
  constructor(message: string, options: Omit<TributaryErrorOptions, "status"> & { code?: string } = {}) {
    super(options.code ?? "BAD_REQUEST", message, { ...options, status: 400 });
  }
}

/** A named thing (channel, capability, job) does not exist. Answers 404. */
export class NotFoundError extends TributaryError {
  constructor(message: string, options: Omit<TributaryErrorOptions, "status"> & { code?: string } = {}) {
    super(options.code ?? "NOT_FOUND", message, { ...options, status: 404 });
  }
}

/** HTTP status for any thrown value: the error's own status for Tributary errors, else 500. */
export function httpStatusOf(err: unknown): number {
  return err instanceof TributaryError ? err.status : 500;
}

/**
 * The JSON error envelope our own APIs answer with. Never contains a stack trace; an unknown error
 * becomes `INTERNAL` with a generic message.
 */
export function errorBody(err: unknown): { error: { code: string; message: string } } {
  if (err instanceof TributaryError) return { error: { code: err.code, message: err.message } };
  return { error: { code: "INTERNAL", message: "internal error; see the server log" } };
}
