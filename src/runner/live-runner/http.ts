/**
 * The one HTTP call a live runner makes to its orchestrator: a JSON request with a raw
 * `Authorization` or `Livepeer-Session-Token` header, answered with a status and a bounded body.
 * Orchestrators serve TLS with self-signed certificates, so certificates are not checked unless
 * asked (as the BYOC registration in ../registration.ts and livepeer-gateway do).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { TributaryError } from "../../node/errors.ts";

/** Largest answer body kept (heartbeat and callback answers are small). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** Options of {@link callOrchestrator}. */
export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A JSON body; undefined sends none. */
  body?: unknown;
  timeoutMs?: number;
  verifyTls?: boolean;
  signal?: AbortSignal;
}

/** An answer: status and text (JSON decoded by the caller). */
export interface CallAnswer {
  status: number;
  text: string;
}

/** The orchestrator could not be reached or the answer was cut (502): worth retrying. */
export class OrchestratorUnreachableError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("LIVE_RUNNER_ORCHESTRATOR_UNREACHABLE", message, { status: 502, cause });
  }
}

/** One request to the orchestrator; rejects only when no answer came. */
export function callOrchestrator(url: string, options: CallOptions = {}): Promise<CallAnswer> {
  const target = new URL(url);
  return requestOrchestrator(target, {
    method: options.method ?? "POST",
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    timeoutMs: options.timeoutMs ?? 10_000,
    verifyTls: options.verifyTls,
    signal: options.signal,
    maxBytes: MAX_ANSWER_BYTES,
    fail: (stage, err) =>
      new OrchestratorUnreachableError(
        stage === "answer"
          ? `the orchestrator's answer failed: ${err.message}`
          : `cannot reach the orchestrator at ${target.origin}: ${err.message}`,
        err,
      ),
  });
}

/** Options of {@link requestOrchestrator}. */
export interface RawRequestOptions {
  method: string;
  headers: Record<string, string>;
  /** A JSON text, sent with its content type and length; undefined sends none. */
  body?: string;
  timeoutMs: number;
  verifyTls?: boolean;
  signal?: AbortSignal;
  /** Answer bytes kept; the rest is read and dropped. */
  maxBytes: number;
  /** The error to reject with: the request failed (`request`) or its answer broke off (`answer`). */
  fail: (stage: "request" | "answer", err: Error) => Error;
}

/**
 * The request both the live runner SDK and the BYOC registration (../registration.ts) make to their
 * orchestrator: certificates not checked unless `verifyTls`, a timeout, a bounded answer. Rejects (with
 * `fail`'s error) only when no answer came.
 */
export function requestOrchestrator(target: URL, options: RawRequestOptions): Promise<CallAnswer> {
  const { body } = options;
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method,
        headers: {
          ...(body !== undefined
            ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }
            : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs,
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        ...(target.protocol === "https:" ? { rejectUnauthorized: options.verifyTls ?? false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= options.maxBytes) chunks.push(c);
        });
        res.on("error", (err) => reject(options.fail("answer", err)));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) => reject(options.fail("request", err)));
    req.end(body);
  });
}

/** The error message of an envelope (`{"error":{"message"}}`) or a plain text answer, shortened. */
export function answerMessage(text: string): string {
  try {
    const doc = JSON.parse(text) as { error?: { message?: unknown } | string };
    if (typeof doc.error === "string") return doc.error;
    if (typeof doc.error?.message === "string") return doc.error.message;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}
