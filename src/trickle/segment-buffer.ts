/**
 * The bytes of one trickle segment: an append-only list of pages that any number of readers walk
 * independently, while the writer is still appending (docs/spec/trickle.md#ring-and-segment-buffer; go-livepeer
 * `trickle/segment_buffer.go`).
 *
 * Memory: a segment holds ONE copy of its bytes however many subscribers read it; readers receive
 * views (`subarray`) of its pages, never copies. A published byte is never modified again, so the
 * views stay valid and every reader shares the same memory.
 *
 * - {@link SegmentBuffer.write} copies a chunk into pages (4 KiB first, doubling up to 1 MiB): the
 *   caller may reuse its chunk (in-process publishers).
 * - {@link SegmentBuffer.adopt} keeps a chunk of at least {@link ADOPT_MIN} bytes as a page of its
 *   own, with no copy: for chunks nobody else writes to again, as the body chunks node:http hands a
 *   POST handler (each an exact-size allocation). Smaller ones are copied as by `write`, so a stream
 *   of tiny chunks does not cost a page each; the copy page before an adopted chunk is trimmed when
 *   more than half empty.
 *
 * On close, a mostly empty tail page is trimmed to size.
 *
 * No I/O here. Readers wait with a promise ({@link SegmentReader.wait}) or a one-shot callback
 * ({@link SegmentBuffer.notify}, run synchronously by the write or close that wakes it).
 */

/** Chunks at least this long are kept as they are by {@link SegmentBuffer.adopt}. */
export const ADOPT_MIN = 16 * 1024;
/** First page size; later pages double up to {@link MAX_PAGE}. */
export const FIRST_PAGE = 4 * 1024;
/** Largest page (go-livepeer `segmentBufferMaxPageSize` is also 1 MiB). */
export const MAX_PAGE = 1024 * 1024;

/** The reason {@link SegmentBuffer.closedSignal} aborts with. */
export const SEGMENT_CLOSED: unique symbol = Symbol("trickle segment closed");

interface Page {
  /** Backing memory; bytes [0, length) are published and immutable. */
  readonly data: Buffer;
  /** Published length. */
  length: number;
  /** True for pages this buffer allocated (copies may be appended); false for adopted chunks. */
  readonly owned: boolean;
}

/** A reader's position in a {@link SegmentBuffer}. */
export class SegmentReader {
  readonly #buffer: SegmentBuffer;
  /** The page list as it was when the reader started; a release swaps the buffer's list, not this. */
  readonly #pages: Page[];
  #page = 0;
  #offset = 0;
  #position = 0;

  /** @internal use {@link SegmentBuffer.reader}. */
  constructor(buffer: SegmentBuffer, pages: Page[]) {
    this.#buffer = buffer;
    this.#pages = pages;
  }

  /** Bytes this reader has consumed. */
  get position(): number {
    return this.#position;
  }

