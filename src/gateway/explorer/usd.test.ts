import assert from "node:assert/strict";
import { test } from "node:test";
import { PriceFeedStaleError } from "../../chain/price-feed.ts";
import { Rat } from "../../payments/rational.ts";
import { UsdPerEthCache } from "./usd.ts";

test("the USD/ETH cache keeps the last good reading and shows none while the feed is stale", async () => {
  let answer: () => Rat = () => Rat.of(314159n, 100n);
  const errors: unknown[] = [];
  using cache = new UsdPerEthCache(
    { ethUsd: async () => ({ usdPerEth: answer(), updatedAtMs: 0, roundId: 1n }) },
    { refreshMs: 60_000, onError: (e) => errors.push(e) },
  );
  await cache.refresh();
  assert.equal(cache.read(), 3141.59);
  assert.equal(cache.problem, undefined);
  answer = () => {
    throw new PriceFeedStaleError("the ETH/USD price feed was last updated 2.0 h ago");
  };
  await cache.refresh();
  assert.equal(cache.read(), undefined, "never an old figure");
  assert.match(cache.problem ?? "", /last updated 2\.0 h ago/);
  assert.ok(errors[0] instanceof PriceFeedStaleError);
  answer = () => Rat.of(3000n);
  await cache.refresh();
  assert.equal(cache.read(), 3000);
});
