/**
 * The live runners of `/discover-orchestrators` (go-livepeer's remote discovery, `doc/live-runner.md`
 * "Remote signer discovery"): each orchestrator the signer's pool found is asked for its Live Runner
 * `GET /discovery` (2 s, at most 1 MiB; a failure leaves that orchestrator listed without runners), at
 * most once per refresh interval, and {@link mergeRunners} adds what they answered:
 *
 * - a runner record is kept only with a `url`, a non-empty `app`, `metadata` of at most 1024 UTF-8
 *   bytes, and a positive price in `wei` per `seconds`, `720p-pixel-seconds` or `fixed` no higher
 *   than the signer's `--max-price-per-unit` (an offchain orchestrator's runners have no price: none
 *   kept); the others are left out and logged;
 * - records are grouped by the `address` each answer names (trailing `/` ignored), into the
 *   orchestrator of that address, or a new entry when the pool did not list it; within an address
 *   runners are merged by `url`, the first kept (a conflicting duplicate is logged; capacity figures
 *   alone are not a conflict);
 * - each kept runner's `app` joins its orchestrator's `capabilities`, so `?caps=` finds it.
 *
 * Only the fields of go-livepeer's discovery record are passed on (`url`, `gpu`, `app`, `version`,
 * `metadata`, `mode`, `capacity`, `capacity_used`, `capacity_available`, `price_info`), never
 * anything else an orchestrator put in its answer.
 */
import type { Logger } from "../node/logger.ts";
import { MAX_RUNNER_METADATA_BYTES, RUNNER_PRICE_UNITS } from "../orchestrator/runners/config.ts";
import { Rat } from "../payments/rational.ts";
import type { DiscoveredOrchestrator, DiscoveredRunner } from "./context.ts";

/** How long one orchestrator's `GET /discovery` may take (go-livepeer's 2 s). */
export const RUNNER_DISCOVERY_TIMEOUT_MS = 2000;
/** Largest `GET /discovery` answer read (go-livepeer's 1 MiB); a larger one counts as failed. */
export const RUNNER_DISCOVERY_MAX_BYTES = 1024 * 1024;

/** The charged units discovery advertises (what the orchestrator converts every price unit to). */
const UNITS = new Set<string>(Object.values(RUNNER_PRICE_UNITS).map((u) => u.unit));

/** A price field as compared: text, trimmed, lower case. */
const norm = (v: unknown): string =>
  String(v ?? "")
    .trim()
    .toLowerCase();

/** What one orchestrator answered to `GET /discovery` (its parsed JSON), or undefined on failure. */
export type DiscoveryAnswer = unknown;

/** Why `raw` is left out, or the record to list (its known fields only). */
export function runnerRecord(
  raw: unknown,
  maxPricePerUnit?: Rat,
): { runner: DiscoveredRunner } | { reason: string } {
  if (raw === null || typeof raw !== "object") return { reason: "not an object" };
  const r = raw as Record<string, unknown>;
  if (typeof r.url !== "string" || r.url === "") return { reason: "missing URL" };
  if (typeof r.app !== "string" || r.app.trim() === "") return { reason: "missing app" };
  if (r.metadata !== undefined) {
    if (typeof r.metadata !== "string" || !r.metadata.isWellFormed()) return { reason: "invalid metadata" };
    if (Buffer.byteLength(r.metadata, "utf8") > MAX_RUNNER_METADATA_BYTES)
      return { reason: "metadata too long" };
  }
  const p = r.price_info as { price?: unknown; currency?: unknown; unit?: unknown } | undefined | null;
  if (p === undefined || p === null || typeof p !== "object") return { reason: "invalid price" };
  let price: Rat;
  try {
    price = Rat.parse(String(p.price ?? "").trim());
  } catch {
    return { reason: "invalid price" };
  }
  if (price.cmp(Rat.ZERO) <= 0) return { reason: "invalid price" };
  if (norm(p.currency) !== "wei") return { reason: "unsupported currency" };
  const unit = norm(p.unit);
  if (!UNITS.has(unit)) return { reason: "unsupported unit" };
  if (maxPricePerUnit !== undefined && price.cmp(maxPricePerUnit) > 0) return { reason: "above max price" };
  const runner: DiscoveredRunner = {
    url: r.url,
    app: r.app,
    capacity: typeof r.capacity === "number" ? r.capacity : 0,
    capacity_used: typeof r.capacity_used === "number" ? r.capacity_used : 0,
    capacity_available: typeof r.capacity_available === "number" ? r.capacity_available : 0,
    price_info: {
      price: p.price as number | string,
      currency: "wei",
      unit,
    },
  };
  if (r.gpu !== undefined && r.gpu !== null && typeof r.gpu === "object") {
    const g = r.gpu as Record<string, unknown>;
    runner.gpu = {
      ...(typeof g.id === "string" ? { id: g.id } : {}),
      ...(typeof g.name === "string" ? { name: g.name } : {}),
      ...(typeof g.vram_mb === "number" ? { vram_mb: g.vram_mb } : {}),
    };
  }
  if (typeof r.version === "string" && r.version !== "") runner.version = r.version;
  if (typeof r.metadata === "string" && r.metadata !== "") runner.metadata = r.metadata;
  if (r.mode === "persistent" || r.mode === "single-shot") runner.mode = r.mode;
  return { runner };
}

