import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter } from "prom-client";
import { createMetricsRegistry } from "./metrics.ts";

test("each registry is separate and carries its default labels", async () => {
  const a = createMetricsRegistry({ defaultLabels: { node: "a" } });
  const b = createMetricsRegistry();
  const c = new Counter({ name: "tributary_test_total", help: "t", registers: [a] });
  c.inc(2);
  new Counter({ name: "tributary_test_total", help: "t", registers: [b] });
  assert.match(await a.metrics(), /tributary_test_total\{node="a"\} 2/);
  assert.match(await b.metrics(), /tributary_test_total 0/);
});
