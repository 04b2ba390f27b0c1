/**
 * Typed errors of the trickle publisher and subscriber clients (docs/spec/trickle.md#publisher-rules, #subscriber-rules, #python-clients).
 */
import { TributaryError } from "../node/errors.ts";

/**
 * The channel does not exist on the server (HTTP 404): never created, deleted, or idle-swept.
 * Terminal: clients never retry it.
 */
export class TrickleStreamNotFoundError extends TributaryError {
  constructor(url: string, options: { cause?: unknown } = {}) {
    super(
      "TRICKLE_STREAM_NOT_FOUND",
      "trickle channel not found (404): create it first, or stop using it; it was deleted or idle-swept",
      { details: { channel: redactChannel(url) }, status: 404, cause: options.cause },
    );
  }
}

/** The channel was closed by its owner (`Lp-Trickle-Closed`): the end of the stream. */
export class TrickleEndOfStreamError extends TributaryError {
  constructor(url: string) {
    super("TRICKLE_EOS", "trickle channel is closed (end of stream); open a new channel to continue", {
      details: { channel: redactChannel(url) },
      status: 410,
    });
  }
}

/**
 * One segment could not be written. The publisher stays usable (the next segment may succeed) unless
 * {@link TrickleSegmentWriteError.terminal} is set.
 */
export class TrickleSegmentWriteError extends TributaryError {
  /** Segment sequence number. */
  readonly seq: number;
  /** HTTP status of the failed POST, when the server answered. */
  readonly httpStatus: number | undefined;
  constructor(
    message: string,
    options: { seq: number; httpStatus?: number; cause?: unknown; body?: string; url: string },
  ) {
    super("TRICKLE_SEGMENT_WRITE_FAILED", message, {
      details: {
        seq: options.seq,
        httpStatus: options.httpStatus,
        body: options.body,
        channel: redactChannel(options.url),
      },
      status: 502,
      cause: options.cause,
    });
    this.seq = options.seq;
    this.httpStatus = options.httpStatus;
  }
}

/** The publisher gave up: too many consecutive segment failures. */
export class TricklePublisherTerminalError extends TributaryError {
  constructor(consecutiveFailures: number, options: { cause?: unknown; url: string }) {
    super(
      "TRICKLE_PUBLISHER_FAILED",
      `trickle publisher stopped after ${consecutiveFailures} consecutive failed segments; check the server`,
      {
        details: { consecutiveFailures, channel: redactChannel(options.url) },
        status: 502,
        cause: options.cause,
      },
    );
  }
}

/** The subscriber gave up on a segment after its retries, or got an unexpected answer. */
export class TrickleSubscribeError extends TributaryError {
  /** Segment sequence number that was requested. */
  readonly seq: number;
  /** HTTP status of the last attempt, when the server answered. */
  readonly httpStatus: number | undefined;
  constructor(
    message: string,
    options: { seq: number; httpStatus?: number; body?: string; cause?: unknown; url: string },
  ) {
    super("TRICKLE_SUBSCRIBE_FAILED", message, {
      details: {
        seq: options.seq,
        httpStatus: options.httpStatus,
        body: options.body,
        channel: redactChannel(options.url),
      },
      status: 502,
      cause: options.cause,
    });
    this.seq = options.seq;
    this.httpStatus = options.httpStatus;
  }
}

/** A write to a segment made no progress for the stall timeout (the server stopped reading). */
export class TrickleStallError extends TributaryError {
  constructor(timeoutMs: number) {
    super(
      "TRICKLE_STALLED",
      `trickle request body made no progress for ${timeoutMs} ms; the peer is too slow`,
      {
        details: { timeoutMs },
        status: 504,
      },
    );
  }
}

/**
 * Channel names are the only credential of a trickle channel (docs/spec/trickle.md#model): errors name the server only,
 * never the channel path.
 */
function redactChannel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return "[invalid url]";
  }
}
