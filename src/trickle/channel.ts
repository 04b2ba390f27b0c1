/**
 * Trickle channel state: the ring of recent segments, the write head and the closed flag
 * (go-livepeer `trickle/trickle_server.go` `Stream`, docs/spec/trickle.md#sequence-numbers to #channel-lifecycle). No I/O here: the HTTP
 * handler (server.ts) and the in-process publisher/subscriber (local.ts) both drive this state.
 */
import { TributaryError } from "../node/errors.ts";
import { RING_SIZE, SEQ_CURRENT, SEQ_NEXT } from "../protocol/trickle.ts";
import { SegmentBuffer } from "./segment-buffer.ts";

/**
 * The channel exists but the segment does not (evicted from the ring or too far ahead): HTTP 470.
 * Jump to {@link latest}.
 */
export class TrickleSegmentNotFoundError extends TributaryError {
  /** The requested seq. */
  readonly seq: number;
  /** The channel's next write seq at the time. */
  readonly latest: number;
  constructor(seq: number, latest: number) {
    super("TRICKLE_SEGMENT_NOT_FOUND", `trickle segment ${seq} not found; the latest is ${latest}`, {
      status: 470,
      details: { seq, latest },
    });
    this.seq = seq;
    this.latest = latest;
  }
}

/** A local publisher's seq (or seq+1) already holds data: another writer uses the channel. */
export class TrickleSegmentExistsError extends TributaryError {
  constructor(seq: number) {
    super(
      "TRICKLE_SEGMENT_EXISTS",
      `trickle segment ${seq} already has data; use one publisher per channel`,
      {
        status: 409,
        details: { seq },
      },
    );
  }
}

/** One numbered segment of a channel. */
export class Segment {
  /** The segment's sequence number (never negative). */
  readonly idx: number;
  /** Its bytes and waiters. */
  readonly buffer = new SegmentBuffer();

  constructor(idx: number) {
    this.idx = idx;
  }

  /** True while no byte was written and the segment is open (a precreated or preconnected slot). */
  get fresh(): boolean {
    return !this.buffer.closed && this.buffer.length === 0;
  }

  /** Closes the segment: readers finish, a waiting publisher is released. */
  close(): void {
    this.buffer.close();
  }
}

/** The result of {@link Channel.getForRead}. */
export interface ReadLookup {
  /** The segment, when it exists (or was precreated). */
  segment: Segment | undefined;
  /** The requested idx with -1/-2 resolved. */
  idx: number;
  /** The channel's `nextWrite` at lookup time (what `Lp-Trickle-Latest` reports). */
  latest: number;
  /** Whether the channel is closed. */
  closed: boolean;
}

/** A named channel of segments. */
export class Channel {
  /** Channel name (a secret: callers log it only at debug level). */
  readonly name: string;
  /** MIME type fixed at creation; GET answers carry it as `Content-Type`. */
  readonly mimeType: string;
  /** Ring size (5 in go-livepeer). */
  readonly ringSize: number;
  #ring: (Segment | undefined)[];
  #nextWrite = 0;
  #writeTime: number;
  #closed = false;

  constructor(name: string, mimeType: string, options: { ringSize?: number; now?: number } = {}) {
    this.name = name;
    this.mimeType = mimeType;
    this.ringSize = options.ringSize ?? RING_SIZE;
    if (!Number.isSafeInteger(this.ringSize) || this.ringSize < 1) {
      throw new RangeError(`ringSize must be a positive integer, got ${this.ringSize}`);
    }
    this.#ring = new Array(this.ringSize).fill(undefined);
    this.#writeTime = options.now ?? Date.now();
  }

  /** The next seq a write will get (`Lp-Trickle-Latest`). */
  get nextWrite(): number {
    return this.#nextWrite;
  }

