/**
 * The orchestrator (`tributary/orchestrator`): aiModels.json with hot reload, one capability registry
 * (config + BYOC registration), container health monitor, OrchestratorInfo over gRPC, and the BYOC,
 * native AI batch and live routes on one TLS port; offchain, or paid on chain through the payment gate (payments.ts, onchain.ts).
 */
export * from "./capabilities.ts";
export * from "./config.ts";
export * from "./health.ts";
export { ContainerError, DEFAULT_MAX_BODY_BYTES, NoCapacityError, PayloadTooLargeError } from "./http.ts";
export * from "./info.ts";
export * from "./job-header.ts";
export * from "./metrics.ts";
export * from "./onchain.ts";
export * from "./orchestrator.ts";
export * from "./payments.ts";
export * from "./registry.ts";
export { DEFAULT_OPERATOR_PORT } from "./runners/operator.ts";
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TTL_MS,
  RunnerRegistry,
} from "./runners/registry.ts";
export { type LiveRunnerOptions, LiveRunners } from "./runners/service.ts";
