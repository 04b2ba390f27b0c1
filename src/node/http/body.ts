/**
 * Reading a whole request body into memory, bounded, for every HTTP server of the project (runner,
 * orchestrator, gateway).
 *
 * - A `Content-Length` over the limit is refused before any byte is read (413).
 * - A body that grows past the limit without a declared length is refused as soon as it does (413).
 * - A body that ends before its end (the client went away, the connection or stream was reset, fewer
 *   bytes than declared) is a typed 400 ({@link BodyCutOffError}), never a promise left pending.
 *
 * What happens to the rest of a refused upload is the caller's choice ({@link ReadBodyOptions}): the
 * gateway and the orchestrator answer at once and close (or reset) the connection; the runner reads
 * and discards the rest first, so an orchestrator still piping a job to it reads the 413 instead of a
 * connection reset.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { BadRequestError, TributaryError } from "../errors.ts";

/** Default largest body read into memory: 10 MiB (go-livepeer's `MaxBytesReader` on BYOC routes). */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Default longest time the rest of a refused upload is read and discarded in `"drain"` mode. */
export const DEFAULT_DRAIN_MS = 5000;

/** A request body over the server's limit. Answers 413. */
export class PayloadTooLargeError extends TributaryError {
  constructor(limit: number, declared?: number) {
    super(
      "PAYLOAD_TOO_LARGE",
      `request body ${declared === undefined ? "is" : `of ${declared} bytes is`} over the ${limit}-byte limit; send a smaller body`,
      { status: 413, details: declared === undefined ? { limit } : { limit, declared } },
    );
  }
}

/** A request body that ended before it was whole (client gone, reset, short of its length). Answers 400. */
export class BodyCutOffError extends BadRequestError {
  constructor(cause?: unknown) {
    super("the request body was cut off; send the whole body", { code: "BODY_CUT_OFF", cause });
  }
}

/** Anything with a body to read: a node:http or node:http2 (compat) request, or a client response. */
export type BodySource = Readable & { readonly headers: IncomingHttpHeaders };

/** Options of {@link readBody}. */
export interface ReadBodyOptions {
  /**
   * What a refusal as too large does with the rest of the upload:
   * - `"reject"` (default): rejects at once; the bytes that still arrive are discarded. Over HTTP/1.1
   *   the caller answers with `Connection: close` ({@link sendJson} adds it to a 413).
   * - `"drain"`: reads and discards the rest first (at most `drainMs`), then rejects, so a client that
   *   is still uploading reads the answer.
   */
  tooLarge?: "reject" | "drain";
  /** Longest drain in `"drain"` mode; default {@link DEFAULT_DRAIN_MS}. */
  drainMs?: number;
}

/**
 * Reads a whole body of at most `limit` bytes.
 * @throws PayloadTooLargeError (413) when the declared or received size is over `limit`.
 * @throws BodyCutOffError (400) when the body ends before it is whole.
 */
export async function readBody(
  req: BodySource,
  limit = DEFAULT_MAX_BODY_BYTES,
  options: ReadBodyOptions = {},
): Promise<Buffer> {
  const drainFirst = options.tooLarge === "drain";
  const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
  const declared = Number(req.headers["content-length"]);
  if (Number.isSafeInteger(declared) && declared > limit) {
    if (drainFirst) await drain(req, drainMs);
    throw new PayloadTooLargeError(limit, declared);
  }
  if (req.readableEnded) return Buffer.alloc(0);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onCut);
      req.off("aborted", onCut);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      chunks.length = 0;
      const err = new PayloadTooLargeError(limit);
      if (drainFirst) void drain(req, drainMs).then(() => reject(err));
      else {
        req.on("error", ignore); // the client may reset while the rest is discarded
        req.resume();
        reject(err);
      }
    };
    const onEnd = (): void => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onCut = (cause?: unknown): void => {
      stop();
      req.on("error", ignore);
      reject(new BodyCutOffError(cause instanceof Error ? cause : undefined));
    };
    const onClose = (): void => {
      if (!req.readableEnded) onCut();
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onCut);
    req.on("aborted", onCut);
    req.on("close", onClose);
  });
}

function ignore(): void {}

/** Reads and discards the rest of a body, at most `ms`; resolves early once it ends or closes. */
function drain(req: BodySource, ms: number): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      req.off("end", done);
      req.off("close", done);
      req.off("error", done);
      req.on("error", ignore);
      resolve();
    };
    const timer = setTimeout(done, ms);
    req.once("end", done);
    req.once("close", done);
    req.once("error", done);
    req.resume();
  });
}

/**
 * Reads a body that must be a JSON object; an empty body is `{}`.
 * @param invalid the error for anything else (default: 400 `BAD_JSON`, "the body must be a JSON object").
 * @throws what {@link readBody} throws, and `invalid()`.
 */
export async function readJsonObject(
  req: BodySource,
  limit = DEFAULT_MAX_BODY_BYTES,
  invalid: () => Error = () => new BadRequestError("the body must be a JSON object", { code: "BAD_JSON" }),
): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    throw invalid();
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid();
  return value as Record<string, unknown>;
}
