/**
 * Capability ids and the `net.Capabilities` message an orchestrator advertises
 * (orchestrator-gateway.md §13.1, §15.3). Pure: no I/O.
 */
import { create } from "@bufbuild/protobuf";
import {
  type Capabilities,
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_CapabilityConstraintsSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import type { AdvertisedCapability } from "./registry.ts";

/** AI pipeline → capability id (go-livepeer core/capabilities.go). */
export const PIPELINE_CAPABILITY_IDS: Readonly<Record<string, number>> = {
  "text-to-image": 27,
  "image-to-image": 28,
  "image-to-video": 29,
  upscale: 30,
  "audio-to-text": 31,
  "segment-anything-2": 32,
  llm: 33,
  "image-to-text": 34,
  "live-video-to-video": 35,
  "text-to-speech": 36,
};

/** `Capability_BYOC` (go-livepeer core/capabilities.go). */
export const CAPABILITY_BYOC = 37;
/** `Capability_AuthToken`, the orchestrator's one mandatory capability. */
export const CAPABILITY_AUTH_TOKEN = 12;
/** `DefaultCapabilities()` (go-livepeer core/capabilities.go). */
export const DEFAULT_CAPABILITIES: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 26];

/** The capability id of a pipeline (BYOC → 37), or undefined for an unknown pipeline. */
export function capabilityIdOf(pipeline: string): number | undefined {
  if (pipeline === "byoc") return CAPABILITY_BYOC;
  return PIPELINE_CAPABILITY_IDS[pipeline];
}

/** A bitstring with bit `c` of word `c/64` set for every id. */
export function bitstringOf(ids: Iterable<number>): bigint[] {
  const words: bigint[] = [];
  for (const id of ids) {
    const w = Math.floor(id / 64);
    while (words.length <= w) words.push(0n);
    words[w]! |= 1n << BigInt(id % 64);
  }
  return words;
}

/** True when bit `id` is set. */
export function hasCapability(bitstring: readonly bigint[], id: number): boolean {
  const w = bitstring[Math.floor(id / 64)];
  return w !== undefined && ((w >> BigInt(id % 64)) & 1n) === 1n;
}

/**
 * The `Capabilities` an orchestrator advertises: the default transcoding set plus one bit per
 * advertised AI pipeline, AuthToken as mandatory, capacities per capability id, and
 * `constraints.PerCapability[id].models[model_id] = {warm, capacity, capacityInUse}`. BYOC
 * capabilities are not in the bitstring (they are priced in `capabilities_prices`, §8.5).
 */
export function buildCapabilities(
  advertised: readonly AdvertisedCapability[],
  version: string,
): Capabilities {
  const ids = new Set(DEFAULT_CAPABILITIES);
  const capacities: Record<number, number> = {};
  for (const id of DEFAULT_CAPABILITIES) capacities[id] = 1;
  const perCapability: Record<
    number,
    ReturnType<typeof create<typeof Capabilities_CapabilityConstraintsSchema>>
  > = {};
  for (const a of advertised) {
    if (a.source === "byoc") continue;
    const id = capabilityIdOf(a.pipeline);
    if (id === undefined) continue;
    ids.add(id);
    capacities[id] = (capacities[id] ?? 0) + a.capacity;
    perCapability[id] ??= create(Capabilities_CapabilityConstraintsSchema, { models: {} });
    perCapability[id].models[a.modelId] = create(Capabilities_CapabilityConstraints_ModelConstraintSchema, {
      warm: a.warm,
      capacity: a.capacity,
      capacityInUse: a.inUse,
      runnerVersion: "",
    });
  }
  return create(CapabilitiesSchema, {
    bitstring: bitstringOf(ids),
    mandatories: bitstringOf([CAPABILITY_AUTH_TOKEN]),
    capacities,
    version,
    constraints: create(Capabilities_ConstraintsSchema, { minVersion: "", PerCapability: perCapability }),
  });
}