const key = (address: string): string => address.replace(/\/+$/, "");

/** Same record but for the capacity figures, which move between polls. */
function sameRunner(a: DiscoveredRunner, b: DiscoveredRunner): boolean {
  const still = (r: DiscoveredRunner) =>
    JSON.stringify({ ...r, capacity_used: 0, capacity_available: 0 }, Object.keys(r).sort());
  return still(a) === still(b);
}

/**
 * Pure: `orchestrators` (the pool's) with the runners of `answers` merged in (see the module
 * documentation). `orchestrators` is not changed.
 */
export function mergeRunners(
  orchestrators: readonly DiscoveredOrchestrator[],
  answers: readonly DiscoveryAnswer[],
  maxPricePerUnit: Rat | undefined,
  log?: Logger,
): DiscoveredOrchestrator[] {
  const out = orchestrators.map((o) => ({
    ...o,
    capabilities: [...o.capabilities],
    runners: [] as DiscoveredRunner[],
  }));
  const byAddress = new Map(out.map((o) => [key(o.address), o]));
  for (const answer of answers) {
    if (!Array.isArray(answer)) continue;
    for (const entry of answer as unknown[]) {
      const { address, runners } = (entry ?? {}) as { address?: unknown; runners?: unknown };
      if (typeof address !== "string" || address === "" || !Array.isArray(runners)) continue;
      let orch = byAddress.get(key(address));
      for (const raw of runners) {
        const checked = runnerRecord(raw, maxPricePerUnit);
        if ("reason" in checked) {
          log?.info(
            { orchestrator: address, app: (raw as { app?: unknown })?.app, reason: checked.reason },
            "live runner left out of remote discovery",
          );
          continue;
        }
        const r = checked.runner;
        if (orch === undefined) {
          try {
            new URL(address);
          } catch {
            break;
          }
          orch = { address, capabilities: [], runners: [] };
          out.push(orch);
          byAddress.set(key(address), orch);
        }
        const list = orch.runners;
        const existing = list.find((x) => x.url === r.url);
        if (existing !== undefined) {
          if (!sameRunner(existing, r))
            log?.warn(
              { orchestrator: address },
              "conflicting live runner records in remote discovery; keeping the first",
            );
          continue;
        }
        list.push(r);
        if (!orch.capabilities.includes(r.app)) orch.capabilities.push(r.app);
      }
    }
  }
  return out.map(({ runners, ...o }) => (runners.length > 0 ? { ...o, runners } : o));
}

/** Options of {@link RunnerDiscovery}. */
export interface RunnerDiscoveryOptions {
  /**
   * GET `url` (an orchestrator's `/discovery`) as JSON within {@link RUNNER_DISCOVERY_TIMEOUT_MS} and
   * {@link RUNNER_DISCOVERY_MAX_BYTES} (the signer uses the gateway's `getRunnerDiscovery`); rejects on failure.
   */
  get(url: string): Promise<unknown>;
  /** How long an answer is used before asking again, ms. */
  refreshMs: number;
  now?: () => number;
}

/** The `GET /discovery` answers of the pool's orchestrators, cached per orchestrator for `refreshMs`. */
export class RunnerDiscovery {
  readonly #o: RunnerDiscoveryOptions;
  readonly #cache = new Map<string, { at: number; answer: Promise<DiscoveryAnswer> }>();

  constructor(options: RunnerDiscoveryOptions) {
    this.#o = options;
  }

  /** One answer per address (undefined where it failed), asked again past `refreshMs`. */
  answers(addresses: readonly string[]): Promise<DiscoveryAnswer[]> {
    const now = (this.#o.now ?? Date.now)();
    const wanted = new Set(addresses.map(key));
    for (const k of [...this.#cache.keys()]) if (!wanted.has(k)) this.#cache.delete(k);
    return Promise.all(
      [...wanted].map((k) => {
        let hit = this.#cache.get(k);
        if (hit === undefined || now - hit.at > this.#o.refreshMs) {
          hit = { at: now, answer: this.#o.get(`${k}/discovery`).catch(() => undefined) };
          this.#cache.set(k, hit);
        }
        return hit.answer;
      }),
    );
  }
}
