/**
 * The live runners of the gateway's orchestrators: every `intervalMs` (default 10 s) it asks each
 * orchestrator of the pool's snapshot for its Live Runner `GET /discovery` (src/protocol/live-runners.ts)
 * and keeps what they answered, for the dashboard (runners and apps with state, capacity and price)
 * and for choosing where a runner app goes ({@link RunnerDirectory.candidates}: ready runners of an
 * app, the most free capacity first, so a caller fails over down the list).
 *
 * An orchestrator without live runners answers 404 (`LIVE_RUNNERS_DISABLED`, or go-livepeer's plain
 * 404): it is listed with state `disabled` and no runners. A failed fetch keeps the last runners with
 * state `unreachable` (and its error), so a blip does not empty the dashboard.
 */
import { parseDiscovery, type RunnerInfo } from "../../protocol/live-runners.ts";
import type { OrchestratorHttp } from "../orch-http.ts";
import { readText } from "../orch-http.ts";

/**
 * An orchestrator's Live Runner `GET /discovery` (`url`) as parsed JSON, or "disabled" when it answers 404
 * (no live runners); rejects on any other status, after `timeoutMs` without headers, or when the
 * answer is over `maxBytes`. Used by the directory below and by the remote signer.
 */
export async function getRunnerDiscovery(
  http: OrchestratorHttp,
  url: string,
  opts: { timeoutMs: number; maxBytes: number; signal?: AbortSignal },
): Promise<unknown> {
  const res = await http.send(url, {
    method: "GET",
    headers: { accept: "application/json" },
    headersTimeoutMs: opts.timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await readText(res, opts.maxBytes + 1);
  if (res.statusCode === 404) return "disabled";
  if (res.statusCode !== 200) throw new Error(`GET /discovery answered ${res.statusCode}`);
  if (Buffer.byteLength(text) > opts.maxBytes) throw new Error("GET /discovery answer too large");
  return JSON.parse(text);
}

/** What the directory knows of one orchestrator's runners. */
export interface RunnerListing {
  /** The orchestrator's service URI (the pool's transcoder URL). */
  orchestrator: string;
  state: "ok" | "disabled" | "unreachable";
  error?: string;
  fetchedAt: number;
  runners: RunnerInfo[];
}

/** One runner as the dashboard shows it. */
export interface DashboardRunner {
  orchestrator: string;
  /** The orchestrator's listing state; `ok` runners are ready (discovery lists ready runners only). */
  state: RunnerListing["state"];
  app: string;
  route: string;
  mode: RunnerInfo["mode"];
  url: string;
  capacity?: number;
  capacityUsed?: number;
  capacityAvailable?: number;
  /** e.g. `"1000 wei per seconds"`. */
  price?: string;
  priceInfo?: RunnerInfo["priceInfo"];
}

/** Options of a {@link RunnerDirectory}. */
export interface RunnerDirectoryOptions {
  http: OrchestratorHttp;
  /** The orchestrators to ask (e.g. the pool snapshot's transcoder URLs). */
  orchestrators: () => string[];
  intervalMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

/** See the module documentation. */
export class RunnerDirectory implements Disposable {
  readonly #options: RunnerDirectoryOptions;
  readonly #listings = new Map<string, RunnerListing>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(options: RunnerDirectoryOptions) {
    this.#options = options;
  }

  /** Refreshes now and then every `intervalMs`. */
  start(): this {
    if (this.#timer !== undefined) return this;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#options.intervalMs ?? 10_000);
    this.#timer.unref();
    return this;
  }

  /** Asks every orchestrator once (a refresh already running is shared). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshAll().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refreshAll(): Promise<void> {
    const urls = [...new Set(this.#options.orchestrators().filter((u) => u !== ""))];
    for (const known of [...this.#listings.keys()]) if (!urls.includes(known)) this.#listings.delete(known);
    await Promise.all(urls.map((u) => this.#fetch(u)));
  }

  async #fetch(orchestrator: string): Promise<void> {
    const now = (this.#options.now ?? Date.now)();
    const previous = this.#listings.get(orchestrator);
    try {
      const answer = await getRunnerDiscovery(
        this.#options.http,
        `${orchestrator.replace(/\/+$/, "")}/discovery`,
        {
          timeoutMs: this.#options.timeoutMs ?? 5000,
          maxBytes: 4 * 1024 * 1024,
        },
      );
      if (answer === "disabled") {
        this.#listings.set(orchestrator, { orchestrator, state: "disabled", fetchedAt: now, runners: [] });
        return;
      }
      const runners = parseDiscovery(answer);
      this.#listings.set(orchestrator, { orchestrator, state: "ok", fetchedAt: now, runners });
    } catch (err) {
      this.#listings.set(orchestrator, {
        orchestrator,
        state: "unreachable",
        error: (err as Error).message,
        fetchedAt: now,
        runners: previous?.runners ?? [],
      });
    }
  }

  /** Every orchestrator's listing, by URL. */
  listings(): RunnerListing[] {
    return [...this.#listings.values()].sort((a, b) => a.orchestrator.localeCompare(b.orchestrator));
  }

  /**
   * The gateway's own `GET /discovery`: the Live Runner shape (`[{address, runners}]`, each runner as
   * its orchestrator listed it) over every reachable orchestrator, so a Live Runner client
   * (livepeer-gateway's `discovery_url`, our RunnerClient) picks and fails over across them.
   */
  discovery(): { address: string; runners: Record<string, unknown>[] }[] {
    return this.listings()
      .filter((l) => l.state === "ok" && l.runners.length > 0)
      .map((l) => ({ address: l.orchestrator, runners: l.runners.map((r) => r.raw) }));
  }

  /** Every runner for the dashboard, by app then orchestrator. */
  dashboard(): DashboardRunner[] {
    const out: DashboardRunner[] = [];
    for (const l of this.listings())
      for (const r of l.runners)
        out.push({
          orchestrator: l.orchestrator,
          state: l.state,
          app: r.app,
          route: r.route,
          mode: r.mode,
          url: r.url,
          ...(r.capacity !== undefined && { capacity: r.capacity }),
          ...(r.capacityUsed !== undefined && { capacityUsed: r.capacityUsed }),
          ...(r.capacityAvailable !== undefined && { capacityAvailable: r.capacityAvailable }),
          ...(r.priceInfo !== undefined && {
            priceInfo: r.priceInfo,
            price: `${r.priceInfo.price} ${r.priceInfo.currency || "wei"} per ${r.priceInfo.unit || "seconds"}`,
          }),
        });
    return out.sort((a, b) => a.app.localeCompare(b.app) || a.orchestrator.localeCompare(b.orchestrator));
  }

  /**
   * Where `app` (an app name or a route) can go: runners of reachable orchestrators with free
   * capacity (unknown capacity counts as free), the most free first.
   */
  candidates(app: string): RunnerInfo[] {
    const free = (r: RunnerInfo) => r.capacityAvailable ?? Number.MAX_SAFE_INTEGER;
    return this.listed(app)
      .filter((r) => free(r) > 0)
      .sort((a, b) => free(b) - free(a));
  }

  /** Every listed runner of `app` (an app name or a route) on reachable orchestrators, full ones too. */
  listed(app: string): RunnerInfo[] {
    return this.listings()
      .filter((l) => l.state === "ok")
      .flatMap((l) => l.runners)
      .filter((r) => r.app === app || r.route === app);
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
