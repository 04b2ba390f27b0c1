/**
 * Capability ids, pipelines and model matching as a gateway reads them from an orchestrator's
 * `OrchestratorInfo` (docs/spec/orchestrator-gateway.md#models-and-warm, #capabilities-message, #compatibility-rule, #capabilities-for-an-ai-request; go-livepeer
 * core/capabilities.go). Pure functions, no I/O.
 *
 * The wire `net.Capabilities` message is read as-is; everything this module returns is a typed value
 * (`ModelOffer`, `Rat` prices) so the selection layer never touches protobuf shapes.
 */
import { create } from "@bufbuild/protobuf";
import { Rat } from "../payments/rational.ts";
import {
  CAPABILITY,
  capabilityBitstring,
  capabilityToPipeline,
  DEFAULT_CAPABILITIES,
  hasCapabilityBit,
  pipelineToCapability,
} from "../protocol/capabilities.ts";
import {
  type Capabilities,
  Capabilities_CapabilityConstraints_ModelConstraintSchema,
  Capabilities_CapabilityConstraintsSchema,
  Capabilities_ConstraintsSchema,
  CapabilitiesSchema,
  type OrchestratorInfo,
  type PriceInfo,
} from "../protocol/gen/lp_rpc_pb.ts";

export {
  CAPABILITY,
  capabilityBitstring,
  capabilityIds,
  capabilityToPipeline,
  DEFAULT_CAPABILITIES,
  hasCapabilityBit,
  MANDATORY_O_CAPABILITIES,
  PIPELINE_CAPABILITY,
  pipelineToCapability,
} from "../protocol/capabilities.ts";

/** What an orchestrator advertises for one (pipeline, model) pair. */
export interface ModelOffer {
  capability: number;
  /** Pipeline name, or `byoc`. */
  pipeline: string;
  modelId: string;
  /** A runner for this model is loaded (docs/spec/orchestrator-gateway.md#models-and-warm). */
  warm: boolean;
  /** Advertised capacity; from the model constraint, else the capability's `capacities` entry. */
  capacity: number;
  /** Capacity in use (live AI reporting); 0 when not reported. */
  capacityInUse: number;
  /** Runner version; "" when not reported. */
  runnerVersion: string;
  /**
   * True when the orchestrator lists the model in its constraints. False when it only sets the
   * capability bit with no constraints for it, which go-livepeer's `CompatibleWith` accepts for any model.
   */
  listed: boolean;
}

/**
 * What `capabilities` offers for `pipeline`/`modelId`, or undefined if it cannot serve it. Follows
 * `Capabilities.CompatibleWith` (docs/spec/orchestrator-gateway.md#compatibility-rule, rule 3): if the orchestrator has constraints for the
 * capability, the model must be listed there; with no constraints for it, the capability bit decides.
 * Unknown pipelines yield undefined.
 */
export function modelOffer(
  capabilities: Capabilities | undefined,
  pipeline: string,
  modelId: string,
): ModelOffer | undefined {
  const capability = pipelineToCapability(pipeline);
  if (capability === undefined || capabilities === undefined) return undefined;
  const perCap = capabilities.constraints?.PerCapability[capability];
  if (perCap !== undefined) {
    const m = perCap.models[modelId];
    if (m === undefined) return undefined;
    return {
      capability,
      pipeline,
      modelId,
      warm: m.warm,
      capacity: m.capacity,
      capacityInUse: m.capacityInUse,
      runnerVersion: m.runnerVersion,
      listed: true,
    };
  }
  if (!hasCapabilityBit(capabilities.bitstring, capability)) return undefined;
  return {
    capability,
    pipeline,
    modelId,
    warm: false,
    // Old peers send no capacities: every set bit counts as capacity 1 (docs/spec/orchestrator-gateway.md#capabilities-message).
    capacity: capabilities.capacities[capability] ?? 1,
    capacityInUse: 0,
    runnerVersion: "",
    listed: false,
  };
}

/**
 * What `info` offers for `pipeline`/`modelId`, including BYOC: a BYOC capability named `modelId` is
 * offered when `capabilities_prices` has an entry `{capability: 37, constraint: modelId}` (how
 * go-livepeer advertises registered external capabilities, docs/spec/orchestrator-gateway.md#byoc-advertisement); it counts as warm (its
 * container is registered and running) with the capacity of bit 37 (default 1). Other pipelines: see
 * {@link modelOffer}.
 */
