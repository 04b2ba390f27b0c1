/**
 * What a live runner advertises, validated: the body of a dynamic runner's `POST /runners/heartbeat`
 * and each entry of a static `runners.json` (`--live-runner-config`, go-livepeer `-liveRunnerConfig`,
 * and `POST /registerLiveRunners` on the operator listener). Same fields and rules as go-livepeer's
 * registry, with messages naming the field:
 *
 * - `runner_url` absolute http(s); `app` non-empty and trimmed; `status` lowercase and trimmed
 *   (only "" and `ready` are routable); `mode` `persistent` (default), `single-shot` or `single_shot`;
 *   `capacity` ≥ 0, 0 meaning 1; `metadata` at most 1024 UTF-8 bytes (public: never a secret);
 *   `gpu` an object `{id, name, vram_mb}` or a device index (kept as its id).
 * - `price_info` is ignored offchain. On a paid node it is required ({@link RunnerPrice}): `price` a
 *   positive decimal, `currency` `usd` (default, go-livepeer's only currency) or `wei` (a positive
 *   integer), `unit` `hour` (default for usd), `seconds` (default for wei), `720p`,
 *   `720p-pixel-seconds` or `fixed`; usd needs the node's ETH/USD price feed. The SDK's older
 *   `{price_per_unit, unit}` shape is read as `price`.
 * - Static entries add `label` (required, trimmed, unique in a batch, no `/` with label routing),
 *   `routing` (`runner-id`, default, or `label`), `health_url` (absolute, or a path starting with `/`
 *   resolved against `runner_url`) and `healthy_status_code` (100–599, default 200, matched exactly).
 *
 * A batch validates whole or not at all (the first bad entry names its index).
 */
import { readFile } from "node:fs/promises";
import { BadRequestError, TributaryError } from "../../node/errors.ts";
import { Rat } from "../../payments/rational.ts";

/** How long a runner's sessions live. */
export type RunnerMode = "persistent" | "single-shot";

/** The GPU a runner describes. */
export interface RunnerGpu {
  id?: string;
  name?: string;
  vram_mb?: number;
}

/** The unit a session is charged in (what discovery advertises, go-livepeer's converted units). */
export type RunnerPriceUnit = "seconds" | "720p-pixel-seconds" | "fixed";

/** Pixels of one second of 720p at 30 fps: the `720p-pixel-seconds` a session is charged per second. */
export const PIXELS_720P30_PER_SECOND = 1280n * 720n * 30n;

/** Each accepted `unit`: the charged unit it converts to and how many of those it holds. */
export const RUNNER_PRICE_UNITS: Readonly<Record<string, { unit: RunnerPriceUnit; holds: bigint }>> = {
  hour: { unit: "seconds", holds: 3600n },
  seconds: { unit: "seconds", holds: 1n },
  "720p": { unit: "720p-pixel-seconds", holds: 3600n * PIXELS_720P30_PER_SECOND },
  "720p-pixel-seconds": { unit: "720p-pixel-seconds", holds: 1n },
  fixed: { unit: "fixed", holds: 1n },
};

/**
 * How a node prices runners: `false` offchain (prices ignored), `true` paid in wei only, `"usd"` paid
 * with an ETH/USD price feed (USD prices accepted and converted when quoted).
 */
export type RunnerPricing = boolean | "usd";

/**
 * A runner's price on a paid node, in its currency per charged unit, exact: `3 usd/hour` is kept as
 * `1/1200 usd per seconds`, `10 usd/720p` as `10 / (3600 × 1280 × 720 × 30)` usd per
 * `720p-pixel-seconds`. Wei prices are converted here; USD prices when a challenge or discovery quotes
 * them (runners/payments.ts `quoteRunnerPrice`, through the ETH/USD feed).
 */
export interface RunnerPrice {
  currency: "wei" | "usd";
  /** `currency` per `unit`, > 0. */
  perUnit: Rat;
  unit: RunnerPriceUnit;
  /** What the runner gave, for messages (`"3.5 usd/hour"`). */
  given: string;
}

/** What one runner advertises (validated). */
export interface RunnerAdvert {
  runnerUrl: string;
  app: string;
  mode: RunnerMode;
  capacity: number;
  label: string;
  version: string;
  metadata: string;
  status: string;
  gpu: RunnerGpu | undefined;
  proxy: boolean;
  /** Undefined offchain (prices are neither advertised nor charged). */
  price: RunnerPrice | undefined;
  /** Session ids the runner says it holds (heartbeats only). */
  sessionIds: string[];
}

