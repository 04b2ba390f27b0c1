/**
 * text-reverse: a batch BYOC pipeline. `POST /text-reverse` with `{"text":"…"}` answers
 * `{"text":"<reversed>"}`; with `Accept: text/event-stream` it streams the reversed text as
 * Server-Sent Events, one `{"text":"<piece>"}` per grapheme, then `data: [DONE]`.
 *
 * Reversal is by extended grapheme clusters (`Intl.Segmenter`), not by UTF-16 code units or code
 * points, so emoji sequences (👩‍👩‍👧, flags) and combining accents (e + ◌́) stay intact.
 */
import { BadRequestError, defineBatchPipeline } from "../../src/runner/index.ts";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** The grapheme clusters of `text`, last first. */
export function reversedGraphemes(text: string): string[] {
  return Array.from(graphemes.segment(text), (s) => s.segment).reverse();
}

/** Reverses `text` by grapheme clusters. */
export function reverseText(text: string): string {
  return reversedGraphemes(text).join("");
}

function textOf(input: unknown): string {
  if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    const text = (input as { text?: unknown }).text;
    if (typeof text === "string") return text;
  }
  throw new BadRequestError('send a JSON object with a string field "text", e.g. {"text":"hello"}', {
    code: "INVALID_INPUT",
  });
}

async function* stream(pieces: string[], signal: AbortSignal): AsyncGenerator<{ text: string }> {
  for (const piece of pieces) {
    if (signal.aborted) return;
    yield { text: piece };
  }
}

export default defineBatchPipeline({
  name: "text-reverse",
  run(input, ctx) {
    const text = textOf(input);
    if (/\btext\/event-stream\b/i.test(String(ctx.headers.accept ?? ""))) {
      return stream(reversedGraphemes(text), ctx.signal);
    }
    return { text: reverseText(text) };
  },
});
