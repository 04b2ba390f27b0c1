/**
 * A bounded FIFO that drops its OLDEST items when full (backpressure for a real-time stream: a
 * processor that falls behind sees the newest frames, never an ever-growing backlog).
 */
export class DropOldestQueue<T> {
  readonly #limit: number;
  #items: T[] = [];
  #waiter: (() => void) | undefined;
  #roomWaiters: (() => void)[] = [];
  #closed = false;
  /** Items dropped because the queue was full. */
  dropped = 0;

  /** @param limit maximum items held (at least 1). */
  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }

  /** Adds an item, dropping the oldest ones beyond the limit; returns the dropped items (to free). */
  push(item: T): T[] {
    if (this.#closed) return [item];
    this.#items.push(item);
    const over = this.#items.length - this.#limit;
    const gone = over > 0 ? this.#items.splice(0, over) : [];
    this.dropped += gone.length;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
    return gone;
  }

  /** Items held. */
  get size(): number {
    return this.#items.length;
  }

  /** True when the next {@link push} would drop the oldest item. */
  get full(): boolean {
    return this.#items.length >= this.#limit;
  }

  /**
   * Resolves once the queue has room (at once when it has), or when it is cleared or closed: lets a
   * producer wait instead of dropping while it decides it can afford to.
   */
  room(): Promise<void> {
    if (!this.full || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Takes the oldest item, waiting for one; `undefined` once closed and drained. */
  async shift(): Promise<T | undefined> {
    while (this.#items.length === 0) {
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
    const item = this.#items.shift();
    this.#wakeRoom();
    return item;
  }

  /** Removes and returns every queued item. */
  clear(): T[] {
    const items = this.#items;
    this.#items = [];
    this.#wakeRoom();
    return items;
  }

  /** Ends the queue: waiting and later `shift` calls return `undefined` after the items left. */
  close(): void {
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
    this.#wakeRoom();
  }

  #wakeRoom(): void {
    if (this.#roomWaiters.length === 0 || (this.full && !this.#closed)) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const w of waiters) w();
  }
}
