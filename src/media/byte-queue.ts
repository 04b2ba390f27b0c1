/**
 * Joins trickle segment bodies into one continuous byte stream for a demuxer's custom input: the
 * demuxer never sees segment boundaries (as pytrickle's OS pipe does), but the queue remembers
 * them so a restarted demuxer can resume at the start of the next segment (each input segment is a
 * standalone MPEG-TS that starts on a keyframe).
 */

/** A FIFO of byte chunks with an async `read(size)` that waits for data; `null` means the end. */
export class SegmentByteQueue {
  #chunks: Uint8Array[] = [];
  /** Per queued chunk: true when it is the first chunk of a segment. */
  #starts: boolean[] = [];
  /** Per queued chunk: when its segment was pushed (`performance.now()`). */
  #arrivals: number[] = [];
  #offset = 0;
  #started = 0;
  #startedArrival = 0;
  #arrivalWaiters: (() => void)[] = [];
  #ended = false;
  #waiter: (() => void) | undefined;
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
    this.#chunks.push(body);
    this.#starts.push(true);
    this.#arrivals.push(performance.now());
    this.bytesIn += body.length;
    // The head may be a segment being read (not a start any more): it is never dropped.
    const first = this.#starts[0] ? 0 : 1;
    while (this.#chunks.length - first > this.#maxPending) {
      this.#chunks.splice(first, 1);
      this.#starts.splice(first, 1);
      this.#arrivals.splice(first, 1);
      if (first === 0) this.#offset = 0;
      this.segmentsDropped++;
    }
    this.#wake();
    const arrived = this.#arrivalWaiters;
    this.#arrivalWaiters = [];
    for (const w of arrived) w();
  }

  /** Whole segments queued that the reader has not started yet (newer input than what it reads). */
  get unreadSegments(): number {
    let n = 0;
    for (const s of this.#starts) if (s) n++;
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
    const arrived = this.#arrivalWaiters;
    this.#arrivalWaiters = [];
    for (const w of arrived) w();
  }

  /** Ends the input at once: bytes not read yet are discarded. */
  abort(): void {
    this.#chunks = [];
    this.#starts = [];
    this.#arrivals = [];
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
    for (const c of this.#chunks) n += c.length;
    return n;
  }

  /**
   * Drops what is left of the segment being read, so the next read starts at a segment boundary.
   * Used after a demux error before opening a new demuxer.
   */
  skipToNextSegment(): void {
    if (this.#chunks.length > 0 && this.#offset > 0) {
      this.#chunks.shift();
      this.#starts.shift();
      this.#arrivals.shift();
      this.#offset = 0;
    }
    while (this.#chunks.length > 0 && !this.#starts[0]) {
      this.#chunks.shift();
      this.#starts.shift();
      this.#arrivals.shift();
    }
  }

  /** Reads up to `size` bytes, waiting for data; resolves `null` at the end of the input. */
  async read(size: number): Promise<Buffer | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    const head = this.#chunks[0] as Uint8Array;
    const n = Math.min(size, head.length - this.#offset);
    const out = Buffer.from(head.buffer, head.byteOffset + this.#offset, n);
    this.#offset += n;
    if (this.#starts[0]) {
      this.#started++;
      this.#startedArrival = this.#arrivals[0] as number;
      this.#starts[0] = false;
    }
    if (this.#offset >= head.length) {
      this.#chunks.shift();
      this.#starts.shift();
      this.#arrivals.shift();
      this.#offset = 0;
    }
    return out;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}