export function offerFor(info: OrchestratorInfo, pipeline: string, modelId: string): ModelOffer | undefined {
  if (pipeline !== "byoc") return modelOffer(info.capabilities, pipeline, modelId);
  const listed = info.capabilitiesPrices.some(
    (p) => p.capability === CAPABILITY.BYOC && p.constraint === modelId,
  );
  if (!listed) return undefined;
  return {
    capability: CAPABILITY.BYOC,
    pipeline,
    modelId,
    warm: true,
    capacity: info.capabilities?.capacities[CAPABILITY.BYOC] ?? 1,
    capacityInUse: 0,
    runnerVersion: "",
    listed: true,
  };
}

/** Every (pipeline, model) an orchestrator lists in its constraints (the Python SDK's `caps=` query form). */
export function listModelOffers(capabilities: Capabilities | undefined): ModelOffer[] {
  const out: ModelOffer[] = [];
  const per = capabilities?.constraints?.PerCapability ?? {};
  for (const [capKey, cc] of Object.entries(per)) {
    const capability = Number(capKey);
    const pipeline = capabilityToPipeline(capability);
    if (pipeline === undefined) continue;
    for (const [modelId, m] of Object.entries(cc.models)) {
      out.push({
        capability,
        pipeline,
        modelId,
        warm: m.warm,
        capacity: m.capacity,
        capacityInUse: m.capacityInUse,
        runnerVersion: m.runnerVersion,
        listed: true,
      });
    }
  }
  return out.sort((a, b) => a.capability - b.capability || a.modelId.localeCompare(b.modelId));
}

/** Free capacity of an offer, never negative. */
export function freeCapacity(offer: ModelOffer): number {
  return Math.max(0, offer.capacity - offer.capacityInUse);
}

interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

/** Lenient semver (`v1`, `1.2`, `1.2.3-rc.1+meta`); the pre-release and build suffixes are dropped. */
function parseSemVer(text: string): SemVer | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0) };
}

/**
 * go-livepeer `isVersionCompatible(minVersion, version)`: an empty minimum accepts anything; an empty or
 * "undefined" version fails; an unparseable minimum accepts; an unparseable version fails; otherwise
 * `version >= minVersion` with pre-release suffixes ignored (ai-runner uses them as post-release tags).
 */
export function isVersionCompatible(minVersion: string, version: string): boolean {
  if (minVersion === "") return true;
  if (version === "" || version === "undefined") return false;
  const min = parseSemVer(minVersion);
  if (min === undefined) return true;
  const v = parseSemVer(version);
  if (v === undefined) return false;
  if (v.major !== min.major) return v.major > min.major;
  if (v.minor !== min.minor) return v.minor > min.minor;
  return v.patch >= min.patch;
}

/**
 * go-livepeer `Capabilities.CompatibleWith(orch)` (docs/spec/orchestrator-gateway.md#compatibility-rule): the gateway's required `required`
 * against the orchestrator's advertised `orch`. Version, mandatories, per-capability model constraints
 * (listed, warm, runner version) and the bitstring subset rule must all hold.
 */
export function capabilitiesCompatible(required: Capabilities, orch: Capabilities): boolean {
  if (!isVersionCompatible(required.constraints?.minVersion ?? "", orch.version)) return false;
  for (let i = 0; i < orch.mandatories.length; i++) {
    const m = orch.mandatories[i] as bigint;
    if ((m & (required.bitstring[i] ?? 0n)) !== m) return false;
  }
  for (const [capKey, need] of Object.entries(required.constraints?.PerCapability ?? {})) {
    const have = orch.constraints?.PerCapability[Number(capKey)];
    if (have === undefined) continue;
    for (const [modelId, nm] of Object.entries(need.models)) {
      const hm = have.models[modelId];
      if (hm === undefined) return false;
      if (nm.warm && !hm.warm) return false;
      if (!isVersionCompatible(nm.runnerVersion, hm.runnerVersion)) return false;
    }
  }
  if (required.bitstring.length > orch.bitstring.length) return false;
  for (let i = 0; i < required.bitstring.length; i++) {
    const w = required.bitstring[i] as bigint;
    if ((w & (orch.bitstring[i] as bigint)) !== w) return false;
  }
  return true;
}

