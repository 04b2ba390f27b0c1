/** The remote signer (see README.md). */
export * from "./auth.ts";
export * from "./context.ts";
export * from "./fees.ts";
export * from "./metrics.ts";
export * from "./routes.ts";
export * from "./signer.ts";
export * from "./store.ts";
