import assert from "node:assert/strict";
import { test } from "node:test";
import { Rat } from "../payments/rational.ts";
import {
  capabilityBitstring as bitstringOf,
  hasCapabilityBit as hasCapability,
} from "../protocol/capabilities.ts";
import { buildCapabilities, capabilityIdOf } from "./capabilities.ts";

test("bitstring sets bit c of word c/64", () => {
  assert.deepEqual(bitstringOf([0, 12, 63, 64]), [(1n << 0n) | (1n << 12n) | (1n << 63n), 1n]);
  assert.ok(hasCapability([1n << 37n], 37));
  assert.ok(!hasCapability([1n << 37n], 36));
  assert.equal(capabilityIdOf("text-to-image"), 27);
  assert.equal(capabilityIdOf("byoc"), 37);
  assert.equal(capabilityIdOf("nope"), undefined);
});

test("AI capabilities get a bit, capacities and model constraints; BYOC does not", () => {
  const base = {
    prices: new Map([["default", Rat.ZERO]]),
    priceParts: new Map(),
    priceUnit: "pixel" as const,
    description: "",
    gpuInfo: {},
  };
  const caps = buildCapabilities(
    [
      {
        ...base,
        key: "llm/a",
        pipeline: "llm",
        modelId: "a",
        source: "config",
        warm: true,
        capacity: 3,
        inUse: 1,
      },
      {
        ...base,
        key: "byoc/x",
        pipeline: "byoc",
        modelId: "x",
        source: "byoc",
        warm: true,
        capacity: 1,
        inUse: 0,
      },
    ],
    "1.2.3",
  );
  assert.ok(hasCapability(caps.bitstring, 33));
  assert.ok(!hasCapability(caps.bitstring, 37));
  assert.ok(hasCapability(caps.bitstring, 0), "default transcoding set");
  assert.equal(caps.capacities[33], 3);
  assert.deepEqual(caps.mandatories, [1n << 12n]);
  const m = caps.constraints!.PerCapability[33]!.models.a!;
  assert.deepEqual([m.warm, m.capacity, m.capacityInUse], [true, 3, 1]);
  assert.equal(caps.version, "1.2.3");
});
