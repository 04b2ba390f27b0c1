/**
 * Joins trickle segment bodies into one continuous byte stream for a demuxer's custom input: the
 * demuxer never sees segment boundaries (as pytrickle's OS pipe does), but the queue remembers
 * them so a restarted demuxer can resume at the start of the next segment (each input segment is a
 * standalone MPEG-TS that starts on a keyframe).
 */

/** One queued segment body. */
interface Queued {
  bytes: Uint8Array;
  /** True until the reader takes its first bytes. */
  unread: boolean;
  /** When it was pushed (`performance.now()`). */
  arrival: number;
}

/** A FIFO of byte chunks with an async `read(size)` that waits for data; `null` means the end. */
export class SegmentByteQueue {
  #queue: Queued[] = [];
  /** Bytes of the head segment already read. */
  #offset = 0;
  #started = 0;
  #startedArrival = 0;
  #ended = false;
  #waiter: (() => void) | undefined;
  #arrivalWaiters: (() => void)[] = [];
  /** Total bytes pushed. */
  bytesIn = 0;

  /** Whole segments dropped because the reader fell behind (see the constructor). */
  segmentsDropped = 0;
  readonly #maxPending: number;

  /**
   * @param maxPendingSegments whole unread segments kept; when the reader (the decoder) falls
   *   further behind, the oldest unread segments are dropped (each input segment starts on a
   *   keyframe, so the decoder resumes cleanly), bounding both memory and latency. Default 3.
   */
  constructor(maxPendingSegments = 3) {
    this.#maxPending = Math.max(1, maxPendingSegments);
  }

  /** Appends one whole segment. Ignored after {@link end}. */
  pushSegment(body: Uint8Array): void {
    if (this.#ended || body.length === 0) return;
    this.#queue.push({ bytes: body, unread: true, arrival: performance.now() });
    this.bytesIn += body.length;
    // The head may be a segment being read (not unread any more): it is never dropped.
    const first = this.#queue[0]?.unread ? 0 : 1;
    while (this.#queue.length - first > this.#maxPending) {
      this.#queue.splice(first, 1);
      if (first === 0) this.#offset = 0;
      this.segmentsDropped++;
    }
    this.#wake();
  }

  /** Whole segments queued that the reader has not started yet (newer input than what it reads). */
  get unreadSegments(): number {
    let n = 0;
    for (const q of this.#queue) if (q.unread) n++;
    return n;
  }

  /** Segments the reader has started reading so far (a new value: the reader is in a new segment). */
  get segmentsStarted(): number {
    return this.#started;
  }

  /** When the segment the reader started last was pushed (`performance.now()`; 0 before any). */
  get startedSegmentArrival(): number {
    return this.#startedArrival;
  }

  /** Resolves at the next {@link pushSegment}, {@link end} or {@link abort}; never once ended. */
  nextArrival(): Promise<void> {
    if (this.#ended) return new Promise(() => {});
    return new Promise((resolve) => this.#arrivalWaiters.push(resolve));
  }

  /** Marks the end of the input: pending and later reads return `null` once the queue is drained. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** Ends the input at once: bytes not read yet are discarded. */
  abort(): void {
    this.#queue = [];
    this.#offset = 0;
    this.end();
  }

  /** True after {@link end}. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes queued and not yet read. */
  get pending(): number {
    let n = -this.#offset;
    for (const q of this.#queue) n += q.bytes.length;
    return n;
  }

  /**
   * Drops what is left of the segment being read, so the next read starts at a segment boundary.
   * Used after a demux error before opening a new demuxer.
   */
  skipToNextSegment(): void {
    while (this.#queue.length > 0 && !this.#queue[0]?.unread) this.#queue.shift();
    this.#offset = 0;
  }

  /** Reads up to `size` bytes, waiting for data; resolves `null` at the end of the input. */
  async read(size: number): Promise<Buffer | null> {
    while (this.#queue.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    const head = this.#queue[0] as Queued;
    const n = Math.min(size, head.bytes.length - this.#offset);
    const out = Buffer.from(head.bytes.buffer, head.bytes.byteOffset + this.#offset, n);
    this.#offset += n;
    if (head.unread) {
      head.unread = false;
      this.#started++;
      this.#startedArrival = head.arrival;
    }
    if (this.#offset >= head.bytes.length) {
      this.#queue.shift();
      this.#offset = 0;
    }
    return out;
  }

  /** Wakes the reader and whoever waits for the next arrival (a push or the end). */
  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
    const arrived = this.#arrivalWaiters;
    this.#arrivalWaiters = [];
    for (const a of arrived) a();
  }
}
