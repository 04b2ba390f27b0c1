/**
 * Small node:http helpers of the runner: bearer-token checks, request-body decoding and the SSE
 * events of streamed batch answers. Body reading, JSON answers and SSE framing come from the shared
 * HTTP toolkit (src/node/http/).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { BadRequestError } from "../node/errors.ts";
import { sseEvent } from "../node/http/sse.ts";
import type { UploadedFile } from "./pipeline.ts";

/** Bounded body reading and the 413 error live in the shared HTTP toolkit (src/node/http/body.ts). */
export { DEFAULT_MAX_BODY_BYTES, PayloadTooLargeError } from "../node/http/body.ts";

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
  return sseEvent({ data: JSON.stringify(value) });
}

/** The SSE terminator the BYOC orchestrator and `runner/serve.py` clients expect. */
export const SSE_DONE = sseEvent({ data: "[DONE]" });

/** An SSE `error` event with our error envelope. */
export function sseError(body: unknown): string {
  return sseEvent({ event: "error", data: JSON.stringify(body) });
}
