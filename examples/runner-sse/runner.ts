/**
 * runner-sse: a live runner (the Live Runner API) that streams tokens over Server-Sent Events, as a
 * text-generation model would. It registers itself with an orchestrator by heartbeats and serves:
 *
 * - `POST /generate {"prompt": "...", "delay_ms"?: 0..1000}`: one SSE event per word of the prompt
 *   reversed (`data: {"token":"..."}`), then `data: [DONE]`; stops when the client goes away;
 * - `POST /notes`: creates the session's `notes` trickle channel on the orchestrator (a session
 *   callback) and answers its public URL, for clients that want a side channel.
 *
 * Run: `ORCH_URL=https://127.0.0.1:8935 ORCH_SECRET=… node examples/runner-sse/runner.ts`.
 */
import { BadRequestError, defineRunnerApp, startLiveRunner } from "../../src/runner/index.ts";

/** The tokens of an answer: the prompt's words, last first. */
export function tokensOf(prompt: string): string[] {
  return prompt
    .split(/\s+/)
    .filter((w) => w !== "")
    .reverse();
}

function parseGenerate(body: unknown): { prompt: string; delayMs: number } {
  const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof b.prompt !== "string" || b.prompt.trim() === "")
    throw new BadRequestError('prompt is required: {"prompt": "some words"}');
  const d = b.delay_ms ?? 0;
  if (typeof d !== "number" || !Number.isInteger(d) || d < 0 || d > 1000)
    throw new BadRequestError("delay_ms must be an integer from 0 to 1000");
  return { prompt: b.prompt, delayMs: d };
}

export const app = defineRunnerApp({
  app: "example/tokens",
  version: "1.0.0",
  capacity: 4,
  metadata: "streams the prompt's words back, reversed, over SSE",
  routes: {
    "POST /generate": async (call) => {
      const { prompt, delayMs } = parseGenerate(await call.json());
      const sse = call.sse();
      for (const token of tokensOf(prompt)) {
        if (sse.closed) return;
        sse.json({ token });
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      }
      sse.end("data: [DONE]\n\n");
    },
    "POST /notes": async (call) => {
      if (call.session === undefined)
        throw new BadRequestError(
          "call /notes through an orchestrator session: it needs the session's channels",
        );
      const [notes] = await call.session.createChannels([{ name: "notes", mime_type: "application/json" }]);
      return { session_id: call.session.id, notes_url: notes?.url };
    },
  },
});

if (import.meta.main) {
  const runner = await startLiveRunner(app, {
    port: Number(process.env.PORT ?? 9000),
    host: process.env.HOST ?? "127.0.0.1",
    orchUrl: process.env.ORCH_URL,
    orchSecret: process.env.ORCH_SECRET,
    runnerUrl: process.env.RUNNER_URL,
  });
  console.log(`runner-sse listening on ${runner.url}`);
  process.once("SIGINT", () => void runner.close());
  process.once("SIGTERM", () => void runner.close());
}
