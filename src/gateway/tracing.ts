/**
 * W3C Trace Context for gateway jobs: the gateway takes the client's `traceparent` (version 00) or
 * starts a new trace, and forwards a child `traceparent` (same trace id, new span id) to the
 * orchestrator together with `X-Trace-Id` (what the orchestrator logs and sends to containers).
 */
import { randomBytes } from "node:crypto";

/** A parsed trace context. */
export interface TraceContext {
  /** 32 lower-case hex characters, not all zero. */
  traceId: string;
  /** 16 lower-case hex characters, not all zero: this hop's span. */
  spanId: string;
  /** Trace flags byte as 2 hex characters (`01` = sampled). */
  flags: string;
}

const TRACEPARENT_RE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses a `traceparent` header. Returns undefined for anything invalid (bad shape, version ff,
 * all-zero ids, extra fields on version 00), as the W3C spec says to then start a new trace.
 */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT_RE.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === "ff") return undefined;
  if (version === "00" && rest !== undefined) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

/** A new span id (16 hex characters, never all zero). */
function newSpanId(): string {
  for (;;) {
    const id = randomBytes(8).toString("hex");
    if (!/^0+$/.test(id)) return id;
  }
}

/**
 * The trace of a job: the client's trace continued with a new span, or a new sampled trace when the
 * client sent no valid `traceparent`.
 */
export function startTrace(incoming: string | undefined): TraceContext {
  const parent = parseTraceparent(incoming);
  if (parent) return { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags };
  let traceId = randomBytes(16).toString("hex");
  while (/^0+$/.test(traceId)) traceId = randomBytes(16).toString("hex");
  return { traceId, spanId: newSpanId(), flags: "01" };
}

/** Formats a trace context as a version-00 `traceparent` value. */
export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}
