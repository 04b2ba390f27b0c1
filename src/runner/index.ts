/**
 * Tributary's container SDK (`tributary/runner`): define a batch or live pipeline and serve it with
 * the container contract go-livepeer's BYOC orchestrator and pytrickle clients expect.
 *
 * ```ts
 * import { defineBatchPipeline, startRunner } from "tributary/runner";
 * const pipeline = defineBatchPipeline({ name: "shout", run: (i: { text: string }) => ({ text: i.text.toUpperCase() }) });
 * const runner = await startRunner(pipeline, { port: 8000 });
 * ```
 *
 * Live runners (the Live Runner API, `live-runner/`): `defineRunnerApp` + `startLiveRunner` serve
 * HTTP/SSE routes, register with an orchestrator by heartbeats and use each session's trickle
 * channels and proxies (docs/runner-guide.md).
 *
 * Live pipelines get decoded RGB24 video frames and PCM audio and publish H.264 + Opus MPEG-TS (see
 * `media-loop.ts`), in process through `node-av` (FFmpeg).
 */
export { BadRequestError, TributaryError } from "../node/errors.ts";
export * from "./channels.ts";
export { runnerOptionsFromEnv } from "./env.ts";
export { type GpuDevice, type GpuProbe, nvidiaSmiProbe } from "./hardware.ts";
export { type HealthStatus, type PipelineStatePayload, RunnerHealth } from "./health.ts";
export { PayloadTooLargeError } from "./http.ts";
export * from "./live-runner/app.ts";
export { OrchestratorUnreachableError } from "./live-runner/http.ts";
export * from "./live-runner/register.ts";
export * from "./live-runner/session.ts";
export { MemoryChannel, MemoryChannels } from "./memory-channels.ts";
export { InvalidStreamRequestError, type StreamParams, type StreamStartRequest } from "./params.ts";
export * from "./pipeline.ts";
export * from "./registration.ts";
export { DEFAULT_RUNNER_PORT, type RunnerOptions, type RunningRunner, startRunner } from "./server.ts";
export {
  type FpsStats,
  ParamsUpdateFailedError,
  type SessionStats,
  StreamSession,
  StreamStartFailedError,
} from "./session.ts";
export { TrickleChannels, type TrickleChannelsOptions } from "./trickle-channels.ts";
