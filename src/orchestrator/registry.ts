/**
 * The orchestrator's one registry of capabilities, fed by several sources:
 * `aiModels.json` entries ({@link CapabilityRegistry.setConfigModels}, replaced as a whole on each hot
 * reload) and BYOC registrations ({@link CapabilityRegistry.registerByoc} / `unregisterByoc`,
 * docs/spec/orchestrator-gateway.md#capability-register, #capability-unregister, #registration-body).
 *
 * A capability is `pipeline/model_id` (BYOC: `byoc/<name>`); it maps to one or more container URLs,
 * a price per gateway and a warm flag. **Capacity belongs to the container URL**, not to a
 * registration (go-livepeer #4015): two capabilities served by the same container share its slots,
 * and re-registering does not reset the in-flight count (go-livepeer's, docs/spec/upstream-quirks.md#capacity-not-enforced-on-the-orchestrator). A container's
 * capacity is the largest any of its registrations declares.
 *
 * Health comes from the {@link HealthMonitor} through {@link CapabilityRegistry.setHealth}: only
 * `ready` containers are advertised and routed to. A container that leaves the configuration while
 * jobs run keeps its state until the last lease is released, so a reload never drops running jobs.
 */
import { EventEmitter } from "node:events";
import { Rat } from "../payments/rational.ts";
import { pipelineToCapability } from "../protocol/capabilities.ts";
import type { ModelConfig, PriceUnit } from "./config.ts";

/** Health of a container as the monitor last saw it. */
export type ContainerHealth = "unknown" | "loading" | "ready" | "failed";

/** Pseudo-pipeline of BYOC capabilities (capability id 37, "byoc"). */
export const BYOC_PIPELINE = "byoc";

/**
 * True when a capability is reached as a BYOC capability named after its model id: a BYOC
 * registration, or an `aiModels.json` entry whose pipeline is none of go-livepeer's built-in AI
 * pipelines (`{"pipeline": "text-reverse", "model_id": "reverse-v1", …}` is BYOC `reverse-v1`, its
 * jobs go to `<url>/<route>`, priced per second). Built-in pipelines keep their native routes.
 */
export function servedAsByoc(c: { readonly pipeline: string }): boolean {
  return c.pipeline === BYOC_PIPELINE || pipelineToCapability(c.pipeline) === undefined;
}

/** A BYOC registration (`core.ExternalCapability`, docs/spec/orchestrator-gateway.md#registration-body), typed. */
export interface ByocRegistration {
  name: string;
  description: string;
  url: string;
  capacity: number;
  /** Wei per second, exact (`price_per_unit / price_scaling`, × 1e18 for eth). */
  price: Rat;
  pricePerUnit: bigint;
  priceScaling: bigint;
  currency: string;
  token: string | undefined;
}

/** A container's live state. */
export interface ContainerState {
  readonly url: string;
  capacity: number;
  inUse: number;
  health: ContainerHealth;
  /** Bearer token to send (the latest registration's). */
  token: string | undefined;
  /** False once no registration references it (kept until its leases end). */
  referenced: boolean;
  /** GPUs from the container's `/hardware/info` (pytrickle's `gpu_info`), read when it became ready. */
  gpuInfo?: Record<string, GpuInfo>;
}

/** One GPU as pytrickle's `/hardware/info` reports it. */
export interface GpuInfo {
  id: string;
  name: string;
  major: number;
  minor: number;
  memory_free: number;
  memory_total: number;
}

/** One capability and where it runs. */
export interface Capability {
  /** `pipeline/model_id`. */
  readonly key: string;
  readonly pipeline: string;
  readonly modelId: string;
  readonly source: "config" | "byoc";
  warm: boolean;
  /** Price in wei per unit by gateway address (lower-case) or "default". */
  prices: Map<string, Rat>;
  /** Configured price per unit / pixels per unit by gateway, for advertising the exact pair. */
  priceParts: Map<string, { pricePerUnit: Rat; pixelsPerUnit: bigint }>;
  priceUnit: PriceUnit;
  description: string;
  urls: string[];
}

/** A reserved slot on a container. Release it exactly once (extra calls do nothing). */
export interface Lease extends Disposable {
  readonly capability: Capability;
  readonly container: ContainerState;
  release(): void;
}

