/**
 * In-memory {@link ChannelFactory}: publishers record their segments, subscribers read segments that
 * a test pushes. For tests and for embedding a runner without a trickle server.
 */
import type { ChannelFactory, SegmentSink, SegmentSource } from "./channels.ts";

/** One in-memory channel: the segments published on it and a queue feeding its subscribers. */
export class MemoryChannel {
  /** Segments published so far, in order. */
  readonly segments: Uint8Array[] = [];
  /** MIME type given by the last publisher. */
  contentType: string | undefined;
  /** True once a publisher or subscriber closed it. */
  closed = false;
  #pending: Uint8Array[] = [];
  #wakers: (() => void)[] = [];
  #waitersForSegments: { n: number; resolve: () => void }[] = [];

  /** The published segments decoded as UTF-8 text. */
  texts(): string[] {
    return this.segments.map((s) => new TextDecoder().decode(s));
  }

  /** The published segments parsed as JSON. */
  json(): unknown[] {
    return this.texts().map((t) => JSON.parse(t));
  }

  /** Resolves once at least `n` segments were published. */
  waitForSegments(n: number): Promise<void> {
    if (this.segments.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waitersForSegments.push({ n, resolve }));
  }

  /** Feeds one segment to subscribers (a string is UTF-8 encoded). */
  push(body: Uint8Array | string): void {
    this.#pending.push(typeof body === "string" ? new TextEncoder().encode(body) : body);
    this.#wake();
  }

  /** Ends the channel: subscribers finish after the pending segments. */
  end(): void {
    this.closed = true;
    this.#wake();
  }

  /** @internal */
  record(body: Uint8Array): void {
    this.segments.push(body);
    this.#waitersForSegments = this.#waitersForSegments.filter((w) => {
      if (this.segments.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  /** @internal */
  async next(isClosed: () => boolean): Promise<Uint8Array | undefined> {
    for (;;) {
      const body = this.#pending.shift();
      if (body) return body;
      if (this.closed || isClosed()) return undefined;
      await new Promise<void>((resolve) => this.#wakers.push(resolve));
    }
  }

  /** @internal */
  wake(): void {
    this.#wake();
  }

  #wake(): void {
    const w = this.#wakers;
    this.#wakers = [];
    for (const f of w) f();
  }
}

/** A {@link ChannelFactory} over {@link MemoryChannel}s, created on first use by URL. */
export class MemoryChannels implements ChannelFactory {
  readonly #channels = new Map<string, MemoryChannel>();
  /** When set, every write fails with this error (to test failure handling). */
  failWrites: Error | undefined;

  /** The channel at `url` (created if needed). */
  channel(url: string): MemoryChannel {
    let c = this.#channels.get(url);
    if (!c) {
      c = new MemoryChannel();
      this.#channels.set(url, c);
    }
    return c;
  }

  publish(url: string, contentType: string): SegmentSink {
    const c = this.channel(url);
    c.contentType = contentType;
    let closed = false;
    return {
      write: async (body) => {
        if (this.failWrites) throw this.failWrites;
        if (closed) throw new Error("publisher closed");
        c.record(body);
      },
      close: async () => {
        closed = true;
        c.closed = true;
      },
    };
  }

  subscribe(url: string): SegmentSource {
    const c = this.channel(url);
    let closed = false;
    return {
      close: async () => {
        closed = true;
        c.wake();
      },
      [Symbol.asyncIterator]: async function* () {
        for (;;) {
          const body = await c.next(() => closed);
          if (!body) return;
          yield body;
        }
      },
    };
  }
}
