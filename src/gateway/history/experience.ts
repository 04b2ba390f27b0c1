/**
 * What this gateway experienced: every attempt of a job on an orchestrator and every stream it ran,
 * counted per minute, per capability and per orchestrator, with the latency spread, plus the recent
 * failures with their cause in words. The dashboard's `api/experience` view and its charts read it.
 *
 * Bounded: one bucket per (minute, kind, capability, orchestrator), minutes older than the
 * retention (24 h) are dropped, at most {@link MAX_SERIES_PER_MINUTE} series per minute (the rest fold
 * into orchestrator `(other)`), at most {@link MAX_RECENT_FAILURES} failures. Latency is kept as a
 * histogram of log-spaced bins (each 25% wider than the previous), so p50/p95 of any span are read
 * from merged bins: exact to within one bin (the figure shown is the bin's upper bound).
 *
 * Persisted in `file` (the gateway's data directory): loaded at start, written atomically (a temp
 * file renamed over it) every `persistIntervalMs` when something changed, and on close, so a restart
 * keeps the charts. A file that cannot be read starts an empty history (`onError` says why).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { errorInWords } from "../dashboard/state.ts";

/** File name of the history in the gateway's data directory. */
export const EXPERIENCE_FILE = "dashboard-history.json";
/** How long minutes are kept, ms (24 h). */
export const EXPERIENCE_RETENTION_MS = 24 * 60 * 60 * 1000;
/** Default period of the atomic write when something changed, ms. */
export const EXPERIENCE_PERSIST_MS = 30_000;
/** Series (kind × capability × orchestrator) kept per minute; more fold into orchestrator `(other)`. */
export const MAX_SERIES_PER_MINUTE = 256;
/** Failures remembered for the "recent failures" list. */
export const MAX_RECENT_FAILURES = 50;
/** Width ratio of two neighbouring latency bins. */
export const LATENCY_BIN_RATIO = 1.25;
/** The orchestrator name series beyond {@link MAX_SERIES_PER_MINUTE} are counted under. */
export const OTHER_ORCHESTRATOR = "(other)";

const MINUTE_MS = 60_000;
const FILE_VERSION = 1;

/** Kind of work: a batch job's attempt on one orchestrator, or a stream. */
export type ExperienceKind = "job" | "stream";

/**
 * What happened: `ok` answered (2xx/3xx, or a stream running), `client_error` the orchestrator
 * answered 4xx (passed back to the client, not its failure), `busy` refused for capacity (not a
 * failure), `failed` no answer, a 5xx, or a stream that failed.
 */
export type ExperienceOutcome = "ok" | "client_error" | "busy" | "failed";

/** One thing that happened, as the gateway reports it. */
export interface ExperienceEvent {
  kind: ExperienceKind;
  /** `pipeline/model` as capabilities are named (`byoc/<name>`, `live-video-to-video/<model>`). */
  capability: string;
  /** The orchestrator's transcoder URL. */
  orchestrator: string;
  outcome: ExperienceOutcome;
  /** Time to the orchestrator's answer (jobs) or to the first output (streams), ms. */
  latencyMs?: number;
  /** The cause of a failure, any text (it is put in words when recorded). */
  error?: string;
  /** Default: now. */
  at?: number;
}

/** Where the gateway reports what happened (the GatewayContext's `experience`). */
export interface ExperienceRecorder {
  record(event: ExperienceEvent): void;
}

/** One minute of one series. Latency bins: index → count. */
export interface ExperienceBucket {
  count: number;
  ok: number;
  clientErrors: number;
  busy: number;
  failed: number;
  latency: Record<string, number>;
}

/** A failure remembered for the page. */
export interface ExperienceFailure {
  at: number;
  kind: ExperienceKind;
  capability: string;
  orchestrator: string;
  /** The cause in words. */
  cause: string;
}

/** Series key fields. */
interface SeriesId {
  kind: ExperienceKind;
  capability: string;
  orchestrator: string;
}

/** The latency bin of `ms`: 0 for ≤ 1 ms, else ⌈log₁.₂₅ ms⌉. */
export function latencyBin(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 1) return 0;
  return Math.ceil(Math.log(ms) / Math.log(LATENCY_BIN_RATIO) - 1e-9);
}

/** The upper bound of latency bin `i`, ms (rounded to 0.1 ms). */
export function latencyBinUpper(i: number): number {
  return Math.round(LATENCY_BIN_RATIO ** i * 10) / 10;
}

