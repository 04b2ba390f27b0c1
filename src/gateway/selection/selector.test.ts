import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TributaryError } from "../../node/errors.ts";
import { Rat } from "../../payments/rational.ts";
import { failureCauseOf } from "../orch-http.ts";
import { descriptorOf, SELECTION_CASES, type SelectionCase, urlOf } from "./cases.ts";
import {
  DEFAULT_PROBABILITY_WEIGHTS,
  selectByProbability,
  selectionProbabilities,
  validateWeights,
} from "./probability.ts";
import { seededRandom } from "./random.ts";
import { failureAction, MAX_SAME_SESSION_TRIES } from "./retry.ts";
import { createSelector } from "./selector.ts";
import {
  probabilityStrategy,
  STRATEGY_NAMES,
  type StrategyName,
  stakeStrategy,
  strategyByName,
} from "./strategies.ts";
import { AI_SESSION_PENALTY, Suspender } from "./suspender.ts";

const SEEDS = [1, 2, 3, 42, 1234];
const keyOf = (url: string) => new URL(url).hostname;

function runCase(c: SelectionCase, strategy: StrategyName, seed: number) {
  const suspender = new Suspender();
  for (const [key, penalty] of Object.entries(c.suspended ?? {})) suspender.suspend(urlOf(key), penalty);
  const selector = createSelector({
    ...c.config,
    strategy: strategyByName(strategy),
    random: seededRandom(seed),
    suspender,
  });
  const result = selector.select(c.orchestrators.map(descriptorOf), {
    pipeline: "text-to-image",
    modelId: "m",
    ...c.request,
  });
  const ranked = result.ranked.map((s) => keyOf(s.descriptor.transcoder));
  const where = `${c.name} [${strategy}, seed ${seed}]`;
  const e = c.expect;
  if (e.set) assert.deepEqual([...ranked].sort(), [...e.set].sort(), where);
  if (e.order) assert.deepEqual(ranked, e.order, where);
  if (e.tiers) {
    let at = 0;
    for (const tier of e.tiers) {
      assert.deepEqual(ranked.slice(at, at + tier.length).sort(), [...tier].sort(), `${where}: tier ${tier}`);
      at += tier.length;
    }
    assert.equal(ranked.length, at, `${where}: nothing after the last tier`);
  }
  if (e.rejected) {
    const got = Object.fromEntries(result.rejected.map((r) => [keyOf(r.transcoder), r.code]));
    assert.deepEqual(got, e.rejected, where);
  }
  // Invariants for every case: ranked and rejected are disjoint and nobody is lost.
  const rejected = new Set(result.rejected.map((r) => keyOf(r.transcoder)));
  assert.ok(
    ranked.every((k) => !rejected.has(k)),
    `${where}: ranked and rejected overlap`,
  );
  const distinct = new Set(c.orchestrators.map((o) => o.key));
  assert.equal(
    ranked.length + rejected.size,
    distinct.size,
    `${where}: every orchestrator is ranked or rejected`,
  );
}

describe("selection case table", () => {
  for (const c of SELECTION_CASES) {
    for (const strategy of c.strategies ?? STRATEGY_NAMES) {
      test(`${c.name} [${strategy}]`, () => {
        for (const seed of SEEDS) runCase(c, strategy, seed);
      });
    }
  }
});

