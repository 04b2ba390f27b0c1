/**
 * Gateway selection: filters shared by every strategy (pipeline/model, warm, runner version,
 * capacity, performance, max price, include/exclude, suspension) and the strategies that rank what
 * remains (docs/spec/orchestrator-gateway.md#selection).
 */
export * from "./probability.ts";
export * from "./random.ts";
export * from "./retry.ts";
export * from "./selector.ts";
export * from "./strategies.ts";
export * from "./suspender.ts";
