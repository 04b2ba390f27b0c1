import assert from "node:assert/strict";
import { test } from "node:test";
import { Rat } from "../payments/rational.ts";
import { ARBITRUM_ONE_ETH_USD_FEED } from "./addresses.ts";
import { DEVNET_PRICE_FEED_ADDRESS } from "./devnet.ts";
import { checkRound, defaultPriceFeedAddress, PriceFeed, usdToWei } from "./price-feed.ts";

const FEED = "0x00000000000000000000000000000000000000fe";
const T0 = 1_800_000_000_000;

/** A fake public client answering the aggregator's three reads, counting them. */
function fakeFeed(state: { answer: bigint; updatedAt: bigint; description?: string; fail?: Error }) {
  const reads = { latest: 0, decimals: 0, calls: 0 };
  let round = 0n;
  const publicClient = {
    readContract: async ({ functionName }: { functionName: string }) => {
      reads.calls++;
      await Promise.resolve();
      if (state.fail) throw state.fail;
      if (functionName === "decimals") {
        reads.decimals++;
        return 8;
      }
      if (functionName === "description") return state.description ?? "ETH / USD";
      reads.latest++;
      round++;
      return [round, state.answer, state.updatedAt, state.updatedAt, round] as const;
    },
  };
  return { clients: { publicClient } as never, reads };
}

test("usdToWei is exact: USD × 10^18 / (USD per ETH)", () => {
  assert.deepEqual(usdToWei(Rat.of(1n), Rat.of(3000n)), Rat.of(10n ** 18n, 3000n));
  assert.deepEqual(usdToWei(Rat.parse("3.5"), Rat.parse("2000.5")), Rat.of(35n * 10n ** 18n, 20005n));
  assert.throws(() => usdToWei(Rat.of(1n), Rat.ZERO), RangeError);
});

test("checkRound: answer / 10^decimals; <= 0 unavailable, older than the max age stale", () => {
  const now = T0;
  const fresh = { roundId: 7n, answer: 300012345678n, updatedAt: BigInt(now / 1000 - 60) };
  const p = checkRound(fresh, 8, now, 3_600_000);
  assert.deepEqual(p.usdPerEth, Rat.of(300012345678n, 10n ** 8n));
  assert.equal(p.updatedAtMs, now - 60_000);
  assert.equal(p.roundId, 7n);
  assert.throws(() => checkRound({ ...fresh, answer: 0n }, 8, now, 3_600_000), {
    code: "PRICE_FEED_UNAVAILABLE",
    status: 503,
  });
  assert.throws(() => checkRound({ ...fresh, answer: -5n }, 8, now, 3_600_000), {
    code: "PRICE_FEED_UNAVAILABLE",
  });
  assert.throws(() => checkRound({ ...fresh, updatedAt: 0n }, 8, now, 3_600_000), {
    code: "PRICE_FEED_UNAVAILABLE",
  });
  assert.throws(() => checkRound(fresh, 8, now, 30_000), {
    code: "PRICE_FEED_STALE",
    status: 503,
    message: /last updated 60 s ago .*--price-feed-max-age 30 s/,
  });
  assert.throws(() => checkRound(fresh, 8, now, 59_999), { code: "PRICE_FEED_STALE" });
  assert.equal(checkRound(fresh, 8, now, 60_000).roundId, 7n, "exactly the max age is still fresh");
});

test("PriceFeed caches a reading for the refresh interval and re-checks its age on every use", async () => {
  let now = T0;
  const state = { answer: 3000n * 10n ** 8n, updatedAt: BigInt(T0 / 1000) };
  const { clients, reads } = fakeFeed(state);
  const feed = new PriceFeed({ clients, address: FEED, refreshMs: 60_000, maxAgeMs: 90_000, now: () => now });
  const [a, b] = await Promise.all([feed.ethUsd(), feed.ethUsd()]);
  assert.deepEqual(a.usdPerEth, Rat.of(3000n));
  assert.equal(a, b, "concurrent reads share one");
  assert.deepEqual([reads.latest, reads.decimals], [1, 1]);
  state.answer = 4000n * 10n ** 8n;
  now += 59_000;
  assert.deepEqual((await feed.ethUsd()).usdPerEth, Rat.of(3000n), "cached within the refresh interval");
  assert.equal(reads.latest, 1);
  now += 1000;
  state.updatedAt = BigInt(now / 1000);
  assert.deepEqual((await feed.ethUsd()).usdPerEth, Rat.of(4000n), "read again after it");
  assert.deepEqual([reads.latest, reads.decimals], [2, 1], "decimals are read once");
  // The cached reading ages past the max age before the next refresh: refused without a read.
  const slow = new PriceFeed({
    clients,
    address: FEED,
    refreshMs: 3_600_000,
    maxAgeMs: 90_000,
    now: () => now,
  });
  await slow.ethUsd();
  const before = reads.latest;
  now += 91_000;
  await assert.rejects(slow.ethUsd(), { code: "PRICE_FEED_STALE" });
  assert.equal(reads.latest, before);
});

