/**
 * Validation of the real-time request bodies, with pytrickle's rules and messages
 * (`StreamStartRequest`, `StreamParamsUpdateRequest`; docs/spec/container-contract.md#start-body). Pure, no I/O.
 *
 * Where pytrickle reports a confusing message (a non-positive width is reported as "must be valid
 * integers") we report the precise one; the accepted inputs and coercions are the same.
 */
import { BadRequestError } from "../node/errors.ts";

/** Stream parameters after validation: arbitrary keys, with the known ones coerced. */
export type StreamParams = Record<string, unknown>;

/** A validated `/stream/start` body (wire names kept, as pytrickle's model has them). */
export interface StreamStartRequest {
  gateway_request_id: string;
  subscribe_url?: string;
  publish_url?: string;
  control_url?: string;
  events_url?: string;
  data_url?: string;
  /** Validated params; `{}` when the request had none. */
  params: StreamParams;
}

/** Highest `max_framerate` pytrickle accepts. */
export const MAX_FRAMERATE_LIMIT = 60; // pytrickle api.py _convert_framerate

/** Invalid stream start or params body. Answers 400. */
export class InvalidStreamRequestError extends BadRequestError {
  constructor(message: string) {
    super(message, { code: "INVALID_STREAM_REQUEST" });
  }
}

/** Python's `int(x)` for JSON values: integers, integer strings, floats (truncated), booleans. */
function pyInt(value: unknown): number | undefined {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value)) {
    const n = Number(value.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a params object: `width`/`height` together and positive, `max_framerate` in 1..60,
 * `detect_out_resolution` boolean-like. Returns a copy with those keys coerced; other keys untouched.
 * @throws InvalidStreamRequestError
 */
export function validateStreamParams(value: unknown): StreamParams {
  if (!isPlainObject(value)) throw new InvalidStreamRequestError("Params must be a dictionary");
  const out: StreamParams = { ...value };
  const hasW = "width" in out;
  const hasH = "height" in out;
  if (hasW || hasH) {
    if (!(hasW && hasH))
      throw new InvalidStreamRequestError("Both 'width' and 'height' must be provided together");
    for (const key of ["width", "height"] as const) {
      const n = pyInt(out[key]);
      if (n === undefined)
        throw new InvalidStreamRequestError("Width and height must be valid integers or integer strings");
      if (n <= 0) throw new InvalidStreamRequestError("Width and height must be positive integers");
      out[key] = n;
    }
  }
  if ("max_framerate" in out) {
    const n = pyInt(out.max_framerate);
    if (n === undefined) throw new InvalidStreamRequestError("max_framerate must be a valid integer");
    if (n <= 0) throw new InvalidStreamRequestError("max_framerate must be a positive integer");
    if (n > MAX_FRAMERATE_LIMIT)
      throw new InvalidStreamRequestError(`max_framerate cannot exceed ${MAX_FRAMERATE_LIMIT} FPS`);
    out.max_framerate = n;
  }
  if ("detect_out_resolution" in out) {
    const v = out.detect_out_resolution;
    if (typeof v === "boolean") {
      // as is
    } else if (typeof v === "string" && ["true", "1", "yes"].includes(v.toLowerCase())) {
      out.detect_out_resolution = true;
    } else if (typeof v === "string" && ["false", "0", "no"].includes(v.toLowerCase())) {
      out.detect_out_resolution = false;
    } else if (typeof v === "number" && Number.isInteger(v)) {
      out.detect_out_resolution = v !== 0;
    } else {
      throw new InvalidStreamRequestError("detect_out_resolution must be a boolean value");
    }
  }
  return out;
}

const URL_KEYS = ["subscribe_url", "publish_url", "control_url", "events_url", "data_url"] as const;

/**
 * Validates a `/stream/start` body: `gateway_request_id` is a required string, the channel URLs are
 * optional strings (null means absent), `params` is validated by {@link validateStreamParams}.
 * Unknown keys are ignored, as pydantic does.
 * @throws InvalidStreamRequestError
 */
export function validateStreamStart(body: unknown): StreamStartRequest {
  if (!isPlainObject(body)) throw new InvalidStreamRequestError("The request body must be a JSON object");
  const id = body.gateway_request_id;
  if (id === undefined || id === null)
    throw new InvalidStreamRequestError("gateway_request_id: Field required");
  if (typeof id !== "string")
    throw new InvalidStreamRequestError("gateway_request_id: Input should be a valid string");
  const out: StreamStartRequest = { gateway_request_id: id, params: {} };
  for (const key of URL_KEYS) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw new InvalidStreamRequestError(`${key}: Input should be a valid string`);
    out[key] = v;
  }
  if (body.params !== undefined && body.params !== null) out.params = validateStreamParams(body.params);
  return out;
}
