/**
 * `tributary/client`: a small typed client of a Tributary (or go-livepeer) gateway: batch jobs
 * ({@link runJob}), live video streams ({@link LiveSession}), live runner apps on an orchestrator
 * ({@link RunnerClient}), and the node-av media helpers the
 * `tributary job live` command uses (`./media.ts`, imported separately so JSON-only users never
 * load FFmpeg).
 */
export * from "./job.ts";
export * from "./live.ts";
export * from "./runner.ts";
export * from "./runner-payer.ts";
export * from "./runner-socket.ts";
