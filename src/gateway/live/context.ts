/**
 * What every part of the live gateway shares: its options, its limits, and the context that
 * `createLive` builds once (index.ts) and hands to the routes, the failover and the relays.
 */
import type { IncomingMessage } from "node:http";
import { DEFAULT_MAX_BODY_BYTES } from "../../node/http/body.ts";
import type { Logger } from "../../node/logger.ts";
import type { TrickleServer } from "../../trickle/index.ts";
import type { OrchestratorPool } from "../discovery/index.ts";
import type { OrchestratorHttp } from "../orch-http.ts";
import type { GatewayPayer } from "../payments.ts";
import type { Selector, Suspender } from "../selection/index.ts";
import type { TraceContext } from "../tracing.ts";
import type { LiveStream, StreamFields } from "./stream.ts";

/** Where the gateway's trickle server is mounted. */
export const LIVE_TRICKLE_BASE = "/live/trickle/";
/** Default events watchdog (go-livepeer: no event for 30 s ends the orchestrator's turn). */
export const DEFAULT_EVENT_TIMEOUT_MS = 30_000;
/**
 * Default idle timeout: a stream whose client has written nothing to its input for this long (never
 * fed, or the client went away without a stop) is stopped, freeing the orchestrator's slot and
 * ending its payments.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Live top-up period (go-livepeer `-livePaymentInterval`). */
export const DEFAULT_LIVE_PAYMENT_INTERVAL_MS = 5_000;
/** BYOC stream top-up period (go-livepeer `monitorStream`: 50 s). */
export const DEFAULT_BYOC_PAYMENT_INTERVAL_MS = 50_000;
/** Orchestrator moves allowed per stream. */
export const MAX_SWAPS = 3;
/**
 * After the client's input ended: longest wait for the orchestrator's output (and data) to end before
 * the stream is ended anyway (a container that does not close its output at the end of its input).
 */
export const END_DRAIN_TIMEOUT_MS = 15_000;
/** Longest wait of the client's `DELETE` of its input channel for the relay to pass on what it holds. */
export const INPUT_DRAIN_TIMEOUT_MS = 4_000;
/** How long an ended stream's status stays readable (a stop removes it at once). */
export const ENDED_RETENTION_MS = 60_000;
/** The native live pipeline. */
export const PIPELINE = "live-video-to-video";
/** Body limit of BYOC stream start and update requests: go-livepeer's BYOC `MaxBytesReader` (10 MiB). */
export const BYOC_BODY_LIMIT = DEFAULT_MAX_BODY_BYTES;
/** TLS toward orchestrators' trickle channels: self-signed certificates accepted, as go-livepeer. */
export const ORCH_TLS = { insecure: true } as const;

/** Options of `createLive`. */
export interface LiveOptions {
  pool: OrchestratorPool;
  selector: Selector;
  suspender: Suspender;
  http: OrchestratorHttp;
  logger: Logger;
  signal: AbortSignal;
  eventTimeoutMs?: number;
  /** Stop a stream whose input got nothing this long, ms; default {@link DEFAULT_IDLE_TIMEOUT_MS}; 0 = never. */
  idleTimeoutMs?: number;
  /** Pays live streams (on-chain); omit offchain. */
  payments?: GatewayPayer;
  /** Live top-up period, ms; default {@link DEFAULT_LIVE_PAYMENT_INTERVAL_MS}. */
  paymentIntervalMs?: number;
  /** BYOC stream top-up period, ms; default {@link DEFAULT_BYOC_PAYMENT_INTERVAL_MS}. */
  byocPaymentIntervalMs?: number;
  /** The gateway's public base URL (no trailing slash). */
  baseUrl: () => string;
  /** STUN/TURN servers of WHIP/WHEP peer connections (`--ice-servers`); none by default. */
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  /** Most WHEP viewers of one stream (`--max-whep-viewers`); default 8. */
  maxWhepViewers?: number;
  /** Stop a WHIP stream whose publisher sent no video this long, ms (`--whip-silence-timeout`); default 10 s. */
  whipSilenceTimeoutMs?: number;
  traceOf: (req: IncomingMessage, capability: string) => { trace: TraceContext; log: Logger };
}

/** Which of a stream's gateway channels exist. */
export interface StreamChannels {
  input: boolean;
  output: boolean;
  data: boolean;
}

/** The live gateway's shared state and lifecycle operations, built once by `createLive`. */
export interface LiveContext {
  readonly options: LiveOptions;
  /** Streams by id (ended ones stay until their retention ends or a stop). */
  readonly streams: Map<string, LiveStream>;
  /** The gateway's trickle server. */
  readonly trickle: TrickleServer;
  /** Creates the stream's gateway channels and starts it; removes it again if no orchestrator took it. */
  open(req: IncomingMessage, fields: StreamFields, channels: StreamChannels): Promise<LiveStream>;
  /** Stops the stream here and removes it (its relays end; the orchestrator sees its channels close). */
  stop(s: LiveStream): void;
  /** The stream ended normally: its output and data end for the client; its status stays a while. */
  end(s: LiveStream): void;
}

/** A URL without trailing slashes. */
export const trimSlash = (u: string): string => u.replace(/\/+$/, "");
