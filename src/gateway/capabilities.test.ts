import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Rat } from "../payments/rational.ts";
import { CapabilitiesSchema, OrchestratorInfoSchema, PriceInfoSchema } from "../protocol/gen/lp_rpc_pb.ts";
import {
  aiRequestCapabilities,
  CAPABILITY,
  capabilitiesCompatible,
  capabilityBitstring,
  capabilityIds,
  freeCapacity,
  hasCapabilityBit,
  isVersionCompatible,
  listModelOffers,
  modelOffer,
  offerFor,
  pipelineToCapability,
  quotedPrice,
} from "./capabilities.ts";

/** An orchestrator advertising text-to-image with a warm and a cold model, and llm with no constraints. */
function orchCaps() {
  return create(CapabilitiesSchema, {
    bitstring: capabilityBitstring([0, 12, CAPABILITY.TextToImage, CAPABILITY.LLM]),
    mandatories: capabilityBitstring([CAPABILITY.AuthToken]),
    capacities: { [CAPABILITY.TextToImage]: 3, [CAPABILITY.LLM]: 2 },
    version: "0.8.5",
    constraints: {
      PerCapability: {
        [CAPABILITY.TextToImage]: {
          models: {
            "ByteDance/SDXL-Lightning": {
              warm: true,
              capacity: 2,
              capacityInUse: 1,
              runnerVersion: "0.14.1",
            },
            "stabilityai/sd-turbo": { warm: false, capacity: 1, runnerVersion: "0.13.0" },
          },
        },
      },
    },
  });
}

describe("capability ids", () => {
  test("pipelines map to the upstream capability ids (27..37)", () => {
    assert.equal(pipelineToCapability("text-to-image"), 27);
    assert.equal(pipelineToCapability("live-video-to-video"), 35);
    assert.equal(pipelineToCapability("text-to-speech"), 36);
    assert.equal(pipelineToCapability("byoc"), 37);
    assert.equal(pipelineToCapability("toString"), undefined);
    assert.equal(pipelineToCapability("nope"), undefined);
  });

  test("bitstrings set bit i of word i/64 and grow as needed", () => {
    const bits = capabilityBitstring([0, 12, 70]);
    assert.deepEqual(bits, [(1n << 12n) | 1n, 1n << 6n]);
    assert.ok(hasCapabilityBit(bits, 70));
    assert.ok(!hasCapabilityBit(bits, 71));
    assert.ok(!hasCapabilityBit(bits, 200));
    assert.deepEqual(capabilityIds(bits), [0, 12, 70]);
  });
});

describe("model offers", () => {
  test("a listed model reports warm, capacity and in-use from its constraint", () => {
    const offer = modelOffer(orchCaps(), "text-to-image", "ByteDance/SDXL-Lightning");
    assert.deepEqual(offer, {
      capability: 27,
      pipeline: "text-to-image",
      modelId: "ByteDance/SDXL-Lightning",
      warm: true,
      capacity: 2,
      capacityInUse: 1,
      runnerVersion: "0.14.1",
      listed: true,
    });
    assert.equal(freeCapacity(offer!), 1);
    assert.equal(modelOffer(orchCaps(), "text-to-image", "stabilityai/sd-turbo")?.warm, false);
  });

  test("a model missing from the capability's constraints is not offered", () => {
    assert.equal(modelOffer(orchCaps(), "text-to-image", "other/model"), undefined);
  });

  test("a capability bit without constraints offers any model, cold, with the capability's capacity", () => {
    const offer = modelOffer(orchCaps(), "llm", "meta-llama/Llama-3.1-8B");
    assert.equal(offer?.listed, false);
    assert.equal(offer?.warm, false);
    assert.equal(offer?.capacity, 2);
  });

  test("a capability that is neither set nor constrained is not offered", () => {
    assert.equal(modelOffer(orchCaps(), "upscale", "x"), undefined);
    assert.equal(modelOffer(undefined, "text-to-image", "ByteDance/SDXL-Lightning"), undefined);
    assert.equal(modelOffer(orchCaps(), "no-such-pipeline", "x"), undefined);
  });

  test("listModelOffers lists every constrained pipeline/model", () => {
    const offers = listModelOffers(orchCaps()).map((o) => `${o.pipeline}/${o.modelId}`);
    assert.deepEqual(offers, [
      "text-to-image/ByteDance/SDXL-Lightning",
      "text-to-image/stabilityai/sd-turbo",
    ]);
  });

  test("BYOC capabilities are offered when capabilities_prices names them under capability 37", () => {
    const info = create(OrchestratorInfoSchema, {
      capabilities: orchCaps(),
      capabilitiesPrices: [
        create(PriceInfoSchema, {
          capability: 37,
          constraint: "text-reverse",
          pricePerUnit: 5n,
          pixelsPerUnit: 1n,
        }),
      ],
    });
    assert.equal(offerFor(info, "byoc", "text-reverse")?.warm, true);
    assert.equal(offerFor(info, "byoc", "other"), undefined);
    assert.equal(offerFor(info, "text-to-image", "stabilityai/sd-turbo")?.listed, true);
  });
});