test("PriceFeed fails closed: stale, <= 0, wrong pair, unreadable (a cached reading bridges a failed refresh)", async () => {
  let now = T0;
  const state: { answer: bigint; updatedAt: bigint; description?: string; fail?: Error } = {
    answer: 3000n * 10n ** 8n,
    updatedAt: BigInt(T0 / 1000 - 7200),
  };
  const { clients } = fakeFeed(state);
  const feed = () =>
    new PriceFeed({ clients, address: FEED, refreshMs: 0, maxAgeMs: 3_600_000, now: () => now });
  await assert.rejects(feed().ethUsd(), { code: "PRICE_FEED_STALE", message: new RegExp(FEED) });
  state.updatedAt = BigInt(T0 / 1000);
  state.answer = 0n;
  await assert.rejects(feed().ethUsd(), { code: "PRICE_FEED_UNAVAILABLE", message: /answers 0/ });
  state.answer = 3000n * 10n ** 8n;
  state.description = "BTC / USD";
  await assert.rejects(feed().ethUsd(), {
    code: "PRICE_FEED_UNAVAILABLE",
    message: /"BTC \/ USD", not "ETH \/ USD"/,
  });
  state.description = undefined;
  state.fail = new Error("connect ECONNREFUSED 127.0.0.1:1\nmore");
  await assert.rejects(feed().ethUsd(), {
    code: "PRICE_FEED_UNAVAILABLE",
    message: /cannot read .*ECONNREFUSED 127.0.0.1:1; check --price-feed-addr and --eth-url$/,
  });
  state.fail = undefined;
  const f = feed();
  await f.ethUsd();
  state.fail = new Error("timeout");
  now += 1000;
  assert.deepEqual(
    (await f.ethUsd()).usdPerEth,
    Rat.of(3000n),
    "the cached reading while within the max age",
  );
  now += 3_600_000;
  await assert.rejects(f.ethUsd(), { code: "PRICE_FEED_STALE" }, "not past it");
});

test("PriceFeed answers a failed read again for min(refresh, 5 s) without reading", async () => {
  let now = T0;
  const state = {
    answer: 3000n * 10n ** 8n,
    updatedAt: BigInt(T0 / 1000),
    fail: new Error("down") as Error | undefined,
  };
  const { clients, reads } = fakeFeed(state);
  const feed = new PriceFeed({ clients, address: FEED, refreshMs: 60_000, now: () => now });
  await assert.rejects(feed.ethUsd(), { code: "PRICE_FEED_UNAVAILABLE" });
  const calls = reads.calls;
  state.fail = undefined;
  now += 4999;
  await assert.rejects(feed.ethUsd(), { code: "PRICE_FEED_UNAVAILABLE" });
  assert.equal(reads.calls, calls, "no read while the failure is recent");
  now += 1;
  assert.deepEqual((await feed.ethUsd()).usdPerEth, Rat.of(3000n), "read again after 5 s");
});

test("default feeds: Chainlink's ETH/USD on Arbitrum One (go-livepeer's -priceFeedAddr default), ours on the devnet", () => {
  assert.equal(ARBITRUM_ONE_ETH_USD_FEED, "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612");
  assert.equal(defaultPriceFeedAddress("arbitrum-one"), ARBITRUM_ONE_ETH_USD_FEED);
  assert.equal(defaultPriceFeedAddress("devnet"), DEVNET_PRICE_FEED_ADDRESS);
  assert.throws(
    () =>
      new PriceFeed({ clients: fakeFeed({ answer: 1n, updatedAt: 1n }).clients, address: FEED, maxAgeMs: 0 }),
    RangeError,
  );
});
