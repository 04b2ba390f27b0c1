/**
 * runner-live: live video through a live runner (the Live Runner API), over the session's trickle
 * channels on the orchestrator. The media path is the container SDK's (`StreamSession`, the same one
 * BYOC live pipelines use), running the green-tint pipeline (examples/green-tint).
 *
 * - `POST /start {"params"?: {...}, "input"?: true}` in a session: the runner creates the session's
 *   channels through its callbacks (`in` and `out`, MPEG-TS; `control` and `events`, JSON), starts
 *   the stream on their internal URLs, and answers the public ones: the client publishes video on
 *   `publish_url`, reads the tinted video on `subscribe_url`, sends params on `control_url` and reads
 *   events on `events_url`. With `"input": false` the runner generates the video itself (black
 *   frames, tinted).
 * - `POST /stop`: stops the session's stream. A session the orchestrator releases (stop, payment
 *   stopped, TTL) stops its stream too (o2r event).
 *
 * Run: `ORCH_URL=https://127.0.0.1:8935 ORCH_SECRET=… node examples/runner-live/runner.ts`.
 */
import {
  BadRequestError,
  defineRunnerApp,
  StreamSession,
  startLiveRunner,
  TrickleChannels,
} from "../../src/runner/index.ts";
import { validateStreamParams } from "../../src/runner/params.ts";
import greenTint from "../green-tint/pipeline.ts";

/** Running streams by session id. */
export const streams = new Map<string, StreamSession>();

export const app = defineRunnerApp({
  app: "example/green-tint-live",
  version: "1.0.0",
  capacity: 2,
  metadata: "live video: adds green to every frame; params {green: 0..255}",
  onSession: async (e) => {
    if (e.event === "released") await streams.get(e.session)?.stop();
  },
  routes: {
    "POST /start": async (call) => {
      const session = call.session;
      if (session === undefined)
        throw new BadRequestError(
          "call /start through an orchestrator session: the video goes over its channels",
        );
      if (streams.has(session.id)) throw new BadRequestError("this session's stream is already running");
      const body = (await call.json()) as { params?: unknown; input?: unknown };
      const params = validateStreamParams(body.params ?? {});
      const input = body.input !== false;
      const ts = "video/mp2t";
      const made = await session.createChannels([
        ...(input ? [{ name: "in", mime_type: ts }] : []),
        { name: "out", mime_type: ts },
        { name: "control", mime_type: "application/json" },
        { name: "events", mime_type: "application/json" },
      ]);
      const ch = Object.fromEntries(made.map((c) => [c.name, c]));
      const stream = await StreamSession.start({
        pipeline: greenTint,
        request: {
          gateway_request_id: session.id,
          ...(ch.in !== undefined ? { subscribe_url: ch.in.internal_url } : {}),
          publish_url: ch.out?.internal_url,
          control_url: ch.control?.internal_url,
          events_url: ch.events?.internal_url,
          params,
        },
        channels: new TrickleChannels(),
        onStopped: () => streams.delete(session.id),
      });
      streams.set(session.id, stream);
      return {
        ...(ch.in !== undefined ? { publish_url: ch.in.url } : {}),
        subscribe_url: ch.out?.url,
        control_url: ch.control?.url,
        events_url: ch.events?.url,
      };
    },
    "POST /stop": async (call) => {
      const stream = call.session ? streams.get(call.session.id) : undefined;
      await stream?.stop();
      return { stopped: stream !== undefined };
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
  console.log(`runner-live listening on ${runner.url}`);
  const stop = async () => {
    for (const s of streams.values()) await s.stop();
    await runner.close();
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}
