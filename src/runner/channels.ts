/**
 * The stream session's view of its trickle channels, kept behind two tiny interfaces so the session
 * logic does not depend on the transport: {@link SegmentSink} (publish one segment per call) and
 * {@link SegmentSource} (read whole segments). {@link ChannelFactory} opens them by URL; the trickle
 * adapter lives in `trickle-channels.ts`, in-memory fakes in tests.
 *
 * Also the pure wire helpers of the events and control channels (docs/spec/container-contract.md#control-channel, #events-channel, #data-channel).
 */

/** A publishing channel: each `write` is one trickle segment. */
export interface SegmentSink {
  /** Publishes `body` as one complete segment. Rejects when the channel is gone. */
  write(body: Uint8Array): Promise<void>;
  /** Stops publishing (idempotent). */
  close(): Promise<void>;
}

/**
 * A subscribed channel: yields each segment's full body, in order. Iteration ends normally when the
 * channel ends (closed by its publisher, deleted, or never existed) or on `close()`; it throws only on
 * transport failures.
 */
export interface SegmentSource extends AsyncIterable<Uint8Array> {
  /** Stops reading (idempotent); an iteration in progress ends. */
  close(): Promise<void>;
}

/** Opens channels by URL. */
export interface ChannelFactory {
  /** Opens a publisher on `url` with segments of MIME type `contentType`. */
  publish(url: string, contentType: string): SegmentSink;
  /** Opens a subscriber on `url`, starting at the next segment. */
  subscribe(url: string): SegmentSource;
}

/** Kafka topic of ordinary stream events (pytrickle default `queue_event_type`). */
export const QUEUE_AI_STREAM_EVENTS = "ai_stream_events";
/** Kafka topic of heartbeats (pytrickle `_heartbeat_loop`). */
export const QUEUE_STREAM_HEARTBEAT = "stream_heartbeat";
/** Default topic of custom events (pytrickle `send_monitoring_event`). */
export const QUEUE_CUSTOM_MONITORING = "custom_monitoring_event";

/** MIME type of the events and control channels. */
export const EVENTS_CONTENT_TYPE = "application/json";
/** MIME type of the data channel. */
export const DATA_CONTENT_TYPE = "application/jsonl";

/** Encodes one events-channel segment: `{"event": {...}, "queue_event_type": "<topic>"}`. */
export function encodeEvent(
  event: Record<string, unknown>,
  queueEventType: string = QUEUE_AI_STREAM_EVENTS,
): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ event, queue_event_type: queueEventType }));
}

/**
 * Encodes one data-channel segment as pytrickle does: the queued items as one JSON array on one
 * line, plus `"\n"`. An empty list is the keepalive `[]\n`.
 */
export function encodeDataBatch(items: readonly string[]): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(items)}\n`);
}

/** Longest line go-livepeer's gateway reads from a data segment (`bufio.Scanner` default, 64 KiB). */
export const GATEWAY_MAX_DATA_LINE = 64 * 1024;

/**
 * Splits queued data items into batches whose encoded line ({@link encodeDataBatch}) stays within
 * `maxLine` bytes, keeping order. An item too large on its own gets a batch of its own (the gateway
 * will drop that line; callers should log it).
 */
export function splitDataBatches(
  items: readonly string[],
  maxLine: number = GATEWAY_MAX_DATA_LINE,
): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let size = 3; // "[", "]" and "\n"
  for (const item of items) {
    const itemSize = Buffer.byteLength(JSON.stringify(item));
    if (current.length > 0 && size + 1 + itemSize > maxLine) {
      batches.push(current);
      current = [];
      size = 3;
    }
    size += (current.length > 0 ? 1 : 0) + itemSize;
    current.push(item);
  }
  if (current.length > 0 || batches.length === 0) batches.push(current);
  return batches;
}

/** Result of decoding one control-channel segment. */
export type ControlMessage =
  | { kind: "keepalive" }
  | { kind: "params"; params: Record<string, unknown> }
  | { kind: "invalid"; reason: string };

/**
 * Decodes one control-channel segment: the gateway's raw params JSON, or the keepalive
 * `{"keep":"alive"}` (exactly that object), which callers ignore.
 */
export function decodeControl(body: Uint8Array): ControlMessage {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return { kind: "invalid", reason: "control message is not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { kind: "invalid", reason: "control message is not a JSON object" };
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "keep" && (value as { keep: unknown }).keep === "alive")
    return { kind: "keepalive" };
  return { kind: "params", params: value as Record<string, unknown> };
}
