/**
 * The orchestrator node: one TLS service port (docs/spec/orchestrator-gateway.md#service-port-and-tls) serving gRPC
 * `Orchestrator.GetOrchestrator`/`Ping`, the HTTP routes and the trickle server under `/ai/trickle/`,
 * over a capability registry fed by `aiModels.json` (hot reloaded) and BYOC registrations, with a
 * health monitor deciding what is advertised and routed to.
 *
 * Routes (status codes in the route JSDoc below and in the README of this folder):
 * - BYOC (docs/spec/orchestrator-gateway.md#orchestrator-byoc-routes): `POST /capability/register|unregister`, `GET /process/token`,
 *   `POST /process/request/*` (batch and SSE passthrough), `/ai/stream/start|stop|update|payment`;
 * - native AI batch (docs/spec/orchestrator-gateway.md#ai-routes): `POST /<pipeline>` with `model_id` from the body;
 * - live (docs/spec/orchestrator-gateway.md#live-video-to-video): `POST /live-video-to-video`;
 * - ours: `GET /capabilities`, `GET /metrics`, `GET /health`.
 *
 * **Payments.** Offchain (no `payments` gate): prices are advertised as 0, no ticket params are
 * sent, no payment or signature is required (docs/spec/README.md#network-modes). With a gate
 * (`devnet`/`arbitrum-one`, see onchain.ts): BYOC jobs and streams are paid, charged per second and
 * stopped when the balance runs out; GetOrchestrator is signed and carries ticket params; native AI
 * batch and LV2V take `Livepeer-Payment` and `Livepeer-Segment` and are charged per go-livepeer
 * unit (audio-to-text: whole seconds of the decoded duration × 1000, audio-duration.ts); LV2V is
 * debited on a timer per `price_unit` and topped up with `POST /payment`. **Not done:** priced images
 * other than PNG/JPEG answer 501 while payments are on.
 *
 * Deliberate differences from go-livepeer: capacity is enforced on the orchestrator (503 when no
 * slot is free; upstream only lets the gateway filter), unhealthy containers are withdrawn by polling
 * rather than by de-registering on the first transport error, and trickle channel names carry 128
 * random bits (upstream uses the stream id). A wrong orchestrator secret answers 400, as upstream does:
 * pytrickle's registration helper stops on 400 and would retry a 401.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { Address } from "viem";
import { z } from "zod";
import { BadRequestError, NotFoundError, TributaryError } from "../node/errors.ts";
import type { HttpLimits } from "../node/http/limits.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { writeMetrics } from "../node/metrics.ts";
import {
  type NodeRequest,
  type NodeResponse,
  type RunningNodeServer,
  startNodeServer,
  type TlsMaterial,
} from "../node/server.ts";
import { byocMinimumBalance } from "../payments/balances.ts";
import { Rat } from "../payments/rational.ts";
import { checkPayloadSig, orchestratorRequestPayload } from "../payments/signature.ts";
import { aiRequestUnits } from "../protocol/ai-units.ts";
import { CAPABILITY, pipelineToCapability } from "../protocol/capabilities.ts";
import {
  Orchestrator,
  OrchestratorRequestSchema,
  PaymentResultSchema,
  PingPongSchema,
  type PriceInfo as PriceInfoMsg,
} from "../protocol/gen/lp_rpc_pb.ts";
import {
  JOB_CAPABILITY_HEADER,
  JOB_ETH_ADDRESS_HEADER,
  JOB_PAYMENT_HEADER,
  JOB_REQUEST_HEADER,
  type JobRequest,
  parseJobHeader,
} from "../protocol/job-header.ts";
import { parseMultipart } from "../protocol/multipart.ts";
import { decodePaymentHeader, ticketParamsToWire } from "../protocol/payment-header.ts";
import { decodeSegmentHeader, segCredsSigningBytes } from "../protocol/segment-header.ts";
import { priceInfoToGoJson, stringifyJsonBig, ticketParamsToGoJson } from "../protocol/ticket-params-json.ts";
import { TrickleServer } from "../trickle/server.ts";
import { audioToTextUnits } from "./audio-duration.ts";
import { capabilityIdOf } from "./capabilities.ts";
import {
  type AiModelsWatcher,
  loadAiModels,
  type ModelConfig,
  type PriceUnit,
  watchAiModels,
} from "./config.ts";
import { HealthMonitor, type HealthMonitorOptions } from "./health.ts";
import {
  ContainerAgents,
  ContainerError,
  callContainer,
  DEFAULT_MAX_BODY_BYTES,
  header,
  NoCapacityError,
  readBody,
  readResponse,
  sendError,
  sendErrorText,
  sendJson,
  sendText,
} from "./http.ts";
import {
  authTokenProblem,
  buildOrchestratorInfo,
  capabilitiesJson,
  type InfoContext,
  priceInfoOf,
} from "./info.ts";
import {
  checkJobTimeout,
  type JobSignatureVersion,
  maxJobTimeoutOption,
  parseJobSender,
  verifyJobSignature,
} from "./job-header.ts";
import { createOrchestratorMetrics, type OrchestratorMetrics } from "./metrics.ts";
import {
  balanceHeader,
  CreditExhaustedError,
  InsufficientBalanceError,
  type JobMeter,
  type PaymentGate,
} from "./payments.ts";
import { BYOC_PIPELINE, type Capability, CapabilityRegistry, type Lease } from "./registry.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** Network modes (docs/spec/README.md#network-modes). */
export type Network = "offchain" | "devnet" | "arbitrum-one";

/** Default orchestrator service port (conventions). */
export const DEFAULT_SERVICE_PORT = 8935;
/** Base path of the trickle mount. */
export const TRICKLE_BASE_PATH = "/ai/trickle/";

/** Options of {@link startOrchestrator}. */
export interface OrchestratorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Service port; default 8935; 0 picks one. */
  port?: number;
  /** The URI advertised to gateways (`transcoder`, `service_addr`); default `https://host:port`. */
  serviceUri?: string;
  /** `aiModels.json` path: loaded at start and hot reloaded. */
  aiModelsPath?: string;
  /** Models given in code (instead of a file). */
  models?: ModelConfig[];
  /** Secret BYOC containers register with (`Authorization: <secret>`). Without it registration is off. */
  orchSecret?: string;
  /** Keeps the generated TLS certificate. */
  dataDir?: string;
  tls?: TlsMaterial;
  network?: Network;
  health?: HealthMonitorOptions;
  /** aiModels.json reload: debounce and SIGHUP (default on). */
  reload?: { debounceMs?: number; sighup?: boolean };
  /** Host:port put in trickle URLs given to containers (`-liveAITrickleHostForRunner`). */
  trickleHostForRunner?: string;
  /** Largest JSON/multipart body read into memory; default 10 MiB. */
  maxBodyBytes?: number;
  /**
   * Keep connections to containers open between calls (http.ts `ContainerAgents`); default false:
   * a new connection per call. Saves about 0.3 ms per job (bench/orchestrator/run.ts); off by default
   * only because test/faults/container-crash.test.ts needs jobs slow enough to span discovery refreshes.
   */
  containerKeepAlive?: boolean;
  /** Header size, slow-client and HTTP/2 limits of the service port (src/node/http/limits.ts). */
  limits?: HttpLimits;
  /** How often live streams are checked for closed channels; default 2000 ms. */
  streamCheckIntervalMs?: number;
  /**
   * The payment path (on-chain networks). Without it the node is offchain: prices 0, no tickets.
   * With it, BYOC jobs and streams verify the V0 job signature, take `Livepeer-Payment`, require
   * 60 × price of credit and are debited per second (docs/spec/payments.md#byoc-payments).
   */
  payments?: PaymentGate;
  /** Price (wei per unit) of aiModels.json entries without `price_per_unit` (`-pricePerUnit`). */
  defaultPricePerUnit?: Rat;
  /** The orchestrator's signing address, advertised in `OrchestratorInfo.address`. */
  address?: Address;
  /** BYOC stream debit period; default 23 s (go-livepeer `monitorOrchStream`). */
  streamDebitIntervalMs?: number;
  /**
   * How often a running priced BYOC batch job (SSE or not) is debited and its credit checked; default
   * 5 s (go-livepeer's SSE period in `processJob`). See payments.ts `JobMeter`.
   */
  sseDebitIntervalMs?: number;
  /**
   * Largest `timeout_seconds` a BYOC batch job may ask for (`--max-job-timeout`); default and maximum
   * {@link MAX_JOB_TIMEOUT_SECONDS} (one day). Longer asks answer 400 `JOB_TIMEOUT_TOO_LONG`.
   */
  maxJobTimeoutSeconds?: number;
  /** LV2V debit period; default 5 s (go-livepeer `-livePaymentInterval`). */
  livePaymentIntervalMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A running live stream (LV2V or BYOC stream). */
