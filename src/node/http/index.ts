export * from "./agents.ts";
export * from "./body.ts";
export * from "./limits.ts";
export * from "./listen.ts";
export * from "./router.ts";
export * from "./send.ts";
export * from "./sse.ts";
