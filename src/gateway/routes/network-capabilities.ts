/**
 * `GET /getNetworkCapabilities`: what every orchestrator in the discovery pool's snapshot offers, in
 * go-livepeer's JSON shape, so tools written against a go-livepeer gateway (community dashboards)
 * read a Tributary gateway too:
 *
 * `{"orchestrators":[{"address","local_address","orch_uri","capabilities","capabilities_prices","hardware"}]}`
 *
 * The protobuf messages inside are written the way Go's `encoding/json` writes go-livepeer's generated
 * structs: proto field names, zero values left out, map keys as strings in sorted order, 64-bit
 * integers as exact JSON numbers. `address` is the orchestrator's advertised address as `0x` hex,
 * `local_address` the URL the gateway asked, `orch_uri` its `transcoder`. No I/O: the snapshot is the
 * pool's last refresh.
 */
import type { ServerResponse } from "node:http";
import { sendJson } from "../../node/http/send.ts";
import type {
  Capabilities,
  GPUComputeInfo,
  HardwareInformation,
  PriceInfo,
} from "../../protocol/gen/lp_rpc_pb.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";

/** A JSON value whose numbers may be bigints (written exactly). */
type Json = string | number | bigint | boolean | null | Json[] | { [key: string]: Json };

/** One orchestrator, as go-livepeer's `OrchNetworkCapabilities`. */
export interface OrchNetworkCapabilities {
  address: string;
  local_address: string;
  orch_uri: string;
  capabilities: Json;
  capabilities_prices: Json;
  hardware: Json;
}

/** An object without its zero values (`omitempty`). */
function compact(fields: Record<string, Json | undefined>): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === "" || v === 0 || v === 0n || v === false || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** A map as Go writes it: keys sorted (numerically for integer keys), values converted. */
function sortedMap<V>(
  m: { [key: string]: V },
  value: (v: V) => Json,
  numeric = false,
): { [key: string]: Json } {
  const keys = Object.keys(m).sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  const out: { [key: string]: Json } = {};
  for (const k of keys) out[k] = value(m[k] as V);
  return out;
}

function capabilitiesJson(c: Capabilities | undefined): Json {
  if (c === undefined) return null;
  const constraints = c.constraints;
  return compact({
    bitstring: c.bitstring,
    mandatories: c.mandatories,
    capacities: sortedMap(c.capacities, (n) => n, true),
    version: c.version,
    constraints:
      constraints &&
      compact({
        minVersion: constraints.minVersion,
        PerCapability: sortedMap(
          constraints.PerCapability,
          (pc) =>
            compact({
              models: sortedMap(pc.models, (m) =>
                compact({
                  warm: m.warm,
                  capacity: m.capacity,
                  runnerVersion: m.runnerVersion,
                  capacityInUse: m.capacityInUse,
                }),
              ),
            }),
          true,
        ),
      }),
  });
}

function priceJson(p: PriceInfo): Json {
  return compact({
    pricePerUnit: p.pricePerUnit,
    pixelsPerUnit: p.pixelsPerUnit,
    capability: p.capability,
    constraint: p.constraint,
  });
}

function gpuJson(g: GPUComputeInfo): Json {
  return compact({
    id: g.id,
    name: g.name,
    major: g.major,
    minor: g.minor,
    memory_free: g.memoryFree,
    memory_total: g.memoryTotal,
  });
}

function hardwareJson(h: HardwareInformation): Json {
  return compact({ pipeline: h.pipeline, model_id: h.modelId, gpu_info: sortedMap(h.gpuInfo, gpuJson) });
}

/** One snapshot entry as go-livepeer's `OrchNetworkCapabilities` (Go writes a nil slice as `null`). */
export function orchNetworkCapabilities(d: OrchestratorDescriptor): OrchNetworkCapabilities {
  const prices = d.info.capabilitiesPrices;
  const hardware = d.info.hardware;
  return {
    address: d.address,
    local_address: d.url,
    orch_uri: d.transcoder,
    capabilities: capabilitiesJson(d.info.capabilities),
    capabilities_prices: prices.length ? prices.map(priceJson) : null,
    hardware: hardware.length ? hardware.map(hardwareJson) : null,
  };
}

/** The whole answer as JSON text: bigints written as exact numbers, as Go writes uint64/int64. */
export function networkCapabilitiesJson(snapshot: readonly OrchestratorDescriptor[]): string {
  const body = { orchestrators: snapshot.map(orchNetworkCapabilities) };
  const marker = "\u0000bigint:";
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? `${marker}${v}` : v));
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, "$1");
}

/** Answers `GET /getNetworkCapabilities` from the pool's snapshot. */
export function answerNetworkCapabilities(
  res: ServerResponse,
  snapshot: readonly OrchestratorDescriptor[],
): void {
  sendJson(res, 200, networkCapabilitiesJson(snapshot));
}
