/**
 * `OrchestratorInfo` for `GetOrchestrator` (docs/spec/orchestrator-gateway.md#orchestratorinfo) and the JSON view of
 * `GET /capabilities`, both built from the registry's advertised (healthy) capabilities.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Rat } from "../payments/rational.ts";
import { CAPABILITY } from "../protocol/capabilities.ts";
import {
  AuthTokenSchema,
  GPUComputeInfoSchema,
  HardwareInformationSchema,
  type OrchestratorInfo,
  OrchestratorInfoSchema,
  type OrchestratorRequest,
  type PriceInfo,
  PriceInfoSchema,
  type TicketParams,
} from "../protocol/gen/lp_rpc_pb.ts";
import { buildCapabilities, capabilityIdOf } from "./capabilities.ts";
import { type AdvertisedCapability, type CapabilityRegistry, servedAsByoc } from "./registry.ts";

/** `authTokenValidPeriod` (go-livepeer core/orchestrator.go): 30 minutes. */
export const AUTH_TOKEN_VALID_SECONDS = 30 * 60;

/** What the info builder needs from the node. */
export interface InfoContext {
  /** The service URI gateways call, e.g. `https://127.0.0.1:8935`. */
  serviceUri: string;
  registry: CapabilityRegistry;
  /** Node version for `Capabilities.version`. */
  version: string;
  /** Offchain: every price is 0 and no ticket params are sent. */
  offchain: boolean;
  /** The orchestrator's signing address (20 bytes); offchain none ({@link advertisedAddress}). */
  address?: Uint8Array;
  /** Key of the auth token HMAC (go-livepeer uses the orchestrator secret). */
  authSecret?: Uint8Array;
  /** Ticket params for a sender at a price (on-chain only). */
  ticketParams?: (sender: Uint8Array, price: PriceInfo) => Promise<TicketParams | undefined>;
}

/**
 * `OrchestratorInfo.address`: the signing address, or offchain 20 zero bytes as go-livepeer's offchain
 * orchestrator sends (a go-livepeer gateway drops an orchestrator whose address is empty when its
 * `-orchBlocklist` is empty, because that list then holds one empty string).
 */
export function advertisedAddress(ctx: Pick<InfoContext, "address">): Uint8Array {
  return ctx.address ?? new Uint8Array(20);
}

/** go-livepeer's auth token: HMAC-SHA256(secret, utf8(sessionId) ‖ big-endian expiration bytes). */
export function authTokenMac(secret: Uint8Array, sessionId: string, expiration: bigint): Buffer {
  let hex = expiration.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const exp = expiration === 0n ? Buffer.alloc(0) : Buffer.from(hex, "hex");
  return createHmac("sha256", secret).update(sessionId, "utf8").update(exp).digest();
}

/** Why an auth token is refused (go-livepeer's texts), or undefined when it is valid. */
export function authTokenProblem(
  secret: Uint8Array,
  token: { token: Uint8Array; sessionId: string; expiration: bigint } | undefined,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): string | undefined {
  if (token === undefined) return "missing auth token";
  const want = authTokenMac(secret, token.sessionId, token.expiration);
  if (token.token.length !== want.length || !timingSafeEqual(Buffer.from(token.token), want))
    return "invalid auth token";
  if (token.expiration < BigInt(nowSeconds)) return "expired auth token";
  return undefined;
}

/** A price as the wire carries it: pricePerUnit / pixelsPerUnit, both int64. */
export function priceInfoOf(price: Rat, capability = 0, constraint = ""): PriceInfo {
  // An exact rational fits the wire when both parts are int64; else scale to 1e-9 wei precision.
  let num = price.num;
  let den = price.den;
  const MAX = (1n << 63n) - 1n;
  if (num > MAX || den > MAX) {
    den = 1_000_000_000n;
    num = price.mul(den).floor();
  }
  return create(PriceInfoSchema, { pricePerUnit: num, pixelsPerUnit: den, capability, constraint });
}

function advertisedPrice(ctx: InfoContext, a: AdvertisedCapability, gateway: string | undefined): Rat {
  if (ctx.offchain) return Rat.ZERO;
  return (gateway && a.prices.get(gateway)) || a.prices.get("default") || Rat.ZERO;
}

function hex(b: Uint8Array): string {
  return `0x${Buffer.from(b).toString("hex")}`;
}

/**
 * The `OrchestratorInfo` answered to a request. With capabilities in the request, `price_info` is the
 * price of the first requested AI capability/model this orchestrator serves; without, it is the
 * lowest advertised price, and `capabilities_prices` and `hardware` are filled (as go-livepeer does).
 */
