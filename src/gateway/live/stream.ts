/**
 * One real-time stream on the gateway: its fields, its state machine and its status JSON.
 *
 * The state changes only through {@link transition}, which follows {@link TRANSITIONS} and refuses
 * anything else (the stream keeps its state). Who fires which event:
 *
 * | event | fired by | from → to |
 * |---|---|---|
 * | `started` | an orchestrator took the stream (failover.ts → turn.ts) | starting, moving → running |
 * | `drained` | the input ended and the orchestrator's channels drained (turn.ts) | running → ended |
 * | `lost` | the orchestrator's turn ended on its own (failover.ts) | running → moving |
 * | `gaveUp` | moves used up, or no orchestrator took it after a move (failover.ts) | running, moving → failed |
 * | `stop` | a stop, the gateway's close, a failed first start (index.ts) | any but stopped → stopped; ended stays ended |
 */

import { TributaryError } from "../../node/errors.ts";
import type { Logger } from "../../node/logger.ts";
import { Rat } from "../../payments/rational.ts";
import type { JobRequest } from "../../protocol/job-header.ts";
import type { LocalPublisher, LocalSubscriber, TricklePublisher } from "../../trickle/index.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import type { SentPayment } from "../payments.ts";
import type { TraceContext } from "../tracing.ts";

/** Where a stream is in its life (the `state` of its status). */
export type StreamState = "starting" | "running" | "moving" | "failed" | "stopped" | "ended";

/** What happens to a stream (see the table in this file's header). */
export type StreamEvent = "started" | "drained" | "lost" | "gaveUp" | "stop";

/** Every legal transition; a pair not listed is refused. */
export const TRANSITIONS: Readonly<Record<StreamState, Readonly<Partial<Record<StreamEvent, StreamState>>>>> =
  {
    starting: { started: "running", stop: "stopped" },
    running: { drained: "ended", lost: "moving", gaveUp: "failed", stop: "stopped" },
    moving: { started: "running", gaveUp: "failed", stop: "stopped" },
    failed: { stop: "stopped" },
    // A stop removes an ended stream; its last status (the stop's answer) still says `ended`.
    ended: { stop: "ended" },
    stopped: {},
  };

/** The state after `event` in state `from`, or undefined when the machine refuses it. */
export function nextState(from: StreamState, event: StreamEvent): StreamState | undefined {
  return TRANSITIONS[from][event];
}

/**
 * Applies `event` to `s`: true when the transition is legal (and done), false when it is refused
 * (the state is unchanged; the caller lost a race, e.g. with a stop). The only writer of `state`.
 */
export function transition(s: { readonly state: StreamState }, event: StreamEvent): boolean {
  const to = nextState(s.state, event);
  if (to === undefined) return false;
  (s as { state: StreamState }).state = to;
  return true;
}

/** The orchestrator's channels for one stream. */
export interface OrchUrls {
  /** Native live: the stream's `manifest_id` (its balance on the orchestrator). */
  manifestId: string;
  publishUrl?: string;
  subscribeUrl?: string;
  controlUrl?: string;
  eventsUrl: string;
  dataUrl?: string;
}

/** Counters of one stream, over all its orchestrators (see {@link statusOf}). */
export interface LiveStats {
  startedAt: number;
  segmentsIn: number;
  bytesIn: number;
  segmentsOut: number;
  bytesOut: number;
  /** Arrival times of input segments relayed in this turn and not yet matched by an output segment. */
  pendingInputs: number[];
  lastOutputLatencyMs?: number;
  /** The `fps` object of the container's last heartbeat event. */
  fps?: unknown;
  tickets: number;
  paid: Rat;
}

