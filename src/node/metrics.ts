/**
 * Prometheus helpers shared by the nodes (conventions: names start with `tributary_`, base units,
 * `pipeline`/`model_id` labels where they apply). Each node owns one {@link Registry} (no global
 * default registry, so several nodes can live in one process and in one test run).
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { collectDefaultMetrics, Registry } from "prom-client";

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** Also collect Node's process metrics (`tributary_process_*`, `tributary_nodejs_*`). Default false. */
  processMetrics?: boolean;
  /** Labels added to every series, e.g. `{ node: "orchestrator" }`. */
  defaultLabels?: Record<string, string>;
}

/** A new, empty registry for one node. */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: "tributary_" });
  return registry;
}

/** Answers `GET /metrics` from a registry in the Prometheus text format. */
export async function writeMetrics(
  registry: Registry,
  res: ServerResponse | Http2ServerResponse,
): Promise<void> {
  const text = await registry.metrics();
  (res as ServerResponse).writeHead(200, { "Content-Type": registry.contentType });
  res.end(text);
}
