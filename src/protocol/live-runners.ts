/**
 * The Live Runner API's `GET /discovery` answer (go-livepeer `doc/live-runner.md`), read by the client
 * and the gateway: `[{address, runners: [{url, app, mode?, capacity, capacity_used,
 * capacity_available, price_info?, gpu?, version?, metadata?}]}]`. `url` is the orchestrator-made
 * endpoint, `…/apps/{id}/session` for a persistent runner, `…/apps/{id}/app` for a single-shot one.
 * Pure: no I/O.
 */
import { decodePathSegment } from "./uri.ts";

/** A runner as `/discovery` lists it. */
export interface RunnerInfo {
  /** The orchestrator-generated endpoint: `…/apps/{id}/session` (persistent) or `…/apps/{id}/app` (single-shot). */
  url: string;
  app: string;
  /** The `{id}` of the URL (the runner's label, or its app). */
  route: string;
  mode: "persistent" | "single-shot";
  capacity: number | undefined;
  capacityUsed: number | undefined;
  capacityAvailable: number | undefined;
  priceInfo: { price: number | string; currency: string; unit: string } | undefined;
  /** The orchestrator's address as discovery gives it. */
  orchestrator: string;
  /** The whole entry. */
  raw: Record<string, unknown>;
}

function runnerOf(address: string, r: Record<string, unknown>): RunnerInfo | undefined {
  const url = typeof r.url === "string" ? r.url : "";
  const app = typeof r.app === "string" ? r.app : "";
  const m = /\/apps\/([^/]+)\/(session|app)\/?$/.exec(url);
  if (url === "" || app === "" || m === null) return undefined;
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  const p = r.price_info as { price?: unknown; currency?: unknown; unit?: unknown } | undefined;
  const priceInfo =
    p !== undefined && p !== null && (typeof p.price === "number" || typeof p.price === "string")
      ? {
          price: p.price,
          currency: typeof p.currency === "string" ? p.currency.toLowerCase() : "",
          unit: typeof p.unit === "string" ? p.unit.toLowerCase() : "",
        }
      : undefined;
  return {
    url,
    app,
    route: safeDecode(m[1] as string),
    mode: m[2] === "app" ? "single-shot" : "persistent",
    capacity: num(r.capacity),
    capacityUsed: num(r.capacity_used),
    capacityAvailable: num(r.capacity_available),
    priceInfo,
    orchestrator: address,
    raw: r,
  };
}

function safeDecode(s: string): string {
  return decodePathSegment(s) ?? s;
}

/** Reads a `/discovery` answer (a list of `{address, runners}`); entries it cannot use are skipped. */
export function parseDiscovery(body: unknown): RunnerInfo[] {
  if (!Array.isArray(body)) return [];
  const out: RunnerInfo[] = [];
  for (const entry of body as { address?: unknown; runners?: unknown }[]) {
    if (entry === null || typeof entry !== "object" || !Array.isArray(entry.runners)) continue;
    const address = typeof entry.address === "string" ? entry.address : "";
    for (const r of entry.runners)
      if (r !== null && typeof r === "object") {
        const info = runnerOf(address, r as Record<string, unknown>);
        if (info !== undefined) out.push(info);
      }
  }
  return out;
}

/**
 * A session trickle channel as the orchestrator answers it to the runner (go-livepeer
 * `LiveRunnerTrickleChannel`).
 */
export interface SessionChannel {
  name: string;
  channel_name: string;
  /** The URL clients use (a secret). */
  url: string;
  /** The URL the runner uses (a secret). */
  internal_url: string;
  mime_type: string;
}