  /** Last time (ms since epoch) a segment started or an empty POST completed, or creation time. */
  get writeTime(): number {
    return this.#writeTime;
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Segments currently in the ring, oldest slot order not guaranteed. */
  segments(): Segment[] {
    return this.#ring.filter((s): s is Segment => s !== undefined);
  }

  /** Bytes held by the ring (memory accounting). */
  get bytes(): number {
    let n = 0;
    for (const s of this.#ring) n += s?.buffer.length ?? 0;
    return n;
  }

  /** The ring segment with exactly this idx, if any. */
  segmentAt(idx: number): Segment | undefined {
    if (idx < 0) return undefined;
    const seg = this.#ring[idx % this.ringSize];
    return seg?.idx === idx ? seg : undefined;
  }

  /**
   * The segment a POST to `idx` writes into (-1 = nextWrite). An existing segment with the same idx
   * is reused (a second POST appends). A slot holding another idx is evicted: closed and its bytes
   * dropped. On a closed channel the segment comes back already closed.
   */
  getForWrite(idx: number): { segment: Segment; existed: boolean } {
    if (idx === SEQ_NEXT) idx = this.#nextWrite;
    if (idx < 0) throw new RangeError(`segment idx must be >= 0 or -1, got ${idx}`);
    const pos = idx % this.ringSize;
    const current = this.#ring[pos];
    if (current?.idx === idx) return { segment: current, existed: !current.fresh };
    current?.buffer.release();
    const segment = new Segment(idx);
    this.#ring[pos] = segment;
    if (this.#closed) segment.close();
    return { segment, existed: false };
  }

  /**
   * Resolves a GET position. -1 is nextWrite, -2 is nextWrite-1 (or 0). A missing segment is
   * precreated when the channel is open and idx == nextWrite, or nextWrite == 0 and idx == 1 (the
   * precreate grace of docs/spec/trickle.md#subscribe-lifecycle); any other missing segment is reported as absent.
   */
  getForRead(requested: number): ReadLookup {
    let idx = requested;
    if (idx === SEQ_NEXT) idx = this.#nextWrite;
    else if (idx === SEQ_CURRENT) idx = this.#nextWrite > 0 ? this.#nextWrite - 1 : 0;
    if (idx < 0) throw new RangeError(`segment idx must be >= -2, got ${requested}`);
    let segment = this.segmentAt(idx);
    if (
      segment === undefined &&
      !this.#closed &&
      (idx === this.#nextWrite || (this.#nextWrite === 0 && idx === 1))
    ) {
      const pos = idx % this.ringSize;
      this.#ring[pos]?.buffer.release();
      segment = new Segment(idx);
      this.#ring[pos] = segment;
    }
    return { segment, idx, latest: this.#nextWrite, closed: this.#closed };
  }

  /** Records that segment `idx` started (first byte) or ended empty: nextWrite = idx+1. */
  markWritten(idx: number, now: number = Date.now()): void {
    this.#nextWrite = idx + 1;
    this.#writeTime = now;
  }

  /** `Lp-Trickle-Reset`: closes every ring segment older than `idx` (their bytes stay readable). */
  closeBelow(idx: number): void {
    for (const s of this.#ring) if (s !== undefined && s.idx < idx) s.close();
  }

  /** Closes the channel: every segment closes (waking readers and waiting publishers) and is dropped. */
  close(): void {
    this.#closed = true;
    for (const s of this.#ring) s?.buffer.release();
    this.#ring = new Array(this.ringSize).fill(undefined);
  }
}

/** Where in-process publishers and subscribers find channels (implemented by `TrickleServer`). */
export interface ChannelRegistry {
  /** The live channel with this name, if any. */
  getChannel(name: string): Channel | undefined;
  /**
   * The channel with this name, created if missing and either `force` is true or the registry
   * auto-creates channels. Undefined when it does not exist and was not created.
   */
  getOrCreateChannel(name: string, mimeType: string, force: boolean): Channel | undefined;
  /** Closes and removes a channel. Returns false if it did not exist. */
  deleteChannel(name: string): boolean;
}
