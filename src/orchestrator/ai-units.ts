/**
 * Billing units of the native AI batch routes (payments.md §15.1, go-livepeer `handleAIRequest`),
 * computed from the request body. Pure.
 *
 * Partial: only the JSON pipelines are implemented (text-to-image `height × width × n`, llm
 * `max_tokens`, text-to-speech `1000 × characters`). The multipart pipelines need the decoded
 * image or audio (size, duration); for them {@link aiUnits} returns undefined and the caller refuses
 * priced work.
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
