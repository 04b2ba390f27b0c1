/**
 * The runner's health state machine, as pytrickle's `StreamState` derives `/health`
 * (docs/spec/container-contract.md#health-states), with two deliberate differences: a failed parameter update and
 * a rejected stream start never set ERROR (pytrickle's sticky-ERROR quirks, docs/spec/upstream-quirks.md#params-handler-errors).
 *
 * Priority: error → ERROR; active streams or batch requests in flight → OK; loaded → IDLE;
 * otherwise LOADING. Pure state, no I/O.
 */

/** The four values `/health` answers with (pytrickle `PipelineState`, go-livepeer `HealthCheck`). */
export type HealthStatus = "LOADING" | "IDLE" | "OK" | "ERROR";

/** Mutable health of one runner. */
export class RunnerHealth {
  #startupComplete = false;
  #error: string | undefined;
  #activeStreams = 0;
  #activeRequests = 0;

  /** True once the pipeline's `load` finished successfully. */
  get startupComplete(): boolean {
    return this.#startupComplete;
  }

  /** The error message that put the runner into ERROR, if any. */
  get errorMessage(): string | undefined {
    return this.#error;
  }

  /** Streams currently running (0 or 1: one stream per runner, like pytrickle). */
  get activeStreams(): number {
    return this.#activeStreams;
  }

  /** Batch requests currently being processed. */
  get activeRequests(): number {
    return this.#activeRequests;
  }

  /** LOADING → IDLE: the model is loaded. */
  setStartupComplete(): void {
    this.#startupComplete = true;
  }

  /** Enters the sticky ERROR state (e.g. "Model loading failed: …"). */
  setError(message: string): void {
    this.#error = message;
  }

  /** Leaves ERROR. Like pytrickle's `clear_error`, the pipeline must load again (LOADING). */
  clearError(): void {
    this.#error = undefined;
    this.#startupComplete = false;
  }

  /** Records the number of running streams. */
  setActiveStreams(count: number): void {
    this.#activeStreams = Math.max(0, count);
  }

  /** Counts a batch request in; returns the function that counts it out (idempotent). */
  enterRequest(): () => void {
    this.#activeRequests++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#activeRequests--;
    };
  }

  /** True when the pipeline is loaded and not in ERROR (a stream may start). */
  get ready(): boolean {
    return this.#startupComplete && this.#error === undefined;
  }

  /** The `/health` status, in pytrickle's priority order. */
  get status(): HealthStatus {
    if (this.#error !== undefined) return "ERROR";
    if (this.#activeStreams > 0 || this.#activeRequests > 0) return "OK";
    if (this.#startupComplete) return "IDLE";
    return "LOADING";
  }

  /**
   * pytrickle's `get_pipeline_state()` payload, the base of `/stream/status` and the `current_state`
   * field of stream responses.
   */
  pipelineState(): PipelineStatePayload {
    const status = this.status;
    return {
      status,
      state: status,
      error_message: this.#error ?? null,
      pipeline_ready: this.ready,
      active_streams: this.#activeStreams,
      startup_complete: this.#startupComplete,
      pipeline_state: this.#error !== undefined ? "ERROR" : !this.#startupComplete ? "LOADING" : status,
      additional_info: {},
    };
  }
}

/** The wire shape of pytrickle's `get_pipeline_state()` (docs/spec/container-contract.md#stream-routes). */
export interface PipelineStatePayload {
  status: HealthStatus;
  state: HealthStatus;
  error_message: string | null;
  pipeline_ready: boolean;
  active_streams: number;
  startup_complete: boolean;
  pipeline_state: HealthStatus;
  additional_info: Record<string, unknown>;
}
