/**
 * Container health monitor: polls `GET <url>/health` of every container in the registry, before it
 * is advertised and continuously, and records the result with `registry.setHealth`
 * (docs/spec/container-contract.md#how-the-orchestrator-reads-health, docs/spec/orchestrator-gateway.md#external-and-managed-containers).
 *
 * Classification of one poll:
 * - 200 with `{"status": "ok" | "OK" | "IDLE"}` (any case) → ready;
 * - 200 with `LOADING` → loading (not advertised yet, not a failure);
 * - 200 with `ERROR` → failed at once (the container says so);
 * - any other status, an unreadable body, a timeout or no answer → one failure; after
 *   `failureThreshold` consecutive failures the container is failed (withdrawn).
 * A failed container that answers ready again is restored. Transitions are logged here and emitted
 * by the registry (`health` event) for metrics.
 */
import { type Logger, silentLogger } from "../node/logger.ts";
import { probeGet } from "./probe.ts";
import type { CapabilityRegistry, ContainerHealth, ContainerState, GpuInfo } from "./registry.ts";

/** Time between health polls of one container: go-livepeer's watch interval (5 s). */
export const DEFAULT_HEALTH_INTERVAL_MS = 5000;
/** Timeout of one health poll. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 5000;
/** Consecutive failed polls before a container is withdrawn: go-livepeer's `maxHealthCheckFailures`. */
export const DEFAULT_HEALTH_FAILURES = 2;

/** Options of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  /** Time between polls of one container; default {@link DEFAULT_HEALTH_INTERVAL_MS}. */
  intervalMs?: number;
  /** Per-poll timeout; default {@link DEFAULT_HEALTH_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Consecutive failures before a container is withdrawn; default {@link DEFAULT_HEALTH_FAILURES}. */
  failureThreshold?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

/** The outcome of one poll. */
export type PollResult = "ready" | "loading" | "error" | "unreachable";

/** GETs a small JSON document; undefined on any failure. Never throws. */
async function getJson(url: string, token: string | undefined, timeoutMs: number): Promise<unknown> {
  const got = await probeGet(url, { token, timeoutMs, maxBytes: 256 * 1024 });
  if (got?.status !== 200) return undefined;
  try {
    return JSON.parse(got.body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** Polls `<url>/health` once. Never throws. */
export async function pollHealth(
  url: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<PollResult> {
  const got = await probeGet(`${url}/health`, { token, timeoutMs, maxBytes: 64 * 1024 });
  if (got?.status !== 200) return "unreachable";
  try {
    const body = JSON.parse(got.body.toString("utf8")) as { status?: unknown };
    const s = typeof body?.status === "string" ? body.status.toUpperCase() : "";
    if (s === "OK" || s === "IDLE") return "ready";
    if (s === "LOADING") return "loading";
    if (s === "ERROR") return "error";
    return "unreachable";
  } catch {
    return "unreachable";
  }
}

/** Polls every container of a registry and keeps its health current. */
export class HealthMonitor implements AsyncDisposable {
  readonly #registry: CapabilityRegistry;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #threshold: number;
  readonly #log: Logger;
  readonly #failures = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onChange = (): void => {
    // A new container is checked at once, so a registration is advertised without waiting a period.
    for (const c of this.#registry.containers()) if (c.health === "unknown") void this.#check(c);
  };

  constructor(registry: CapabilityRegistry, options: HealthMonitorOptions = {}) {
    this.#registry = registry;
    this.#intervalMs = options.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    this.#threshold = Math.max(1, options.failureThreshold ?? DEFAULT_HEALTH_FAILURES);
    this.#log = options.logger ?? silentLogger();
    options.signal?.addEventListener("abort", () => void this.close(), { once: true });
  }

  /** Polls every container now, then every interval. Resolves after the first round. */
  async start(): Promise<void> {
    if (this.#closed || this.#timer !== undefined) return;
    this.#registry.on("change", this.#onChange);
    this.#timer = setInterval(() => void this.checkAll(), this.#intervalMs);
    this.#timer.unref();
    await this.checkAll();
  }

  /** One round over every referenced container (a running check of a container is joined). */
  async checkAll(): Promise<void> {
    await Promise.all(this.#registry.containers().map((c) => this.#check(c)));
  }

  #check(c: ContainerState): Promise<void> {
    if (this.#closed || !c.referenced) return Promise.resolve();
    const running = this.#inFlight.get(c.url);
    if (running !== undefined) return running;
    const p = pollHealth(c.url, c.token, this.#timeoutMs)
      .then((result) => this.#record(c, result))
      .finally(() => this.#inFlight.delete(c.url));
    this.#inFlight.set(c.url, p);
    return p;
  }

  #record(c: ContainerState, result: PollResult): void {
    if (this.#closed || this.#registry.container(c.url) !== c) return;
    let next: ContainerHealth;
    if (result === "ready" || result === "loading") {
      this.#failures.delete(c.url);
      next = result;
    } else if (result === "error") {
      this.#failures.set(c.url, this.#threshold);
      next = "failed";
    } else {
      const n = (this.#failures.get(c.url) ?? 0) + 1;
      this.#failures.set(c.url, n);
      next = n >= this.#threshold ? "failed" : c.health === "unknown" ? "unknown" : c.health;
    }
    if (next === "ready" && c.gpuInfo === undefined) void this.#readHardware(c);
    if (next === c.health) return;
    const level = next === "failed" ? "warn" : "info";
    this.#log[level](
      { container: c.url, from: c.health, to: next, poll: result },
      "container health changed",
    );
    this.#registry.setHealth(c.url, next);
  }

  /** Reads `/hardware/info` once a container is ready (for `OrchestratorInfo.hardware`). */
  async #readHardware(c: ContainerState): Promise<void> {
    c.gpuInfo = {};
    const info = await getJson(`${c.url}/hardware/info`, c.token, this.#timeoutMs);
    const gpus = (info as { gpu_info?: unknown } | undefined)?.gpu_info;
    if (typeof gpus !== "object" || gpus === null) return;
    const out: Record<string, GpuInfo> = {};
    for (const [k, v] of Object.entries(gpus as Record<string, Record<string, unknown>>)) {
      if (typeof v !== "object" || v === null) continue;
      out[k] = {
        id: String(v.id ?? ""),
        name: String(v.name ?? ""),
        major: Number(v.major) || 0,
        minor: Number(v.minor) || 0,
        memory_free: Number(v.memory_free) || 0,
        memory_total: Number(v.memory_total) || 0,
      };
    }
    c.gpuInfo = out;
  }

  /** Stops polling. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#registry.off("change", this.#onChange);
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
