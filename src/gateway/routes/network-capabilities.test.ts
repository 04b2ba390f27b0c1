// GET /getNetworkCapabilities in go-livepeer's JSON shape (issue 17, item 7): the field names, the
// omitted zero values, exact 64-bit numbers and map keys as Go's encoding/json writes them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { OrchestratorInfoSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import { networkCapabilitiesJson } from "./network-capabilities.ts";

function descriptor(): OrchestratorDescriptor {
  const info = create(OrchestratorInfoSchema, {
    transcoder: "https://orch.example:8935",
    address: new Uint8Array(20).fill(0xab),
    capabilities: {
      bitstring: [18446744073709551615n, 5n],
      mandatories: [],
      capacities: { 37: 1, 3: 2 },
      version: "0.8.1",
      constraints: {
        minVersion: "",
        PerCapability: {
          37: {
            models: { "text-reverse": { warm: true, capacity: 1, capacityInUse: 0, runnerVersion: "" } },
          },
        },
      },
    },
    capabilitiesPrices: [
      { pricePerUnit: 9007199254740993n, pixelsPerUnit: 1n, capability: 37, constraint: "text-reverse" },
    ],
    hardware: [
      {
        pipeline: "byoc",
        modelId: "text-reverse",
        gpuInfo: { "0": { id: "gpu-0", name: "A", memoryTotal: 24n } },
      },
    ],
  });
  return {
    url: "https://127.0.0.1:8935",
    transcoder: info.transcoder,
    address: `0x${"ab".repeat(20)}`,
    info,
  } as OrchestratorDescriptor;
}

test("GET /getNetworkCapabilities answers go-livepeer's shape: orchestrators[] with address, local_address, orch_uri, capabilities, capabilities_prices, hardware", () => {
  const text = networkCapabilitiesJson([descriptor()]);
  // Exact 64-bit integers, as Go writes uint64/int64 (JSON.parse would round them).
  assert.match(text, /"bitstring":\[18446744073709551615,5\]/);
  assert.match(text, /"pricePerUnit":9007199254740993/);
  const body = JSON.parse(text) as { orchestrators: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(body), ["orchestrators"]);
  const o = body.orchestrators[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), [
    "address",
    "local_address",
    "orch_uri",
    "capabilities",
    "capabilities_prices",
    "hardware",
  ]);
  assert.equal(o.address, `0x${"ab".repeat(20)}`);
  assert.equal(o.local_address, "https://127.0.0.1:8935");
  assert.equal(o.orch_uri, "https://orch.example:8935");
  const caps = o.capabilities as Record<string, unknown>;
  // Zero values left out (omitempty): no `mandatories`, no `minVersion`, no `capacityInUse`.
  assert.deepEqual(Object.keys(caps), ["bitstring", "capacities", "version", "constraints"]);
  assert.deepEqual(Object.keys(caps.capacities as object), ["3", "37"], "map keys sorted as Go sorts them");
  assert.deepEqual(caps.constraints, {
    PerCapability: { "37": { models: { "text-reverse": { warm: true, capacity: 1 } } } },
  });
  assert.deepEqual((o.capabilities_prices as unknown[])[0], {
    pricePerUnit: 9007199254740992, // (rounded by JSON.parse; the text above is exact)
    pixelsPerUnit: 1,
    capability: 37,
    constraint: "text-reverse",
  });
  assert.deepEqual(o.hardware, [
    {
      pipeline: "byoc",
      model_id: "text-reverse",
      gpu_info: { "0": { id: "gpu-0", name: "A", memory_total: 24 } },
    },
  ]);
});

test("an orchestrator without prices or hardware has null there, as Go writes a nil slice; no orchestrators is an empty list", () => {
  const d = descriptor();
  d.info.capabilitiesPrices = [];
  d.info.hardware = [];
  const o = (JSON.parse(networkCapabilitiesJson([d])) as { orchestrators: Record<string, unknown>[] })
    .orchestrators[0];
  assert.equal(o?.capabilities_prices, null);
  assert.equal(o?.hardware, null);
  assert.equal(networkCapabilitiesJson([]), '{"orchestrators":[]}');
});
