/**
 * Billing units of the native AI batch routes (docs/spec/orchestrator-gateway.md#pricing-units, go-livepeer `handleAIRequest`),
 * computed from the request body. Pure.
 *
 * JSON pipelines: text-to-image `height × width × n`, llm `max_tokens`, text-to-speech
 * `1000 × characters`. Multipart pipelines: the input image's size read from its PNG or JPEG header
 * (go decodes the image). Not computed here (undefined): images in other formats (the caller
 * refuses priced work) and audio-to-text (the caller decodes the audio: audio-duration.ts).
 */
import { BadRequestError } from "../node/errors.ts";

function positiveInt(v: unknown, fallback: number, field: string): bigint {
  if (v === undefined || v === null) return BigInt(fallback);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 1_000_000)
    throw new BadRequestError(`${field} must be a positive integer`);
  return BigInt(v);
}

/** Units of one request, or undefined when this pipeline's units cannot be computed here. */
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

/** Fields and files of a `multipart/form-data` body (first value of each name). */
export interface MultipartForm {
  fields: Record<string, string>;
  files: Record<string, Buffer>;
}

/** Parses a `multipart/form-data` body. Throws 400 on a missing boundary. */
export function parseMultipart(body: Buffer, contentType: string): MultipartForm {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new BadRequestError("multipart body without a boundary");
  const delimiter = Buffer.from(`--${boundary}`);
  const form: MultipartForm = { fields: {}, files: {} };
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd !== -1) {
      const head = part.subarray(0, headerEnd).toString("utf8");
      const content = part.subarray(headerEnd + 4);
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      if (name !== undefined) {
        if (/filename="/i.test(head)) form.files[name] ??= content;
        else form.fields[name] ??= content.toString("utf8");
      }
    }
    pos = next;
  }
  return form;
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
 * Units of a multipart AI request (go-livepeer `handleAIRequest`): image-to-image
 * `H × W × num_images_per_prompt`, upscale / segment-anything-2 / image-to-text `H × W` of the input
 * image, image-to-video `height × width × 25` (fields, defaults 576 × 1024). Undefined when the
 * image size cannot be read (not PNG/JPEG) or for audio-to-text (see audio-duration.ts).
 */
export function aiUnitsMultipart(pipeline: string, form: MultipartForm): bigint | undefined {
  const num = (name: string, fallback: number): bigint => {
    const v = form.fields[name];
    if (v === undefined || v === "") return BigInt(fallback);
    if (!/^\d{1,7}$/.test(v) || Number(v) < 1)
      throw new BadRequestError(`${name} must be a positive integer`);
    return BigInt(v);
  };
  if (pipeline === "image-to-video") return num("height", 576) * num("width", 1024) * 25n;
  if (!["image-to-image", "upscale", "segment-anything-2", "image-to-text"].includes(pipeline))
    return undefined;
  const image = form.files.image;
  if (image === undefined) throw new BadRequestError("the image field is required");
  const size = imageSize(image);
  if (size === undefined) return undefined;
  const pixels = BigInt(size.width) * BigInt(size.height);
  return pipeline === "image-to-image" ? pixels * num("num_images_per_prompt", 1) : pixels;
}
