import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable } from "./lib.ts";
import { type Bench, runAll } from "./run.ts";

const row = (component: string, measure: string, ours: string) => ({
  component,
  measure,
  ours,
  baseline: "base 2",
  ratio: "0.50×",
  goal: "≥ 1×",
  met: "no",
});

test("runAll composes every benchmark's rows in order and turns a failure into one row naming it", async () => {
  const calls: boolean[] = [];
  const benches: Bench[] = [
    {
      name: "a",
      run: async (o) => {
        calls.push(o.quick);
        return { rows: [row("a", "x (MB/s)", "1"), row("a", "y | z", "2")], detail: "A" };
      },
    },
    {
      name: "broken",
      run: async () => {
        throw new Error("no go here\nstack");
      },
    },
    { name: "c", run: async () => ({ rows: [row("c", "w", "3")], detail: "C" }) },
  ];
  const lines: string[] = [];
  const res = await runAll(benches, { quick: true, log: (l) => lines.push(l) });
  assert.deepEqual(calls, [true]);
  assert.deepEqual(
    res.rows.map((r) => [r.component, r.measure]),
    [
      ["a", "x (MB/s)"],
      ["a", "y | z"],
      ["broken", "(benchmark failed)"],
      ["c", "w"],
    ],
  );
  assert.equal(res.rows[2]?.met, "failed: no go here");
  assert.deepEqual(
    res.details.map((d) => d.name),
    ["a", "broken", "c"],
  );
  assert.ok(lines.some((l) => l.startsWith("broken failed:")));

  const table = formatTable(res.rows).split("\n");
  assert.equal(table[0], "| component | measure | ours | baseline | ratio | goal | met? |");
  assert.equal(table[1], "|---|---|---|---|---|---|---|");
  assert.equal(table.length, 2 + res.rows.length);
  assert.equal(table[3], "| a | y \\| z | 2 | base 2 | 0.50× | ≥ 1× | no |", "a | in a cell is escaped");
  for (const l of table) assert.equal(l.split(/(?<!\\)\|/).length, 9, `seven cells in ${l}`);
});
