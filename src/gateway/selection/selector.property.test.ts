import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Rat } from "../../payments/rational.ts";
import { descriptorOf, type OrchSpec } from "./cases.ts";
import { seededRandom } from "./random.ts";
import { createSelector } from "./selector.ts";
import { STRATEGY_NAMES, strategyByName } from "./strategies.ts";
import { Suspender } from "./suspender.ts";

const specArb: fc.Arbitrary<OrchSpec> = fc.record({
  key: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h"),
  models: fc.option(
    fc.dictionary(
      fc.constantFrom("m", "n"),
      fc.record({ warm: fc.boolean(), capacity: fc.nat(3), inUse: fc.nat(3) }),
    ),
    { nil: undefined },
  ),
  price: fc.option(fc.tuple(fc.bigInt(0n, 50n), fc.bigInt(1n, 5n)), { nil: null }),
  latencyMs: fc.nat(100),
  stake: fc.bigInt(0n, 1000n),
}) as fc.Arbitrary<OrchSpec>;

test("for any orchestrators and settings: ranked and rejected partition the input, and the tiers and max price hold", () => {
  fc.assert(
    fc.property(
      fc.array(specArb, { maxLength: 8 }),
      fc.constantFrom(...STRATEGY_NAMES),
      fc.option(fc.bigInt(0n, 40n), { nil: undefined }),
      fc.boolean(),
      fc.subarray(["a", "b", "c", "d"]),
      fc.integer(),
      (specs, strategy, max, ignoreMax, suspendedKeys, seed) => {
        const suspender = new Suspender();
        for (const k of suspendedKeys) suspender.suspend(`https://${k}:8935`, 3);
        const maxPricePerUnit = max === undefined ? undefined : Rat.of(max);
        const selector = createSelector({
          strategy: strategyByName(strategy),
          random: seededRandom(seed),
          suspender,
          maxPricePerUnit,
          ignoreMaxPriceIfNeeded: ignoreMax,
        });
        const { ranked, rejected } = selector.select(specs.map(descriptorOf), {
          pipeline: "text-to-image",
          modelId: "m",
        });
        const rankedKeys = ranked.map((s) => s.descriptor.transcoder);
        const rejectedKeys = rejected.map((r) => r.transcoder);
        const distinct = new Set(specs.map((s) => `https://${s.key}:8935`));
        assert.equal(new Set(rankedKeys).size, rankedKeys.length, "no duplicates");
        assert.deepEqual(new Set([...rankedKeys, ...rejectedKeys]), distinct, "nobody lost");
        assert.equal(rankedKeys.length + rejectedKeys.length, distinct.size, "disjoint");
        // Tier order: unsuspended warm, unsuspended cold, suspended.
        const tier = (s: (typeof ranked)[number]) => (s.suspension > 0 ? 2 : s.offer.warm ? 0 : 1);
        for (let i = 1; i < ranked.length; i++)
          assert.ok(
            tier(ranked[i - 1] as (typeof ranked)[number]) <= tier(ranked[i] as (typeof ranked)[number]),
          );
        if (maxPricePerUnit && !ignoreMax)
          for (const s of ranked)
            assert.ok(s.price && s.price.perUnit.cmp(maxPricePerUnit) <= 0, "within the max price");
        for (const s of ranked) assert.ok(s.offer.capacity === 0 || s.offer.capacityInUse < s.offer.capacity);
      },
    ),
    { numRuns: 300, seed: 20261127 },
  );
});
