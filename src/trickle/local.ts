/**
 * In-process trickle publisher and subscriber on a {@link ChannelRegistry} (normally a
 * `TrickleServer`), as the orchestrator uses them on its own server: go-livepeer
 * `trickle/local_publisher.go` and `local_subscriber.go` (docs/spec/trickle.md#in-process-channels). No HTTP involved;
 * subscribers read the very same segment memory HTTP subscribers do.
 */
import { SEQ_NEXT } from "../protocol/trickle.ts";
import {
  type Channel,
  type ChannelRegistry,
  type Segment,
  TrickleSegmentExistsError,
  TrickleSegmentNotFoundError,
} from "./channel.ts";
import { TrickleEndOfStreamError, TrickleStreamNotFoundError } from "./client-errors.ts";

/** What errors name instead of the channel: channel names are credentials. */
const LOCAL_URL = "local:";

/** Data a {@link LocalPublisher} writes as one segment. */
export type SegmentData = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/**
 * Publishes segments into a channel from inside the process. Its seq starts at 0 and belongs to this
 * publisher alone; each write pre-creates seq+1 so leading-edge subscribers latch on.
 */
export class LocalPublisher {
  readonly #registry: ChannelRegistry;
  readonly #name: string;
  readonly #mimeType: string;
  #seq = 0;

  constructor(registry: ChannelRegistry, channel: string, mimeType: string) {
    this.#registry = registry;
    this.#name = channel;
    this.#mimeType = mimeType;
  }

  /** The seq the next {@link write} uses. */
  get seq(): number {
    return this.#seq;
  }

  /** Creates the channel even when the registry does not auto-create (go-livepeer `CreateChannel`). */
  createChannel(): Channel {
    return this.#registry.getOrCreateChannel(this.#name, this.#mimeType, true)!;
  }

  /**
   * Writes `data` as the next segment and closes it. Advances the channel's `nextWrite` on the first
   * byte. A Uint8Array is written synchronously (before the returned promise settles), so calls made
   * in order land in order. The bytes are copied: the caller may reuse its buffers.
   *
   * @returns the number of bytes written.
   * @throws TrickleStreamNotFoundError when the channel does not exist (and is not auto-created);
   *   TrickleSegmentExistsError when this seq or the next one already holds data; the signal's reason when
   *   aborted (the segment is closed with what was written so far).
   */
  async write(data: SegmentData, options: { signal?: AbortSignal } = {}): Promise<number> {
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal);
    const channel = this.#registry.getOrCreateChannel(this.#name, this.#mimeType, false);
    if (channel === undefined) throw new TrickleStreamNotFoundError(LOCAL_URL);
    const seq = this.#seq;
    const { segment, existed } = channel.getForWrite(seq);
    if (existed) throw new TrickleSegmentExistsError(seq);
    if (channel.getForWrite(seq + 1).existed) throw new TrickleSegmentExistsError(seq + 1);
    this.#seq = seq + 1;

    let total = 0;
    const put = (chunk: Uint8Array): void => {
      if (chunk.length === 0) return;
      if (total === 0) channel.markWritten(seq);
      segment.buffer.write(chunk);
      total += chunk.length;
    };
    try {
      if (data instanceof Uint8Array) {
        put(data);
      } else if (Symbol.asyncIterator in data) {
        for await (const chunk of data) {
          if (signal?.aborted) throw abortError(signal);
          put(chunk);
        }
      } else {
        for (const chunk of data) {
          if (signal?.aborted) throw abortError(signal);
          put(chunk);
        }
      }
    } finally {
      segment.close();
    }
    return total;
  }

  /** Closes and removes the channel (go-livepeer `Close` = `closeStream`). Idempotent. */
  close(): void {
    this.#registry.deleteChannel(this.#name);
  }
}

