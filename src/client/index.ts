/**
 * `tributary/client`: a small typed client of a Tributary (or go-livepeer) gateway: batch jobs
 * ({@link runJob}), live video streams ({@link LiveSession}), and the node-av media helpers the
 * `tributary job live` command uses (`./media.ts`, imported separately so JSON-only users never
 * load FFmpeg).
 */
export * from "./job.ts";
export * from "./live.ts";