/** Options of {@link aiRequestCapabilities}. */
export interface AiRequestCapabilitiesOptions {
  pipeline: string;
  modelId: string;
  /** Require a warm runner (the orchestrator rejects otherwise); default false, as go-livepeer asks. */
  warm?: boolean;
  /** Minimum runner version (`-aiMinRunnerVersion`); "" = any. */
  minRunnerVersion?: string;
  /** Our node version, sent as `version`. */
  version?: string;
  /** `constraints.minVersion` the orchestrator must meet; "" = any. */
  minVersion?: string;
}

/**
 * The `Capabilities` a gateway sends in `OrchestratorRequest` for an AI job (docs/spec/orchestrator-gateway.md#capabilities-for-an-ai-request): the default
 * bits plus AuthToken and the AI capability, `capacities{cap: 1}` and a model constraint, so the
 * orchestrator quotes the per-model price in `price_info` (docs/spec/payments.md#prices). Throws RangeError for an
 * unknown pipeline.
 */
export function aiRequestCapabilities(options: AiRequestCapabilitiesOptions): Capabilities {
  const capability = pipelineToCapability(options.pipeline);
  if (capability === undefined) throw new RangeError(`unknown pipeline ${JSON.stringify(options.pipeline)}`);
  return create(CapabilitiesSchema, {
    bitstring: capabilityBitstring([...DEFAULT_CAPABILITIES, capability]),
    mandatories: [],
    capacities: { [capability]: 1 },
    version: options.version ?? "",
    constraints: create(Capabilities_ConstraintsSchema, {
      minVersion: options.minVersion ?? "",
      PerCapability: {
        [capability]: create(Capabilities_CapabilityConstraintsSchema, {
          models: {
            [options.modelId]: create(Capabilities_CapabilityConstraints_ModelConstraintSchema, {
              warm: options.warm ?? false,
              runnerVersion: options.minRunnerVersion ?? "",
            }),
          },
        }),
      },
    }),
  });
}

/** Where a quoted price came from. */
export type PriceSource = "capability" | "default";

/** A price in wei per unit, exact. */
export interface QuotedPrice {
  /** `pricePerUnit / pixelsPerUnit`. */
  perUnit: Rat;
  /** `capability`: a `capabilities_prices` entry for the pipeline/model; `default`: `price_info`. */
  source: PriceSource;
  /** The wire entry the price came from. */
  wire: { pricePerUnit: bigint; pixelsPerUnit: bigint };
}

/** A wire price as an exact rational, or undefined when absent, negative or with `pixelsPerUnit <= 0`. */
export function priceToRat(
  p: Pick<PriceInfo, "pricePerUnit" | "pixelsPerUnit"> | undefined,
): Rat | undefined {
  if (p === undefined || p.pixelsPerUnit <= 0n || p.pricePerUnit < 0n) return undefined;
  return Rat.of(p.pricePerUnit, p.pixelsPerUnit);
}

/**
 * The price an orchestrator quotes for `pipeline`/`modelId` (docs/spec/orchestrator-gateway.md#models-and-warm, docs/spec/payments.md#prices): the
 * `capabilities_prices` entry with that capability id and `constraint == modelId` (for `byoc`,
 * `constraint` is the capability name); else `price_info`. Undefined when neither is usable.
 */
export function quotedPrice(
  info: OrchestratorInfo,
  pipeline: string,
  modelId: string,
): QuotedPrice | undefined {
  const capability = pipelineToCapability(pipeline);
  if (capability !== undefined) {
    const entry = info.capabilitiesPrices.find(
      (p) => p.capability === capability && p.constraint === modelId,
    );
    const perUnit = priceToRat(entry);
    if (entry !== undefined && perUnit !== undefined)
      return {
        perUnit,
        source: "capability",
        wire: { pricePerUnit: entry.pricePerUnit, pixelsPerUnit: entry.pixelsPerUnit },
      };
  }
  const perUnit = priceToRat(info.priceInfo);
  if (info.priceInfo === undefined || perUnit === undefined) return undefined;
  return {
    perUnit,
    source: "default",
    wire: { pricePerUnit: info.priceInfo.pricePerUnit, pixelsPerUnit: info.priceInfo.pixelsPerUnit },
  };
}
