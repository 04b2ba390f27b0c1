export * from "./errors.ts";
export * from "./logger.ts";
export * from "./store.ts";
