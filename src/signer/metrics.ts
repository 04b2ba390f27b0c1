/**
 * The signer's Prometheus series: what each app spent (wei of ticket EV and tickets, restored from
 * the store at start, so they count since the data directory was created) and payments by outcome.
 */
import { Counter, type Registry } from "prom-client";
import { createMetricsRegistry } from "../node/metrics.ts";
import type { Rat } from "../payments/rational.ts";

/** See the module documentation. */
export class SignerMetrics {
  readonly registry: Registry;
  readonly #spent: Counter<"app">;
  readonly #tickets: Counter<"app">;
  readonly #payments: Counter<"app" | "type">;

  constructor(registry: Registry = createMetricsRegistry({ defaultLabels: { node: "signer" } })) {
    this.registry = registry;
    this.#spent = new Counter({
      name: "tributary_signer_spent_wei_total",
      help: "Expected value (wei) of the tickets the signer made, per app",
      labelNames: ["app"],
      registers: [registry],
    });
    this.#tickets = new Counter({
      name: "tributary_signer_tickets_total",
      help: "Tickets the signer made, per app",
      labelNames: ["app"],
      registers: [registry],
    });
    this.#payments = new Counter({
      name: "tributary_signer_payments_total",
      help: "Payments the signer made, per app and payment type (lv2v, live, fixed, byoc, pixels)",
      labelNames: ["app", "type"],
      registers: [registry],
    });
  }

  /** Starts the counters at what the store recorded before this start. */
  restore(totals: Map<string, { wei: Rat; tickets: number }>): void {
    for (const [app, t] of totals) {
      this.#spent.inc({ app }, Number(t.wei.ceil()));
      this.#tickets.inc({ app }, t.tickets);
    }
  }

  /** One payment of `tickets` worth `value` wei for `app`. */
  paid(app: string, type: string, tickets: number, value: Rat): void {
    this.#spent.inc({ app }, Number(value.ceil()));
    this.#tickets.inc({ app }, tickets);
    this.#payments.inc({ app, type });
  }
}
