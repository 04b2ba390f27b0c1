/**
 * Live runners priced in USD on the devnet: the orchestrator reads the devnet's ETH/USD PriceFeed
 * (src/chain/contracts/PriceFeed.sol) through its chain client, so the 402 challenge and discovery
 * carry the wei price the feed gives now; a new answer shows once the reading's refresh interval has
 * passed; a paid session is metered at the wei price it was reserved at; a feed older than its max age
 * refuses USD runners (503 PRICE_FEED_STALE, left out of discovery) while wei-priced runners go on.
 * The feed's clock is the wall clock plus a skew the test moves, so "after the refresh interval"
 * needs no sleeping.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { privateKeyToAccount } from "viem/accounts";
import { setDevnetEthUsd } from "../../src/chain/devnet.ts";
import { PriceFeed } from "../../src/chain/price-feed.ts";
import { startOrchestrator } from "../../src/orchestrator/index.ts";
import { signPayload } from "../../src/payments/signature.ts";
import { OrchestratorInfoSchema } from "../../src/protocol/gen/lp_rpc_pb.ts";
import {
  encodePaymentHeader,
  priceInfoFromWire,
  ticketParamsFromWire,
} from "../../src/protocol/payment-header.ts";
import {
  EMPTY_SEGMENT_HASH,
  encodeSegmentHeader,
  segCredsSigningBytes,
} from "../../src/protocol/segment-header.ts";
import { call, postJson, startTinyRunner } from "../conformance/live-runner-kit.ts";
import { devnetFixture } from "../devnet.ts";
import { until } from "../until.ts";

const E8 = 10n ** 8n;
/** 3.6 USD per hour = 0.001 USD per second. */
const USD_PER_HOUR = "3.6";
/** Whole wei per second of 0.001 USD at `usdPerEth`, computed here independently of the code under test. */
const weiPerSecondAt = (usdPerEth: bigint): bigint => 10n ** 18n / (1000n * usdPerEth);

