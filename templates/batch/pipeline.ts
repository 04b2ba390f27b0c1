/**
 * my-pipeline: a batch BYOC pipeline. The orchestrator forwards each job as `POST /my-pipeline` with
 * the client's body; `run` gets the decoded body (JSON → value, multipart → fields and files, text →
 * string, else bytes) and what it returns is the answer. Replace `shout` with your model.
 *
 * Input `{"text": string}`; answer `{"text": <upper-cased>, "characters": n}`.
 */
import { BadRequestError, defineBatchPipeline } from "tributary/runner";

/** The request body this pipeline accepts. */
export interface ShoutInput {
  text: string;
}

/** Checks the decoded body; anything else is a 400 with a message the caller can act on. */
export function parseInput(input: unknown): ShoutInput {
  const text = (input as { text?: unknown } | null)?.text;
  if (typeof text !== "string") throw new BadRequestError('expected a JSON body {"text": string}');
  return { text };
}

/** The work itself: upper-cases the text. */
export function shout(text: string): { text: string; characters: number } {
  return { text: text.toUpperCase(), characters: [...text].length };
}

export default defineBatchPipeline({
  name: "my-pipeline",
  // Load weights here: /health answers LOADING until this resolves (ERROR if it throws).
  load: async () => {},
  run: (input) => shout(parseInput(input).text),
  // To stream partial results as Server-Sent Events, make run an async generator:
  //   run: async function* (input) { for (const word of parseInput(input).text.split(" ")) yield { word }; },
});
