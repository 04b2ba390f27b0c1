/**
 * What every orchestrator route shares: the {@link OrchestratorContext} that `startOrchestrator`
 * builds once ({@link createContext}) and hands to the route handlers (`(ctx, req, res)`, routes/),
 * plus the few steps several routes take over it (container headers with the trace id, a slot or
 * 503, trickle URLs, the operator check).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Address } from "viem";
import { BadRequestError } from "../node/errors.ts";
import { DEFAULT_MAX_BODY_BYTES, readJsonObject } from "../node/http/body.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import type { NodeRequest, NodeResponse } from "../node/server.ts";
import { Rat } from "../payments/rational.ts";
import { usualPaymentUnits } from "../payments/usual-payment.ts";
import type { PriceInfo as PriceInfoMsg } from "../protocol/gen/lp_rpc_pb.ts";
import { ticketParamsToWire } from "../protocol/payment-header.ts";
import { TrickleServer } from "../trickle/server.ts";
import type { ModelConfig } from "./config.ts";
import { HealthMonitor } from "./health.ts";
import { ContainerAgents, header, NoCapacityError } from "./http.ts";
import type { InfoContext } from "./info.ts";
import { maxJobTimeoutOption } from "./job-header.ts";
import { createOrchestratorMetrics, type OrchestratorMetrics } from "./metrics.ts";
import type { OrchestratorOptions } from "./orchestrator.ts";
import type { PaymentGate } from "./payments.ts";
import { type Capability, CapabilityRegistry, type Lease } from "./registry.ts";
import { LiveRunners } from "./runners/service.ts";
import { StreamTable } from "./streams.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** Base path of the trickle mount. */
export const TRICKLE_BASE_PATH = "/ai/trickle/";
/** Debit period of a running priced BYOC batch job: go-livepeer's SSE period in `processJob` (5 s). */
export const DEFAULT_JOB_DEBIT_INTERVAL_MS = 5000;
/** BYOC stream debit period: go-livepeer `monitorOrchStream` (23 s). */
export const DEFAULT_STREAM_DEBIT_INTERVAL_MS = 23_000;
/** LV2V debit period: go-livepeer `-livePaymentInterval` (5 s). */
export const DEFAULT_LIVE_DEBIT_INTERVAL_MS = 5000;

/** The request being handled: its trace id (the caller's `X-Trace-Id` or a new one) and logger. */
export interface RequestScope {
  traceId: string;
  log: Logger;
}

/** The orchestrator's shared state, built once. */
export interface OrchestratorContext {
  /** The node's logger (without a trace id). */
  readonly log: Logger;
  readonly registry: CapabilityRegistry;
  /** The payment path; undefined offchain (prices 0, no tickets). */
  readonly gate: PaymentGate | undefined;
  readonly trickle: TrickleServer;
  /** Live runners (routes/live-runners.ts); undefined unless `liveRunners` is given. */
  readonly runners: LiveRunners | undefined;
  readonly streams: StreamTable;
  readonly metrics: OrchestratorMetrics;
  readonly health: HealthMonitor;
  /** Keep-alive pools toward containers (`containerKeepAlive`), else a connection per call. */
  readonly agents: ContainerAgents | undefined;
  /** What `GetOrchestrator` and `/capabilities` say (its `serviceUri` is set once the port is bound). */
  readonly info: InfoContext;
  /** Key of the auth tokens in `OrchestratorInfo` (checked in `Livepeer-Segment`). */
  readonly authSecret: Uint8Array;
  /** The secret BYOC containers and the operator authenticate with; undefined: registration is off. */
  readonly secret: string | undefined;
  /** The request being handled (set by the router's `around` hook, routes/index.ts). */
  readonly scope: AsyncLocalStorage<RequestScope>;
  readonly settings: {
    /** Largest JSON/multipart body read into memory. */
    maxBodyBytes: number;
    /** Largest `timeout_seconds` of a BYOC batch job (`--max-job-timeout`). */
    maxJobTimeoutSeconds: number;
    /** Debit period of a running priced BYOC batch job (`JobMeter`). */
    jobDebitIntervalMs: number;
    /** BYOC stream debit period. */
    streamDebitIntervalMs: number;
    /** LV2V debit period. */
    livePaymentIntervalMs: number;
    /** Host:port put in trickle URLs given to containers. */
    trickleHostForRunner: string | undefined;
  };
}

/** `aiModels.json` entries without `price_per_unit` take go-livepeer's `-pricePerUnit` when given. */
export function withDefaultPrice(models: readonly ModelConfig[], price: Rat | undefined): ModelConfig[] {
  return price === undefined
    ? [...models]
    : models.map((m) =>
        m.priceGiven ? m : { ...m, pricePerUnit: price, price: price.div(m.pixelsPerUnit) },
      );
}

/**
 * Builds the context over the configured models (`aiModels.json` as loaded); nothing listens yet.
 * Close what it made with {@link closeContext}.
 */