/** What gateways see of a capability: only its ready containers count. */
export interface AdvertisedCapability {
  key: string;
  pipeline: string;
  modelId: string;
  source: "config" | "byoc";
  warm: boolean;
  capacity: number;
  inUse: number;
  prices: Map<string, Rat>;
  priceParts: Map<string, { pricePerUnit: Rat; pixelsPerUnit: bigint }>;
  priceUnit: PriceUnit;
  description: string;
  /** GPUs of its ready containers, keyed `<container index>:<gpu index>`. */
  gpuInfo: Record<string, GpuInfo>;
}

/** Events: `change` (any registration or health change), `health` (url, previous, next). */
export interface RegistryEvents {
  change: [];
  health: [url: string, previous: ContainerHealth, next: ContainerHealth];
}

/** The capability registry. Synchronous and in memory. */
export class CapabilityRegistry extends EventEmitter<RegistryEvents> {
  readonly #config = new Map<string, Capability>();
  readonly #byoc = new Map<string, Capability>();
  readonly #byocRegs = new Map<string, ByocRegistration>();
  readonly #configModels: ModelConfig[] = [];
  readonly #containers = new Map<string, ContainerState>();

  /** Replaces every aiModels.json-sourced capability (a hot reload). Running leases are untouched. */
  setConfigModels(models: readonly ModelConfig[]): void {
    this.#configModels.splice(0, this.#configModels.length, ...models);
    this.#config.clear();
    for (const m of models) {
      const key = `${m.pipeline}/${m.modelId}`;
      let cap = this.#config.get(key);
      if (cap === undefined) {
        cap = {
          key,
          pipeline: m.pipeline,
          modelId: m.modelId,
          source: "config",
          warm: m.warm,
          prices: new Map(),
          priceParts: new Map(),
          // Reached as BYOC: billed per second of job time like every BYOC capability.
          priceUnit: servedAsByoc(m) ? "second" : m.priceUnit,
          description: "",
          urls: [],
        };
        this.#config.set(key, cap);
      }
      cap.warm ||= m.warm;
      if (!cap.urls.includes(m.url)) cap.urls.push(m.url);
      cap.prices.set(m.gateway, m.price);
      cap.priceParts.set(m.gateway, { pricePerUnit: m.pricePerUnit, pixelsPerUnit: m.pixelsPerUnit });
    }
    this.#reconcileContainers();
  }

  /** Adds or replaces a BYOC capability by name. The container's in-flight count is kept. */
  registerByoc(reg: ByocRegistration): Capability {
    const cap: Capability = {
      key: `${BYOC_PIPELINE}/${reg.name}`,
      pipeline: BYOC_PIPELINE,
      modelId: reg.name,
      source: "byoc",
      warm: true,
      prices: new Map([["default", reg.price]]),
      priceParts: new Map([["default", { pricePerUnit: reg.price, pixelsPerUnit: 1n }]]),
      priceUnit: "second",
      description: reg.description,
      urls: [reg.url],
    };
    this.#byoc.set(reg.name, cap);
    this.#byocRegs.set(reg.name, reg);
    this.#reconcileContainers();
    return cap;
  }

  /** Removes a BYOC capability; true if it existed. Running leases are untouched. */
  unregisterByoc(name: string): boolean {
    const had = this.#byoc.delete(name);
    this.#byocRegs.delete(name);
    if (had) this.#reconcileContainers();
    return had;
  }

  /**
   * The capability for `pipeline/modelId` (BYOC: pipeline {@link BYOC_PIPELINE}, model = name; a
   * registration first, else an `aiModels.json` entry {@link servedAsByoc} with that model id).
   */
  get(pipeline: string, modelId: string): Capability | undefined {
    if (pipeline === BYOC_PIPELINE) return this.#byoc.get(modelId) ?? this.#configByoc(modelId);
    return this.#config.get(`${pipeline}/${modelId}`);
  }

  /** The `aiModels.json` capability reached as BYOC `name` (model ids are unique among them, config.ts). */
  #configByoc(name: string): Capability | undefined {
    for (const c of this.#config.values()) if (c.modelId === name && servedAsByoc(c)) return c;
    return undefined;
  }

  /** Every capability of a pipeline (any health). */
  byPipeline(pipeline: string): Capability[] {
    return this.all().filter((c) => c.pipeline === pipeline);
  }

