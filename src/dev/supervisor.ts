/**
 * A tiny supervisor for the one-command local network: components start in order, each one waited
 * for until it is healthy, with a progress event per step; they stop in reverse order (each stop is
 * awaited and bounded), once, whether the start failed half way, a signal came, or a running component
 * reported a failure.
 */
import { TributaryError } from "../node/errors.ts";

/** What the supervisor reports while it works. `ms` is the time the step took. */
export type SupervisorEvent =
  | { type: "starting"; name: string; index: number; total: number }
  | { type: "ready"; name: string; index: number; total: number; ms: number; detail?: string }
  | { type: "failed"; name: string; error: unknown }
  | { type: "stopping"; name: string }
  | { type: "stopped"; name: string; ms: number }
  | { type: "stop-failed"; name: string; error: unknown };

/** A started component: how to stop it. */
export interface Started<T> {
  value: T;
  stop: () => Promise<void>;
  /** One line shown after "ready" (a URL, a count). */
  detail?: string;
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Number of components that will be started (for "[i/n]" progress); default: unknown (0). */
  total?: number;
  onEvent?: (event: SupervisorEvent) => void;
  /** Longest wait for one component's stop before moving on; default 10 s. */
  stopTimeoutMs?: number;
}

/** A component failed to start, or failed while running. `component` names it. */
export class ComponentError extends TributaryError {
  readonly component: string;
  constructor(component: string, cause: unknown) {
    super("DEV_COMPONENT_FAILED", `${component}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      status: 500,
      details: { component },
    });
    this.component = component;
  }
}

/**
 * Starts components in order and stops them in reverse. The `signal` aborts when stopping begins
 * (components that run loops tie them to it); `failed` resolves with the first runtime failure
 * reported through {@link Supervisor.fail}.
 */
export class Supervisor implements AsyncDisposable {
  readonly #stack: { name: string; stop: () => Promise<void> }[] = [];
  readonly #abort = new AbortController();
  readonly #options: SupervisorOptions;
  #index = 0;
  #stopping: Promise<void> | undefined;
  #failure: ComponentError | undefined;
  #onFailure: (e: ComponentError) => void = () => {};
  /** Resolves with the first runtime failure of a started component. */
  readonly failed: Promise<ComponentError>;

  constructor(options: SupervisorOptions = {}) {
    this.#options = options;
    this.failed = new Promise((resolve) => {
      this.#onFailure = resolve;
    });
  }

  /** Aborted once stopping begins. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** True once {@link stop} was called. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** The first runtime failure, if any. */
  get failure(): ComponentError | undefined {
    return this.#failure;
  }

  /**
   * Starts one component: `start` must resolve once it is healthy. If it throws (or stopping began
   * meanwhile) the error is wrapped in a {@link ComponentError}; the caller then calls {@link stop}.
   */
  async start<T>(name: string, start: (signal: AbortSignal) => Promise<Started<T>>): Promise<T> {
    if (this.#stopping) throw new ComponentError(name, new Error("the network is stopping"));
    const index = ++this.#index;
    const total = this.#options.total ?? 0;
    this.#emit({ type: "starting", name, index, total });
    const t0 = performance.now();
    let started: Started<T>;
    try {
      started = await start(this.#abort.signal);
    } catch (err) {
      const error = err instanceof ComponentError ? err : new ComponentError(name, err);
      this.#emit({ type: "failed", name, error });
      throw error;
    }
    this.#stack.push({ name, stop: started.stop });
    if (this.#stopping) {
      // Stopping began while this component started: stop it too (stop() already took the stack).
      await this.#stopOne({ name, stop: started.stop });
      throw new ComponentError(name, new Error("the network is stopping"));
    }
    this.#emit({
      type: "ready",
      name,
      index,
      total,
      ms: performance.now() - t0,
      ...(started.detail === undefined ? {} : { detail: started.detail }),
    });
    return started.value;
  }

  /** Reports a runtime failure of a running component; the owner is expected to {@link stop}. */
  fail(name: string, cause: unknown): void {
    if (this.#failure || this.#stopping) return;
    this.#failure = cause instanceof ComponentError ? cause : new ComponentError(name, cause);
    this.#emit({ type: "failed", name, error: this.#failure });
    this.#onFailure(this.#failure);
  }

  /** Stops every started component in reverse order. Idempotent; never throws. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#abort.abort();
      while (this.#stack.length > 0) await this.#stopOne(this.#stack.pop()!);
    })();
    return this.#stopping;
  }

  async #stopOne(c: { name: string; stop: () => Promise<void> }): Promise<void> {
    this.#emit({ type: "stopping", name: c.name });
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const limit = this.#options.stopTimeoutMs ?? 10_000;
    try {
      await Promise.race([
        c.stop(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not stop within ${limit} ms`)), limit);
        }),
      ]);
      this.#emit({ type: "stopped", name: c.name, ms: performance.now() - t0 });
    } catch (error) {
      this.#emit({ type: "stop-failed", name: c.name, error });
    } finally {
      clearTimeout(timer);
    }
  }

  #emit(event: SupervisorEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // a broken progress printer must not break start or stop
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
