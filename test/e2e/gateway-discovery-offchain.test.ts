/**
 * Offchain discovery end to end: a webhook lists fake gRPC orchestrators (TLS, self-signed) — one
 * warm, one cold and cheaper, one that refuses, one unreachable. The pool refreshes in the background
 * over real gRPC; the selector applies price limits and warm-first; a suspension decays with the
 * pool's refreshes; closing everything leaves no handle open.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../../src/gateway/capabilities.ts";
import {
  createGrpcOrchestratorClient,
  discoverySourceFromConfig,
  type GrpcOrchestratorClient,
  OrchestratorPool,
  type PoolEvent,
} from "../../src/gateway/discovery/index.ts";
import { type FakeOrchestrator, startFakeOrchestrator } from "../../src/gateway/discovery/testing.ts";
import {
  createSelector,
  latencyStrategy,
  Suspender,
  seededRandom,
} from "../../src/gateway/selection/index.ts";
import { Rat } from "../../src/payments/rational.ts";
import { until } from "../until.ts";

const MODEL = "stabilityai/sd-turbo";

function info(url: string, warm: boolean, price: bigint) {
  return {
    transcoder: url,
    address: new Uint8Array(20).fill(warm ? 1 : 2),
    priceInfo: { pricePerUnit: 0n, pixelsPerUnit: 1n },
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      constraints: {
        PerCapability: { [CAPABILITY.TextToImage]: { models: { [MODEL]: { warm, capacity: 2 } } } },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: MODEL, pricePerUnit: price, pixelsPerUnit: 1n },
    ],
  };
}

describe("gateway discovery offchain (webhook + gRPC fakes)", () => {
  let warm: FakeOrchestrator;
  let cheap: FakeOrchestrator;
  let refusing: FakeOrchestrator;
  let webhook: Server;
  let webhookUrl: string;
  let grpc: GrpcOrchestratorClient;

  before(async () => {
    warm = await startFakeOrchestrator((_r, { url }) => info(url, true, 5n));
    cheap = await startFakeOrchestrator((_r, { url }) => info(url, false, 1n));
    refusing = await startFakeOrchestrator(() => {
      throw new ConnectError("Invalid orchestrator request: no capacity", Code.Unknown);
    });
    const list = [warm.url, cheap.url, refusing.url.replace("https://", ""), "127.0.0.1:1"].map(
      (address) => ({
        address,
        score: 1,
      }),
    );
    webhook = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(list));
    });
    await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/orchestrators`;
    grpc = createGrpcOrchestratorClient({ connectTimeoutMs: 1_000 });
  });

  after(async () => {
    grpc?.close();
    for (const o of [warm, cheap, refusing]) await o?.close();
    webhook?.closeAllConnections();
    await new Promise((r) => webhook?.close(r));
  });

  test("background refreshes, price limits, warm-first and a suspension that decays per refresh", async () => {
    const { kind, source } = discoverySourceFromConfig({ orchWebhookUrl: webhookUrl, orchAddr: "ignored:1" });
    assert.equal(kind, "webhook");
    const suspender = new Suspender();
    const events: PoolEvent[] = [];
    let refreshes = 0;
    const waitRefreshes = (n: number) => {
      const target = refreshes + n;
      return until(`${n} pool refreshes`, () => refreshes >= target, 10_000, 5);
    };
    const ac = new AbortController();
    const pool = new OrchestratorPool({
      source,
      fetchInfo: grpc.getOrchestrator,
      suspender,
      refreshIntervalMs: 20,
      callTimeoutMs: 2_000,
      signal: ac.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "refreshed") refreshes++;
      },
    });
    pool.start();
    await waitRefreshes(1);

    assert.deepEqual(
      pool
        .snapshot()
        .map((d) => d.url)
        .sort(),
      [cheap.url, warm.url].sort(),
    );
    assert.match(pool.stats(refusing.url)?.lastError ?? "", /no capacity/);
    assert.ok((pool.stats("https://127.0.0.1:1")?.failures ?? 0) >= 1);

    const rank = (maxPricePerUnit?: Rat) =>
      createSelector({ strategy: latencyStrategy(), random: seededRandom(3), suspender, maxPricePerUnit })
        .select(pool.snapshot(), { pipeline: "text-to-image", modelId: MODEL })
        .ranked.map((s) => s.descriptor.url);
    assert.deepEqual(rank(), [warm.url, cheap.url], "warm first");
    assert.deepEqual(rank(Rat.of(3n)), [cheap.url], "the warm one is above the max price");

    suspender.suspend(warm.url, 3);
    assert.deepEqual(rank(), [cheap.url, warm.url], "suspended: last");
    await waitRefreshes(5);
    assert.deepEqual(rank(), [warm.url, cheap.url], "the suspension expired after its refreshes");

    ac.abort();
    assert.ok(pool.closed);
    assert.ok(!events.some((e) => e.type === "refresh-failed"));
  });
});
