/**
 * Capability ids and the `net.Capabilities` message an orchestrator advertises
 * (docs/spec/orchestrator-gateway.md#ai-pipelines, #capabilities-message). Pure: no I/O.
 */
import { create } from "@bufbuild/protobuf";
import {
  CAPABILITY,
  capabilityBitstring,
  DEFAULT_CAPABILITIES,
  MANDATORY_O_CAPABILITIES,
  pipelineToCapability,
} from "../protocol/capabilities.ts";
import {
  type Capabilities,
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_CapabilityConstraintsSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import { type AdvertisedCapability, servedAsByoc } from "./registry.ts";

/** The capability id of a pipeline (BYOC → 37), or undefined for an unknown pipeline. */
export const capabilityIdOf = pipelineToCapability;

/**
 * The `Capabilities` an orchestrator advertises: the default transcoding set plus one bit per
 * advertised AI pipeline, AuthToken as mandatory, capacities per capability id, and
 * `constraints.PerCapability[id].models[model_id] = {warm, capacity, capacityInUse}`. BYOC
 * capabilities (and `aiModels.json` entries of pipelines that are not built in) are not in the bitstring (they are priced in `capabilities_prices`, docs/spec/orchestrator-gateway.md#byoc-advertisement).
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
    if (servedAsByoc(a)) continue;
    const id = pipelineToCapability(a.pipeline);
    if (id === undefined || id === CAPABILITY.BYOC) continue;
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
    bitstring: capabilityBitstring(ids),
    mandatories: capabilityBitstring(MANDATORY_O_CAPABILITIES),
    capacities,
    version,
    constraints: create(Capabilities_ConstraintsSchema, { minVersion: "", PerCapability: perCapability }),
  });
}