  /** Every capability (any health). */
  all(): Capability[] {
    return [...this.#config.values(), ...this.#byoc.values()];
  }

  /** The state of a container URL. */
  container(url: string): ContainerState | undefined {
    return this.#containers.get(url);
  }

  /** Every known container (referenced or draining). */
  containers(): ContainerState[] {
    return [...this.#containers.values()];
  }

  /** Records a health observation; emits `health` and `change` on a transition. */
  setHealth(url: string, health: ContainerHealth): void {
    const c = this.#containers.get(url);
    if (c === undefined || c.health === health) return;
    const previous = c.health;
    c.health = health;
    this.emit("health", url, previous, health);
    this.emit("change");
  }

  /**
   * Reserves one slot on the least-loaded ready container of `cap` with a free slot, or returns
   * undefined when there is none (the caller answers 503).
   */
  reserve(cap: Capability): Lease | undefined {
    let best: ContainerState | undefined;
    for (const url of cap.urls) {
      const c = this.#containers.get(url);
      if (c === undefined || c.health !== "ready" || c.inUse >= c.capacity) continue;
      if (best === undefined || c.inUse / c.capacity < best.inUse / best.capacity) best = c;
    }
    if (best === undefined) return undefined;
    const container = best;
    container.inUse++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      container.inUse--;
      if (!container.referenced && container.inUse === 0) this.#containers.delete(container.url);
      this.emit("change");
    };
    this.emit("change");
    return { capability: cap, container, release, [Symbol.dispose]: release };
  }

  /** Capabilities with at least one ready container, with their summed capacity and load. */
  advertised(): AdvertisedCapability[] {
    const out: AdvertisedCapability[] = [];
    for (const cap of this.all()) {
      // A registration of the same name wins over an aiModels.json entry reached as BYOC.
      if (cap.source === "config" && servedAsByoc(cap) && this.#byoc.has(cap.modelId)) continue;
      let capacity = 0;
      let inUse = 0;
      let ready = false;
      const gpuInfo: Record<string, GpuInfo> = {};
      for (const [i, url] of cap.urls.entries()) {
        const c = this.#containers.get(url);
        if (c === undefined || c.health !== "ready") continue;
        ready = true;
        for (const [k, g] of Object.entries(c.gpuInfo ?? {}))
          gpuInfo[cap.urls.length > 1 ? `${i}:${k}` : k] = g;
        capacity += c.capacity;
        inUse += Math.min(c.inUse, c.capacity);
      }
      if (!ready) continue;
      out.push({
        key: cap.key,
        pipeline: cap.pipeline,
        modelId: cap.modelId,
        source: cap.source,
        warm: cap.warm,
        capacity,
        inUse,
        prices: cap.prices,
        priceParts: cap.priceParts,
        priceUnit: cap.priceUnit,
        description: cap.description,
        gpuInfo,
      });
    }
    return out;
  }

  /** The price a gateway pays for a capability: its own entry, else `default`, else zero. */
  priceFor(cap: Capability, gateway: string | undefined): Rat {
    return (gateway && cap.prices.get(gateway.toLowerCase())) || cap.prices.get("default") || Rat.ZERO;
  }

  #reconcileContainers(): void {
    const wanted = new Map<string, { capacity: number; token: string | undefined }>();
    const want = (url: string, capacity: number, token: string | undefined): void => {
      const w = wanted.get(url);
      if (w === undefined) wanted.set(url, { capacity, token });
      else {
        w.capacity = Math.max(w.capacity, capacity);
        w.token ??= token;
      }
    };
    for (const m of this.#configModels) want(m.url, m.capacity, m.token);
    for (const r of this.#byocRegs.values()) want(r.url, r.capacity, r.token);
    for (const [url, w] of wanted) {
      const c = this.#containers.get(url);
      if (c === undefined)
        this.#containers.set(url, {
          url,
          capacity: w.capacity,
          inUse: 0,
          health: "unknown",
          token: w.token,
          referenced: true,
        });
      else {
        c.capacity = w.capacity;
        c.token = w.token;
        c.referenced = true;
      }
    }
    for (const c of [...this.#containers.values()]) {
      if (wanted.has(c.url)) continue;
      c.referenced = false;
      if (c.inUse === 0) this.#containers.delete(c.url);
    }
    this.emit("change");
  }
}