/** The `q` quantile (0..1) of merged latency bins, as a bin's upper bound; undefined when empty. */
export function latencyQuantile(bins: Readonly<Record<string, number>>, q: number): number | undefined {
  const entries = Object.entries(bins)
    .map(([k, n]) => [Number(k), n] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bin, n] of entries) {
    seen += n;
    if (seen >= rank) return latencyBinUpper(bin);
  }
  return latencyBinUpper(entries[entries.length - 1]?.[0] ?? 0);
}

function emptyBucket(): ExperienceBucket {
  return { count: 0, ok: 0, clientErrors: 0, busy: 0, failed: 0, latency: {} };
}

function addInto(into: ExperienceBucket, b: ExperienceBucket): void {
  into.count += b.count;
  into.ok += b.ok;
  into.clientErrors += b.clientErrors;
  into.busy += b.busy;
  into.failed += b.failed;
  for (const [k, n] of Object.entries(b.latency)) into.latency[k] = (into.latency[k] ?? 0) + n;
}

const SEP = "\u0000";
const keyOf = (s: SeriesId) => `${s.kind}${SEP}${s.capability}${SEP}${s.orchestrator}`;
function idOf(key: string): SeriesId {
  const [kind = "job", capability = "", orchestrator = ""] = key.split(SEP);
  return { kind: kind as ExperienceKind, capability, orchestrator };
}

/** One point of a chart. */
export interface ExperiencePoint {
  /** Start of the span, ms since epoch. */
  at: number;
  count: number;
  ok: number;
  failed: number;
  busy: number;
  /** ok / (ok + failed); absent without either. */
  successRate?: number;
  p50Ms?: number;
  p95Ms?: number;
}

/** Totals and chart points of one capability or orchestrator. */
export interface ExperienceSeries {
  /** The capability (`pipeline/model`) or the orchestrator URL. */
  key: string;
  kind: ExperienceKind;
  count: number;
  ok: number;
  clientErrors: number;
  busy: number;
  failed: number;
  successRate?: number;
  p50Ms?: number;
  p95Ms?: number;
  /** The capabilities (for an orchestrator) or orchestrators (for a capability) it involved. */
  related: string[];
  /** Oldest first, one per step, empty steps included. */
  points: ExperiencePoint[];
}

/** A chart span: how far back and the width of one point. */
export interface ExperienceSpan {
  name: string;
  windowMs: number;
  stepMs: number;
}

/** The spans the page offers: the last hour by minute, the last 24 h by half hour. */
export const EXPERIENCE_SPANS: readonly ExperienceSpan[] = [
  { name: "hour", windowMs: 60 * MINUTE_MS, stepMs: MINUTE_MS },
  { name: "day", windowMs: 24 * 60 * MINUTE_MS, stepMs: 30 * MINUTE_MS },
];

/** A stream running now, as the page shows it. */
export interface ActiveStream {
  id: string;
  kind: "live" | "byoc";
  capability: string;
  orchestrator?: string;
  state: string;
  uptimeMs: number;
  /** The container's last reported frame rates (numeric fields of its `fps` heartbeat). */
  fps: Record<string, number>;
  /** Input-to-output latency of the last output segment, ms. */
  latencyMs?: number;
  /** Paid so far, wei (decimal). */
  paidWei: string;
  error?: string;
}

/** The `api/experience` view. */
export interface ExperienceView {
  generatedAt: number;
  /** Since when the history holds data (its oldest minute), ms since epoch. */
  since?: number;
  /** Where it is kept (absent: in memory only, lost on restart). */
  persisted: boolean;
  spans: {
    name: string;
    windowMs: number;
    stepMs: number;
    capabilities: ExperienceSeries[];
    orchestrators: ExperienceSeries[];
  }[];
  activeStreams: ActiveStream[];
  /** Newest first. */
  recentFailures: ExperienceFailure[];
}

/** What {@link ExperienceHistory} holds, as stored in the file. */
interface StoredHistory {
  version: number;
  minutes: [number, [string, ExperienceBucket][]][];
  failures: ExperienceFailure[];
}

/** Options of {@link ExperienceHistory}. */
export interface ExperienceHistoryOptions {
  /** Where the history is kept; absent: memory only. */
  file?: string;
  now?: () => number;
  persistIntervalMs?: number;
  retentionMs?: number;
  /** A problem reading or writing the file (the history goes on in memory). */
  onError?: (err: unknown, message: string) => void;
}