/** One static runner. */
export interface StaticRunner extends RunnerAdvert {
  routing: "runner-id" | "label";
  healthUrl: string;
  healthyStatusCode: number;
}

/** Largest `metadata`, in UTF-8 bytes. */
export const MAX_RUNNER_METADATA_BYTES = 1024;

/** A `runners.json` document or `/registerLiveRunners` body that does not validate (400). */
export class RunnersConfigError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("INVALID_RUNNERS_CONFIG", message, { status: 400, cause });
  }
}

function str(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new BadRequestError(`${key} must be a string`);
  return v;
}

function httpUrl(value: string): URL | undefined {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host !== "" ? u : undefined;
  } catch {
    return undefined;
  }
}

function gpuOf(v: unknown): RunnerGpu | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isInteger(v)) return { id: String(v) };
  if (typeof v !== "object" || Array.isArray(v))
    throw new BadRequestError("gpu must be an object or an index");
  const g = v as Record<string, unknown>;
  const out: RunnerGpu = {};
  if (typeof g.id === "string" && g.id !== "") out.id = g.id;
  if (typeof g.name === "string" && g.name !== "") out.name = g.name;
  if (typeof g.vram_mb === "number" && g.vram_mb > 0) out.vram_mb = Math.floor(g.vram_mb);
  return out;
}

/** A decimal as JSON gives it (`"2.5"`, `2.5`, `1e-7`), exact; undefined when it is not one. */
function decimalOf(raw: unknown): Rat | undefined {
  const text = typeof raw === "number" ? String(raw) : typeof raw === "string" ? raw.trim() : "";
  const m = /^(\d+(?:\.\d+)?)(?:[eE]([-+]?\d{1,3}))?$/.exec(text);
  if (m === null) return undefined;
  const exp = BigInt(m[2] ?? "0");
  const mantissa = Rat.parse(m[1]!);
  return exp >= 0n ? mantissa.mul(10n ** exp) : mantissa.div(10n ** -exp);
}

