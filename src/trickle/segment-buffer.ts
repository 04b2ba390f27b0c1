/**
 * The bytes of one trickle segment: an append-only list of pages that any number of readers walk
 * independently, while the writer is still appending (spec trickle.md §9).
 *
 * Memory: a segment holds ONE copy of its bytes however many subscribers read it. Large incoming
 * chunks (the Buffers node:http hands us) are kept as they are, with no copy; small chunks are copied
 * into a growing coalescing page so that thousands of tiny writes do not cost a Buffer object each.
 * Readers receive views (`subarray`) of those pages. A published byte is never modified again, so the
 * views stay valid, and every reader shares the same memory.
 *
 * No I/O here; waiting is promise-based with an optional AbortSignal.
 */

/** Chunks at least this long are stored as given (no copy); smaller ones are coalesced. */
export const COALESCE_BELOW = 16 * 1024;
/** First coalescing page size; later ones double up to {@link MAX_COALESCE_PAGE}. */
export const FIRST_COALESCE_PAGE = 4 * 1024;
/** Largest coalescing page (go-livepeer `segmentBufferMaxPageSize` is also 1 MiB). */
export const MAX_COALESCE_PAGE = 1024 * 1024;

/** The reason {@link SegmentBuffer.closedSignal} aborts with. */
export const SEGMENT_CLOSED: unique symbol = Symbol("trickle segment closed");

interface Page {
  /** Backing memory; bytes [0, length) are published and immutable. */
  readonly data: Buffer;
  /** Published length. */
  length: number;
  /** True for pages this buffer allocated (small writes may be appended to them). */
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
        const view = page.data.subarray(this.#offset, page.length);
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
  #nextPageSize = FIRST_COALESCE_PAGE;
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
   * Appends bytes and wakes readers. The buffer keeps `chunk` itself when it is large, so the caller
   * must not modify it afterwards. Writes after {@link release} are dropped. Writes after a plain
   * {@link close} are still appended (go-livepeer does the same; readers that already finished do not
   * see them, fresh readers do).
   */
  write(chunk: Uint8Array): void {
    if (this.#released || chunk.length === 0) return;
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length >= COALESCE_BELOW) {
      this.#pages.push({ data: buf, length: buf.length, owned: false });
    } else {
      let tail = this.#pages[this.#pages.length - 1];
      if (tail === undefined || !tail.owned || tail.data.length - tail.length < buf.length) {
        const size = Math.max(this.#nextPageSize, buf.length);
        this.#nextPageSize = Math.min(this.#nextPageSize * 2, MAX_COALESCE_PAGE);
        tail = { data: Buffer.allocUnsafeSlow(size), length: 0, owned: true };
        this.#pages.push(tail);
      }
      buf.copy(tail.data, tail.length);
      tail.length += buf.length;
    }
    this.#length += buf.length;
    this.#wake();
  }

  /** Marks the segment complete and wakes every reader and waiting publisher. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A fixed reason: the default DOMException captures a stack on every segment close.
    this.#closeController.abort(SEGMENT_CLOSED);
    this.#wake();
  }

  /**
   * Closes the segment and drops its bytes (ring eviction, channel close). Readers already started
   * finish what they can see from their own page list; further writes are ignored.
   */
  release(): void {
    this.close();
    this.#released = true;
    this.#pages = [];
    this.#length = 0;
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

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }
}