/** The bounded, persisted history. See the module documentation. */
export class ExperienceHistory implements ExperienceRecorder, Disposable {
  readonly #minutes = new Map<number, Map<string, ExperienceBucket>>();
  #failures: ExperienceFailure[] = [];
  readonly #now: () => number;
  readonly #file: string | undefined;
  readonly #retentionMs: number;
  readonly #onError: (err: unknown, message: string) => void;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #dirty = false;
  #closed = false;

  constructor(options: ExperienceHistoryOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#file = options.file;
    this.#retentionMs = options.retentionMs ?? EXPERIENCE_RETENTION_MS;
    this.#onError = options.onError ?? (() => {});
    if (this.#file !== undefined) {
      this.#load(this.#file);
      this.#timer = setInterval(() => this.flush(), options.persistIntervalMs ?? EXPERIENCE_PERSIST_MS);
      this.#timer.unref();
    }
  }

  /** Counts `e` in its minute; a failure is also remembered with its cause in words. */
  record(e: ExperienceEvent): void {
    if (this.#closed) return;
    const at = e.at ?? this.#now();
    const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
    let series = this.#minutes.get(minute);
    if (series === undefined) {
      series = new Map();
      this.#minutes.set(minute, series);
      this.#prune();
    }
    let key = keyOf(e);
    if (!series.has(key) && series.size >= MAX_SERIES_PER_MINUTE)
      key = keyOf({ ...e, orchestrator: OTHER_ORCHESTRATOR });
    let b = series.get(key);
    if (b === undefined) {
      b = emptyBucket();
      series.set(key, b);
    }
    b.count++;
    if (e.outcome === "ok") b.ok++;
    else if (e.outcome === "client_error") b.clientErrors++;
    else if (e.outcome === "busy") b.busy++;
    else b.failed++;
    if (e.outcome !== "failed" && e.outcome !== "busy" && e.latencyMs !== undefined && e.latencyMs >= 0) {
      const bin = String(latencyBin(e.latencyMs));
      b.latency[bin] = (b.latency[bin] ?? 0) + 1;
    }
    if (e.outcome === "failed") {
      this.#failures.unshift({
        at,
        kind: e.kind,
        capability: e.capability,
        orchestrator: e.orchestrator,
        cause: errorInWords(e.error ?? "unknown error"),
      });
      this.#failures.length = Math.min(this.#failures.length, MAX_RECENT_FAILURES);
    }
    this.#dirty = true;
  }

  /** The failures remembered, newest first. */
  failures(): ExperienceFailure[] {
    return [...this.#failures];
  }

  /** The merged buckets of every series between `from` (inclusive) and `to` (exclusive), by series. */
  #range(from: number, to: number): Map<number, Map<string, ExperienceBucket>> {
    const out = new Map<number, Map<string, ExperienceBucket>>();
    for (const [minute, series] of this.#minutes) if (minute >= from && minute < to) out.set(minute, series);
    return out;
  }

  /** The view for the page at time `now`, with the streams running now. */
  view(activeStreams: ActiveStream[] = []): ExperienceView {
    const now = this.#now();
    this.#prune();
    const minutes = [...this.#minutes.keys()];
    return {
      generatedAt: now,
      ...(minutes.length > 0 && { since: Math.min(...minutes) }),
      persisted: this.#file !== undefined,
      spans: EXPERIENCE_SPANS.map((span) => ({
        ...span,
        capabilities: this.#series(span, now, "capability"),
        orchestrators: this.#series(span, now, "orchestrator"),
      })),
      activeStreams,
      recentFailures: this.failures(),
    };
  }

  #series(span: ExperienceSpan, now: number, by: "capability" | "orchestrator"): ExperienceSeries[] {
    const end = Math.floor(now / span.stepMs) * span.stepMs + span.stepMs;
    const start = end - Math.ceil(span.windowMs / span.stepMs) * span.stepMs;
    const steps = Math.round((end - start) / span.stepMs);
    const groups = new Map<
      string,
      { kind: ExperienceKind; total: ExperienceBucket; related: Set<string>; points: ExperienceBucket[] }
    >();
    for (const [minute, series] of this.#range(start, end)) {
      const step = Math.floor((minute - start) / span.stepMs);
      for (const [key, b] of series) {
        const id = idOf(key);
        const name = by === "capability" ? id.capability : id.orchestrator;
        const gk = `${id.kind}${SEP}${name}`;
        let g = groups.get(gk);
        if (g === undefined) {
          g = {
            kind: id.kind,
            total: emptyBucket(),
            related: new Set(),
            points: Array.from({ length: steps }, emptyBucket),
          };
          groups.set(gk, g);
        }
        addInto(g.total, b);
        const p = g.points[step];
        if (p) addInto(p, b);
        g.related.add(by === "capability" ? id.orchestrator : id.capability);
      }
    }
    return [...groups.entries()]
      .map(([gk, g]) => ({
        key: gk.slice(gk.indexOf(SEP) + 1),
        kind: g.kind,
        count: g.total.count,
        ok: g.total.ok,
        clientErrors: g.total.clientErrors,
        busy: g.total.busy,
        failed: g.total.failed,
        ...figures(g.total),
        related: [...g.related].sort(),
        points: g.points.map((b, i) => ({
          at: start + i * span.stepMs,
          count: b.count,
          ok: b.ok,
          failed: b.failed,
          busy: b.busy,
          ...figures(b),
        })),
      }))
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.key.localeCompare(b.key));
  }

  #prune(): void {
    const oldest = this.#now() - this.#retentionMs;
    for (const minute of [...this.#minutes.keys()])
      if (minute + MINUTE_MS <= oldest) this.#minutes.delete(minute);
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        this.#onError(err, `could not read the dashboard history ${file}; starting an empty one`);
      return;
    }
    try {
      const stored = JSON.parse(text) as StoredHistory;
      if (stored?.version !== FILE_VERSION || !Array.isArray(stored.minutes))
        throw new Error(`unknown format (version ${String(stored?.version)})`);
      for (const [minute, series] of stored.minutes) {
        if (!Number.isFinite(minute) || !Array.isArray(series)) continue;
        const m = new Map<string, ExperienceBucket>();
        for (const [key, b] of series.slice(0, MAX_SERIES_PER_MINUTE))
          if (typeof key === "string" && isBucket(b)) m.set(key, b);
        this.#minutes.set(minute, m);
      }
      if (Array.isArray(stored.failures))
        this.#failures = stored.failures.filter(isFailure).slice(0, MAX_RECENT_FAILURES);
      this.#prune();
    } catch (err) {
      this.#minutes.clear();
      this.#failures = [];
      this.#onError(err, `the dashboard history ${file} is unreadable; starting an empty one`);
    }
  }

  /** Writes the file now if something changed since the last write (temp file, then rename). */
  flush(): void {
    if (this.#file === undefined || !this.#dirty) return;
    const stored: StoredHistory = {
      version: FILE_VERSION,
      minutes: [...this.#minutes].map(([m, s]) => [m, [...s]]),
      failures: this.#failures,
    };
    const tmp = `${this.#file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.#file), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify(stored), { mode: 0o600 });
      renameSync(tmp, this.#file);
      this.#dirty = false;
    } catch (err) {
      this.#onError(err, `could not write the dashboard history ${this.#file}; it is kept in memory`);
    }
  }

  /** Stops the periodic write and writes once more. Idempotent. */
  close(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.flush();
    this.#closed = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function figures(b: ExperienceBucket): Pick<ExperiencePoint, "successRate" | "p50Ms" | "p95Ms"> {
  const judged = b.ok + b.failed;
  const p50 = latencyQuantile(b.latency, 0.5);
  const p95 = latencyQuantile(b.latency, 0.95);
  return {
    ...(judged > 0 && { successRate: Math.round((b.ok / judged) * 1000) / 1000 }),
    ...(p50 !== undefined && { p50Ms: p50 }),
    ...(p95 !== undefined && { p95Ms: p95 }),
  };
}

function isBucket(b: unknown): b is ExperienceBucket {
  if (typeof b !== "object" || b === null) return false;
  const r = b as Record<string, unknown>;
  return (
    ["count", "ok", "clientErrors", "busy", "failed"].every((k) => Number.isInteger(r[k])) &&
    typeof r.latency === "object" &&
    r.latency !== null
  );
}

function isFailure(f: unknown): f is ExperienceFailure {
  if (typeof f !== "object" || f === null) return false;
  const r = f as Record<string, unknown>;
  return (
    typeof r.at === "number" &&
    (r.kind === "job" || r.kind === "stream") &&
    typeof r.capability === "string" &&
    typeof r.orchestrator === "string" &&
    typeof r.cause === "string"
  );
}
