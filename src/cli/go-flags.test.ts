/**
 * go-livepeer command lines: aliases (with `-datadir` and `-v`), go-livepeer flags with no meaning here
 * warned about and ignored (refused with --strict-flags), every unknown flag reported at once, the legacy
 * `-aiModels pipeline:model:warm` string answered with a hint, and the gateway's selection flags parsed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CommanderError } from "commander";
import { Rat } from "../payments/rational.ts";
import {
  GATEWAY_GO_FLAG_ALIASES,
  gatewayCommand,
  parseBlocklist,
  parseMaxPricePerCapability,
  selectionOptionsOf,
} from "./gateway.ts";
import { scanGoFlags, verbosityToLogLevel } from "./options.ts";
import {
  GO_FLAG_ALIASES,
  IGNORED_GO_FLAGS,
  legacyAiModelsHint,
  orchestratorCommand,
} from "./orchestrator.ts";

/** Parses `args` with the command's options only (no action), capturing what it writes to stderr. */
function parse(make: () => import("commander").Command, args: string[]) {
  let err = "";
  const cmd = make()
    .exitOverride()
    .configureOutput({ writeErr: (s) => (err += s), writeOut: () => {} });
  try {
    cmd.parseOptions(args);
    return { opts: cmd.opts(), err, error: undefined as CommanderError | undefined };
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { opts: cmd.opts(), err, error: e };
  }
}

/** The orchestrator line from the issue: it took six tries, one refused flag at a time. */
const GO_ORCHESTRATOR_LINE = [
  "-orchestrator",
  "-transcoder",
  "-nvidia",
  "0",
  "-aiWorker",
  "-aiModels",
  "/root/.lpData/aiModels.json",
  "-aiModelsDir",
  "/root/.lpData/models",
  "-monitor",
  "-v",
  "6",
  "-autoAdjustPrice=false",
  "-serviceAddr",
  "0.0.0.0:8935",
  "-datadir",
  "/root/.lpData",
];

test("a go-livepeer orchestrator line starts: meaningful flags mapped, the others warned about once each", () => {
  const r = parse(orchestratorCommand, GO_ORCHESTRATOR_LINE);
  assert.equal(r.error, undefined, r.err);
  assert.equal(r.opts.aiModels, "/root/.lpData/aiModels.json");
  assert.equal(r.opts.dataDir, "/root/.lpData");
  assert.equal(r.opts.logLevel, "debug");
  assert.deepEqual(r.opts.serviceAddr, { host: "0.0.0.0", port: 8935 });
  const warnings = r.err.trim().split("\n");
  assert.deepEqual(
    warnings.map(
      (w) => /^warning: (\S+) is a go-livepeer flag with no meaning here \(.+\); ignored$/.exec(w)?.[1],
    ),
    ["-transcoder", "-nvidia", "-aiModelsDir", "-monitor", "-autoAdjustPrice"],
  );
});

test("--strict-flags refuses the go-livepeer flags with no meaning here, all in one message", () => {
  const r = parse(orchestratorCommand, [...GO_ORCHESTRATOR_LINE, "--strict-flags"]);
  assert.ok(r.error);
  assert.equal(r.error.exitCode, 2);
  for (const flag of ["-transcoder", "-nvidia", "-aiModelsDir", "-monitor", "-autoAdjustPrice"])
    assert.match(r.error.message, new RegExp(`\\n  ${flag}: a go-livepeer flag with no meaning here`));
  assert.match(r.error.message, /^error: 5 options not accepted/);
});

