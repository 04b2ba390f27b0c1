/**
 * Gateway discovery: where orchestrators come from (static list, webhook, chain) and the pool that asks
 * them for their `OrchestratorInfo` (docs/spec/orchestrator-gateway.md#orchestratorinfo, #discovery).
 */
export * from "./cached-source.ts";
export * from "./chain-source.ts";
export * from "./config.ts";
export * from "./grpc-client.ts";
export * from "./pool.ts";
export * from "./request.ts";
export * from "./runners.ts";
export * from "./static-source.ts";
export * from "./types.ts";
export * from "./uri.ts";
export * from "./webhook-source.ts";
