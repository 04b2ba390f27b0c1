/**
 * `aiModels.json` (docs/spec/orchestrator-gateway.md#aimodelsjson): parsing, validation with zod (errors name the entry
 * index and the field), and hot reload (fs.watch, debounced, plus SIGHUP).
 *
 * Accepted keys per entry: go-livepeer's `pipeline`, `model_id`, `url`, `token`, `warm`, `capacity`,
 * `optimization_flags`, `gateway`, `price_per_unit`, `pixels_per_unit`, `currency`, and ours:
 * `price_unit` — what one unit of a live pipeline is: `"pixel"` (go-livepeer's, the default),
 * `"frame"` or `"second"`. Batch pipelines keep go-livepeer's units (docs/spec/orchestrator-gateway.md#pricing-units).
 *
 * Differences from go-livepeer, deliberate:
 * - `url` is required: Tributary does not start managed docker containers (docs/spec/orchestrator-gateway.md#external-and-managed-containers), so an entry
 *   without one is an error rather than a silent no-op.
 * - `optimization_flags` are validated and kept but have no effect: they configure managed
 *   containers, which Tributary does not start.
 * - `currency` may be "", `wei` or `eth` (×1e18). Fiat currencies need a price feed, which the
 *   orchestrator does not have yet: rejected at load (go-livepeer panics later, quirk 18).
 * - `price_per_unit` may be a JSON number (integer, decimal or exponent form) as upstream, or a
 *   string holding one (upstream rejects strings; we accept them because big values lose precision as
 *   JSON numbers elsewhere).
 * - Unknown keys are rejected, so a typo (`"capcity"`) does not pass silently.
 * - A `pipeline` that is none of go-livepeer's built-in AI pipelines (`text-reverse`) is served as a
 *   BYOC capability named by its `model_id` (registry.ts `servedAsByoc`), priced per second; such
 *   model ids must therefore be unique across those pipelines.
 * - The legacy `-aiModels` string `pipeline:model_id:warm,…` is parsed by {@link parseLegacyAiModels}
 *   but has no `url`, so it only validates (and then fails the `url` rule) — kept for clear errors.
 */
import { watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { z } from "zod";
import { TributaryError } from "../node/errors.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import { Rat } from "../payments/rational.ts";
import { pipelineToCapability } from "../protocol/capabilities.ts";

/** What one unit of a live pipeline is, for pricing. */
export type PriceUnit = "pixel" | "frame" | "second";

/** One validated `aiModels.json` entry, in our typed camelCase form. */
export interface ModelConfig {
  /** Position in the file (0-based), for messages. */
  index: number;
  pipeline: string;
  modelId: string;
  /** Container base URL without a trailing slash. */
  url: string;
  /** Bearer token sent to the container. */
  token: string | undefined;
  warm: boolean;
  /** Concurrent requests the container takes (default 1). */
  capacity: number;
  optimizationFlags: Record<string, string>;
  /** Gateway address this price applies to; "default" for everyone. */
  gateway: string;
  /** Price in wei per unit (`price_per_unit × currency factor / pixels_per_unit`), exact. */
  price: Rat;
  /** As configured (for advertising). */
  pricePerUnit: Rat;
  /** False when the entry has no `price_per_unit` (the node's default price then applies). */
  priceGiven: boolean;
  pixelsPerUnit: bigint;
  currency: string;
  priceUnit: PriceUnit;
}

/** A configuration file that does not validate. `details.issues` lists every problem. */
export class ConfigError extends TributaryError {
  constructor(message: string, issues: string[], cause?: unknown) {
    super("INVALID_AI_MODELS", message, { details: { issues }, cause, status: 400 });
  }
}

const NUMBER_TEXT = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Parses a JSON number's text (integer, decimal, exponent) exactly. */
export function parseNumberText(text: string): Rat {
  const m = NUMBER_TEXT.exec(text.trim());
  if (!m) throw new RangeError(`not a number: ${JSON.stringify(text)}`);
  const neg = text.trim().startsWith("-");
  const digits = m[2] ?? "";
  let num = BigInt(`${m[1]}${digits}`) * (neg ? -1n : 1n);
  let den = 10n ** BigInt(digits.length);
  const exp = m[3] === undefined ? 0 : Number(m[3]);
  if (Math.abs(exp) > 100) throw new RangeError(`exponent out of range: ${text}`);
  if (exp > 0) num *= 10n ** BigInt(exp);
  else if (exp < 0) den *= 10n ** BigInt(-exp);
  return Rat.of(num, den);
}

/** Marks a JSON number kept as its exact source text by {@link parseConfigJson}. */
interface NumberText {
  __numberText: string;
}

const numberish = z.union([
  z.custom<NumberText>(
    (v) => typeof v === "object" && v !== null && "__numberText" in v,
    "expected a number",
  ),
  z.string().regex(NUMBER_TEXT, "expected a number"),
]);
const textOf = (v: NumberText | string): string => (typeof v === "string" ? v : v.__numberText);

const entrySchema = z
  .object({
    pipeline: z.string().min(1, "must not be empty"),
    model_id: z.string().min(1, "must not be empty"),
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    token: z.string().optional(),
    warm: z.boolean().optional(),
    capacity: z
      .custom<NumberText>(
        (v) => typeof v === "object" && v !== null && "__numberText" in v,
        "expected a number",
      )
      .transform((v, ctx) => {
        const n = Number(v.__numberText);
        if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
          ctx.addIssue({ code: "custom", message: "must be an integer from 1 to 1000000" });
          return z.NEVER;
        }
        return n;
      })
      .optional(),
    optimization_flags: z.record(z.string(), z.string()).optional(),
    gateway: z.string().optional(),
    price_per_unit: numberish.optional(),
    pixels_per_unit: numberish.optional(),
    currency: z.string().optional(),
    price_unit: z.enum(["pixel", "frame", "second"]).optional(),
  })
  .strict();