test("every unknown flag is reported at once, with the kebab-case spelling when it exists", () => {
  const r = parse(orchestratorCommand, [
    "-foo",
    "-bar",
    "3",
    "--serviceAddr2",
    "x",
    "--max-job-timeout",
    "5",
    "-pricePerUnitt=1",
    "--orchSecrt",
  ]);
  assert.ok(r.error);
  assert.equal(r.error.exitCode, 2);
  const lines = r.error.message.split("\n").slice(1);
  assert.deepEqual(lines, [
    "  -foo: unknown",
    "  -bar: unknown",
    "  --serviceAddr2: unknown",
    "  -pricePerUnitt: unknown",
    "  --orchSecrt: unknown",
  ]);
  const g = parse(gatewayCommand, [
    "--orchAddr2",
    "x",
    "-maxPricePerUnit",
    "1",
    "--max-price-per-capabilit",
    "{}",
  ]);
  assert.match(g.error?.message ?? "", /2 options not accepted by tributary gateway/);
  // The hint names our flag when only the spelling differs.
  const h = parse(gatewayCommand, ["--maxTicketsPerPayment", "3"]);
  assert.match(
    h.error?.message ?? "",
    /--maxTicketsPerPayment: unknown \(did you mean --max-tickets-per-payment\?\)/,
  );
});

test("-datadir (go-livepeer's spelling) and -dataDir both set --data-dir; -v maps to a log level", () => {
  for (const aliases of [GO_FLAG_ALIASES, GATEWAY_GO_FLAG_ALIASES]) {
    assert.deepEqual(scanGoFlags(["-datadir", "/d"], aliases).args, ["--data-dir", "/d"]);
    assert.deepEqual(scanGoFlags(["-dataDir=/d"], aliases).args, ["--data-dir=/d"]);
    assert.deepEqual(scanGoFlags(["-v=99"], aliases).args, ["--log-level", "trace"]);
  }
  assert.deepEqual(["0", "3", "4", "6", "7"].map(verbosityToLogLevel), [
    "info",
    "info",
    "debug",
    "debug",
    "trace",
  ]);
  assert.throws(() => verbosityToLogLevel("loud"));
  // An ignored flag takes its value with it, in both spellings; a boolean one takes none.
  assert.deepEqual(
    scanGoFlags(
      ["-nvidia", "0,1", "-maxSessions=4", "-transcoder", "-serviceAddr", "h:1"],
      GO_FLAG_ALIASES,
      IGNORED_GO_FLAGS,
    ),
    {
      args: ["--service-addr", "h:1"],
      ignored: [
        { flag: "-nvidia", why: IGNORED_GO_FLAGS.nvidia!.why },
        { flag: "-maxSessions", why: IGNORED_GO_FLAGS.maxSessions!.why },
        { flag: "-transcoder", why: IGNORED_GO_FLAGS.transcoder!.why },
      ],
    },
  );
});

test("-selectionAlgorithm is not a go-livepeer flag: not an alias any more", () => {
  assert.equal(Object.hasOwn(GATEWAY_GO_FLAG_ALIASES, "selectionAlgorithm"), false);
  const r = parse(gatewayCommand, ["-selectionAlgorithm", "stake"]);
  assert.match(r.error?.message ?? "", /-selectionAlgorithm: unknown/);
});