describe("prices", () => {
  const info = create(OrchestratorInfoSchema, {
    priceInfo: { pricePerUnit: 10n, pixelsPerUnit: 4n },
    capabilitiesPrices: [
      { capability: 27, constraint: "ByteDance/SDXL-Lightning", pricePerUnit: 3n, pixelsPerUnit: 1n },
      { capability: 27, constraint: "broken", pricePerUnit: 3n, pixelsPerUnit: 0n },
      { capability: 37, constraint: "text-reverse", pricePerUnit: 7n, pixelsPerUnit: 1n },
    ],
  });

  test("a capabilities_prices entry for the pipeline/model wins over price_info", () => {
    const q = quotedPrice(info, "text-to-image", "ByteDance/SDXL-Lightning");
    assert.equal(q?.source, "capability");
    assert.equal(q?.perUnit.cmp(Rat.of(3n)), 0);
    assert.equal(quotedPrice(info, "byoc", "text-reverse")?.perUnit.cmp(7n), 0);
  });

  test("without a matching entry (or with pixelsPerUnit 0) price_info applies, exactly", () => {
    const q = quotedPrice(info, "text-to-image", "other");
    assert.equal(q?.source, "default");
    assert.equal(q?.perUnit.cmp(Rat.of(5n, 2n)), 0);
    assert.equal(quotedPrice(info, "text-to-image", "broken")?.source, "default");
  });

  test("no usable price at all is undefined", () => {
    assert.equal(quotedPrice(create(OrchestratorInfoSchema, {}), "llm", "m"), undefined);
    const zeroPx = create(OrchestratorInfoSchema, { priceInfo: { pricePerUnit: 1n, pixelsPerUnit: 0n } });
    assert.equal(quotedPrice(zeroPx, "llm", "m"), undefined);
  });
});

describe("compatibility (CompatibleWith)", () => {
  test("versions compare as semver without pre-release suffixes", () => {
    assert.ok(isVersionCompatible("", ""));
    assert.ok(!isVersionCompatible("0.8.0", ""));
    assert.ok(!isVersionCompatible("0.8.0", "undefined"));
    assert.ok(isVersionCompatible("0.8.0", "0.8.0-dev"));
    assert.ok(isVersionCompatible("v0.8.0", "0.9"));
    assert.ok(!isVersionCompatible("0.8.1", "0.8.0"));
    assert.ok(!isVersionCompatible("1.0.0", "0.99.99"));
    assert.ok(isVersionCompatible("garbage", "0.1.0"));
    assert.ok(!isVersionCompatible("0.1.0", "garbage"));
  });

  test("an AI request's capabilities match an orchestrator listing the model", () => {
    const req = aiRequestCapabilities({ pipeline: "text-to-image", modelId: "stabilityai/sd-turbo" });
    assert.ok(hasCapabilityBit(req.bitstring, CAPABILITY.AuthToken));
    assert.equal(req.capacities[27], 1);
    const orch = orchCaps();
    orch.bitstring = capabilityBitstring([
      ...capabilityIds(orch.bitstring),
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      14,
      26,
    ]);
    assert.ok(capabilitiesCompatible(req, orch));
  });

  test("warm, model listing, runner version, mandatories and bit subset are each enforced", () => {
    const full = orchCaps();
    full.bitstring = capabilityBitstring([
      ...capabilityIds(full.bitstring),
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      14,
      26,
    ]);
    const warmReq = aiRequestCapabilities({
      pipeline: "text-to-image",
      modelId: "stabilityai/sd-turbo",
      warm: true,
    });
    assert.ok(!capabilitiesCompatible(warmReq, full), "cold model, warm required");
    const missing = aiRequestCapabilities({ pipeline: "text-to-image", modelId: "other" });
    assert.ok(!capabilitiesCompatible(missing, full), "model not listed");
    const newer = aiRequestCapabilities({
      pipeline: "text-to-image",
      modelId: "ByteDance/SDXL-Lightning",
      minRunnerVersion: "0.15.0",
    });
    assert.ok(!capabilitiesCompatible(newer, full), "runner too old");
    const noAuth = aiRequestCapabilities({ pipeline: "text-to-image", modelId: "stabilityai/sd-turbo" });
    noAuth.bitstring = capabilityBitstring([0, 27]);
    assert.ok(!capabilitiesCompatible(noAuth, full), "mandatory AuthToken missing");
    const upscale = aiRequestCapabilities({ pipeline: "upscale", modelId: "x" });
    assert.ok(!capabilitiesCompatible(upscale, full), "capability bit missing");
    const minVer = aiRequestCapabilities({ pipeline: "llm", modelId: "x", minVersion: "0.9.0" });
    assert.ok(!capabilitiesCompatible(minVer, full), "orchestrator version too old");
  });
});