function revive(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === "number" && context?.source !== undefined) return { __numberText: context.source };
  return value;
}

/** JSON.parse keeping every number as its exact source text. Throws ConfigError on bad JSON. */
function parseConfigJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text, revive as (k: string, v: unknown) => unknown);
  } catch (err) {
    throw new ConfigError(`${source}: not valid JSON: ${(err as Error).message}`, [], err);
  }
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

/**
 * Validates the JSON text of an `aiModels.json` file. Throws {@link ConfigError} whose message lists
 * every problem as `entry <i> (<pipeline>/<model_id>): <field>: <problem>`.
 */
export function parseAiModels(text: string, source = "aiModels.json"): ModelConfig[] {
  const raw = parseConfigJson(text, source);
  if (!Array.isArray(raw)) throw new ConfigError(`${source}: must be a JSON array of model entries`, []);
  const issues: string[] = [];
  const out: ModelConfig[] = [];
  raw.forEach((item: unknown, index) => {
    const r = entrySchema.safeParse(item);
    const label = describeEntry(item, index);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const field = pathText(issue.path) || "(entry)";
        issues.push(`${label}: ${field}: ${issue.message}`);
      }
      return;
    }
    const e = r.data;
    const currency = (e.currency ?? "").toLowerCase();
    if (currency !== "" && currency !== "wei" && currency !== "eth") {
      issues.push(
        `${label}: currency: "${e.currency}" needs a price feed, which is not supported; use wei or eth`,
      );
      return;
    }
    let pricePerUnit = Rat.ZERO;
    let pixelsPerUnit = 1n;
    try {
      if (e.price_per_unit !== undefined) pricePerUnit = parseNumberText(textOf(e.price_per_unit));
    } catch {
      issues.push(`${label}: price_per_unit: not a number`);
      return;
    }
    if (pricePerUnit.cmp(0n) < 0) {
      issues.push(`${label}: price_per_unit: must not be negative`);
      return;
    }
    if (e.pixels_per_unit !== undefined) {
      let p: Rat;
      try {
        p = parseNumberText(textOf(e.pixels_per_unit));
      } catch {
        issues.push(`${label}: pixels_per_unit: not a number in range (exponent at most 100)`);
        return;
      }
      if (!p.isInt() || p.num < 1n) {
        issues.push(`${label}: pixels_per_unit: must be a positive integer`);
        return;
      }
      pixelsPerUnit = p.num;
    }
    const factor = currency === "eth" ? 10n ** 18n : 1n;
    out.push({
      index,
      pipeline: e.pipeline,
      modelId: e.model_id,
      url: e.url.replace(/\/+$/, ""),
      token: e.token === "" ? undefined : e.token,
      warm: e.warm ?? false,
      capacity: e.capacity ?? 1,
      optimizationFlags: e.optimization_flags ?? {},
      gateway: e.gateway === undefined || e.gateway === "" ? "default" : e.gateway.toLowerCase(),
      price: pricePerUnit.mul(factor).div(pixelsPerUnit),
      pricePerUnit: pricePerUnit.mul(factor),
      priceGiven: e.price_per_unit !== undefined,
      pixelsPerUnit,
      currency: currency === "" ? "wei" : currency,
      priceUnit: e.price_unit ?? "pixel",
    });
  });
  // The same pipeline/model_id/gateway twice is ambiguous (go-livepeer panics on warm + cold).
  const seen = new Map<string, number>();
  for (const m of out) {
    const key = `${m.pipeline}/${m.modelId}@${m.gateway}@${m.url}`;
    const first = seen.get(key);
    if (first !== undefined)
      issues.push(
        `entry ${m.index} (${m.pipeline}/${m.modelId}): duplicates entry ${first} (same url and gateway)`,
      );
    else seen.set(key, m.index);
  }
  // A pipeline that is not built in is reached as BYOC by model id alone: two pipelines, one name is ambiguous.
  const byocNames = new Map<string, ModelConfig>();
  for (const m of out) {
    if (m.pipeline !== "byoc" && pipelineToCapability(m.pipeline) !== undefined) continue;
    const first = byocNames.get(m.modelId);
    if (first === undefined) byocNames.set(m.modelId, m);
    else if (first.pipeline !== m.pipeline)
      issues.push(
        `entry ${m.index} (${m.pipeline}/${m.modelId}): model_id is also used by entry ${first.index} (${first.pipeline}); a pipeline that is not built in is advertised as the BYOC capability named by its model_id, so give each a different model_id`,
      );
  }
  if (issues.length > 0)
    throw new ConfigError(`${source}: ${issues.length} problem(s):\n  ${issues.join("\n  ")}`, issues);
  return out;
}

