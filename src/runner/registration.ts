/**
 * Registration of a runner with a go-livepeer (or Tributary) orchestrator as a BYOC capability:
 * `POST {ORCH_URL}/capability/register` with `Authorization: <ORCH_SECRET>` (the raw secret, no
 * "Bearer") and the `core.ExternalCapability` JSON body (docs/spec/container-contract.md#registration,
 * docs/spec/orchestrator-gateway.md#capability-register, #registration-body).
 *
 * Configuration comes from pytrickle's environment variables (`ORCH_URL`, `ORCH_SECRET`,
 * `CAPABILITY_NAME`, `CAPABILITY_DESCRIPTION`, `CAPABILITY_URL`, `CAPABILITY_CAPACITY`,
 * `CAPABILITY_PRICE_PER_UNIT`, `CAPABILITY_PRICE_SCALING`) plus two of ours, `CAPABILITY_CURRENCY`
 * and `CAPABILITY_TOKEN`. Orchestrators use self-signed certificates, so TLS is not verified by default.
 *
 * BYOC has no health checks and no TTL, and a capability is dropped when a job cannot connect or gets
 * a 401; {@link startRegistration} therefore retries with backoff and re-registers periodically. A
 * re-registration resets the orchestrator's in-flight count for the capability, so the refresh is
 * postponed while the runner is busy (`isIdle`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TributaryError } from "../node/errors.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { requestOrchestrator } from "./live-runner/http.ts";
import { DEFAULT_RUNNER_PORT } from "./server.ts";

/** Everything one registration needs. */
export interface CapabilityRegistration {
  /** Orchestrator base URL, e.g. `https://orchestrator:8935`. */
  orchUrl: string;
  /** The orchestrator's `-orchSecret`. */
  orchSecret: string;
  /** Capability name; gateways match it exactly and case-sensitively. */
  name: string;
  description: string;
  /** Where the orchestrator reaches this runner (used unmodified, comfystream #460). */
  url: string;
  /** Concurrent jobs the runner accepts. */
  capacity: number;
  /** Price numerator, per second of compute, in `currency` (int64). */
  pricePerUnit: bigint;
  /** Price denominator (int64; 0 is treated as 1 by the orchestrator). */
  priceScaling: bigint;
  /** "" or "wei" (as is), "eth" (× 1e18), or a fiat code (needs the orchestrator's price feed). */
  currency: string;
  /** When set, the orchestrator sends `Authorization: Bearer <token>` to the runner. */
  token: string;
}

/** A configuration value is invalid. */
export class RegistrationConfigError extends TributaryError {
  constructor(message: string) {
    super("INVALID_REGISTRATION_CONFIG", message, { status: 400 });
  }
}

/**
 * The orchestrator refused the registration: 400 (go-livepeer: wrong secret or bad body) or 401/403
 * (Tributary: wrong secret). Retrying will not help.
 */
export class RegistrationRejectedError extends TributaryError {
  constructor(body: string, status = 400) {
    super(
      "REGISTRATION_REJECTED",
      `the orchestrator rejected the registration (${status} ${body.trim().slice(0, 200)}); check ORCH_SECRET and the capability settings`,
      { status: 400, details: { orchestratorStatus: status } },
    );
  }
}

/** One registration attempt failed (network, timeout, or a non-200/400 answer); worth retrying. */
export class RegistrationFailedError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("REGISTRATION_FAILED", message, { cause, status: 502 });
  }
}

const INT64_MAX = (1n << 63n) - 1n;

function int64(name: string, text: string): bigint {
  if (!/^-?\d+$/.test(text.trim()))
    throw new RegistrationConfigError(`${name} must be an integer, got "${text}"`);
  const v = BigInt(text.trim());
  if (v > INT64_MAX || v < -INT64_MAX - 1n)
    throw new RegistrationConfigError(`${name} is out of int64 range`);
  return v;
}

/**
 * Reads a registration from pytrickle's environment variables. Returns undefined when `ORCH_URL` or
 * `ORCH_SECRET` is missing (registration skipped, as in pytrickle). `defaults` fill values the
 * environment lacks (e.g. the name from the pipeline, the token from `--token`).
 * @throws RegistrationConfigError for malformed numbers.
 */
export function registrationFromEnv(
  env: Record<string, string | undefined>,
  defaults: Partial<Pick<CapabilityRegistration, "name" | "description" | "url" | "token">> = {},
): CapabilityRegistration | undefined {
  const orchUrl = env.ORCH_URL?.trim();
  const orchSecret = env.ORCH_SECRET;
  if (!orchUrl || !orchSecret) return undefined;
  const capacity = Number(int64("CAPABILITY_CAPACITY", env.CAPABILITY_CAPACITY || "1"));
  if (capacity < 1 || !Number.isSafeInteger(capacity))
    throw new RegistrationConfigError("CAPABILITY_CAPACITY must be a positive integer");
  return {
    orchUrl: /^https?:\/\//i.test(orchUrl) ? orchUrl : `https://${orchUrl}`,
    orchSecret,
    name: env.CAPABILITY_NAME || defaults.name || "tributary-worker",
    description: env.CAPABILITY_DESCRIPTION || defaults.description || "Tributary runner",
    url: env.CAPABILITY_URL || defaults.url || `http://localhost:${DEFAULT_RUNNER_PORT}`,
    capacity,
    pricePerUnit: int64("CAPABILITY_PRICE_PER_UNIT", env.CAPABILITY_PRICE_PER_UNIT || "0"),
    priceScaling: int64("CAPABILITY_PRICE_SCALING", env.CAPABILITY_PRICE_SCALING || "1"),
    currency: env.CAPABILITY_CURRENCY ?? "",
    token: env.CAPABILITY_TOKEN || defaults.token || "",
  };
}