interface LiveStream {
  id: string;
  kind: "lv2v" | "byoc";
  lease: Lease;
  channels: string[];
  /** The channel whose end stops the stream (the control channel). */
  watch: string;
  /**
   * BYOC: who may update, pay for and stop it: the lower-case address whose job signature verified
   * at start, or "" for an unsigned start (offchain only). See `ownedStream`.
   */
  owner?: string;
  /** Who pays, at what price per second (BYOC streams with payments). */
  payer?: { sender: Address; manifestId: string; price: Rat; negativeTicks: number; timer: NodeJS.Timeout };
}

/** A running orchestrator. */
export interface RunningOrchestrator extends AsyncDisposable {
  /** `https://host:port`. */
  url: string;
  serviceUri: string;
  port: number;
  /** The served certificate (PEM), for clients that pin it. */
  cert: string;
  registry: CapabilityRegistry;
  health: HealthMonitor;
  trickle: TrickleServer;
  metrics: OrchestratorMetrics;
  /** Reloads aiModels.json now (as SIGHUP). */
  reload(): Promise<void>;
  /** Number of running live streams. */
  readonly streamCount: number;
  close(): Promise<void>;
}

const registrationSchema = z.object({
  name: z
    .string()
    .min(1, "must not be empty")
    .max(128)
    .regex(/^[^/\s]+$/, "must not contain '/' or spaces"),
  description: z.string().optional(),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  capacity: z.number().int().min(1, "zero capacity").max(1_000_000),
  price_per_unit: z.number().int().min(0).optional(),
  price_scaling: z.number().int().min(0).optional(),
  currency: z.string().optional(),
  token: z.string().optional(),
});

function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** 128 random bits as hex, for trickle channel names and manifest ids. */
function randomId(): string {
  return randomBytes(16).toString("hex");
}

function pathOf(req: NodeRequest): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

