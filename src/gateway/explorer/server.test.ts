import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Rat } from "../../payments/rational.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import { type FakeOrchestrator, startFakeOrchestrator } from "../discovery/testing.ts";
import type { ExplorerView } from "./aggregate.ts";
import { type RunningExplorer, startExplorer } from "./server.ts";

function t2i(url: string, price: bigint, warm: boolean) {
  return {
    transcoder: url,
    capabilities: {
      bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
      constraints: {
        PerCapability: {
          [CAPABILITY.TextToImage]: { models: { "sd-turbo": { warm, capacity: 4, capacityInUse: 1 } } },
        },
      },
    },
    capabilitiesPrices: [
      { capability: CAPABILITY.TextToImage, constraint: "sd-turbo", pricePerUnit: price, pixelsPerUnit: 1n },
    ],
  };
}

describe("tributary explorer server", () => {
  let a: FakeOrchestrator;
  let b: FakeOrchestrator;
  let busy: FakeOrchestrator;
  let explorer: RunningExplorer;

  before(async () => {
    a = await startFakeOrchestrator((_r, { url }) => t2i(url, 1n, true));
    b = await startFakeOrchestrator((_r, { url }) => t2i(url, 3n, false));
    busy = await startFakeOrchestrator(() => {
      throw new ConnectError("insufficient capacity", Code.ResourceExhausted);
    });
    explorer = await startExplorer({
      port: 0,
      orchestrators: [a.url, b.url, busy.url, "127.0.0.1:1"],
      intervalMs: 60_000,
      probeTimeoutMs: 2_000,
      // ETH at $2,500 (the feed is read before the first round ends).
      priceFeed: { ethUsd: async () => ({ usdPerEth: Rat.of(2500n), updatedAtMs: Date.now(), roundId: 1n }) },
    });
    await explorer.source.refresh();
  });
  after(async () => {
    await explorer?.close();
    await Promise.all([a?.close(), b?.close(), busy?.close()]);
  });

  test("probes each orchestrator once per round as an unpaid offchain client", () => {
    for (const o of [a, b]) {
      assert.ok(o.requests.length >= 1);
      assert.equal(o.requests[0]?.sig.length, 0);
      assert.deepEqual([...(o.requests[0]?.address ?? [])], new Array(20).fill(0));
    }
  });

  test("api/capabilities: warm and cold counts, capacity and the price range across the set", async () => {
    const res = await fetch(`${explorer.url}/dashboard/api/capabilities`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Pick<ExplorerView, "capabilities">;
    const c = body.capabilities.find((x) => x.key === "text-to-image/sd-turbo");
    assert.ok(c, JSON.stringify(body));
    assert.deepEqual([c.warm, c.cold, c.capacity, c.free], [1, 1, 8, 6]);
    assert.equal(c.priceMin?.display, "1,000,000 wei per megapixel");
    assert.equal(c.priceMax?.wei, "3000000");
    // 1e6 wei per megapixel at $2,500 per ETH = $2.5e-9 per megapixel.
    assert.equal(c.priceMin?.usd, 2.5e-9);
    assert.equal(c.priceMin?.usdDisplay, "$0.0000000025 per megapixel");
  });

  test("api/orchestrators: a capacity refusal is busy, a closed port unreachable", async () => {
    const body = (await (await fetch(`${explorer.url}/dashboard/api/orchestrators`)).json()) as Pick<
      ExplorerView,
      "orchestrators"
    >;
    const state = Object.fromEntries(body.orchestrators.map((o) => [o.url, o.state]));
    assert.equal(state[a.url], "ok");
    assert.equal(state[busy.url], "busy");
    assert.equal(state["https://127.0.0.1:1"], "unreachable");
  });

  test("the page, /getNetworkCapabilities in go-livepeer's shape, a redirect from / and JSON 404s", async () => {
    const page = await fetch(`${explorer.url}/dashboard/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const caps = (await (await fetch(`${explorer.url}/getNetworkCapabilities`)).json()) as {
      orchestrators: { local_address: string }[];
    };
    assert.deepEqual(caps.orchestrators.map((o) => o.local_address).sort(), [a.url, b.url].sort());
    const root = await fetch(`${explorer.url}/`, { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/dashboard/");
    const missing = await fetch(`${explorer.url}/nope`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
  });
});