/**
 * The JSON body go-livepeer decodes into `core.ExternalCapability`: `name, description, url,
 * capacity, price_per_unit, price_scaling, currency, token`. The int64 prices are written as exact
 * JSON integers (no float rounding).
 */
export function registrationBody(reg: CapabilityRegistration): string {
  const head = JSON.stringify({
    name: reg.name,
    description: reg.description,
    url: reg.url,
    capacity: reg.capacity,
  });
  const tail = JSON.stringify({ currency: reg.currency, token: reg.token });
  return `${head.slice(0, -1)},"price_per_unit":${reg.pricePerUnit},"price_scaling":${reg.priceScaling},${tail.slice(1)}`;
}

/** Options of one registration attempt. */
export interface RegisterOptions {
  /** Per-attempt timeout; default 5000 ms (pytrickle's internal default). */
  timeoutMs?: number;
  /** Verify the orchestrator's TLS certificate; default false (self-signed, as pytrickle's `ssl=False`). */
  verifyTls?: boolean;
  signal?: AbortSignal;
}

/**
 * One registration attempt.
 * @throws RegistrationRejectedError on 400 (do not retry); RegistrationFailedError otherwise.
 */
export function registerCapability(
  reg: CapabilityRegistration,
  options: RegisterOptions = {},
): Promise<void> {
  const target = new URL(`${reg.orchUrl.replace(/\/+$/, "")}/capability/register`);
  return requestOrchestrator(target, {
    method: "POST",
    headers: { authorization: reg.orchSecret },
    body: registrationBody(reg),
    timeoutMs: options.timeoutMs ?? 5000,
    verifyTls: options.verifyTls,
    signal: options.signal,
    maxBytes: 4096,
    fail: (stage, err) =>
      new RegistrationFailedError(
        stage === "answer"
          ? `registration answer failed: ${err.message}`
          : `cannot reach the orchestrator: ${err.message}`,
        err,
      ),
  }).then(({ status, text }) => {
    if (status === 200) return;
    if (status === 400 || status === 401 || status === 403) throw new RegistrationRejectedError(text, status);
    throw new RegistrationFailedError(`orchestrator answered ${status} ${text.trim().slice(0, 200)}`);
  });
}

/** Options of {@link startRegistration}. */
export interface RegistrationLoopOptions extends Omit<RegisterOptions, "signal"> {
  signal?: AbortSignal;
  logger?: Logger;
  /** First retry delay; doubles per failure up to `maxRetryDelayMs`. Default 2000 ms (pytrickle). */
  retryDelayMs?: number;
  /** Default 60 000 ms. */
  maxRetryDelayMs?: number;
  /** Period of re-registration after a success. Default 300 000 ms (5 min); 0 disables it. */
  refreshIntervalMs?: number;
  /** A refresh waits while this returns false (a re-registration resets the orchestrator's load count). */
  isIdle?: () => boolean;
  /** Called after each successful registration. */
  onRegistered?: () => void;
}

/** A running registration loop. */
export interface RegistrationLoop extends AsyncDisposable {
  /** Resolves true after the first success, false if stopped or rejected before one. */
  readonly registered: Promise<boolean>;
  /** Attempts made so far. */
  readonly attempts: number;
  /** Successful registrations so far. */
  readonly successes: number;
  /** Stops retrying and refreshing. */
  stop(): Promise<void>;
}

/**
 * Registers in the background: retries failures with exponential backoff, stops on a 400 rejection,
 * and re-registers every `refreshIntervalMs` (when idle) until stopped.
 */
export function startRegistration(
  reg: CapabilityRegistration,
  options: RegistrationLoopOptions = {},
): RegistrationLoop {
  const log = (options.logger ?? silentLogger()).child({ capability: reg.name });
  const stopper = new AbortController();
  const onAbort = () => stopper.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const baseDelay = options.retryDelayMs ?? 2000;
  const maxDelay = options.maxRetryDelayMs ?? 60_000;
  const refresh = options.refreshIntervalMs ?? 300_000;
  let attempts = 0;
  let successes = 0;
  let settleFirst: (ok: boolean) => void = () => {};
  const registered = new Promise<boolean>((resolve) => {
    settleFirst = resolve;
  });
  const wait = async (ms: number) => {
    try {
      await sleep(ms, undefined, { signal: stopper.signal });
      return true;
    } catch {
      return false;
    }
  };

  const loop = (async () => {
    let delay = baseDelay;
    for (;;) {
      if (stopper.signal.aborted) break;
      attempts++;
      try {
        await registerCapability(reg, {
          signal: stopper.signal,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.verifyTls !== undefined ? { verifyTls: options.verifyTls } : {}),
        });
        successes++;
        delay = baseDelay;
        log.info({ attempts }, "capability registered with the orchestrator");
        settleFirst(true);
        options.onRegistered?.();
        if (refresh <= 0) break;
        if (!(await wait(refresh))) break;
        while (options.isIdle && !options.isIdle()) {
          if (!(await wait(Math.min(refresh, 30_000)))) break;
        }
      } catch (err) {
        if (stopper.signal.aborted) break;
        if (err instanceof RegistrationRejectedError) {
          log.error({ err }, "registration rejected; not retrying");
          break;
        }
        log.warn({ err, retry_in_ms: delay }, "registration attempt failed");
        if (!(await wait(delay))) break;
        delay = Math.min(delay * 2, maxDelay);
      }
    }
    settleFirst(false);
  })();

  const stop = async () => {
    stopper.abort();
    options.signal?.removeEventListener("abort", onAbort);
    await loop;
  };
  return {
    registered,
    get attempts() {
      return attempts;
    },
    get successes() {
      return successes;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