/** One segment handed out by a {@link LocalSubscriber}: metadata plus its bytes as they arrive. */
export class LocalSegment implements AsyncIterable<Buffer> {
  /** The segment's seq (`Lp-Trickle-Seq`). */
  readonly seq: number;
  /** The channel's next write seq when the read started (`Lp-Trickle-Latest`). */
  readonly latest: number;
  /** The channel's MIME type (`Content-Type`). */
  readonly mimeType: string;
  readonly #segment: Segment;
  readonly #signal: AbortSignal | undefined;

  /** @internal created by {@link LocalSubscriber.read}. */
  constructor(segment: Segment, latest: number, mimeType: string, signal: AbortSignal | undefined) {
    this.seq = segment.idx;
    this.latest = latest;
    this.mimeType = mimeType;
    this.#segment = segment;
    this.#signal = signal;
  }

  /**
   * The segment's bytes from byte 0: what is buffered, then live chunks, ending when the segment
   * closes. The chunks are shared views: do not modify them. Throws the signal's reason on abort.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const reader = this.#segment.buffer.reader();
    const signal = this.#signal;
    for (;;) {
      if (signal?.aborted) throw abortError(signal);
      const chunk = reader.next();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (reader.done) return;
      await reader.wait(signal);
    }
  }

  /** The whole segment, once it closes. */
  async bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** The whole segment as UTF-8 text. */
  async text(): Promise<string> {
    return (await this.bytes()).toString("utf8");
  }
}

/** Options for {@link LocalSubscriber}. */
export interface LocalSubscriberOptions {
  /** First seq to read: -1 (next, the default), -2 (current, from byte 0) or a seq. */
  start?: number;
  /** Aborts waiting reads and iteration. */
  signal?: AbortSignal;
}

/** Reads a channel's segments from inside the process (go-livepeer `TrickleLocalSubscriber`). */
export class LocalSubscriber implements AsyncIterable<LocalSegment> {
  readonly #registry: ChannelRegistry;
  readonly #name: string;
  readonly #signal: AbortSignal | undefined;
  #seq: number;

  constructor(registry: ChannelRegistry, channel: string, options: LocalSubscriberOptions = {}) {
    this.#registry = registry;
    this.#name = channel;
    this.#seq = options.start ?? SEQ_NEXT;
    this.#signal = options.signal;
  }

  /** The seq the next {@link read} asks for (may be -1 or -2). */
  get seq(): number {
    return this.#seq;
  }

  /** Moves the subscriber: the next {@link read} asks for `seq` (-1, -2 or a seq). */
  setSeq(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < -2)
      throw new RangeError(`seq must be an integer >= -2, got ${seq}`);
    this.#seq = seq;
  }

  /**
   * Opens the segment at the current position and moves the position to the one after it. Returns
   * at once; the segment's bytes arrive through its iterator.
   *
   * @throws TrickleStreamNotFoundError (channel missing), TrickleEndOfStreamError (channel closed and the segment
   *   missing), TrickleSegmentNotFoundError (evicted or too far ahead: jump to its `latest`).
   */
  read(): LocalSegment {
    const channel = this.#registry.getChannel(this.#name);
    if (channel === undefined) throw new TrickleStreamNotFoundError(LOCAL_URL);
    const lookup = channel.getForRead(this.#seq);
    if (lookup.segment === undefined) {
      if (lookup.closed) throw new TrickleEndOfStreamError(LOCAL_URL);
      throw new TrickleSegmentNotFoundError(lookup.idx, lookup.latest);
    }
    this.#seq = lookup.segment.idx + 1;
    return new LocalSegment(lookup.segment, lookup.latest, channel.mimeType, this.#signal);
  }

  /**
   * Segments one after another until the channel ends (closed or removed). A segment is yielded as
   * soon as it opens; consume it before asking for the next one if order of bytes matters to you.
   * Throws TrickleSegmentNotFoundError when the subscriber fell out of the ring.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<LocalSegment> {
    for (;;) {
      if (this.#signal?.aborted) throw abortError(this.#signal);
      let segment: LocalSegment;
      try {
        segment = this.read();
      } catch (err) {
        if (err instanceof TrickleEndOfStreamError || err instanceof TrickleStreamNotFoundError) return;
        throw err;
      }
      yield segment;
    }
  }
}
