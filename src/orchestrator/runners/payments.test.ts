import assert from "node:assert/strict";
import { test } from "node:test";
import { type EthUsdSource, PriceFeedStaleError } from "../../chain/price-feed.ts";
import { Rat } from "../../payments/rational.ts";
import { parseAdvert } from "./config.ts";
import { discoveryPriceInfo, quoteRunnerPrice, unitsPerSecond, weiPrice } from "./payments.ts";

const base = { runner_url: "http://10.0.0.2:8080/", app: "a/b" };
const priceOf = (price_info: Record<string, unknown>) => parseAdvert({ ...base, price_info }, "usd").price!;
const at = (usd: bigint): EthUsdSource => ({
  ethUsd: async () => ({ usdPerEth: Rat.of(usd), updatedAtMs: 0, roundId: 1n }),
});

test("weiPrice: go-livepeer's conversions, rounded down (10 usd/hour and 10 usd/720p at 2000 USD/ETH)", () => {
  // 10 USD at 2000 USD/ETH is 5e15 wei; per hour → per second; per 720p hour → per 720p30 pixel.
  assert.deepEqual(weiPrice(priceOf({ price: 10 }), Rat.of(2000n)), {
    wei: 5_000_000_000_000_000n / 3600n,
    unit: "seconds",
  });
  assert.deepEqual(weiPrice(priceOf({ price: 10, unit: "720p" }), Rat.of(2000n)), {
    wei: 5_000_000_000_000_000n / (3600n * 1280n * 720n * 30n),
    unit: "720p-pixel-seconds",
  });
  assert.deepEqual(weiPrice(priceOf({ price: "0.001", unit: "fixed" }), Rat.of(2000n)), {
    wei: 500_000_000_000n,
    unit: "fixed",
  });
  // An odd ETH/USD with cents: exact, then floored once.
  assert.deepEqual(
    weiPrice(priceOf({ price: 3.5, unit: "hour" }), Rat.parse("3012.34")).wei,
    (35n * 10n ** 18n * 100n) / (10n * 3600n * 301234n),
  );
  // Wei prices need no feed.
  assert.deepEqual(
    weiPrice(
      parseAdvert({ ...base, price_info: { price: 7200, currency: "wei", unit: "hour" } }, true).price!,
    ),
    {
      wei: 2n,
      unit: "seconds",
    },
  );
  assert.throws(() => weiPrice(priceOf({ price: 1 })), RangeError, "a USD price needs ETH/USD");
  assert.throws(() => weiPrice(priceOf({ price: "0.0000001", unit: "720p" }), Rat.of(3000n)), {
    code: "PRICE_BELOW_ONE_WEI",
    status: 503,
    message: /0.0000001 usd\/720p is less than one wei per 720p-pixel-seconds at 3000.00 USD\/ETH/,
  });
});

test("quoteRunnerPrice follows the feed, refuses without one, and passes the feed's typed errors on", async () => {
  const hourly = priceOf({ price: 36 });
  assert.equal((await quoteRunnerPrice(hourly, at(3000n))).wei, 10n ** 18n / 300_000n);
  assert.equal((await quoteRunnerPrice(hourly, at(4000n))).wei, 10n ** 18n / 400_000n);
  await assert.rejects(quoteRunnerPrice(hourly, undefined), {
    code: "PRICE_FEED_UNAVAILABLE",
    status: 503,
    message: /no ETH\/USD price feed/,
  });
  const stale: EthUsdSource = {
    ethUsd: async () => {
      throw new PriceFeedStaleError("stale");
    },
  };
  await assert.rejects(quoteRunnerPrice(hourly, stale), { code: "PRICE_FEED_STALE" });
  const wei = parseAdvert({ ...base, price_info: { price: 5, currency: "wei" } }, true).price!;
  assert.deepEqual(
    await quoteRunnerPrice(wei, stale),
    { wei: 5n, unit: "seconds" },
    "wei prices ignore the feed",
  );
});

test("charged units per second and the discovery shape", () => {
  assert.equal(unitsPerSecond("seconds"), 1n);
  assert.equal(unitsPerSecond("720p-pixel-seconds"), 27_648_000n);
  assert.deepEqual(discoveryPriceInfo({ wei: 12n, unit: "720p-pixel-seconds" }), {
    price: 12,
    currency: "wei",
    unit: "720p-pixel-seconds",
  });
  assert.equal(discoveryPriceInfo({ wei: 2n ** 60n, unit: "seconds" }).price, (2n ** 60n).toString());
});
