/**
 * The orchestrator's Prometheus series (`GET /metrics`). Gauges are read from the registry at scrape
 * time; counters and histograms are updated by the routes.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createMetricsRegistry } from "../node/metrics.ts";
import type { PaymentGate } from "./payments.ts";
import type { CapabilityRegistry, ContainerHealth } from "./registry.ts";

const HEALTH_VALUES: Record<ContainerHealth, number> = { unknown: 0, loading: 1, ready: 2, failed: 3 };

/** The orchestrator's metric handles. */
export interface OrchestratorMetrics {
  registry: Registry;
  /** Jobs by route (`batch`, `byoc`, `live`, `byoc-stream`), pipeline, model and outcome (`ok`, `error`, `no_capacity`, `rejected`). */
  jobs: Counter<"route" | "pipeline" | "model_id" | "outcome">;
  /** Time from request to the container's answer (batch) or to the stream start (live). */
  jobDuration: Histogram<"route" | "pipeline" | "model_id">;
  /** Container health transitions. */
  healthTransitions: Counter<"to">;
  /** aiModels.json reloads by result (`ok`, `invalid`). */
  configReloads: Counter<"result">;
}

/** Creates the registry and series; gauges read `capabilities` and `streams` when scraped. */
export function createOrchestratorMetrics(
  capabilities: CapabilityRegistry,
  streams: () => number,
  payments?: PaymentGate,
): OrchestratorMetrics {
  const registry = createMetricsRegistry({ processMetrics: true });
  const registers = [registry];
  const jobs = new Counter({
    name: "tributary_orchestrator_jobs_total",
    help: "Jobs handled, by route, pipeline, model and outcome",
    labelNames: ["route", "pipeline", "model_id", "outcome"] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: "tributary_orchestrator_job_duration_seconds",
    help: "Time to the container's answer (batch) or to the stream start (live)",
    labelNames: ["route", "pipeline", "model_id"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const healthTransitions = new Counter({
    name: "tributary_orchestrator_container_health_transitions_total",
    help: "Container health transitions, by new state",
    labelNames: ["to"] as const,
    registers,
  });
  const configReloads = new Counter({
    name: "tributary_orchestrator_config_reloads_total",
    help: "aiModels.json reloads, by result",
    labelNames: ["result"] as const,
    registers,
  });
  new Gauge({
    name: "tributary_orchestrator_container_health",
    help: "Container health: 0 unknown, 1 loading, 2 ready, 3 failed",
    labelNames: ["container"] as const,
    registers,
    collect() {
      this.reset();
      for (const c of capabilities.containers()) this.set({ container: c.url }, HEALTH_VALUES[c.health]);
    },
  });
  new Gauge({
    name: "tributary_orchestrator_capacity",
    help: "Advertised capacity (ready containers), by capability",
    labelNames: ["pipeline", "model_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const a of capabilities.advertised())
        this.set({ pipeline: a.pipeline, model_id: a.modelId }, a.capacity);
    },
  });
  new Gauge({
    name: "tributary_orchestrator_capacity_in_use",
    help: "Slots in use on ready containers, by capability",
    labelNames: ["pipeline", "model_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const a of capabilities.advertised())
        this.set({ pipeline: a.pipeline, model_id: a.modelId }, a.inUse);
    },
  });
  new Gauge({
    name: "tributary_orchestrator_live_streams",
    help: "Live streams running (LV2V and BYOC streams)",
    registers,
    collect() {
      this.set(streams());
    },
  });
  if (payments) {
    const totals = payments.totals;
    new Counter({
      name: "tributary_orchestrator_tickets_credited_total",
      help: "Payment tickets validated and credited (read from the payment gate)",
      registers,
      collect() {
        this.reset();
        this.inc(totals.tickets);
      },
    });
    new Counter({
      name: "tributary_orchestrator_winning_tickets_total",
      help: "Winning tickets queued for redemption (read from the payment gate)",
      registers,
      collect() {
        this.reset();
        this.inc(totals.winners);
      },
    });
    new Counter({
      name: "tributary_orchestrator_payments_rejected_total",
      help: "Payments refused (bad tickets) (read from the payment gate)",
      registers,
      collect() {
        this.reset();
        this.inc(totals.rejectedPayments);
      },
    });
  }
  if (payments) {
    new Gauge({
      name: "tributary_orchestrator_credit_held_wei",
      help: "Sum of the positive sender balances this process has credited or debited (wei)",
      registers,
      collect() {
        this.set(payments.creditHeld().wei);
      },
    });
    new Gauge({
      name: "tributary_orchestrator_balances",
      help: "Sender balances (sender, manifest) this process has credited or debited",
      registers,
      collect() {
        this.set(payments.creditHeld().balances);
      },
    });
  }
  capabilities.on("health", (_url, _from, to) => healthTransitions.inc({ to }));
  return { registry, jobs, jobDuration, healthTransitions, configReloads };
}
