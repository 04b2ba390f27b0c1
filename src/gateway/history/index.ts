/**
 * What this gateway experienced, kept across restarts: job attempts and streams per capability and
 * per orchestrator over time, the streams running now, and the recent failures
 * ({@link ExperienceHistory}, {@link StreamWatcher}). The dashboard serves it as `api/experience`.
 */
export * from "./experience.ts";
export * from "./streams.ts";
