/** Frame-rate helpers: the PTS-based input cap and the sliding-window meter of heartbeats. */

/** pytrickle's default `max_framerate` (DEFAULT_MAX_FRAMERATE). */
export const DEFAULT_MAX_FRAMERATE = 24;

/**
 * Caps a frame rate by presentation time, as pytrickle's decoder does: a frame earlier than the next
 * slot is dropped; a late frame (past the next slot by more than one interval) resets the schedule.
 * The rate is passed per frame so that runtime `max_framerate` updates apply at once.
 */
export class PtsFrameRateCap {
  #next: number | undefined;

  /** True when the frame at `ptsSeconds` should be kept at `maxFps` (≤ 0 or non-finite: keep all). */
  accept(ptsSeconds: number, maxFps: number): boolean {
    if (!(maxFps > 0) || !Number.isFinite(maxFps)) return true;
    const interval = 1 / maxFps;
    if (this.#next === undefined) {
      this.#next = ptsSeconds + interval;
      return true;
    }
    if (ptsSeconds < this.#next - interval - 1) {
      // Timestamps went back by more than a second (a new source, a reset): start over.
      this.#next = ptsSeconds + interval;
      return true;
    }
    // Small tolerance: 30 fps input capped at 30 must not lose frames to rounding.
    if (ptsSeconds < this.#next - interval * 0.01) return false;
    if (ptsSeconds > this.#next + interval) this.#next = ptsSeconds + interval;
    else this.#next += interval;
    return true;
  }

  /** Forgets the schedule (after a discontinuity). */
  reset(): void {
    this.#next = undefined;
  }
}

/** Counts events over a sliding window (pytrickle's FPSMeter: 10 s). */
export class FpsMeter {
  readonly #windowMs: number;
  readonly #now: () => number;
  #times: number[] = [];

  constructor(windowMs = 10_000, now: () => number = () => performance.now()) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Records one frame. */
  tick(): void {
    const t = this.#now();
    this.#times.push(t);
    if (this.#times.length > 4096) this.#prune(t);
  }

  /** Frames per second over the window (0 with fewer than two frames). */
  fps(): number {
    const t = this.#now();
    this.#prune(t);
    const n = this.#times.length;
    if (n < 2) return 0;
    const span = Math.max((t - (this.#times[0] as number)) / 1000, 1e-3);
    return Math.round((n / span) * 10) / 10;
  }

  #prune(t: number): void {
    let i = 0;
    while (i < this.#times.length && (this.#times[i] as number) < t - this.#windowMs) i++;
    if (i > 0) this.#times.splice(0, i);
  }
}
