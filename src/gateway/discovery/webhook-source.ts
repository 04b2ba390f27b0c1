/**
 * The webhook discovery source (go-livepeer `-orchWebhookUrl`, docs/spec/orchestrator-gateway.md#discovery-sources; also the Python SDK's
 * discovery URL, docs/spec/orchestrator-gateway.md#python-client-discovery): `GET url` answers a JSON list `[{"address": "https://host:port",
 * "score": 0.5}, …]`. Extra fields (`capabilities`, `runners`) are ignored.
 */
import { z } from "zod";
import { cachedSource } from "./cached-source.ts";
import {
  DiscoveryError,
  type DiscoverySource,
  type OrchestratorCandidate,
  SCORE_UNTRUSTED,
} from "./types.ts";
import { normalizeOrchestratorUrl } from "./uri.ts";

/** HTTP timeout of a webhook call (go-livepeer `getURLsfromWebhook`, 3 s). */
export const WEBHOOK_TIMEOUT_MS = 3_000;
/** How long a webhook answer is reused (`common.WebhookDiscoveryRefreshInterval`, 1 min). */
export const WEBHOOK_REFRESH_INTERVAL_MS = 60_000;

/** Options of {@link webhookSource}. */
export interface WebhookSourceOptions {
  url: string;
  /** Extra request headers (e.g. an authorization token). */
  headers?: Record<string, string>;
  /** Per-call timeout in ms; default {@link WEBHOOK_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Cache lifetime in ms; default {@link WEBHOOK_REFRESH_INTERVAL_MS}; 0 disables the cache. */
  cacheMs?: number;
  /** Called for each entry that is skipped (bad address) and when a stale list is served. */
  onWarning?: (message: string, error?: unknown) => void;
  /** `fetch` to use (tests); default the global one. */
  fetch?: typeof fetch;
}

const entrySchema = z.looseObject({ address: z.string(), score: z.number().optional() });
const bodySchema = z.array(z.unknown());

/**
 * A source that calls the webhook (at most once per `cacheMs`, serving the last good list if a call
 * fails). Entries without a valid address are skipped; a missing score counts as untrusted (0), as
 * go-livepeer's `omitempty` float does. Fails with `DISCOVERY_WEBHOOK_FAILED` (503) when the webhook is
 * unreachable, times out, answers non-2xx or something other than a JSON list, and no earlier list exists.
 */
export function webhookSource(options: WebhookSourceOptions): DiscoverySource {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const name = `webhook ${options.url}`;
  const fail = (message: string, cause?: unknown) =>
    new DiscoveryError(`orchestrator webhook ${options.url} ${message}`, {
      code: "DISCOVERY_WEBHOOK_FAILED",
      cause,
    });

  const raw: DiscoverySource = {
    name,
    async list(signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let body: unknown;
      try {
        const res = await doFetch(options.url, { headers: options.headers, signal: combined });
        if (!res.ok) {
          await res.body?.cancel();
          throw fail(`answered HTTP ${res.status}`);
        }
        body = await res.json();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof DiscoveryError) throw err;
        if (timeout.aborted) throw fail(`did not answer within ${timeoutMs} ms`, err);
        throw fail(`failed: ${(err as Error).message}`, err);
      }
      const list = bodySchema.safeParse(body);
      if (!list.success) throw fail("did not answer a JSON list of {address, score}");
      const out: OrchestratorCandidate[] = [];
      for (const item of list.data) {
        const entry = entrySchema.safeParse(item);
        if (!entry.success) {
          options.onWarning?.(`${name}: skipping an entry without a string address`);
          continue;
        }
        let url: string;
        try {
          url = normalizeOrchestratorUrl(entry.data.address);
        } catch (err) {
          options.onWarning?.(`${name}: skipping invalid address ${JSON.stringify(entry.data.address)}`, err);
          continue;
        }
        if (out.some((c) => c.url === url)) continue;
        out.push({ url, score: entry.data.score ?? SCORE_UNTRUSTED, source: "webhook" });
      }
      return out;
    },
  };
  const cacheMs = options.cacheMs ?? WEBHOOK_REFRESH_INTERVAL_MS;
  if (cacheMs <= 0) return raw;
  return cachedSource(raw, {
    ttlMs: cacheMs,
    onStale: (err) => options.onWarning?.(`${name}: refresh failed, using the cached list`, err),
  });
}
