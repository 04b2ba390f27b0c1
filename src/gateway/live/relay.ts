/**
 * The relay loops of one orchestrator's turn, one function each: input (`<channel>-in` → the
 * orchestrator's publish channel), output (its subscribe channel → `<channel>-out`), data (its data
 * channel → `<channel>-data`) and events (its events channel → the stream's status). Each runs until
 * its channel ends or the turn's signal aborts; what an end means (move, or the normal end after the
 * input ended) is the turn's decision (turn.ts), reached through {@link TurnControl}.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../node/logger.ts";
import {
  type LocalPublisher,
  type LocalSegment,
  type LocalSubscriber,
  TrickleEndOfStreamError,
  type TricklePublisher,
  TrickleSegmentNotFoundError,
  TrickleStreamNotFoundError,
  type TrickleSubscriber,
} from "../../trickle/index.ts";
import type { LiveStream } from "./stream.ts";

/** Input arrival times kept for matching output segments (older ones are dropped). */
const MAX_PENDING_INPUTS = 256;
/** Pause before reading again after falling behind (or ahead of) a local channel. */
const RESYNC_PAUSE_MS = 50;

/** The relays of a turn, by name (in logs and in the drain bookkeeping). */
export type RelayName = "input" | "output" | "data" | "events";

/** What a relay loop may do to its turn. */
export interface TurnControl {
  readonly s: LiveStream;
  readonly log: Logger;
  /** The turn's end (a move, the stream's end or a stop). */
  readonly signal: AbortSignal;
  /** Ends the turn; unless the stream ended or stopped, it moves to another orchestrator. */
  abort(reason: Error): void;
  /** The client ended its input: the orchestrator's input channel closes and the drain starts. */
  endInput(): Promise<void>;
  /** After the input ended: `name` ended; the stream ends once every reader drained. */
  drained(name: RelayName): void;
}

/**
 * A container event as clients may see it in the stream's status: every string that is a URL becomes
 * `"[redacted]"` (pytrickle's heartbeats carry the orchestrator's trickle channel URLs, and a channel
 * URL is a bearer credential: whoever has it can read or write the channel). Depth-limited.
 */
export function redactEventUrls(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? "[redacted]" : value;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= 8) return "[truncated]";
  if (Array.isArray(value)) return value.map((v) => redactEventUrls(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactEventUrls(v, depth + 1)]));
}

/** Input: every segment of `<channel>-in` is published to the orchestrator's input channel. */
export async function relayInput(
  t: TurnControl,
  input: LocalSubscriber,
  ingress: TricklePublisher,
): Promise<void> {
  const { s, log, signal } = t;
  while (!signal.aborted) {
    let seg: LocalSegment;
    try {
      seg = input.read();
    } catch (err) {
      if (err instanceof TrickleSegmentNotFoundError) {
        input.setSeq(-1); // fell behind or ahead: continue at the live edge
        await sleep(RESYNC_PAUSE_MS);
        continue;
      }
      if (err instanceof TrickleEndOfStreamError || err instanceof TrickleStreamNotFoundError) {
        // The client closed its input (a stop or a move aborted the signal first).
        if (!signal.aborted) await t.endInput();
        return;
      }
      throw err;
    }
    // Wait for the segment's first bytes: a segment that closes empty (the one the client's end of
    // input or a stop cuts off) is not passed on as an empty segment.
    const chunks = seg[Symbol.asyncIterator]();
    const first = await chunks.next();
    if (first.done) continue;
    const arrived = Date.now();
    const rest = (async function* () {
      yield first.value;
      for (let c = await chunks.next(); !c.done; c = await chunks.next()) yield c.value;
    })();
    const sent = await ingress.write(rest);
    s.inputRelayed = seg.seq;
    s.stats.segmentsIn++;
    s.stats.bytesIn += sent.bytes;
    s.stats.pendingInputs.push(arrived);
    if (s.stats.pendingInputs.length > MAX_PENDING_INPUTS) s.stats.pendingInputs.shift();
    log.debug({ stream_id: s.id, seq: sent.seq }, "input segment relayed");
  }
}

/** Output: every segment of the orchestrator's output is written to `<channel>-out`. */
export async function relayOutput(
  t: TurnControl,
  egress: TrickleSubscriber,
  output: LocalPublisher,
): Promise<void> {
  const { s, log, signal } = t;
  for (;;) {
    const seg = await egress.next();
    if (seg === null) {
      if (s.inputEnded) t.drained("output");
      else if (!signal.aborted) t.abort(new Error(`orchestrator output ended (${egress.endReason})`));
      return;
    }
    const n = await output.write(seg.body);
    const matched = s.stats.pendingInputs.shift();
    if (matched !== undefined) s.stats.lastOutputLatencyMs = Date.now() - matched;
    s.stats.segmentsOut++;
    s.stats.bytesOut += n;
    log.debug({ stream_id: s.id, seq: seg.seq, bytes: n }, "output segment relayed");
  }
}

/** Data: every segment of the orchestrator's data channel is written to `<channel>-data`. */
export async function relayData(
  t: TurnControl,
  dataIn: TrickleSubscriber,
  data: LocalPublisher,
): Promise<void> {
  for (;;) {
    const seg = await dataIn.next();
    if (seg === null) {
      if (t.s.inputEnded) t.drained("data");
      return;
    }
    await data.write(seg.body);
  }
}

/** Events: each JSON line becomes the stream's last event (URLs redacted) and its `fps`. */
export async function readEvents(t: TurnControl, events: TrickleSubscriber): Promise<void> {
  const { s, signal } = t;
  for (;;) {
    const seg = await events.next();
    if (seg === null) {
      // The orchestrator closes the events channel only when the stream ends there.
      if (s.inputEnded) t.drained("events");
      else if (!signal.aborted) t.abort(new Error(`orchestrator events channel ended (${events.endReason})`));
      return;
    }
    const text = await seg.text();
    s.lastEventAt = Date.now();
    for (const line of text.split("\n"))
      if (line.trim() !== "")
        try {
          s.lastEvent = redactEventUrls(JSON.parse(line));
          if ((s.lastEvent as { type?: unknown } | null)?.type === "status")
            s.runnerStatus = s.lastEvent as Record<string, unknown>;
          const e = s.lastEvent as { event?: { fps?: unknown }; fps?: unknown } | null;
          const fps = e?.event?.fps ?? e?.fps;
          if (typeof fps === "object" && fps !== null) s.stats.fps = fps;
        } catch {
          s.lastEvent = redactEventUrls(line);
        }
  }
}