describe("ProbabilitySelectionAlgorithm maths (docs/spec/orchestrator-gateway.md#probability-selection)", () => {
  test("probabilities combine stake share, normalised price weight and a uniform term", () => {
    const w = { stakeWeight: 0.5, priceWeight: 0.3, randWeight: 0.2, priceExpFactor: 100 };
    const probs = selectionProbabilities(
      [
        { stake: 1n, price: Rat.of(0n) },
        { stake: 3n, price: Rat.of(100n) },
      ],
      w,
    );
    const e0 = Math.exp(0);
    const e1 = Math.exp(-1);
    const expected = [
      0.3 * (e0 / (e0 + e1)) + 0.5 * (1 / 4) + 0.2 * 0.5,
      0.3 * (e1 / (e0 + e1)) + 0.5 * (3 / 4) + 0.2 * 0.5,
    ];
    for (const [i, p] of probs.entries())
      assert.ok(Math.abs(p - (expected[i] as number)) < 1e-12, `${p} vs ${expected[i]}`);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });

  test("a zero stake sum gives the stake term its full weight for everyone (upstream's 1.0)", () => {
    const probs = selectionProbabilities(
      [
        { stake: 0n, price: undefined },
        { stake: 0n, price: undefined },
      ],
      DEFAULT_PROBABILITY_WEIGHTS,
    );
    assert.deepEqual(
      probs.map((p) => Math.round(p * 1e9) / 1e9),
      [0.85, 0.85],
    );
  });

  test("selectBy returns the first index whose cumulative probability reaches r", () => {
    assert.equal(selectByProbability([0.2, 0.5, 0.3], 0), 0);
    assert.equal(selectByProbability([0.2, 0.5, 0.3], 0.2), 0);
    assert.equal(selectByProbability([0.2, 0.5, 0.3], 0.21), 1);
    assert.equal(selectByProbability([0.2, 0.5, 0.3], 0.71), 2);
    assert.equal(selectByProbability([0.2, 0.5, 0.2], 0.95), 0, "round-off falls back to the first");
    assert.equal(selectByProbability([], 0.5), -1);
  });

  test("weights must sum to 1 and be non-negative", () => {
    validateWeights(DEFAULT_PROBABILITY_WEIGHTS);
    assert.throws(() => probabilityStrategy({ stakeWeight: 0.7, randWeight: 0.4 }), /sum to 1/);
    assert.throws(() => probabilityStrategy({ stakeWeight: -0.1, randWeight: 1.1 }), />= 0/);
    assert.throws(() => strategyByName("fastest"), /unknown selection strategy/);
  });

  test("the first pick follows the stake distribution (seeded, 10 000 draws)", () => {
    const orchs = [
      descriptorOf({ key: "a", stake: 1n, ethAddress: "0x00000000000000000000000000000000000000aa" }),
      descriptorOf({ key: "b", stake: 3n, ethAddress: "0x00000000000000000000000000000000000000bb" }),
    ];
    const selector = createSelector({ strategy: stakeStrategy(), random: seededRandom(7) });
    let b = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++)
      if (
        selector.select(orchs, { pipeline: "text-to-image", modelId: "m" }).ranked[0]?.descriptor
          .transcoder === urlOf("b")
      )
        b++;
    assert.ok(Math.abs(b / n - 0.75) < 0.025, `b picked ${b / n}`);
  });

  test("default weights: 0.7 × stake share + 0.3 × uniform (seeded, 10 000 draws)", () => {
    const orchs = [
      descriptorOf({ key: "a", stake: 0n, ethAddress: "0x00000000000000000000000000000000000000aa" }),
      descriptorOf({ key: "b", stake: 5n, ethAddress: "0x00000000000000000000000000000000000000bb" }),
    ];
    const selector = createSelector({ strategy: probabilityStrategy(), random: seededRandom(11) });
    let a = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++)
      if (
        selector.select(orchs, { pipeline: "text-to-image", modelId: "m" }).ranked[0]?.descriptor
          .transcoder === urlOf("a")
      )
        a++;
    assert.ok(Math.abs(a / n - 0.15) < 0.025, `a picked ${a / n}`);
  });

  test("nodes sharing an address split its stake instead of multiplying it", () => {
    const shared = "0x00000000000000000000000000000000000000aa" as const;
    const orchs = [
      descriptorOf({ key: "a1", stake: 1n, ethAddress: shared }),
      descriptorOf({ key: "a2", stake: 1n, ethAddress: shared }),
      descriptorOf({ key: "b", stake: 1n, ethAddress: "0x00000000000000000000000000000000000000bb" }),
    ];
    const selector = createSelector({ strategy: stakeStrategy(), random: seededRandom(5) });
    let b = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++)
      if (
        selector.select(orchs, { pipeline: "text-to-image", modelId: "m" }).ranked[0]?.descriptor
          .transcoder === urlOf("b")
      )
        b++;
    assert.ok(Math.abs(b / n - 0.5) < 0.025, `b picked ${b / n}`);
  });

  test("the same seed gives the same ranking", () => {
    const orchs = ["a", "b", "c", "d", "e"].map((key) => descriptorOf({ key }));
    const rank = (seed: number) =>
      createSelector({ strategy: probabilityStrategy(), random: seededRandom(seed) })
        .select(orchs, { pipeline: "text-to-image", modelId: "m" })
        .ranked.map((s) => s.descriptor.transcoder);
    assert.deepEqual(rank(99), rank(99));
    assert.notDeepEqual(
      [1, 2, 3, 4, 5].map((s) => rank(s).join()),
      [1, 1, 1, 1, 1].map((s) => rank(s).join()),
    );
  });
});

