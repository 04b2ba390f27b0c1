/**
 * Billing units of the native AI batch routes: the one table both nodes use
 * (docs/spec/orchestrator-gateway.md#pricing-units). The orchestrator debits `units × price` after
 * the work; the gateway pays for the same units before it. Pure.
 *
 * JSON pipelines: text-to-image `height × width × num_images_per_prompt` (defaults 512 × 512 × 1),
 * llm `max_tokens` (required), text-to-speech `1000 × characters`. Multipart pipelines: image-to-image
 * `H × W × num_images_per_prompt` and upscale / segment-anything-2 / image-to-text `H × W` of the
 * input image, read from its PNG or JPEG header (go-livepeer decodes the image); image-to-video
 * `height × width × 25` from its fields (defaults 576 × 1024). Not computed here (undefined):
 * images in other formats, other content types, and audio-to-text (the orchestrator decodes the
 * audio: orchestrator/audio-duration.ts).
 *
 * llm without `max_tokens`: the orchestrator refuses it (400 "MaxTokens not specified"), as
 * go-livepeer's does; a gateway writes {@link DEFAULT_MAX_TOKENS} into the request before it sends
 * it ({@link withDefaultMaxTokens}, as go-livepeer's gateway does), so what the gateway pays for is
 * what the orchestrator charges and what the model is allowed to generate.
 */
import { BadRequestError } from "../node/errors.ts";
import { type MultipartForm, parseMultipart } from "./multipart.ts";

/** `max_tokens` a gateway sends in an llm request that has none (go-livepeer's gateway default). */
export const DEFAULT_MAX_TOKENS = 256;

/** Frames an image-to-video request is priced for. */
const VIDEO_FRAMES = 25n;

/** How a body is read for its units: by its `Content-Type`, as the orchestrator reads it. */
function bodyKind(contentType: string): "json" | "multipart" | undefined {
  if (contentType.includes("application/json")) return "json";
  if (contentType.includes("multipart/form-data")) return "multipart";
  return undefined;
}

function positiveInt(v: unknown, fallback: number, field: string): bigint {
  if (v === undefined || v === null) return BigInt(fallback);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 1_000_000)
    throw new BadRequestError(`${field} must be a positive integer`);
  return BigInt(v);
}

/** Units of a JSON request body (parsed), or undefined when this pipeline is not priced from JSON. */
export function aiUnits(pipeline: string, body: unknown): bigint | undefined {
  const o = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  switch (pipeline) {
    case "text-to-image":
      return (
        positiveInt(o.height, 512, "height") *
        positiveInt(o.width, 512, "width") *
        positiveInt(o.num_images_per_prompt, 1, "num_images_per_prompt")
      );
    case "llm":
      if (o.max_tokens === undefined || o.max_tokens === null)
        throw new BadRequestError("MaxTokens not specified");
      return positiveInt(o.max_tokens, 0, "max_tokens");
    case "text-to-speech": {
      if (typeof o.text !== "string") throw new BadRequestError("text must be a string");
      return 1000n * BigInt([...o.text].length);
    }
    default:
      return undefined;
  }
}

/** Width and height of a PNG or JPEG image from its header, or undefined for other formats. */
export function imageSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString("ascii", 12, 16) === "IHDR")
    return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1]!;
      const len = b.readUInt16BE(i + 2);
      // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      i += 2 + len;
    }
  }
  return undefined;
}

/**
 * Units of a multipart request: the input image's pixels (× `num_images_per_prompt` for
 * image-to-image), image-to-video from its fields. Undefined when the image size cannot be read
 * (not PNG/JPEG) or for pipelines not priced from a form (audio-to-text).
 */
export function aiUnitsMultipart(pipeline: string, form: MultipartForm): bigint | undefined {
  const num = (name: string, fallback: number): bigint => {
    const v = form.fields[name];
    if (v === undefined || v === "") return BigInt(fallback);
    if (!/^\d{1,7}$/.test(v) || Number(v) < 1)
      throw new BadRequestError(`${name} must be a positive integer`);
    return BigInt(v);
  };
  if (pipeline === "image-to-video") return num("height", 576) * num("width", 1024) * VIDEO_FRAMES;
  if (!["image-to-image", "upscale", "segment-anything-2", "image-to-text"].includes(pipeline))
    return undefined;
  const image = form.files.image;
  if (image === undefined) throw new BadRequestError("the image field is required");
  const size = imageSize(image);
  if (size === undefined) return undefined;
  const pixels = BigInt(size.width) * BigInt(size.height);
  return pipeline === "image-to-image" ? pixels * num("num_images_per_prompt", 1) : pixels;
}

/**
 * Units of a request as it travels between the nodes (`Content-Type` and raw body): JSON or
 * multipart by its type; undefined when they cannot be computed from the body (see above). Throws
 * 400 for a bad body or field.
 */
export function aiRequestUnits(pipeline: string, contentType: string, body: Buffer): bigint | undefined {
  const kind = bodyKind(contentType);
  if (kind === "multipart") return aiUnitsMultipart(pipeline, parseMultipart(body, contentType));
  if (kind !== "json") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new BadRequestError("the request body is not valid JSON", { code: "BAD_JSON" });
  }
  return aiUnits(pipeline, parsed);
}

/**
 * The request a gateway sends: an llm JSON body without `max_tokens` (or with `null`) gets
 * {@link DEFAULT_MAX_TOKENS}; every other body is returned as is (the same Buffer), including bodies
 * that are not a JSON object (whoever reads them next answers the error). The field is spliced into
 * the text, so the rest of the body keeps its bytes (large integers are not re-encoded).
 */
export function withDefaultMaxTokens(pipeline: string, contentType: string, body: Buffer): Buffer {
  if (pipeline !== "llm" || bodyKind(contentType) !== "json") return body;
  let o: unknown;
  try {
    o = JSON.parse(body.toString("utf8"));
  } catch {
    return body;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return body;
  const v = o as Record<string, unknown>;
  if (v.max_tokens === null) return Buffer.from(JSON.stringify({ ...v, max_tokens: DEFAULT_MAX_TOKENS }));
  if (v.max_tokens !== undefined) return body;
  const text = body.toString("utf8");
  const open = text.indexOf("{") + 1; // the first non-blank character of a JSON object
  const field = `"max_tokens":${DEFAULT_MAX_TOKENS}${Object.keys(v).length > 0 ? "," : ""}`;
  return Buffer.from(text.slice(0, open) + field + text.slice(open));
}
