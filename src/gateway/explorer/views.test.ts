import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { CAPABILITY, capabilityBitstring, DEFAULT_CAPABILITIES } from "../capabilities.ts";
import type { OrchestratorDescriptor } from "../discovery/pool.ts";
import { startFakeOrchestrator } from "../discovery/testing.ts";
import { startGateway } from "../gateway.ts";
import type { ExplorerView } from "./aggregate.ts";
import { poolExplorerViews, poolFacts } from "./views.ts";

const info = (url: string, warm: boolean) => ({
  transcoder: url,
  capabilities: {
    bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, CAPABILITY.TextToImage]),
    constraints: { PerCapability: { [CAPABILITY.TextToImage]: { models: { sd: { warm, capacity: 3 } } } } },
  },
  capabilitiesPrices: [
    { capability: CAPABILITY.TextToImage, constraint: "sd", pricePerUnit: 1n, pixelsPerUnit: 1n },
  ],
});

function descriptor(url: string): OrchestratorDescriptor {
  return {
    url,
    transcoder: url,
    address: "0x",
    info: create(OrchestratorInfoSchema, info(url, true)),
    latencyMs: 12,
    fetchedAt: 100,
    candidate: { url, score: 1, source: "static" },
    suspension: 0,
  };
}

describe("explorer views of a gateway's pool", () => {
  test("snapshot entries are answered probes; failing orchestrators outside it are unreachable", () => {
    const facts = poolFacts(
      [descriptor("https://a")],
      [
        { url: "https://a", successes: 3, failures: 1, consecutiveFailures: 0 },
        {
          url: "https://b",
          successes: 0,
          failures: 2,
          consecutiveFailures: 2,
          lastError: "timeout",
          lastFailureAt: 50,
        },
        { url: "https://c", successes: 1, failures: 0, consecutiveFailures: 0 },
      ],
    );
    assert.deepEqual(
      facts.map((f) => [f.url, f.probe?.ok]),
      [
        ["https://a", true],
        ["https://b", false],
      ],
    );
    const views = poolExplorerViews(
      { snapshot: () => [descriptor("https://a")], stats: () => [] },
      undefined,
      () => 7,
    );
    const v = views.explorer?.() as ExplorerView;
    assert.equal(v.generatedAt, 7);
    assert.equal(v.capabilities[0]?.warm, 1);
    assert.equal(v.orchestrators[0]?.latencyMs, 12);
  });

  test("the gateway's /dashboard serves the same views as tributary explorer", async () => {
    await using orch = await startFakeOrchestrator((_r, { url }) => info(url, false));
    const gw = await startGateway({ port: 0, discovery: { orchAddr: [orch.url] } });
    try {
      await gw.pool.refresh();
      const body = (await (await fetch(`${gw.url}/dashboard/api/capabilities`)).json()) as Pick<
        ExplorerView,
        "capabilities"
      >;
      assert.deepEqual(
        body.capabilities.map((c) => [c.key, c.warm, c.cold, c.capacity, c.priceMin?.display]),
        [["text-to-image/sd", 0, 1, 3, "1,000,000 wei per megapixel"]],
      );
    } finally {
      await gw.close();
    }
  });
});