describe("selector details", () => {
  test("maxPriceFor: per model, else the pipeline default, else global", () => {
    const s = createSelector({
      strategy: stakeStrategy(),
      maxPricePerUnit: Rat.of(9n),
      maxPricePerCapability: { llm: { default: Rat.of(2n), x: Rat.of(1n) } },
    });
    assert.equal(s.maxPriceFor("llm", "x")?.toString(), "1");
    assert.equal(s.maxPriceFor("llm", "y")?.toString(), "2");
    assert.equal(s.maxPriceFor("upscale", "y")?.toString(), "9");
  });

  test("each selected orchestrator carries its offer and exact price", () => {
    const s = createSelector({ strategy: stakeStrategy(), random: seededRandom(1) });
    const [sel] = s.select(
      [descriptorOf({ key: "a", price: [3n, 2n], models: { m: { warm: true, capacity: 4, inUse: 1 } } })],
      {
        pipeline: "text-to-image",
        modelId: "m",
      },
    ).ranked;
    assert.equal(sel?.price?.perUnit.toString(), "3/2");
    assert.equal(sel?.offer.capacity, 4);
    assert.equal(sel?.offer.warm, true);
  });
});

describe("Suspender (count-based, decays per refresh)", () => {
  test("a suspension lasts penalty refreshes and then expires", () => {
    const s = new Suspender();
    s.suspend("o", AI_SESSION_PENALTY);
    assert.equal(s.penalty("o"), 3);
    for (let i = 0; i < AI_SESSION_PENALTY; i++) {
      assert.ok(s.isSuspended("o"), `still suspended after ${i} refreshes`);
      s.signalRefresh();
    }
    assert.ok(s.isSuspended("o"), "upstream keeps it while the count equals the end");
    s.signalRefresh();
    assert.equal(s.penalty("o"), 0);
    assert.deepEqual(s.entries(), []);
  });

  test("a repeated suspension restarts the penalty from the current refresh", () => {
    const s = new Suspender();
    s.suspend("o", 3);
    s.signalRefresh();
    s.signalRefresh();
    s.suspend("o", 3);
    assert.equal(s.penalty("o"), 5);
  });

  test("later suspensions have larger penalties, so earlier ones are tried first; release lifts one", () => {
    const s = new Suspender();
    s.suspend("a", 3);
    s.signalRefresh();
    s.suspend("b", 3);
    assert.ok(s.penalty("a") < s.penalty("b"));
    s.release("a");
    assert.equal(s.penalty("a"), 0);
    assert.deepEqual(s.entries(), [["b", 4]]);
  });
});

describe("retry classification (docs/spec/orchestrator-gateway.md#suspension-and-retries)", () => {
  test("expired ticket params retry the same orchestrator, up to the same-session limit", () => {
    assert.equal(failureAction(failureCauseOf("TicketParams expired")), "refresh-and-retry");
    assert.equal(failureAction(failureCauseOf("ticketparams expired"), MAX_SAME_SESSION_TRIES), "switch");
  });
  test("nonce reuse and no capacity switch without suspending; anything else suspends", () => {
    assert.equal(failureAction(failureCauseOf("invalid ticket senderNonce sender=0x… nonce=3")), "switch");
    assert.equal(failureAction(failureCauseOf("insufficient capacity")), "switch");
    assert.equal(failureAction(failureCauseOf("runner crashed")), "suspend");
  });
  test("the cause comes from our typed errors' codes and from the one expired-params recognizer", () => {
    const ours = new TributaryError("TICKET_EXPIRED", "fetch fresh params", { status: 400 });
    assert.equal(failureCauseOf(ours), "ticket-params-expired");
    // our orchestrators' answer: code TICKET_EXPIRED, "ticket params" with a space
    const answer = '{"error":{"code":"TICKET_EXPIRED","message":"ticket params expired at L1 block 9"}}';
    assert.equal(failureCauseOf(answer), "ticket-params-expired");
    assert.equal(failureCauseOf(new Error(`HTTP 500: ${answer}`)), "ticket-params-expired");
    assert.equal(failureCauseOf(new TributaryError("BAD_REQUEST", "expired", { status: 400 })), "other");
    assert.equal(failureCauseOf(undefined), "other");
  });
});
