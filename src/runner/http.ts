/**
 * Small node:http helpers of the runner: bounded body reading, JSON answers, bearer-token checks,
 * request-body decoding and Server-Sent Events framing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadRequestError, TributaryError } from "../node/errors.ts";
import type { UploadedFile } from "./pipeline.ts";

/** Default request-body limit: 10 MiB, go-livepeer's BYOC update limit (docs/spec/orchestrator-gateway.md#byoc-timers). */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The request body exceeds the runner's limit. Answers 413. */
export class PayloadTooLargeError extends TributaryError {
  constructor(limit: number) {
    super("PAYLOAD_TOO_LARGE", `request body exceeds the ${limit}-byte limit; send a smaller body`, {
      status: 413,
      details: { limit },
    });
  }
}

/** Longest time the rest of a refused upload is read and discarded before answering anyway. */
const DRAIN_MS = 5000;

/**
 * Reads and discards the rest of a request body (at most {@link DRAIN_MS}), so that a client still
 * uploading — an orchestrator piping a BYOC job — reads our answer instead of a connection reset.
 */
function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.once("end", done);
    req.once("close", done);
    req.once("error", done);
    req.resume();
  });
}

/**
 * Reads the whole request body, at most `limit` bytes.
 * @throws PayloadTooLargeError once the declared or received size exceeds `limit` and the rest of the
 *   upload has been discarded (at most 5 s), so that the client reads the 413.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    await drain(req);
    throw new PayloadTooLargeError(limit);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off("data", onData);
      req.off("end", onEnd);
      chunks.length = 0;
      void drain(req).then(() => reject(new PayloadTooLargeError(limit)));
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks));
    req.on("data", onData);
    req.on("end", onEnd);
    req.once("error", reject);
    req.once("close", () => {
      if (!req.readableEnded && size <= limit)
        reject(
          new BadRequestError("the request body was cut off; send the whole body", { code: "BODY_CUT_OFF" }),
        );
    });
  });
}

/** Writes a JSON answer (unless the response was already started). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    // a body over the limit was not read to the end: do not reuse the connection
    ...(status === 413 ? { connection: "close" } : {}),
    ...headers,
  });
  res.end(text);
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
}

/** True for `application/json` and `application/*+json`. */
export function isJsonType(contentType: string | undefined): boolean {
  const t = mediaType(contentType);
  return t === "application/json" || (t.startsWith("application/") && t.endsWith("+json"));
}

/** Parses a JSON body. @throws BadRequestError with the parser's message. */
export function parseJson(body: Uint8Array): unknown {
  const text = new TextDecoder().decode(body);
  if (text.trim() === "")
    throw new BadRequestError("the request body is empty; send a JSON document", { code: "INVALID_JSON" });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`the request body is not valid JSON: ${(err as Error).message}`, {
      code: "INVALID_JSON",
    });
  }
}

/**
 * Decodes a batch request body by Content-Type: JSON → value, multipart/form-data → object of
 * fields (strings or {@link UploadedFile}s, repeated names → arrays), text/* → string,
 * urlencoded → object of strings, anything else → the bytes.
 * @throws BadRequestError for malformed JSON or multipart bodies.
 */
export async function decodeBatchBody(contentType: string | undefined, body: Uint8Array): Promise<unknown> {
  const type = mediaType(contentType);
  if (isJsonType(contentType)) return parseJson(body);
  if (type === "multipart/form-data" || type === "application/x-www-form-urlencoded") {
    let form: FormData;
    try {
      form = await new Response(body, { headers: { "content-type": contentType ?? "" } }).formData();
    } catch (err) {
      throw new BadRequestError(`the ${type} body could not be parsed: ${(err as Error).message}`, {
        code: "INVALID_FORM",
      });
    }
    const out: Record<string, unknown> = {};
    for (const [name, value] of form.entries()) {
      const v: string | UploadedFile =
        typeof value === "string"
          ? value
          : {
              filename: value.name,
              contentType: value.type,
              data: new Uint8Array(await value.arrayBuffer()),
            };
      const prev = out[name];
      if (prev === undefined) out[name] = v;
      else if (Array.isArray(prev)) prev.push(v);
      else out[name] = [prev, v];
    }
    return out;
  }
  if (type.startsWith("text/")) return new TextDecoder().decode(body);
  return body;
}

/**
 * Checks `Authorization: Bearer <token>` in constant time. Returns true when no token is configured.
 */
export function bearerAuthorized(header: string | undefined, token: string | undefined): boolean {
  if (token === undefined || token === "") return true;
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!m) return false;
  const a = createHash("sha256").update(m[1]!.trim()).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

/** True when the Accept header lists `text/event-stream`. */
export function acceptsEventStream(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => mediaType(part) === "text/event-stream");
}

/** One SSE message carrying `data` as JSON (multi-line safe: JSON has no raw newlines). */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

/** The SSE terminator the BYOC orchestrator and `runner/serve.py` clients expect. */
export const SSE_DONE = "data: [DONE]\n\n";

/** An SSE `error` event with our error envelope. */
export function sseError(body: unknown): string {
  return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
}