function describeEntry(item: unknown, index: number): string {
  if (typeof item === "object" && item !== null) {
    const o = item as Record<string, unknown>;
    if (typeof o.pipeline === "string" && typeof o.model_id === "string")
      return `entry ${index} (${o.pipeline}/${o.model_id})`;
  }
  return `entry ${index}`;
}

/**
 * Parses go-livepeer's legacy `-aiModels` string `pipeline:model_id:warm,…` into JSON entries (no
 * url, so {@link parseAiModels} then reports each entry's missing url).
 */
export function parseLegacyAiModels(value: string): string {
  const entries = value
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((part) => {
      const [pipeline, modelId, warm] = part.trim().split(":");
      return { pipeline, model_id: modelId, ...(warm === "true" ? { warm: true } : {}) };
    });
  return JSON.stringify(entries);
}

/** Reads and validates an `aiModels.json` file. */
export async function loadAiModels(path: string): Promise<ModelConfig[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, [], err);
  }
  return parseAiModels(text, path);
}

/** Options of {@link watchAiModels}. */
export interface WatchOptions {
  /** Quiet time after the last change before reloading; default 200 ms. */
  debounceMs?: number;
  /** Also reload on SIGHUP; default true. */
  sighup?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A running watcher. */
export interface AiModelsWatcher extends Disposable {
  /** Reloads now (as a SIGHUP does). Resolves after the callback ran or the error was reported. */
  reload(): Promise<void>;
  close(): void;
}

/**
 * Watches an `aiModels.json` file (its directory, so editors that replace the file are seen) and
 * calls `onChange` with the new entries after each valid change. An invalid file is reported to
 * `onError` and the previous configuration stays in force. Reloads never overlap.
 */
export function watchAiModels(
  path: string,
  onChange: (models: ModelConfig[]) => void | Promise<void>,
  onError: (err: unknown) => void,
  options: WatchOptions = {},
): AiModelsWatcher {
  return watchConfigFile(path, loadAiModels, onChange, onError, options);
}

/**
 * The same watcher for any configuration file (`runners.json` too): `load` reads and validates it,
 * `onChange` gets each valid version, `onError` each failure (the previous one stays in force).
 */
export function watchConfigFile<T>(
  path: string,
  load: (path: string) => Promise<T>,
  onChange: (config: T) => void | Promise<void>,
  onError: (err: unknown) => void,
  options: WatchOptions = {},
): AiModelsWatcher {
  const log = options.logger ?? silentLogger();
  const debounceMs = options.debounceMs ?? 200;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  const reload = (): Promise<void> => {
    running = running.then(async () => {
      if (closed) return;
      try {
        const config = await load(path);
        if (!closed) await onChange(config);
      } catch (err) {
        onError(err);
      }
    });
    return running;
  };
  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };
  const file = basename(path);
  const watcher = watch(dirname(path), { persistent: false }, (_event, name) => {
    if (name === null || name === file) schedule();
  });
  watcher.on("error", (err) => log.warn({ err, file }, "config watcher error"));
  const onHup = (): void => {
    log.info({ file }, "SIGHUP: reloading");
    void reload();
  };
  if (options.sighup ?? true) process.on("SIGHUP", onHup);
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    watcher.close();
    process.off("SIGHUP", onHup);
  };
  options.signal?.addEventListener("abort", close, { once: true });
  return { reload, close, [Symbol.dispose]: close };
}