  /**
   * The next run of published bytes after the reader's position, as a shared view (never a copy),
   * or undefined when the reader is at the tail. Each call returns at most one page's worth.
   */
  next(): Buffer | undefined {
    const pages = this.#pages;
    while (this.#page < pages.length) {
      const page = pages[this.#page]!;
      if (this.#offset < page.length) {
        const view =
          this.#offset === 0 && page.length === page.data.length
            ? page.data
            : page.data.subarray(this.#offset, page.length);
        this.#offset = page.length;
        this.#position += view.length;
        return view;
      }
      if (this.#page + 1 >= pages.length) return undefined;
      this.#page++;
      this.#offset = 0;
    }
    return undefined;
  }

  /** True when the segment is closed and this reader has consumed everything published. */
  get done(): boolean {
    if (!this.#buffer.closed) return false;
    const pages = this.#pages;
    if (pages.length === 0) return true;
    if (this.#page < pages.length - 1) return false;
    return this.#offset >= pages[pages.length - 1]!.length;
  }

  /** Resolves when more bytes may be available or the segment closed (or `signal` aborted). */
  wait(signal?: AbortSignal): Promise<void> {
    return this.#buffer.changed(signal);
  }
}

/** Append-only segment storage with waiter notification; see the module comment. */
export class SegmentBuffer {
  #pages: Page[] = [];
  #length = 0;
  #closed = false;
  #released = false;
  #nextPageSize = FIRST_PAGE;
  /** One-shot wake-ups: promise resolvers of {@link changed} and {@link notify} callbacks. */
  #waiters = new Set<() => void>();
  readonly #closeController = new AbortController();

  /** Bytes written so far (0 after {@link release}). */
  get length(): number {
    return this.#length;
  }

  /** True once {@link close} (or {@link release}) ran: no reader waits for more bytes. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once {@link release} ran: the bytes were dropped and further writes are ignored. */
  get released(): boolean {
    return this.#released;
  }

  /** Aborts when the segment closes; lets a waiting publisher notice (go-livepeer `closeCh`). */
  get closedSignal(): AbortSignal {
    return this.#closeController.signal;
  }

  /** Pages currently held (for tests and memory accounting). */
  get pageCount(): number {
    return this.#pages.length;
  }

  /**
   * Appends a copy of `chunk` and wakes readers. Writes after {@link release} are dropped. Writes
   * after a plain {@link close} are still appended (go-livepeer does the same; readers that already
   * finished do not see them, fresh readers do).
   */
  write(chunk: Uint8Array): void {
    if (this.#released || chunk.length === 0) return;
    this.#copy(chunk);
    this.#length += chunk.length;
    this.#wake();
  }

  /**
   * Appends `chunk` like {@link write}, but keeps a chunk of at least {@link ADOPT_MIN} bytes itself
   * instead of a copy. The caller hands the chunk over: nothing may modify it afterwards (true of the
   * Buffers node:http and node:http2 emit as request body data).
   */
  adopt(chunk: Buffer): void {
    if (this.#released || chunk.length === 0) return;
    if (chunk.length < ADOPT_MIN) this.#copy(chunk);
    else {
      this.#sealTail();
      this.#pages.push({ data: chunk, length: chunk.length, owned: false });
      this.#nextPageSize = FIRST_PAGE;
    }
    this.#length += chunk.length;
    this.#wake();
  }

  #copy(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      let tail = this.#pages[this.#pages.length - 1];
      if (tail === undefined || !tail.owned || tail.length === tail.data.length) {
        tail = { data: Buffer.allocUnsafeSlow(this.#nextPageSize), length: 0, owned: true };
        this.#nextPageSize = Math.min(this.#nextPageSize * 2, MAX_PAGE);
        this.#pages.push(tail);
      }
      const n = Math.min(tail.data.length - tail.length, chunk.length - off);
      tail.data.set(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n), tail.length);
      tail.length += n;
      off += n;
    }
  }

  /** Marks the segment complete and wakes every reader and waiting publisher. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#trimTail();
    // A fixed reason: the default DOMException captures a stack on every segment close.
    this.#closeController.abort(SEGMENT_CLOSED);
    this.#wake();
  }

  /**
   * Closes the segment and drops its bytes (ring eviction, channel close). Readers already started
   * finish what they can see from their own page list; further writes are ignored.
   */
  release(): void {
    this.#released = true;
    this.close();
    this.#pages = [];
    this.#length = 0;
  }

  /** Replaces a tail page that is more than half empty by a right-sized copy (same bytes). */
  #trimTail(): void {
    if (this.#released) return;
    this.#sealTail();
  }

  /** Trims the tail page, if it is a copy page more than half empty, to a right-sized copy. */
  #sealTail(): void {
    const last = this.#pages.length - 1;
    const tail = this.#pages[last];
    if (tail === undefined || !tail.owned || tail.length === 0) return;
    if (tail.data.length - tail.length <= tail.length) return;
    const data = Buffer.allocUnsafeSlow(tail.length);
    tail.data.copy(data, 0, 0, tail.length);
    this.#pages[last] = { data, length: tail.length, owned: true };
  }

  /** A new reader positioned at byte 0. */
  reader(): SegmentReader {
    return new SegmentReader(this, this.#pages);
  }

  /** Resolves on the next write or close, or when `signal` aborts. */
  changed(signal?: AbortSignal): Promise<void> {
    if (this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Calls `wake` once, synchronously, from the next write or close (at once if already closed). No
   * promise and no signal: the cheap path for a server pumping a reader. `wake` must not throw.
   * {@link unnotify} cancels it.
   */
  notify(wake: () => void): void {
    if (this.#closed) wake();
    else this.#waiters.add(wake);
  }

  /** Cancels a pending {@link notify}. */
  unnotify(wake: () => void): void {
    this.#waiters.delete(wake);
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }
}