test("the legacy -aiModels pipeline:model:warm string gets a hint that a file with URLs is needed", (t) => {
  const hint = legacyAiModelsHint(
    "text-to-image:stabilityai/sd-turbo:true,llm:meta-llama/Llama-3.1-8B:false",
  );
  assert.ok(hint);
  assert.match(hint, /legacy pipeline:model:warm string/);
  assert.match(hint, /"url": "http:\/\/<container>:8000"/);
  assert.match(
    hint,
    /"model_id": "stabilityai\/sd-turbo",\n {4}"url": "http:\/\/<container>:8000",\n {4}"warm": true/,
  );
  const dir = mkdtempSync(join(tmpdir(), "legacy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "aiModels.json");
  writeFileSync(file, "[]");
  assert.equal(legacyAiModelsHint(file), undefined);
  assert.equal(legacyAiModelsHint("./aiModels.json"), undefined);
  assert.equal(legacyAiModelsHint("C:aiModels.json"), undefined);
});

test("-maxPricePerCapability: go-livepeer's JSON inline or in a file, per model or default, divided by pixels_per_unit", (t) => {
  const json = JSON.stringify({
    capabilities_prices: [
      {
        pipeline: "text-to-image",
        model_id: "stabilityai/sd-turbo",
        price_per_unit: 1000,
        pixels_per_unit: 4,
      },
      { pipeline: "text-to-image", model_id: "default", price_per_unit: "2.5", currency: "WEI" },
      { pipeline: "llm", price_per_unit: 7 },
    ],
  });
  const parsed = parseMaxPricePerCapability(json);
  assert.equal(parsed["text-to-image"]?.["stabilityai/sd-turbo"]?.cmp(Rat.of(250n)), 0);
  assert.equal(parsed["text-to-image"]?.default?.cmp(Rat.of(5n, 2n)), 0);
  assert.equal(parsed.llm?.default?.cmp(Rat.of(7n)), 0);
  const dir = mkdtempSync(join(tmpdir(), "maxprice-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "prices.json");
  writeFileSync(file, json);
  assert.deepEqual(parseMaxPricePerCapability(file), parsed);
  for (const [bad, why] of [
    ["{", /not valid JSON/],
    ['{"prices": []}', /capabilities_prices/],
    ['[{"model_id": "m", "price_per_unit": 1}]', /pipeline must be/],
    ['[{"pipeline": "llm", "price_per_unit": 1, "currency": "USD"}]', /only wei/],
    ['[{"pipeline": "llm", "price_per_unit": -1}]', /price_per_unit/],
    ['[{"pipeline": "llm", "price_per_unit": 1, "pixels_per_unit": 1.5}]', /pixels_per_unit/],
    [join(dir, "missing.json"), /JSON or a JSON file/],
  ] as const)
    assert.throws(() => parseMaxPricePerCapability(bad), why, bad);
});

test("the selection flags become startGateway options; weights pick the probability strategy", () => {
  const base = { selectionStrategy: "latency", pixelsPerUnit: 1n } as const;
  assert.deepEqual(selectionOptionsOf(base, false), {
    strategy: "latency",
    strategyWeights: {},
    maxPricePerUnit: undefined,
    selection: {},
  });
  const full = selectionOptionsOf(
    {
      ...base,
      maxPricePerUnit: Rat.of(1000n),
      pixelsPerUnit: 4n,
      ignoreMaxPriceIfNeeded: true,
      minPerfScore: 0.5,
      orchBlocklist: parseBlocklist("0xAA, ,0xbb,"),
      selectStakeWeight: 0.5,
      selectRandWeight: 0.5,
    },
    false,
  );
  assert.equal(full.strategy, "probability");
  assert.deepEqual(full.strategyWeights, { stakeWeight: 0.5, randWeight: 0.5 });
  assert.equal(full.maxPricePerUnit?.cmp(Rat.of(250n)), 0);
  assert.deepEqual(full.selection, {
    ignoreMaxPriceIfNeeded: true,
    minPerfScore: 0.5,
    exclude: ["0xAA", "0xbb"],
  });
  // An explicit --selection-strategy wins over the weights; bad weights are refused for probability.
  assert.equal(selectionOptionsOf({ ...base, selectStakeWeight: 0.7 }, true).strategy, "latency");
  assert.throws(() => selectionOptionsOf({ ...base, selectStakeWeight: 0.9 }, false), /sum to 1/);
  // The go-livepeer spellings parse into these options.
  const r = parse(gatewayCommand, [
    "-orchAddr",
    "h:1",
    "-orchBlocklist",
    "0xaa,0xbb",
    "-minPerfScore",
    "0.8",
    "-ignoreMaxPriceIfNeeded=true",
    "-selectStakeWeight",
    "0.6",
    "-selectRandWeight=0.4",
    "-selectPriceExpFactor",
    "50",
    "-pixelsPerUnit",
    "10",
  ]);
  assert.equal(r.error, undefined, r.err);
  assert.deepEqual(r.opts.orchBlocklist, ["0xaa", "0xbb"]);
  assert.equal(r.opts.minPerfScore, 0.8);
  assert.equal(r.opts.ignoreMaxPriceIfNeeded, true);
  assert.equal(r.opts.selectStakeWeight, 0.6);
  assert.equal(r.opts.selectRandWeight, 0.4);
  assert.equal(r.opts.selectPriceExpFactor, 50);
  assert.equal(r.opts.pixelsPerUnit, 10n);
});