/** Starts the orchestrator. Rejects on a bad configuration, an unsupported network or a busy port. */
export async function startOrchestrator(options: OrchestratorOptions = {}): Promise<RunningOrchestrator> {
  const log = options.logger ?? silentLogger();
  const network = options.network ?? (options.payments ? "devnet" : "offchain");
  const gate = options.payments;
  if (network !== "offchain" && gate === undefined)
    throw new TributaryError(
      "NETWORK_NOT_SUPPORTED",
      `network ${network} needs a payment gate (see startOnchainPayments in onchain.ts); use network offchain for none`,
      { status: 500 },
    );
  if (network === "offchain" && gate !== undefined)
    throw new TributaryError("CONFIG", "an offchain orchestrator takes no payment gate", { status: 500 });
  const host = options.host ?? "127.0.0.1";
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  /** Keep-alive connections to the containers (when enabled), closed with the orchestrator. */
  const agents = options.containerKeepAlive ? new ContainerAgents() : undefined;
  const registry = new CapabilityRegistry();
  const initial = options.aiModelsPath ? await loadAiModels(options.aiModelsPath) : (options.models ?? []);
  // go-livepeer's `-pricePerUnit`: the price of entries that give none (wei per unit, per pixel unit).
  const withDefaultPrice = (models: readonly ModelConfig[]): ModelConfig[] =>
    options.defaultPricePerUnit === undefined
      ? [...models]
      : models.map((m) =>
          m.priceGiven
            ? m
            : {
                ...m,
                pricePerUnit: options.defaultPricePerUnit!,
                price: options.defaultPricePerUnit!.div(m.pixelsPerUnit),
              },
        );
  registry.setConfigModels(withDefaultPrice(initial));
  const streams = new Map<string, LiveStream>();
  const metrics = createOrchestratorMetrics(registry, () => streams.size, gate);
  const trickle = new TrickleServer({
    basePath: TRICKLE_BASE_PATH,
    autocreate: false,
    logger: log,
    // A gateway that stops a stream deletes its control channel: free the stream's slot right after
    // the delete (not at the next check), so a new stream can start on the container at once.
    beforeDelete: (name) => {
      for (const s of streams.values())
        if (s.watch === name) setImmediate(() => teardown(s, "control channel deleted"));
    },
  });
  const health = new HealthMonitor(registry, { ...options.health, logger: log });
  const secret = options.orchSecret;
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
              ),
            ),
        }
      : {}),
  };

  // ---- live streams ---------------------------------------------------------------------------

  const teardown = (s: LiveStream, reason: string): void => {
    if (streams.get(s.id) !== s) return;
    streams.delete(s.id);
    if (s.payer) clearInterval(s.payer.timer);
    for (const ch of s.channels) trickle.deleteChannel(ch);
    s.lease.release();
    log.info({ stream_id: s.id, capability: s.lease.capability.key, reason }, "stream ended");
  };
  const streamTimer = setInterval(() => {
    for (const s of [...streams.values()]) {
      const ch = trickle.getChannel(s.watch);
      if (ch === undefined || ch.closed) teardown(s, "control channel closed");
    }
  }, options.streamCheckIntervalMs ?? 2000);
  streamTimer.unref();

  const trickleUrls = (base: string): { runner: (ch: string) => string; client: (ch: string) => string } => {
    const clientBase = `${base}${TRICKLE_BASE_PATH}`;
    let runnerBase = clientBase;
    if (options.trickleHostForRunner) {
      const u = new URL(clientBase);
      u.host = options.trickleHostForRunner;
      runnerBase = u.toString();
    }
    return { runner: (ch) => runnerBase + ch, client: (ch) => clientBase + ch };
  };

  // The trace id of the request being handled: taken from the caller's
  // `X-Trace-Id` or made here, answered back, sent on to the container and put on every log line.
  const traceStore = new AsyncLocalStorage<{ traceId: string; log: Logger }>();
  const rlog = (): Logger => traceStore.getStore()?.log ?? log;

  const containerHeaders = (lease: Lease, extra: Record<string, string> = {}): Record<string, string> => {
    const h: Record<string, string> = { ...extra };
    if (lease.container.token !== undefined) h.authorization = `Bearer ${lease.container.token}`;
    const trace = traceStore.getStore()?.traceId;
    if (trace !== undefined) h["x-trace-id"] = trace;
    return h;
  };

  // ---- BYOC registration ----------------------------------------------------------------------

  const authorized = (req: NodeRequest): boolean =>
    secret !== undefined && constantTimeEqual(header(req.headers, "authorization"), secret);

  async function register(req: NodeRequest, res: NodeResponse): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
    if (!authorized(req)) return sendText(res, 400, "invalid authorization");
    const body = await readBody(req, maxBody);
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString("utf8"));
    } catch {
      return sendText(res, 400, "Error registering capability: body is not JSON");
    }
    const r = registrationSchema.safeParse(raw);
    if (!r.success) {
      const why = r.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
      return sendText(res, 400, `Error registering capability: ${why}`);
    }
    const e = r.data;
    const currency = (e.currency ?? "").toLowerCase();
    if (currency !== "" && currency !== "wei" && currency !== "eth")
      return sendText(
        res,
        400,
        `Error registering capability: currency ${e.currency} needs a price feed (not supported); use wei or eth`,
      );
    const scaling = BigInt(e.price_scaling || 1);
    const perUnit = BigInt(e.price_per_unit ?? 0);
    const price = Rat.of(perUnit * (currency === "eth" ? 10n ** 18n : 1n), scaling);
    registry.registerByoc({
      name: e.name,
      description: e.description ?? "",
      url: e.url.replace(/\/+$/, ""),
      capacity: e.capacity,
      price,
      pricePerUnit: perUnit,
      priceScaling: scaling,
      currency: currency || "wei",
      token: e.token || undefined,
    });
    rlog().info(
      { capability: `${BYOC_PIPELINE}/${e.name}`, capacity: e.capacity },
      "BYOC capability registered",
    );
    sendText(res, 200, "ok", { "Content-Type": "application/json" });
  }

  async function unregister(req: NodeRequest, res: NodeResponse): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
    if (!authorized(req)) return sendText(res, 400, "invalid authorization");
    const name = (await readBody(req, 4096)).toString("utf8").trim();
    if (registry.unregisterByoc(name))
      rlog().info({ capability: `${BYOC_PIPELINE}/${name}` }, "BYOC capability unregistered");
    sendText(res, 200, "ok", { "Content-Type": "application/json" });
  }

  // ---- BYOC jobs ------------------------------------------------------------------------------

  function freeSlots(cap: Capability | undefined): number {
    if (cap === undefined) return 0;
    let n = 0;
    for (const url of cap.urls) {
      const c = registry.container(url);
      if (c?.health === "ready") n += Math.max(0, c.capacity - c.inUse);
    }
    return n;
  }

  async function processToken(req: NodeRequest, res: NodeResponse): Promise<void> {
    if (req.method !== "GET") return sendText(res, 405, "Method not allowed");
    const sender = await parseJobSender(
      header(req.headers, JOB_ETH_ADDRESS_HEADER) || undefined,
      gate !== undefined,
    );
    const capName = header(req.headers, JOB_CAPABILITY_HEADER);
    if (capName === "") throw new BadRequestError("missing Livepeer-Capability header");
    const cap = registry.get(BYOC_PIPELINE, capName);
    const available = freeSlots(cap);
    const token: Record<string, unknown> = { sender_address: sender };
    if (gate === undefined) {
      token.price = priceInfoToGoJson({ pricePerUnit: 0n, pixelsPerUnit: 1n, capability: 0, constraint: "" });
    } else {
      const addr = sender.addr as Address;
      const price = cap === undefined ? Rat.ZERO : registry.priceFor(cap, addr);
      const wire = priceInfoOf(price);
      token.ticket_params = ticketParamsToGoJson(await gate.ticketParams(addr, price));
      const balance = gate.balances.balance(addr, capName);
      if (balance !== undefined) token.balance = balance.floor();
      token.price = priceInfoToGoJson({
        pricePerUnit: wire.pricePerUnit,
        pixelsPerUnit: wire.pixelsPerUnit,
        capability: 0,
        constraint: "",
      });
    }
    token.service_addr = info.serviceUri;
    if (available > 0) token.available_capacity = available;
    token.LastNonce = 0;
    sendJson(res, 200, stringifyJsonBig(token));
  }

  /** A parsed, authenticated BYOC job: its capability, the paying sender and the price per second. */
  interface ByocJob {
    job: JobRequest;
    cap: Capability;
    /** The verified signer (on-chain) or undefined (offchain). */
    sender: Address | undefined;
    price: Rat;
  }

  /**
   * Parses the job header and, with payments, verifies the V1 or V0 signature (400 "Could not verify job
   * creds"). Offchain nothing is verified and the price is 0. An unknown capability answers 503. A batch
   * job (`maxTimeoutSeconds` given) asking for more than the operator's `--max-job-timeout` answers 400.
   */
  async function byocJob(req: NodeRequest, maxTimeoutSeconds?: number): Promise<ByocJob> {
    const job = parseJobHeader(header(req.headers, JOB_REQUEST_HEADER) || undefined);
    if (maxTimeoutSeconds !== undefined) checkJobTimeout(job, maxTimeoutSeconds);
    const sender = gate ? (await verifyJobSignature(job)).signer : undefined;
    const cap = registry.get(BYOC_PIPELINE, job.capability);
    if (cap === undefined)
      throw new NoCapacityError("No capacity available for capability", { capability: job.capability });
    return { job, cap, sender, price: gate && sender ? registry.priceFor(cap, sender) : Rat.ZERO };
  }

  /**
   * With payments and a price: credits the `Livepeer-Payment` tickets (manifest = capability name)
   * and, when `required`, demands 60 × price of credit (`status` when short: 400 batch, 402 stream).
   */
  async function takePayment(req: NodeRequest, j: ByocJob, required: boolean, status: number): Promise<void> {
    if (gate === undefined || j.sender === undefined || j.price.isZero()) return;
    await gate.receive(header(req.headers, JOB_PAYMENT_HEADER) || undefined, j.cap.modelId);
    if (required) gate.require(j.sender, j.cap.modelId, byocMinimumBalance(j.price), status);
  }

  /** Charges `units` seconds and returns the `Livepeer-Balance` header, if payments apply. */
  function charge(j: ByocJob, units: bigint): Record<string, string> {
    if (gate === undefined || j.sender === undefined || j.price.isZero()) return {};
    const balance = gate.debit(j.sender, j.cap.modelId, j.price, units);
    return { "Livepeer-Balance": balanceHeader(balance) };
  }

  /** Reserves a slot for `cap`, or counts the job as `no_capacity` under `labels` and throws. */
  function reserveOrThrow(cap: Capability, labels: Record<string, string>): Lease {
    const lease = registry.reserve(cap);
    if (lease === undefined) {
      metrics.jobs.inc({ ...labels, outcome: "no_capacity" });
      throw new NoCapacityError(
        `No capacity available for capability ${cap.key}: every ready container is busy or none is healthy`,
        {
          capability: cap.key,
        },
      );
    }
    return lease;
  }

  /**
   * A signal that aborts when the client goes away before the answer ended (through `abort`, when given,
   * so one signal can also stop the job for other reasons).
   */
  function clientGone(res: NodeResponse, abort = new AbortController()): AbortSignal {
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    return abort.signal;
  }

  /** Extra behaviour of {@link relay} for BYOC batch jobs. */
  interface RelayBilling {
    /** Headers for a whole (non-SSE) answer, computed when the body is complete (the charge). */
    finalHeaders?: () => Record<string, string>;
    /** SSE: headers sent first (the opening balance). */
    openingHeaders?: Record<string, string>;
    /** SSE: the last event of a stream that ended or timed out (the final charge and its balance). */
    closingEvent?: () => string;
    /**
     * SSE: the job's stop signal. Aborted with a {@link CreditExhaustedError}, the stream ends with
     * go-livepeer's insufficient-balance events; any other reason (the client left) ends the relay.
     */
    stop?: AbortSignal;
    /** SSE: the stream ends (closing event, then `data: [DONE]`) after this long, go-livepeer's bound. */
    deadlineMs?: number;
  }

  /** Resolves when `out` can take more, or closed (a client gone while backpressured must not hang the relay). */
  function drainedOrClosed(out: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        out.off("drain", done);
        out.off("close", done);
        resolve();
      };
      out.on("drain", done);
      out.on("close", done);
    });
  }

  /** go-livepeer's ending of an SSE answer whose balance ran out. */
  const SSE_INSUFFICIENT_BALANCE = 'event: insufficient balance\ndata: {"balance": 0}\n\ndata: [DONE]\n\n';

  /** Copies a container answer to the client: SSE streamed as it comes, anything else whole. */
  async function relay(
    upstream: IncomingMessage,
    res: NodeResponse,
    okStatus: number | undefined,
    billing: RelayBilling = {},
  ): Promise<void> {
    const out = res as ServerResponse;
    const ct = header(upstream.headers, "content-type");
    const meta = header(upstream.headers, "x-metadata");
    const status = upstream.statusCode ?? 502;
    if (ct.includes("text/event-stream")) {
      out.writeHead(status < 400 ? 200 : status, {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        ...(meta ? { "X-Metadata": meta } : {}),
        ...(billing.openingHeaders ?? {}),
      });
      out.flushHeaders?.();
      // Ended by us (credit out, deadline) rather than by the container.
      let ended = false;
      const end = (last: string): void => {
        if (ended) return;
        ended = true;
        out.end(last);
        upstream.destroy();
      };
      const onStop = (): void => {
        if (billing.stop?.reason instanceof CreditExhaustedError) end(SSE_INSUFFICIENT_BALANCE);
      };
      billing.stop?.addEventListener("abort", onStop);
      const deadline =
        billing.deadlineMs === undefined
          ? undefined
          : setTimeout(() => end(`${billing.closingEvent?.() ?? ""}data: [DONE]\n\n`), billing.deadlineMs);
      try {
        for await (const chunk of upstream) {
          if (ended) break;
          if (!out.write(chunk)) await drainedOrClosed(out);
        }
      } catch (err) {
        if (!ended) throw err;
      } finally {
        clearTimeout(deadline);
        billing.stop?.removeEventListener("abort", onStop);
      }
      end(billing.closingEvent?.() ?? "");
      return;
    }
    const body = await readResponse(upstream);
    const headers: Record<string, string> = { ...(billing.finalHeaders?.() ?? {}) };
    if (ct) headers["Content-Type"] = ct;
    if (meta) headers["X-Metadata"] = meta;
    out.writeHead(status < 400 && okStatus !== undefined ? okStatus : status, headers);
    out.end(body);
  }

  const maxJobTimeout = maxJobTimeoutOption(options.maxJobTimeoutSeconds);

  async function processRequest(req: NodeRequest, res: NodeResponse, rest: string): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
    const started = performance.now();
    const labels = { route: "byoc", pipeline: BYOC_PIPELINE, model_id: "" };
    let j: ByocJob;
    let lease: Lease;
    try {
      j = await byocJob(req, maxJobTimeout);
      labels.model_id = j.cap.modelId;
    } catch (err) {
      metrics.jobs.inc({ ...labels, outcome: "rejected" });
      throw err;
    }
    lease = reserveOrThrow(j.cap, labels);
    // One signal stops the job: the client leaving, or the meter when the credit runs out.
    const stop = new AbortController();
    const gone = clientGone(res, stop);
    let meter: JobMeter | undefined;
    try {
      try {
        await takePayment(req, j, true, 400);
      } catch (err) {
        metrics.jobs.inc({ ...labels, outcome: "rejected" });
        throw err;
      }
      // Every priced job is billed for the seconds it runs, however it ends (payments.ts JobMeter).
      if (gate !== undefined && j.sender !== undefined && !j.price.isZero())
        meter = gate.meter(j.sender, j.cap.modelId, j.price, {
          periodMs: options.sseDebitIntervalMs ?? 5000,
          onExhausted: (err) => stop.abort(err),
        });
      const headers = containerHeaders(lease);
      const ct = header(req.headers, "content-type");
      if (ct) headers["Content-Type"] = ct;
      // Accept too (go-livepeer passes only Content-Type/-Length): a container that answers SSE
      // when asked (`Accept: text/event-stream`) must see the client's ask.
      const accept = header(req.headers, "accept");
      if (accept) headers.accept = accept;
      const cl = header(req.headers, "content-length");
      if (cl) headers["content-length"] = cl;
      const upstream = await callContainer({
        agents,
        url: rest === "" ? lease.container.url : `${lease.container.url}/${rest}`,
        headers,
        body: req as unknown as IncomingMessage,
        timeoutMs: j.job.timeoutSeconds * 1000,
        signal: gone,
      });
      metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
      if (upstream.statusCode === 401) {
        upstream.resume();
        throw new ContainerError("job not able to be processed: worker auth token failed");
      }
      const m = meter;
      await relay(
        upstream,
        res,
        200,
        m && gate && j.sender
          ? {
              finalHeaders: () => ({ "Livepeer-Balance": balanceHeader(m.finish()) }),
              openingHeaders: {
                "livepeer-payment-balance": balanceHeader(gate.balance(j.sender, j.cap.modelId)),
              },
              closingEvent: () => `event: balance\ndata: {"balance": ${balanceHeader(m.finish())}}\n\n`,
              stop: stop.signal,
              deadlineMs: j.job.timeoutSeconds * 1000,
            }
          : { deadlineMs: j.job.timeoutSeconds * 1000 },
      );
      metrics.jobs.inc({ ...labels, outcome: (upstream.statusCode ?? 500) < 400 ? "ok" : "error" });
    } catch (err) {
      metrics.jobs.inc({ ...labels, outcome: "error" });
      // The meter stopped the job before any answer: say so (402) rather than "container failed".
      if (meter?.exhausted && stop.signal.reason instanceof CreditExhaustedError) throw stop.signal.reason;
      throw err;
    } finally {
      meter?.finish();
      lease.release();
    }
  }

  // ---- native AI batch ------------------------------------------------------------------------

  /**
   * Priced work whose units cannot be computed (images other than PNG/JPEG) answers 501 while
   * payments are on, rather than working for free. Free models (price 0) are served.
   */
  function refuseUnpaidPrice(cap: Capability): void {
    if (gate === undefined) return;
    for (const p of cap.prices.values())
      if (!p.isZero())
        throw new TributaryError(
          "NOT_IMPLEMENTED",
          `payments for ${cap.pipeline} are not implemented yet; this orchestrator serves ${cap.key} only at price 0`,
          { status: 501 },
        );
  }

  function modelIdFrom(body: Buffer, contentType: string): string | undefined {
    if (contentType.includes("application/json")) {
      try {
        const o = JSON.parse(body.toString("utf8")) as { model_id?: unknown };
        return typeof o?.model_id === "string" && o.model_id !== "" ? o.model_id : undefined;
      } catch {
        throw new BadRequestError("request body is not valid JSON");
      }
    }
    if (contentType.includes("multipart/form-data")) {
      const id = parseMultipart(body, contentType).fields.model_id;
      return id === undefined || id === "" ? undefined : id;
    }
    return undefined;
  }

  /**
   * The native AI payment (docs/spec/payments.md#payment-header, #segment-credentials, #orchestrator-balances): `Livepeer-Payment` (402 missing or undecodable),
   * `Livepeer-Segment` signed by the payer with a valid auth token (403), tickets credited to
   * `<capId>_<modelId>`, and a balance of at least one ticket EV (400). Returns who pays what.
   */
  async function takeAiPayment(
    req: NodeRequest,
    cap: Capability,
    manifestOverride?: string,
  ): Promise<{ sender: Address; manifestId: string; price: Rat } | undefined> {
    if (gate === undefined) return undefined;
    const anyPrice = [...cap.prices.values()].some((p) => !p.isZero());
    if (!anyPrice) return undefined;
    const { sender, paymentValue } = await verifyPaymentHeaders(req);
    const manifestId = manifestOverride ?? `${capabilityIdOf(cap.pipeline)}_${cap.modelId}`;
    await gate.receive(paymentValue, manifestId);
    const ev = gate.recipient.ev;
    const balance = gate.balance(sender, manifestId);
    if (balance.cmp(ev) < 0) throw new InsufficientBalanceError(manifestId, balance, ev, 400);
    return { sender, manifestId, price: registry.priceFor(cap, sender) };
  }

  /**
   * `Livepeer-Payment` (402 missing or undecodable) and `Livepeer-Segment` signed by the payer with a
   * valid auth token (403). Returns the payer, the raw payment and the segment credentials.
   */
  async function verifyPaymentHeaders(
    req: NodeRequest,
  ): Promise<{ sender: Address; paymentValue: string; seg: ReturnType<typeof decodeSegmentHeader> }> {
    const paymentValue = header(req.headers, JOB_PAYMENT_HEADER);
    if (paymentValue === "")
      throw new TributaryError("PAYMENT_REQUIRED", "missing Livepeer-Payment header: this model is priced", {
        status: 402,
      });
    const payment = decodePaymentHeader(paymentValue);
    const segValue = header(req.headers, "livepeer-segment");
    if (segValue === "")
      throw new TributaryError("BAD_SEGMENT_HEADER", "missing Livepeer-Segment header", { status: 403 });
    const seg = decodeSegmentHeader(segValue);
    const sigOk = (
      await checkPayloadSig(payment.sender, segCredsSigningBytes(seg.manifestId, seg.seq, seg.hash), seg.sig)
    ).valid;
    if (!sigOk)
      throw new TributaryError(
        "BAD_SEGMENT_SIG",
        "ErrSegSig: segment credentials are not signed by the payer",
        {
          status: 403,
        },
      );
    const tokenProblem = authTokenProblem(
      authSecret,
      seg.authToken && {
        token: Buffer.from(seg.authToken.token.slice(2), "hex"),
        sessionId: seg.authToken.sessionId,
        expiration: seg.authToken.expiration,
      },
    );
    if (tokenProblem !== undefined)
      throw new TributaryError("BAD_AUTH_TOKEN", `${tokenProblem}: get a fresh one from GetOrchestrator`, {
        status: 403,
      });
    return { sender: payment.sender, paymentValue, seg };
  }

  async function nativeBatch(req: NodeRequest, res: NodeResponse, pipeline: string): Promise<void> {
    const started = performance.now();
    const body = await readBody(req, maxBody);
    const ct = header(req.headers, "content-type");
    let modelId = modelIdFrom(body, ct);
    const caps = registry.byPipeline(pipeline);
    if (modelId === undefined) {
      if (caps.length !== 1)
        throw new BadRequestError(
          `model_id is required: this orchestrator serves ${caps.length} models for ${pipeline}`,
          { code: "MODEL_ID_REQUIRED" },
        );
      modelId = caps[0]!.modelId;
    }
    const labels = { route: "batch", pipeline, model_id: modelId };
    const cap = registry.get(pipeline, modelId);
    if (cap === undefined) {
      // not the client's model_id as a label: each new value would be a new series kept forever
      metrics.jobs.inc({ ...labels, model_id: "unknown", outcome: "no_capacity" });
      throw new NoCapacityError(
        `insufficient capacity: model ${modelId} is not served here for ${pipeline}`,
        { pipeline, model_id: modelId },
      );
    }
    // Units first (a bad body is a 400 before anything is reserved or paid); only priced work needs them.
    const priced = gate !== undefined && [...cap.prices.values()].some((p) => !p.isZero());
    const units = !priced
      ? undefined
      : pipeline === "audio-to-text" && ct.includes("multipart/form-data")
        ? await audioToTextUnits(parseMultipart(body, ct).files.audio)
        : aiRequestUnits(pipeline, ct, body);
    if (priced && units === undefined && !ct.includes("multipart/form-data"))
      throw new TributaryError(
        "UNSUPPORTED_MEDIA_TYPE",
        `a priced ${pipeline} request is counted from its body: send application/json (text-to-image, llm, text-to-speech) or multipart/form-data (image and audio pipelines)`,
        { status: 415 },
      );
    if (priced && units === undefined) refuseUnpaidPrice(cap);
    const lease = reserveOrThrow(cap, labels);
    const gone = clientGone(res);
    try {
      let payer: Awaited<ReturnType<typeof takeAiPayment>>;
      try {
        payer = await takeAiPayment(req, cap);
      } catch (err) {
        metrics.jobs.inc({ ...labels, outcome: "rejected" });
        throw err;
      }
      const headers = containerHeaders(lease, { "content-length": String(body.length) });
      if (ct) headers["Content-Type"] = ct;
      const upstream = await callContainer({
        agents,
        url: `${lease.container.url}/${pipeline}`,
        headers,
        body,
        timeoutMs: 10 * 60_000,
        signal: gone,
      });
      metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
      // Charged after the work, on success only (go-livepeer `DebitFees`).
      if (payer && units !== undefined && gate && (upstream.statusCode ?? 500) < 400)
        gate.debit(payer.sender, payer.manifestId, payer.price, units);
      await relay(upstream, res, undefined);
      metrics.jobs.inc({ ...labels, outcome: (upstream.statusCode ?? 500) < 400 ? "ok" : "error" });
    } catch (err) {
      metrics.jobs.inc({ ...labels, outcome: "error" });
      throw err;
    } finally {
      lease.release();
    }
  }

  // ---- live-video-to-video --------------------------------------------------------------------

  async function readJsonObject(req: NodeRequest): Promise<Record<string, unknown>> {
    const body = await readBody(req, maxBody);
    let o: unknown;
    try {
      o = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
    } catch {
      throw new BadRequestError("Invalid JSON body");
    }
    if (typeof o !== "object" || o === null || Array.isArray(o))
      throw new BadRequestError("Invalid JSON body");
    return o as Record<string, unknown>;
  }

  async function liveVideoToVideo(req: NodeRequest, res: NodeResponse): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
    const started = performance.now();
    const body = await readJsonObject(req);
    const pipeline = "live-video-to-video";
    const caps = registry.byPipeline(pipeline);
    let modelId = typeof body.model_id === "string" && body.model_id !== "" ? body.model_id : undefined;
    if (modelId === undefined) {
      if (caps.length !== 1) throw new BadRequestError("model_id is required", { code: "MODEL_ID_REQUIRED" });
      modelId = caps[0]!.modelId;
    }
    const labels = { route: "live", pipeline, model_id: modelId };
    const cap = registry.get(pipeline, modelId);
    if (cap === undefined) {
      // not the client's model_id as a label: each new value would be a new series kept forever
      metrics.jobs.inc({ ...labels, model_id: "unknown", outcome: "no_capacity" });
      throw new NoCapacityError(`insufficient capacity: model ${modelId} is not served here`, {
        model_id: modelId,
      });
    }
    const lease = reserveOrThrow(cap, labels);
    const mid = randomId();
    let payer: Awaited<ReturnType<typeof takeAiPayment>>;
    try {
      // The stream's balance is kept under its manifest id (go-livepeer `ProcessPayment(mid)`).
      payer = await takeAiPayment(req, cap, mid);
    } catch (err) {
      lease.release();
      metrics.jobs.inc({ ...labels, outcome: "rejected" });
      throw err;
    }
    const names = { in: mid, out: `${mid}-out`, control: `${mid}-control`, events: `${mid}-events` };
    trickle.createChannel(names.in, "video/MP2T");
    trickle.createChannel(names.out, "video/MP2T");
    trickle.createChannel(names.control, "application/json");
    trickle.createChannel(names.events, "application/json");
    const stream: LiveStream = {
      id: mid,
      kind: "lv2v",
      lease,
      channels: Object.values(names),
      watch: names.control,
    };
    streams.set(mid, stream);
    const urls = trickleUrls(info.serviceUri);
    try {
      const upstream = await callContainer({
        agents,
        url: `${lease.container.url}/live-video-to-video`,
        headers: containerHeaders(lease, { "Content-Type": "application/json" }),
        body: Buffer.from(
          JSON.stringify({
            model_id: modelId,
            subscribe_url: urls.runner(names.in),
            publish_url: urls.runner(names.out),
            control_url: urls.runner(names.control),
            events_url: urls.runner(names.events),
            params: body.params ?? {},
            gateway_request_id: typeof body.gateway_request_id === "string" ? body.gateway_request_id : "",
            manifest_id: mid,
            stream_id: typeof body.stream_id === "string" ? body.stream_id : "",
          }),
        ),
        timeoutMs: 60_000,
      });
      const answer = await readResponse(upstream, 1024 * 1024);
      if ((upstream.statusCode ?? 500) >= 400) {
        teardown(stream, `container refused the stream (${upstream.statusCode})`);
        metrics.jobs.inc({ ...labels, outcome: "error" });
        (res as ServerResponse).writeHead(upstream.statusCode ?? 500, {
          "Content-Type": header(upstream.headers, "content-type") || "application/json",
        });
        res.end(answer);
        return;
      }
    } catch (err) {
      teardown(stream, "container call failed");
      metrics.jobs.inc({ ...labels, outcome: "error" });
      throw err;
    }
    metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
    metrics.jobs.inc({ ...labels, outcome: "ok" });
    if (payer) startLiveDebits(stream, payer.sender, payer.manifestId, payer.price, cap.priceUnit);
    rlog().info({ stream_id: mid, capability: cap.key }, "live stream started");
    sendJson(res, 200, {
      publish_url: urls.client(names.in),
      subscribe_url: urls.client(names.out),
      control_url: urls.client(names.control),
      events_url: urls.client(names.events),
      manifest_id: mid,
    });
  }

  /**
   * LV2V debits (docs/spec/payments.md#live-video-debits): every interval, `price × units` where a unit is a pixel of
   * 1280×720 at 30 fps (go-livepeer's), a frame at 30 fps, or a second (`price_unit`). When the
   * balance cannot cover the fee the stream's channels are closed, which ends the container's
   * stream. Driven by a timer, not by ingest segments as in go-livepeer.
   */
  function startLiveDebits(
    s: LiveStream,
    sender: Address,
    manifestId: string,
    price: Rat,
    unit: PriceUnit,
  ): void {
    const periodMs = options.livePaymentIntervalMs ?? 5000;
    const seconds = BigInt(Math.max(1, Math.round(periodMs / 1000)));
    const units =
      unit === "pixel" ? 1280n * 720n * 30n * seconds : unit === "frame" ? 30n * seconds : seconds;
    const timer = setInterval(() => {
      if (!gate || streams.get(s.id) !== s) return clearInterval(timer);
      const fee = price.mul(units);
      const balance = gate.balance(sender, manifestId);
      if (balance.cmp(fee) < 0) {
        log.warn(
          { stream_id: s.id, balance: balance.toFixed(0), fee: fee.toFixed(0) },
          "live stream out of credit",
        );
        teardown(s, "insufficient balance");
        return;
      }
      gate.debit(sender, manifestId, price, units);
    }, periodMs);
    timer.unref();
    s.payer = { sender, manifestId, price, negativeTicks: 0, timer };
  }

  /**
   * `POST /payment` (LV2V top-ups, docs/spec/payments.md#paid-endpoints): verified `Livepeer-Payment` and
   * `Livepeer-Segment`, tickets credited to the segment's manifest id (the stream's `manifest_id`);
   * answers a protobuf `PaymentResult{info}` with fresh ticket params.
   */
  async function payment(req: NodeRequest, res: NodeResponse): Promise<void> {
    if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
    if (gate === undefined) {
      req.resume();
      (res as ServerResponse).writeHead(200, { "Content-Type": "application/octet-stream" });
      res.end(
        toBinary(
          PaymentResultSchema,
          create(PaymentResultSchema, { info: await buildOrchestratorInfo(info, undefined) }),
        ),
      );
      return;
    }
    const { sender, paymentValue, seg } = await verifyPaymentHeaders(req);
    req.resume();
    await gate.receive(paymentValue, seg.manifestId);
    const orchInfo = await buildOrchestratorInfo(
      info,
      create(OrchestratorRequestSchema, { address: Buffer.from(sender.slice(2), "hex") }),
    );
    (res as ServerResponse).writeHead(200, { "Content-Type": "application/octet-stream" });
    res.end(toBinary(PaymentResultSchema, create(PaymentResultSchema, { info: orchInfo })));
  }

  // ---- BYOC streams ---------------------------------------------------------------------------

  async function streamStart(req: NodeRequest, res: NodeResponse): Promise<void> {
    const started = performance.now();
    const j = await byocJob(req);
    const { job, cap } = j;
    const id = job.id || job.streamId;
    if (id === "") throw new BadRequestError("the job header needs an id (the stream id)");
    // the id travels to the container in the x-stream-id header: only what a header value can carry
    if (!/^[\x20-\x7e]{1,256}$/.test(id))
      throw new BadRequestError("the stream id must be printable ASCII, at most 256 characters");
    const { owner } = await callerOf(job);
    // Ids are unique across senders (the container sees the id in x-stream-id): a start whose id runs
    // already is refused, and the answer is the same whoever runs it.
    if (streams.has(id))
      throw new TributaryError("STREAM_EXISTS", `stream id ${id} is in use here: choose another id`, {
        status: 409,
      });
    const body = await readJsonObject(req);
    const labels = { route: "byoc-stream", pipeline: BYOC_PIPELINE, model_id: cap.modelId };
    const lease = reserveOrThrow(cap, labels);
    try {
      await takePayment(req, j, true, 402);
    } catch (err) {
      lease.release();
      metrics.jobs.inc({ ...labels, outcome: "rejected" });
      throw err;
    }
    const base = randomId();
    const names: Record<string, string> = { control: `${base}-control`, events: `${base}-events` };
    if (job.params.enableVideoIngress) names.in = base;
    if (job.params.enableVideoEgress) names.out = `${base}-out`;
    if (job.params.enableDataOutput) names.data = `${base}-data`;
    trickle.createChannel(names.control!, "application/json");
    trickle.createChannel(names.events!, "application/json");
    if (names.in) trickle.createChannel(names.in, "video/MP2T");
    if (names.out) trickle.createChannel(names.out, "video/MP2T");
    if (names.data) trickle.createChannel(names.data, "application/jsonl");
    const stream: LiveStream = {
      id,
      kind: "byoc",
      lease,
      channels: Object.values(names),
      watch: names.control!,
      owner,
    };
    streams.set(id, stream);
    const urls = trickleUrls(info.serviceUri);
    const runnerUrls: Record<string, string> = {
      control_url: urls.runner(names.control!),
      events_url: urls.runner(names.events!),
    };
    if (names.in) runnerUrls.subscribe_url = urls.runner(names.in);
    if (names.out) runnerUrls.publish_url = urls.runner(names.out);
    if (names.data) runnerUrls.data_url = urls.runner(names.data);
    try {
      const upstream = await callContainer({
        agents,
        url: `${lease.container.url}/stream/start`,
        headers: containerHeaders(lease, { "Content-Type": "application/json", "x-stream-id": id }),
        body: Buffer.from(JSON.stringify({ ...body, gateway_request_id: id, ...runnerUrls })),
        timeoutMs: job.timeoutSeconds * 1000,
      });
      const answer = await readResponse(upstream, 1024 * 1024);
      if ((upstream.statusCode ?? 500) >= 400) {
        teardown(stream, `container refused the stream (${upstream.statusCode})`);
        metrics.jobs.inc({ ...labels, outcome: "error" });
        const status = upstream.statusCode === 401 ? 500 : (upstream.statusCode ?? 500);
        (res as ServerResponse).writeHead(status, {
          "Content-Type": header(upstream.headers, "content-type") || "text/plain",
        });
        res.end(upstream.statusCode === 401 ? "Orchestrator worker failure\n" : answer);
        return;
      }
    } catch (err) {
      teardown(stream, "container call failed");
      metrics.jobs.inc({ ...labels, outcome: "error" });
      throw err;
    }
    metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
    metrics.jobs.inc({ ...labels, outcome: "ok" });
    const balance = charge(j, BigInt(Math.max(1, Math.ceil((performance.now() - started) / 1000))));
    if (gate && j.sender && !j.price.isZero()) startStreamDebits(stream, j.sender, cap.modelId, j.price);
    const out: Record<string, string> = {
      ...balance,
      "x-control-url": urls.runner(names.control!),
      "x-events-url": urls.runner(names.events!),
    };
    if (names.in) out["x-publish-url"] = urls.runner(names.in);
    if (names.out) out["x-subscribe-url"] = urls.runner(names.out);
    if (names.data) out["x-data-url"] = urls.runner(names.data);
    (res as ServerResponse).writeHead(200, out);
    res.end();
  }

  /**
   * Who sends a BYOC stream job: the lower-case address whose V1 or V0 signature verified, or ""
   * for an unsigned job offchain (where a signature that does not verify also counts as none; on
   * chain `byocJob` has refused it already). `version` is the signature's format.
   */
  async function callerOf(job: JobRequest): Promise<{ owner: string; version?: JobSignatureVersion }> {
    if (gate === undefined && job.sig === "") return { owner: "" };
    try {
      const v = await verifyJobSignature(job);
      return { owner: v.signer.toLowerCase(), version: v.version };
    } catch (err) {
      if (gate !== undefined) throw err;
      return { owner: "" };
    }
  }

  /** Stands for the operator (`Authorization: <orchestrator secret>`) in {@link ownedStream}. */
  const OPERATOR = Symbol("operator");

  /**
   * The one check of every BYOC stream route after the start: the stream `id` if `caller` started it
   * (the operator may reach any). Someone else's stream answers exactly as an unknown one, 404, so
   * the routes confirm nothing about streams the caller does not own.
   */
  function ownedStream(id: string, caller: string | typeof OPERATOR): LiveStream {
    const s = streams.get(id);
    if (s === undefined || s.kind !== "byoc" || (caller !== OPERATOR && s.owner !== caller))
      throw new NotFoundError(`stream ${id} does not run here`, { code: "STREAM_NOT_FOUND" });
    return s;
  }

  /**
   * Debits a paying stream every period (go-livepeer `monitorOrchStream`: 23 s). A negative balance
   * is tolerated once (a payment may be in flight); the next negative tick stops the stream and tells
   * the container (go-livepeer only drops it from the map).
   */
  function startStreamDebits(s: LiveStream, sender: Address, manifestId: string, price: Rat): void {
    const periodMs = options.streamDebitIntervalMs ?? 23_000;
    const units = BigInt(Math.max(1, Math.round(periodMs / 1000)));
    const timer = setInterval(() => {
      if (!gate || streams.get(s.id) !== s) return clearInterval(timer);
      const balance = gate.debit(sender, manifestId, price, units);
      if (balance.cmp(0n) >= 0) {
        s.payer!.negativeTicks = 0;
        return;
      }
      s.payer!.negativeTicks++;
      log.warn({ stream_id: s.id, balance: balance.toFixed(0) }, "stream balance is negative");
      if (s.payer!.negativeTicks < 2) return;
      void stopContainerStream(s, Buffer.from('{"reason":"insufficient balance"}'));
      teardown(s, "insufficient balance");
    }, periodMs);
    timer.unref();
    s.payer = { sender, manifestId, price, negativeTicks: 0, timer };
  }

  async function stopContainerStream(
    s: LiveStream,
    body: Buffer,
  ): Promise<{ status: number; answer: Buffer; ct: string }> {
    try {
      const upstream = await callContainer({
        agents,
        url: `${s.lease.container.url}/stream/stop`,
        headers: containerHeaders(s.lease, { "Content-Type": "application/json", "x-stream-id": s.id }),
        body,
        timeoutMs: 10_000,
      });
      const answer = await readResponse(upstream, 1024 * 1024);
      return { status: upstream.statusCode ?? 200, answer, ct: header(upstream.headers, "content-type") };
    } catch (err) {
      log.warn({ err, stream_id: s.id }, "container stop failed; stream removed anyway");
      return { status: 200, answer: Buffer.alloc(0), ct: "" };
    }
  }

  /**
   * Stop, update and payment: the header names the stream, which must be the signer's
   * ({@link ownedStream}); then the payment, if sent, is credited. A V0 signature covers only
   * `request + parameters`, so a V0-signed job names its stream in `request.stream_id` (the `id`
   * field counts for V1 and unsigned jobs): a V0 signature seen on any other job cannot be replayed
   * to reach one of the signer's streams by a made-up `id`.
   */
  async function streamJob(req: NodeRequest, required: boolean): Promise<{ j: ByocJob; s: LiveStream }> {
    const j = await byocJob(req);
    const caller = await callerOf(j.job);
    const id = caller.version === "v0" ? j.job.streamId : j.job.streamId || j.job.id;
    if (id === "")
      throw new BadRequestError(
        caller.version === "v0"
          ? 'name the stream in request (`{"stream_id": …}`): a V0 job signature does not cover id'
          : "the job header names no stream: set request.stream_id",
      );
    const s = ownedStream(id, caller.owner);
    await takePayment(req, j, required, 400);
    return { j, s };
  }

  /**
   * `/ai/stream/stop`: by the stream's sender, or by the operator with `Authorization: <orchestrator
   * secret>` and a `Livepeer` header that names the stream (no signature, no payment).
   */
  async function streamStop(req: NodeRequest, res: NodeResponse): Promise<void> {
    const operator = authorized(req);
    let s: LiveStream;
    if (operator) {
      const job = parseJobHeader(header(req.headers, JOB_REQUEST_HEADER) || undefined);
      s = ownedStream(job.streamId || job.id, OPERATOR);
    } else s = (await streamJob(req, false)).s;
    const body = await readBody(req, maxBody);
    const { status, answer, ct } = await stopContainerStream(s, body);
    teardown(s, operator ? "stopped by the operator" : "stopped by the gateway");
    (res as ServerResponse).writeHead(status, ct ? { "Content-Type": ct } : {});
    res.end(answer);
  }

  async function streamUpdate(req: NodeRequest, res: NodeResponse): Promise<void> {
    const { s } = await streamJob(req, true);
    const body = await readBody(req, maxBody);
    const upstream = await callContainer({
      agents,
      url: `${s.lease.container.url}/stream/params`,
      headers: containerHeaders(s.lease, { "Content-Type": "application/json", "x-stream-id": s.id }),
      body,
      timeoutMs: 10_000,
    });
    await relay(upstream, res, undefined);
  }

  async function streamPayment(req: NodeRequest, res: NodeResponse): Promise<void> {
    const { j } = await streamJob(req, false);
    req.resume();
    // Offchain or free: nothing to credit and no balance header.
    const headers =
      gate && j.sender && !j.price.isZero()
        ? { "Livepeer-Balance": gate.balance(j.sender, j.cap.modelId).floor().toString() }
        : {};
    (res as ServerResponse).writeHead(200, headers);
    res.end();
  }

  // ---- router ---------------------------------------------------------------------------------

  /** BYOC routes answer errors as go-livepeer's plain text; our own routes in the JSON envelope. */
  const byocRoute =
    (fn: (req: NodeRequest, res: NodeResponse) => Promise<void>) =>
    async (req: NodeRequest, res: NodeResponse): Promise<void> => {
      try {
        await fn(req, res);
      } catch (err) {
        if (!(err instanceof TributaryError)) rlog().error({ err }, "BYOC route failed");
        if (res.headersSent) (res as ServerResponse).destroy?.();
        else sendErrorText(res, err);
      }
    };
  const ownRoute =
    (fn: (req: NodeRequest, res: NodeResponse) => Promise<void>) =>
    async (req: NodeRequest, res: NodeResponse): Promise<void> => {
      try {
        await fn(req, res);
      } catch (err) {
        if (!(err instanceof TributaryError)) rlog().error({ err }, "route failed");
        if (res.headersSent) (res as ServerResponse).destroy?.();
        else sendError(res, err);
      }
    };

  const routes: Record<string, (req: NodeRequest, res: NodeResponse) => Promise<void>> = {
    "/capability/register": byocRoute(register),
    "/capability/unregister": byocRoute(unregister),
    "/process/token": byocRoute(processToken),
    "/ai/stream/start": byocRoute(streamStart),
    "/ai/stream/stop": byocRoute(streamStop),
    "/ai/stream/update": byocRoute(streamUpdate),
    "/ai/stream/payment": byocRoute(streamPayment),
    "/live-video-to-video": ownRoute(liveVideoToVideo),
    "/payment": ownRoute(payment),
    "/capabilities": ownRoute(async (req, res) => {
      sendJson(res, 200, capabilitiesJson(info, { includeContainers: authorized(req) }));
    }),
    "/metrics": ownRoute(async (_req, res) => writeMetrics(metrics.registry, res)),
    "/health": ownRoute(async (_req, res) => sendJson(res, 200, { status: "ok" })),
  };

  const handler = async (req: NodeRequest, res: NodeResponse): Promise<void> => {
    if (trickle.handle(req, res)) return;
    const given = header(req.headers, "x-trace-id");
    const traceId = /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomBytes(8).toString("hex");
    (res as ServerResponse).setHeader("X-Trace-Id", traceId);
    return traceStore.run({ traceId, log: log.child({ trace_id: traceId }) }, () => dispatch(req, res));
  };

  const dispatch = async (req: NodeRequest, res: NodeResponse): Promise<void> => {
    const path = pathOf(req);
    const route = routes[path];
    if (route !== undefined) return route(req, res);
    if (path.startsWith("/process/request/") || path === "/process/request") {
      return byocRoute((q, r) => processRequest(q, r, path.slice("/process/request/".length)))(req, res);
    }
    const pipeline = path.slice(1);
    if (req.method === "POST" && isNativeBatchPipeline(pipeline)) {
      return ownRoute((q, r) => nativeBatch(q, r, pipeline))(req, res);
    }
    sendError(res, new NotFoundError(`no route ${req.method} ${path}`));
  };

  const grpc = (router: ConnectRouter): void => {
    router.service(Orchestrator, {
      getOrchestrator: async (request) => {
        if (gate) {
          // On-chain: the gateway signs its own checksummed address (docs/spec/orchestrator-gateway.md#orchestratorinfo).
          const addr = `0x${Buffer.from(request.address).toString("hex")}` as Address;
          const sig = `0x${Buffer.from(request.sig).toString("hex")}` as `0x${string}`;
          const ok =
            request.address.length === 20 &&
            (await checkPayloadSig(addr, orchestratorRequestPayload(addr), sig)).valid;
          if (!ok)
            throw new ConnectError(
              "Invalid orchestrator request: orchestrator req sig check failed",
              Code.InvalidArgument,
            );
        }
        return buildOrchestratorInfo(info, request);
      },
      ping: (request) => create(PingPongSchema, { value: request.value }),
    });
  };

  let server: RunningNodeServer;
  try {
    server = await startNodeServer({
      host,
      port: options.port ?? DEFAULT_SERVICE_PORT,
      tls: options.tls,
      dataDir: options.dataDir,
      tlsHosts: options.serviceUri ? [new URL(options.serviceUri).hostname] : [],
      handler,
      grpc,
      limits: options.limits,
      streamingPaths: [TRICKLE_BASE_PATH],
      logger: log,
    });
  } catch (err) {
    clearInterval(streamTimer);
    await trickle.close();
    agents?.destroy();
    throw err;
  }
  const serviceUri = (options.serviceUri ?? server.url).replace(/\/+$/, "");
  info.serviceUri = serviceUri;
  await health.start();

  let watcher: AiModelsWatcher | undefined;
  const applyModels = (models: ModelConfig[]): void => {
    registry.setConfigModels(withDefaultPrice(models));
    metrics.configReloads.inc({ result: "ok" });
    log.info({ models: models.length }, "aiModels.json reloaded");
  };
  const reloadFailed = (err: unknown): void => {
    metrics.configReloads.inc({ result: "invalid" });
    log.error(
      { err: err instanceof Error ? err.message : err },
      "aiModels.json reload failed; keeping the previous configuration",
    );
  };
  if (options.aiModelsPath)
    watcher = watchAiModels(options.aiModelsPath, applyModels, reloadFailed, {
      ...options.reload,
      logger: log,
    });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      watcher?.close();
      clearInterval(streamTimer);
      for (const s of [...streams.values()]) teardown(s, "orchestrator closing");
      await health.close();
      await trickle.close();
      await server.close();
      agents?.destroy();
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  log.info({ serviceUri, network, models: initial.length }, "orchestrator listening");
  return {
    url: server.url,
    serviceUri,
    port: server.port,
    cert: server.cert,
    registry,
    health,
    trickle,
    metrics,
    reload: async () => {
      if (watcher) await watcher.reload();
    },
    get streamCount() {
      return streams.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** An AI pipeline served as `POST /<pipeline>` (not BYOC, whose jobs use /process/request, nor live video). */
function isNativeBatchPipeline(pipeline: string): boolean {
  const id = pipelineToCapability(pipeline);
  return id !== undefined && id !== CAPABILITY.BYOC && id !== CAPABILITY.LiveVideoToVideo;
}