export function createContext(
  options: OrchestratorOptions,
  models: readonly ModelConfig[] = [],
): OrchestratorContext {
  const log = options.logger ?? silentLogger();
  const gate = options.payments;
  const registry = new CapabilityRegistry();
  registry.setConfigModels(withDefaultPrice(models, options.defaultPricePerUnit));
  const trickle: TrickleServer = new TrickleServer({
    basePath: TRICKLE_BASE_PATH,
    autocreate: false,
    logger: log,
    beforeDelete: (name): void => streams.controlDeleted(name),
  });
  const streams: StreamTable = new StreamTable({
    trickle,
    gate,
    log,
    checkIntervalMs: options.streamCheckIntervalMs,
    idleTimeoutMs: options.streamIdleTimeoutMs,
  });
  // Key of the auth token HMAC: derived from the orchestrator secret when there is one (so tokens
  // survive a restart), else random per process.
  const authSecret: Uint8Array = options.orchSecret
    ? createHash("sha256").update(`tributary-auth-token:${options.orchSecret}`).digest()
    : randomBytes(32);
  const info: InfoContext = {
    authSecret,
    serviceUri: options.serviceUri ?? "",
    registry,
    version: pkg.version,
    offchain: gate === undefined,
    ...(options.address ? { address: Buffer.from(options.address.slice(2), "hex") } : {}),
    ...(gate
      ? {
          ticketParams: async (sender: Uint8Array, price: PriceInfoMsg) =>
            ticketParamsToWire(
              await gate.ticketParams(
                `0x${Buffer.from(sender).toString("hex")}` as Address,
                Rat.of(price.pricePerUnit, price.pixelsPerUnit || 1n),
                usualPaymentUnits(price.capability),
              ),
            ),
        }
      : {}),
  };
  return {
    log,
    registry,
    gate,
    trickle,
    runners:
      options.liveRunners === undefined
        ? undefined
        : new LiveRunners(
            trickle,
            TRICKLE_BASE_PATH,
            options.liveRunners,
            options.orchSecret,
            gate !== undefined,
            log,
          ),
    streams,
    metrics: createOrchestratorMetrics(registry, () => streams.size, gate),
    health: new HealthMonitor(registry, { ...options.health, logger: log }),
    agents: options.containerKeepAlive ? new ContainerAgents() : undefined,
    info,
    authSecret,
    secret: options.orchSecret,
    scope: new AsyncLocalStorage<RequestScope>(),
    settings: {
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxJobTimeoutSeconds: maxJobTimeoutOption(options.maxJobTimeoutSeconds),
      jobDebitIntervalMs: options.sseDebitIntervalMs ?? DEFAULT_JOB_DEBIT_INTERVAL_MS,
      streamDebitIntervalMs: options.streamDebitIntervalMs ?? DEFAULT_STREAM_DEBIT_INTERVAL_MS,
      livePaymentIntervalMs: options.livePaymentIntervalMs ?? DEFAULT_LIVE_DEBIT_INTERVAL_MS,
      trickleHostForRunner: options.trickleHostForRunner,
    },
  };
}

/**
 * Ends every stream and closes what {@link createContext} made; `closeServer` (the service port) is
 * closed after the trickle server and before the container connections.
 */
export async function closeContext(
  ctx: OrchestratorContext,
  closeServer: () => Promise<void> = async () => {},
): Promise<void> {
  ctx.streams.close("orchestrator closing");
  await ctx.runners?.close();
  await ctx.health.close();
  await ctx.trickle.close();
  await closeServer();
  ctx.agents?.destroy();
}

/** The logger of the request being handled (with its trace id), else the node's. */
export function requestLog(ctx: OrchestratorContext): Logger {
  return ctx.scope.getStore()?.log ?? ctx.log;
}

/** Headers of a call to a container: its bearer token, the trace id, and `extra`. */
export function containerHeaders(
  ctx: OrchestratorContext,
  lease: Lease,
  extra: Record<string, string> = {},
): Record<string, string> {
  const h: Record<string, string> = { ...extra };
  if (lease.container.token !== undefined) h.authorization = `Bearer ${lease.container.token}`;
  const trace = ctx.scope.getStore()?.traceId;
  if (trace !== undefined) h["x-trace-id"] = trace;
  return h;
}

function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** True when the request carries the orchestrator secret as `Authorization` (compared in constant time). */
export function isOperator(ctx: OrchestratorContext, req: NodeRequest): boolean {
  return ctx.secret !== undefined && constantTimeEqual(header(req.headers, "authorization"), ctx.secret);
}

/** 128 random bits as hex, for trickle channel names and manifest ids. */
export function randomId(): string {
  return randomBytes(16).toString("hex");
}

/** Reserves a slot for `cap`, or counts the job as `no_capacity` under `labels` and throws 503. */
export function reserveOrThrow(
  ctx: OrchestratorContext,
  cap: Capability,
  labels: Record<string, string>,
): Lease {
  const lease = ctx.registry.reserve(cap);
  if (lease === undefined) {
    ctx.metrics.jobs.inc({ ...labels, outcome: "no_capacity" });
    throw new NoCapacityError(
      `No capacity available for capability ${cap.key}: every ready container is busy or none is healthy`,
      { capability: cap.key },
    );
  }
  return lease;
}

/**
 * A signal that aborts when the client goes away before the answer ended (through `abort`, when given,
 * so one signal can also stop the job for other reasons).
 */
export function clientGone(res: NodeResponse, abort = new AbortController()): AbortSignal {
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

/** Trickle URLs of a channel: for the container (`trickleHostForRunner`) and for the client. */
export function trickleUrls(ctx: OrchestratorContext): {
  runner: (ch: string) => string;
  client: (ch: string) => string;
} {
  const clientBase = `${ctx.info.serviceUri}${TRICKLE_BASE_PATH}`;
  let runnerBase = clientBase;
  if (ctx.settings.trickleHostForRunner) {
    const u = new URL(clientBase);
    u.host = ctx.settings.trickleHostForRunner;
    runnerBase = u.toString();
  }
  return { runner: (ch) => runnerBase + ch, client: (ch) => clientBase + ch };
}

/** A JSON object body (empty: `{}`); 400 `Invalid JSON body` otherwise. */
export function readJsonBody(ctx: OrchestratorContext, req: NodeRequest): Promise<Record<string, unknown>> {
  return readJsonObject(req, ctx.settings.maxBodyBytes, () => new BadRequestError("Invalid JSON body"));
}
