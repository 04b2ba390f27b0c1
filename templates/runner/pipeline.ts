/**
 * my-pipeline: a live runner (the Live Runner API). It serves plain HTTP routes; an orchestrator
 * lists it in `/discovery`, reserves sessions for clients and proxies their calls here, adding the
 * session's headers (`call.session`: its trickle channels and proxies). Replace `shout` with your model.
 *
 * - `POST /shout {"text": "..."}` → `{"text": "..."}` (JSON)
 * - `POST /stream {"text": "..."}` → one SSE event per word, then `[DONE]`
 *
 * `npm start` serves it on port 9000 and, with ORCH_URL and ORCH_SECRET set, registers it with that
 * orchestrator by heartbeats (re-registering after an orchestrator restart).
 */
import { BadRequestError, defineRunnerApp, startLiveRunner } from "tributary/runner";

/** Validates a `{"text": "..."}` body; anything else is a 400. */
export function textOf(body: unknown): string {
  const text = (body as { text?: unknown } | null)?.text;
  if (typeof text !== "string" || text === "") throw new BadRequestError('send {"text": "some words"}');
  return text;
}

/** The "model". */
export function shout(text: string): string {
  return text.toUpperCase();
}

export const app = defineRunnerApp({
  app: "my-pipeline",
  version: "0.1.0",
  capacity: 1,
  routes: {
    "POST /shout": async (call) => ({ text: shout(textOf(await call.json())) }),
    "POST /stream": async (call) => {
      const words = shout(textOf(await call.json())).split(/\s+/);
      const sse = call.sse();
      for (const word of words) {
        if (sse.closed) return;
        sse.json({ token: word });
        await new Promise((r) => setTimeout(r, 50));
      }
      sse.end("data: [DONE]\n\n");
    },
  },
  // Sessions reserved and released on the orchestrator (free per-session state here).
  onSession: (e) => console.log(`session ${e.session} ${e.event}`),
});

if (import.meta.main) {
  const runner = await startLiveRunner(app, {
    port: Number(process.env.PORT ?? 9000),
    host: process.env.HOST ?? "127.0.0.1",
    orchUrl: process.env.ORCH_URL,
    orchSecret: process.env.ORCH_SECRET,
    // Where the orchestrator reaches this runner (default the bound address).
    runnerUrl: process.env.RUNNER_URL,
  });
  console.log(`my-pipeline listening on ${runner.url}`);
  process.once("SIGINT", () => void runner.close());
  process.once("SIGTERM", () => void runner.close());
}
