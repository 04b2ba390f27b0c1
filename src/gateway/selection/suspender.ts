/**
 * Count-based suspension of orchestrators (go-livepeer server/suspensions.go and `AISessionPool.Remove`,
 * docs/spec/orchestrator-gateway.md#suspension-and-retries). A suspension lasts a number of pool *refreshes*, not a wall-clock time: each
 * {@link Suspender.signalRefresh} brings every penalty one step closer to expiry.
 */

/** Refreshes an orchestrator stays suspended after a failed AI batch job (`AISessionPool` penalty). */
export const AI_SESSION_PENALTY = 3;
/** Refreshes for a failed live-video-to-video start (`aiLiveVideoToVideoPenalty`). */
export const LIVE_VIDEO_PENALTY = 5;

/** Suspensions keyed by the orchestrator's transcoder URI, as upstream keys them. */
export class Suspender {
  readonly #until = new Map<string, number>();
  #count = 0;

  /**
   * Suspends `key` for `penalty` refreshes from now. A repeated suspension restarts the penalty rather
   * than adding to it (upstream subtracts the previous value before adding).
   */
  suspend(key: string, penalty: number = AI_SESSION_PENALTY): void {
    this.#until.set(key, this.#count + Math.max(0, Math.floor(penalty)));
  }

  /**
   * 0 when `key` is not suspended; otherwise the refresh count at which the suspension ends, which
   * orders suspended orchestrators (lower is better). Expired entries are removed (upstream
   * `Suspended`: an entry lives while its value is at least the refresh count).
   */
  penalty(key: string): number {
    const until = this.#until.get(key);
    if (until === undefined) return 0;
    if (until < this.#count) {
      this.#until.delete(key);
      return 0;
    }
    return until;
  }

  /** True when {@link penalty} is non-zero. */
  isSuspended(key: string): boolean {
    return this.penalty(key) > 0;
  }

  /** Lifts a suspension (e.g. an operator action). */
  release(key: string): void {
    this.#until.delete(key);
  }

  /** One pool refresh happened: every suspension decays by one step. */
  signalRefresh(): void {
    this.#count++;
  }

  /** Currently suspended keys with their penalties. */
  entries(): [string, number][] {
    return [...this.#until.keys()].flatMap((k) => {
      const p = this.penalty(k);
      return p > 0 ? [[k, p] as [string, number]] : [];
    });
  }
}
