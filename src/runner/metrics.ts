/**
 * Prometheus metrics of one runner (`GET /metrics`, as ai-runner serves): health state, batch requests
 * and failures, running streams, and the stream session counters. Each runner has its own registry,
 * so several runners in one process do not collide.
 */
import { Counter, Gauge, Registry } from "prom-client";
import type { RunnerHealth } from "./health.ts";
import type { SessionStats } from "./session.ts";

/** What the metrics read, at scrape time. */
export interface RunnerMetricsSource {
  health: RunnerHealth;
  batch: { batchRequests: number; batchErrors: number };
  /** Counters of sessions that ended plus the running one. */
  sessions: () => SessionStats;
  labels: { pipeline: string; model_id: string };
}

/** Builds the registry; values are read from `source` on each scrape. */
export function runnerMetrics(source: RunnerMetricsSource): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(source.labels);
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const counter = (name: string, help: string, read: () => number) => {
    let last = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v > last) this.inc(v - last);
        last = v;
      },
    });
  };
  new Gauge({
    name: "tributary_runner_health",
    help: "1 for the current /health state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      for (const state of ["LOADING", "IDLE", "OK", "ERROR"])
        this.set({ state }, source.health.status === state ? 1 : 0);
    },
  });
  gauge("tributary_runner_streams_active", "Live streams running", () => source.health.activeStreams);
  gauge(
    "tributary_runner_batch_requests_in_flight",
    "Batch requests being processed",
    () => source.health.activeRequests,
  );
  // Counters follow the runner's plain counters, read at scrape time.
  counter(
    "tributary_runner_batch_requests_total",
    "Batch requests handled",
    () => source.batch.batchRequests,
  );
  counter(
    "tributary_runner_batch_errors_total",
    "Batch requests whose run threw",
    () => source.batch.batchErrors,
  );
  counter(
    "tributary_runner_stream_user_errors_total",
    "Exceptions thrown by live handlers",
    () => source.sessions().userErrors,
  );
  counter(
    "tributary_runner_stream_events_sent_total",
    "Events published",
    () => source.sessions().eventsSent,
  );
  counter(
    "tributary_runner_stream_event_errors_total",
    "Event writes that failed",
    () => source.sessions().eventErrors,
  );
  counter(
    "tributary_runner_stream_data_items_sent_total",
    "Data items published",
    () => source.sessions().dataItemsSent,
  );
  counter(
    "tributary_runner_stream_data_items_dropped_total",
    "Data items dropped (queue full)",
    () => source.sessions().dataItemsDropped,
  );
  counter(
    "tributary_runner_stream_control_messages_total",
    "Control messages applied",
    () => source.sessions().controlMessages,
  );
  return registry;
}
