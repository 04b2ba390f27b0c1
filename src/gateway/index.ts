/**
 * The gateway node (`tributary/gateway`): user API, retries/failover over discovered orchestrators,
 * live video relay, tracing, dashboard and metrics. See README.md for what is done and not.
 */
export * from "./capabilities.ts";
export * from "./gateway.ts";
export * from "./live/index.ts";
export * from "./onchain.ts";
export * from "./orch-http.ts";
export * from "./payments.ts";
export * from "./read-body.ts";
export * from "./tracing.ts";
