export * from "./errors.ts";
export * from "./logger.ts";