export async function buildOrchestratorInfo(
  ctx: InfoContext,
  request: OrchestratorRequest | undefined,
): Promise<OrchestratorInfo> {
  const advertised = ctx.registry.advertised();
  const gateway = request && request.address.length === 20 ? hex(request.address) : undefined;
  let price: PriceInfo = priceInfoOf(Rat.ZERO);
  const requested = request?.capabilities?.constraints?.PerCapability ?? {};
  const wanted = Object.entries(requested).flatMap(([id, c]) =>
    Object.keys(c.models).map((model) => ({ id: Number(id), model })),
  );
  const withCaps = request?.capabilities !== undefined;
  if (wanted.length > 0) {
    for (const w of wanted) {
      const a = advertised.find(
        (x) => x.source !== "byoc" && capabilityIdOf(x.pipeline) === w.id && x.modelId === w.model,
      );
      if (a) {
        price = priceInfoOf(advertisedPrice(ctx, a, gateway), w.id, w.model);
        break;
      }
    }
  } else if (advertised.length > 0) {
    let low: Rat | undefined;
    for (const a of advertised) {
      const p = advertisedPrice(ctx, a, gateway);
      if (low === undefined || p.cmp(low) < 0) low = p;
    }
    price = priceInfoOf(low ?? Rat.ZERO);
  }
  const now = Math.floor(Date.now() / 1000);
  const sessionId = randomBytes(4).toString("hex");
  const expiration = BigInt(now + AUTH_TOKEN_VALID_SECONDS);
  const info = create(OrchestratorInfoSchema, {
    transcoder: ctx.serviceUri,
    priceInfo: price,
    address: advertisedAddress(ctx),
    capabilities: buildCapabilities(advertised, ctx.version),
    authToken: create(AuthTokenSchema, {
      token: ctx.authSecret ? authTokenMac(ctx.authSecret, sessionId, expiration) : randomBytes(32),
      sessionId,
      expiration,
    }),
  });
  if (!withCaps) {
    info.capabilitiesPrices = advertised.flatMap((a) => {
      // BYOC (and aiModels.json entries of a pipeline that is not built in): {37, name}, as go-livepeer.
      const id = servedAsByoc(a) ? CAPABILITY.BYOC : capabilityIdOf(a.pipeline);
      if (id === undefined) return [];
      return [priceInfoOf(advertisedPrice(ctx, a, gateway), id, a.modelId)];
    });
    info.hardware = advertised
      .filter((a) => !servedAsByoc(a))
      .map((a) =>
        create(HardwareInformationSchema, {
          pipeline: a.pipeline,
          modelId: a.modelId,
          gpuInfo: Object.fromEntries(
            Object.entries(a.gpuInfo).map(([k, g]) => [
              k,
              create(GPUComputeInfoSchema, {
                id: g.id,
                name: g.name,
                major: g.major,
                minor: g.minor,
                memoryFree: BigInt(Math.trunc(g.memory_free)),
                memoryTotal: BigInt(Math.trunc(g.memory_total)),
              }),
            ]),
          ),
        }),
      );
  }
  if (!ctx.offchain && ctx.ticketParams && request && request.address.length === 20) {
    info.ticketParams = await ctx.ticketParams(request.address, price);
  }
  return info;
}

/**
 * The JSON view of `GET /capabilities`: what gateways are told (ready capabilities, capacity, price),
 * plus, for the operator, every container's health.
 */
export function capabilitiesJson(
  ctx: InfoContext,
  options: { includeContainers?: boolean } = {},
): Record<string, unknown> {
  const advertised = ctx.registry.advertised();
  return {
    service_uri: ctx.serviceUri,
    version: ctx.version,
    capabilities: advertised.map((a) => {
      const price = advertisedPrice(ctx, a, undefined);
      return {
        capability: a.key,
        pipeline: a.pipeline,
        model_id: a.modelId,
        capability_id: servedAsByoc(a) ? CAPABILITY.BYOC : (capabilityIdOf(a.pipeline) ?? null),
        source: a.source,
        // The name gateways call it by (`POST /<pipeline>` with this model id, or the `Livepeer` header).
        ...(servedAsByoc(a) ? { byoc_capability: a.modelId } : {}),
        warm: a.warm,
        capacity: a.capacity,
        capacity_in_use: a.inUse,
        price_per_unit: price.toString(),
        price_unit: servedAsByoc(a)
          ? "second"
          : a.pipeline === "live-video-to-video"
            ? a.priceUnit
            : "pipeline",
        ...(a.description ? { description: a.description } : {}),
      };
    }),
    // Container URLs are internal addresses: listed only for the operator (orchestrator secret).
    ...(options.includeContainers
      ? {
          containers: ctx.registry.containers().map((c) => ({
            url: c.url,
            health: c.health,
            capacity: c.capacity,
            in_use: c.inUse,
            draining: !c.referenced,
          })),
        }
      : {}),
  };
}
