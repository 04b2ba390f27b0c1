/**
 * Streams in the experience history: {@link StreamWatcher} reads the live manager's stream statuses
 * (on each dashboard read and on a timer) and records each stream once when it first runs on an
 * orchestrator (latency: its first known output latency) and once when it fails (with its error), so
 * streams are counted per capability and per orchestrator like jobs; {@link activeStreamOf} is what
 * the page shows of a stream running now.
 */
import type { ActiveStream, ExperienceRecorder } from "./experience.ts";

/** The fields of a live stream's status JSON (live/stream.ts `statusOf`) read here. */
export interface StreamStatus {
  stream_id: string;
  kind: "live" | "byoc";
  model_id: string;
  state: string;
  orchestrator?: string | undefined;
  uptime_ms: number;
  last_output_latency_ms: number | null;
  fps: unknown;
  paid_wei: string;
  error?: string;
}

/** The capability a stream runs, named as offers are. */
export function streamCapability(s: Pick<StreamStatus, "kind" | "model_id">): string {
  return s.kind === "live" ? `live-video-to-video/${s.model_id}` : `byoc/${s.model_id}`;
}

/** The numeric fields of a heartbeat's `fps` object (anything else is dropped). */
export function fpsOf(fps: unknown): Record<string, number> {
  if (typeof fps === "number" && Number.isFinite(fps)) return { fps };
  if (typeof fps !== "object" || fps === null) return {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(fps as Record<string, unknown>))
    if (typeof v === "number" && Number.isFinite(v)) out[k] = Math.round(v * 10) / 10;
  return out;
}

/** What the page shows of a stream. */
export function activeStreamOf(s: StreamStatus): ActiveStream {
  return {
    id: s.stream_id,
    kind: s.kind,
    capability: streamCapability(s),
    ...(s.orchestrator && { orchestrator: s.orchestrator }),
    state: s.state,
    uptimeMs: s.uptime_ms,
    fps: fpsOf(s.fps),
    ...(s.last_output_latency_ms !== null && { latencyMs: s.last_output_latency_ms }),
    paidWei: s.paid_wei,
    ...(s.error && { error: s.error }),
  };
}

/** Records stream starts and failures from successive status lists. */
export class StreamWatcher {
  readonly #history: ExperienceRecorder;
  /** Stream id → orchestrator it was recorded running on, and whether its failure was recorded. */
  #seen = new Map<string, { orchestrator: string; failed: boolean }>();

  constructor(history: ExperienceRecorder) {
    this.#history = history;
  }

  /** Looks at the streams now; returns those not finished, for the page. */
  observe(statuses: readonly StreamStatus[]): ActiveStream[] {
    const next = new Map<string, { orchestrator: string; failed: boolean }>();
    for (const s of statuses) {
      const seen = this.#seen.get(s.stream_id);
      const capability = streamCapability(s);
      const entry = seen ? { ...seen } : undefined;
      if (s.state === "running" && s.orchestrator && entry?.orchestrator !== s.orchestrator) {
        this.#history.record({
          kind: "stream",
          capability,
          orchestrator: s.orchestrator,
          outcome: "ok",
          ...(s.last_output_latency_ms !== null && { latencyMs: s.last_output_latency_ms }),
        });
        next.set(s.stream_id, { orchestrator: s.orchestrator, failed: false });
        continue;
      }
      if (s.state === "failed" && !entry?.failed) {
        this.#history.record({
          kind: "stream",
          capability,
          orchestrator: s.orchestrator ?? entry?.orchestrator ?? "",
          outcome: "failed",
          error: s.error ?? "the stream failed",
        });
        next.set(s.stream_id, { orchestrator: entry?.orchestrator ?? s.orchestrator ?? "", failed: true });
        continue;
      }
      if (entry) next.set(s.stream_id, entry);
    }
    this.#seen = next;
    return statuses
      .filter((s) => s.state !== "ended" && s.state !== "stopped" && s.state !== "failed")
      .map(activeStreamOf);
  }
}