function priceOf(v: unknown, pricing: RunnerPricing): RunnerPrice {
  const p = (typeof v === "object" && v !== null && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  const raw = p.price ?? p.price_per_unit;
  if (raw === undefined || raw === null || raw === "")
    throw new BadRequestError("price_info.price is required");
  const amount = decimalOf(raw);
  if (amount === undefined || amount.isZero())
    throw new BadRequestError("price_info.price must be a positive decimal");
  const currency = (typeof p.currency === "string" ? p.currency.trim().toLowerCase() : "") || "usd";
  if (currency !== "usd" && currency !== "wei")
    throw new BadRequestError("price_info.currency must be usd or wei");
  const unitName =
    (typeof p.unit === "string" ? p.unit.trim().toLowerCase() : "") ||
    (currency === "usd" ? "hour" : "seconds");
  const unit = Object.hasOwn(RUNNER_PRICE_UNITS, unitName) ? RUNNER_PRICE_UNITS[unitName] : undefined;
  if (unit === undefined)
    throw new BadRequestError(`price_info.unit must be one of ${Object.keys(RUNNER_PRICE_UNITS).join(", ")}`);
  const given = `${String(raw).trim()} ${currency}/${unitName}`;
  const perUnit = amount.div(unit.holds);
  if (currency === "usd") {
    if (pricing !== "usd")
      throw new BadRequestError(
        'price_info in usd needs an ETH/USD price feed, which this orchestrator does not have (it reads one on --network arbitrum-one or devnet, or at --price-feed-addr): give a feed or {"price": <wei per second>, "currency": "wei", "unit": "seconds"}',
      );
    return { currency, perUnit, unit: unit.unit, given };
  }
  if (!amount.isInt())
    throw new BadRequestError(`price_info.price must be a positive integer number of wei per ${unitName}`);
  if (perUnit.floor() < 1n)
    throw new BadRequestError(
      `price_info ${given} is less than one wei per ${unit.unit === "seconds" ? "second" : unit.unit}: raise it`,
    );
  return { currency, perUnit, unit: unit.unit, given };
}

/**
 * Validates what a runner advertises; throws 400 `BAD_REQUEST` naming the field. `paid`: see
 * {@link RunnerPricing}.
 */
export function parseAdvert(body: Record<string, unknown>, paid: RunnerPricing): RunnerAdvert {
  const runnerUrl = str(body, "runner_url");
  if (httpUrl(runnerUrl) === undefined) throw new BadRequestError("invalid runner_url");
  const app = str(body, "app");
  if (app === "" || app !== app.trim()) throw new BadRequestError("app must be trimmed");
  const status = str(body, "status");
  if (status !== status.trim().toLowerCase())
    throw new BadRequestError("status must be lowercase and trimmed");
  let mode = str(body, "mode") || "persistent";
  if (mode === "single_shot") mode = "single-shot";
  if (mode !== "persistent" && mode !== "single-shot")
    throw new BadRequestError('mode must be "persistent" or "single-shot"');
  const cap = body.capacity ?? 0;
  if (typeof cap !== "number" || !Number.isInteger(cap) || cap < 0)
    throw new BadRequestError("capacity must be an integer >= 0");
  const metadata = str(body, "metadata");
  if (Buffer.byteLength(metadata, "utf8") > MAX_RUNNER_METADATA_BYTES)
    throw new BadRequestError(`metadata must be at most ${MAX_RUNNER_METADATA_BYTES} bytes`);
  const ids = body.session_ids ?? [];
  if (!Array.isArray(ids) || ids.some((s) => typeof s !== "string"))
    throw new BadRequestError("session_ids must be a list of strings");
  return {
    runnerUrl: runnerUrl.replace(/\/+$/, ""),
    app,
    mode,
    capacity: cap === 0 ? 1 : cap,
    label: str(body, "label"),
    version: str(body, "version"),
    metadata,
    status,
    gpu: gpuOf(body.gpu),
    proxy: body.proxy === true,
    price: paid ? priceOf(body.price_info, paid) : undefined,
    sessionIds: ids as string[],
  };
}

function staticEntry(body: unknown, paid: RunnerPricing): StaticRunner {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new BadRequestError("must be an object");
  const e = body as Record<string, unknown>;
  const label = str(e, "label");
  if (label === "" || label !== label.trim())
    throw new BadRequestError("label is required and must be trimmed");
  const routing = (str(e, "routing").trim() || "runner-id") as StaticRunner["routing"];
  if (routing !== "runner-id" && routing !== "label")
    throw new BadRequestError('routing must be "runner-id" or "label"');
  if (routing === "label" && label.includes("/"))
    throw new BadRequestError('label cannot contain / when routing is "label"');
  const code = e.healthy_status_code ?? 200;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 100 || code > 599)
    throw new BadRequestError("healthy_status_code must be a valid HTTP status code");
  const advert = parseAdvert(e, paid);
  let health = str(e, "health_url");
  if (health === "") throw new BadRequestError("health_url is required");
  if (health.startsWith("/") && !health.startsWith("//")) health = advert.runnerUrl + health;
  if (httpUrl(health) === undefined) throw new BadRequestError("invalid health_url");
  return {
    ...advert,
    label,
    routing,
    healthUrl: health,
    healthyStatusCode: code,
    status: "",
    sessionIds: [],
  };
}

/** Validates a `{"runners": [...]}` document; throws {@link RunnersConfigError} (`runners[i]: …`). */
export function parseRunnersConfig(doc: unknown, paid: RunnerPricing): StaticRunner[] {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new RunnersConfigError('the live runner configuration must be an object {"runners": [...]}');
  const list = (doc as Record<string, unknown>).runners ?? [];
  if (!Array.isArray(list)) throw new RunnersConfigError("runners must be a list");
  const labels = new Set<string>();
  return list.map((entry, i) => {
    let parsed: StaticRunner;
    try {
      parsed = staticEntry(entry, paid);
    } catch (err) {
      throw new RunnersConfigError(`runners[${i}]: ${(err as Error).message}`, err);
    }
    if (labels.has(parsed.label))
      throw new RunnersConfigError(`runners[${i}]: duplicate label ${JSON.stringify(parsed.label)}`);
    labels.add(parsed.label);
    return parsed;
  });
}

/** Reads and validates a `runners.json` file. */
export async function loadRunnersConfig(path: string, paid: RunnerPricing): Promise<StaticRunner[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new RunnersConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, err);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RunnersConfigError(`${path}: not JSON: ${(err as Error).message}`, err);
  }
  return parseRunnersConfig(doc, paid);
}