/** One stream. */
export interface LiveStream {
  id: string;
  /**
   * The stream's control key (128 random bits, hex): its update, status, stop and data routes need
   * it as `?key=` (the URLs the start answers carry it). The id alone reaches nothing: ids may be
   * chosen by clients, and orchestrators and containers see them.
   */
  key: string;
  /** Base name of its trickle channels on this gateway (`<channel>-in`, `-out`, `-data`): 128 random bits. */
  channel: string;
  kind: "live" | "byoc";
  /** Native live: the model id; BYOC: the capability. */
  modelId: string;
  params: Record<string, unknown>;
  /** BYOC: the client's job (capability, request, parameters, timeout). */
  job?: JobRequest;
  trace: TraceContext;
  log: Logger;
  tried: Set<string>;
  swaps: number;
  /** Successful top-ups. */
  payments: number;
  stats: LiveStats;
  orchestrator?: string;
  orch?: OrchUrls;
  /** Ends the current orchestrator's relays. */
  turn?: AbortController;
  control?: TricklePublisher;
  lastEvent?: unknown;
  lastEventAt: number;
  /** The container's last `{"type":"status",…}` event: the base of the status JSON, as go-livepeer. */
  runnerStatus?: Record<string, unknown>;
  /** Changed only by {@link transition}. */
  readonly state: StreamState;
  error?: string;
  /** When {@link error} was set (ms since the epoch). */
  errorAt?: number;
  /** Local seq of the last input segment relayed whole to an orchestrator (-1 before the first). */
  inputRelayed: number;
  /** The client ended its input (closed `<channel>-in`); the orchestrator was told (its input channel closed). */
  inputEnded: boolean;
  stopped: AbortController;
  /** `<channel>-in` (native live always; BYOC with video ingress). */
  input?: LocalSubscriber;
  /** `<channel>-out` (native live always; BYOC with video egress). */
  output?: LocalPublisher;
  /** `<channel>-data` (BYOC with data output). */
  data?: LocalPublisher;
  /** WHEP playback URL of its output (with its key); native live streams. */
  whepUrl?: string;
}

/** What a start route decides about a new stream. */
export type StreamFields = Pick<LiveStream, "id" | "kind" | "modelId" | "params" | "job">;

/** A new stream in state `starting`, without channels (the caller adds them). */
export function newStream(
  fields: StreamFields,
  ids: { key: string; channel: string },
  trace: TraceContext,
  log: Logger,
): LiveStream {
  return {
    ...fields,
    key: ids.key,
    channel: ids.channel,
    trace,
    log,
    tried: new Set(),
    swaps: 0,
    payments: 0,
    stats: {
      startedAt: Date.now(),
      segmentsIn: 0,
      bytesIn: 0,
      segmentsOut: 0,
      bytesOut: 0,
      pendingInputs: [],
      tickets: 0,
      paid: Rat.ZERO,
    },
    lastEventAt: Date.now(),
    state: "starting",
    inputRelayed: -1,
    inputEnded: false,
    stopped: new AbortController(),
  };
}

/** Adds a payment's tickets and value to the stream's counters. */
export function countPayment(s: LiveStream, sent: SentPayment | undefined): void {
  if (sent === undefined || sent.tickets === 0) return;
  s.stats.tickets += sent.tickets;
  s.stats.paid = s.stats.paid.add(sent.value);
}

/** The stream's status JSON (README "Stream status"). */
export function statusOf(s: LiveStream) {
  return {
    stream_id: s.id,
    kind: s.kind,
    model_id: s.modelId,
    state: s.state,
    orchestrator: s.orchestrator,
    manifest_id: s.orch?.manifestId || null,
    swaps: s.swaps,
    payments: s.payments,
    uptime_ms: Date.now() - s.stats.startedAt,
    segments_in: s.stats.segmentsIn,
    segments_out: s.stats.segmentsOut,
    bytes_in: s.stats.bytesIn,
    bytes_out: s.stats.bytesOut,
    last_output_latency_ms: s.stats.lastOutputLatencyMs ?? null,
    fps: s.stats.fps ?? null,
    tickets_sent: s.stats.tickets,
    paid_wei: s.stats.paid.floor().toString(),
    last_event: s.lastEvent ?? null,
    last_event_age_ms: Date.now() - s.lastEventAt,
    ...(s.error ? { error: s.error } : {}),
  };
}

/** 409 for a request about a stream that ended. */
export function endedError(s: LiveStream): TributaryError {
  return new TributaryError(
    "STREAM_ENDED",
    `stream ${s.id} ended (its input ended and the output drained); start a new stream`,
    { status: 409 },
  );
}

/** The orchestrator serving `s`, or 503 while it moves (409 once it ended). */
export function serving(s: LiveStream): OrchestratorDescriptor {
  if (s.state === "ended") throw endedError(s);
  if (s.state !== "running" || s.orchestrator === undefined)
    throw new TributaryError("NOT_READY", `the stream is ${s.state}; retry`, { status: 503 });
  return { url: s.orchestrator, transcoder: s.orchestrator } as OrchestratorDescriptor;
}