test("USD-priced live runner on the devnet: 402 and discovery priced from the feed, refresh, metering, stale feed refused", async () => {
  await using net = await devnetFixture({ fundGateway: { deposit: 10n ** 18n, reserve: 10n ** 18n } });
  const payments = await net.orchestratorPayments({ ticketEV: 10n ** 12n });
  let skew = 0;
  const feed = new PriceFeed({
    clients: payments.clients,
    address: net.devnet.priceFeed,
    refreshMs: 60_000,
    maxAgeMs: 600_000,
    now: () => Date.now() + skew,
  });
  const runner = net.use(await startTinyRunner());
  const orch = net.use(
    await startOrchestrator({
      port: 0,
      dataDir: join(net.dir, "orch"),
      orchSecret: "s",
      network: "devnet",
      payments: payments.gate,
      address: payments.address,
      livePaymentIntervalMs: 1000,
      liveRunners: { priceFeed: feed },
    }),
  );
  const o = (path: string) => `${orch.url}${path}`;
  const payer = privateKeyToAccount(net.devnet.accounts.gateway.privateKey);
  const register = async (id: string, price_info: Record<string, unknown>) => {
    const r = await postJson(
      o("/runners/heartbeat"),
      { runner_url: runner.url, app: `app/${id}`, runner_id: id, price_info },
      { authorization: "s" },
    );
    assert.equal(r.status, 200, r.text);
  };
  await register("usd", { price: USD_PER_HOUR, currency: "usd", unit: "hour" });
  await register("wei", { price: 1000, currency: "wei", unit: "seconds" });
  const challenge = (route: string) =>
    call(o(`/apps/${route}/session`), {
      method: "POST",
      headers: { "livepeer-payer-address": payer.address },
    });
  const challengedPrice = async (route: string): Promise<bigint> => {
    const r = await challenge(route);
    assert.equal(r.status, 402, r.text);
    const info = fromBinary(OrchestratorInfoSchema, Buffer.from(r.json().payment_params, "base64"));
    assert.equal(info.priceInfo?.pixelsPerUnit, 1n);
    return info.priceInfo!.pricePerUnit;
  };
  const discovered = async () =>
    new Map<string, unknown>(
      (await call(o("/discovery")))
        .json()[0]
        .runners.map((r: { app: string; price_info?: unknown }) => [r.app, r.price_info]),
    );

  // The devnet feed starts at 3000 USD/ETH.
  assert.equal(await challengedPrice("usd"), weiPerSecondAt(3000n));
  assert.deepEqual((await discovered()).get("app/usd"), {
    price: Number(weiPerSecondAt(3000n)),
    currency: "wei",
    unit: "seconds",
  });

  // A new answer: the cached reading holds until the refresh interval has passed.
  await setDevnetEthUsd(net.devnet, 4000n * E8);
  assert.equal(await challengedPrice("usd"), weiPerSecondAt(3000n), "still the cached reading");
  skew += 60_000;
  assert.equal(
    await challengedPrice("usd"),
    weiPerSecondAt(4000n),
    "the new answer after the refresh interval",
  );
  assert.deepEqual((await discovered()).get("app/usd"), {
    price: Number(weiPerSecondAt(4000n)),
    currency: "wei",
    unit: "seconds",
  });

  // Paid: the session is metered at the wei price it was reserved at (4000 USD/ETH), one second per period.
  const first = await challenge("usd");
  const ch = first.json();
  const info = fromBinary(OrchestratorInfoSchema, Buffer.from(ch.payment_params, "base64"));
  const gw = await net.gatewayPayments({ maxTicketEV: 2n * 10n ** 12n, maxTotalEV: 2n * 10n ** 13n });
  const sender = gw.payments.sender;
  const session = sender.startSession(ticketParamsFromWire(info.ticketParams!));
  const payment = encodePaymentHeader(
    await sender.createPayment(session, 3, priceInfoFromWire(info.priceInfo!)),
  );
  const sig = await signPayload(payer, segCredsSigningBytes(ch.manifest_id, 0n, EMPTY_SEGMENT_HASH));
  const token = info.authToken!;
  const segment = encodeSegmentHeader({
    manifestId: ch.manifest_id,
    seq: 0n,
    hash: EMPTY_SEGMENT_HASH,
    sig,
    durationMs: 0,
    authToken: {
      token: `0x${Buffer.from(token.token).toString("hex")}`,
      sessionId: token.sessionId,
      expiration: token.expiration,
    },
  });
  const paid = await call(o("/apps/usd/session"), {
    method: "POST",
    headers: {
      "livepeer-payer-address": payer.address,
      "livepeer-payment": payment,
      "livepeer-segment": segment,
    },
  });
  assert.equal(paid.status, 200, paid.text);
  assert.equal(paid.json().session_id, ch.manifest_id);
  const credited = payments.gate.balance(payer.address, ch.manifest_id);
  assert.ok(credited.cmp(0n) > 0, "the tickets were credited");
  await until(
    "a metering period",
    () => payments.gate.balance(payer.address, ch.manifest_id).cmp(credited) < 0,
    10_000,
  );
  const charged = credited.sub(payments.gate.balance(payer.address, ch.manifest_id));
  assert.equal(charged.den, 1n);
  assert.ok(charged.num >= weiPerSecondAt(4000n));
  assert.equal(charged.num % weiPerSecondAt(4000n), 0n, "whole periods of the reserved wei price");

  // Stale: an answer last updated two hours ago (max age 10 min) refuses USD, not wei.
  const now = BigInt(Math.floor(Date.now() / 1000));
  await setDevnetEthUsd(net.devnet, 4000n * E8, now - 7200n);
  skew += 60_000;
  const stale = await challenge("usd");
  assert.equal(stale.status, 503, stale.text);
  assert.equal(stale.json().error.code, "PRICE_FEED_STALE");
  assert.match(stale.json().error.message, /last updated 2\.0 h ago .*--price-feed-max-age 10\.0 min/);
  const listed = await discovered();
  assert.equal(listed.has("app/usd"), false, "an unpriceable runner is left out of discovery");
  assert.deepEqual(listed.get("app/wei"), { price: 1000, currency: "wei", unit: "seconds" });
  assert.equal(await challengedPrice("wei"), 1000n, "wei prices need no feed");

  // Fresh again: sold again.
  await setDevnetEthUsd(net.devnet, 2000n * E8);
  skew += 60_000;
  assert.equal(await challengedPrice("usd"), weiPerSecondAt(2000n));
});
