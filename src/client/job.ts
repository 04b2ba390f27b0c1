/**
 * Batch jobs through a Tributary (or go-livepeer) gateway: `POST {gateway}/<pipeline>` with a JSON or
 * raw body, the model as `X-Model-Id`. A 2xx answer is handed back unread (JSON, bytes, or a
 * Server-Sent Events stream); anything else becomes a {@link GatewayError} carrying the gateway's
 * error envelope (`{"error":{"code","message"}}`), or the plain text go-livepeer answers with.
 */
import { TributaryError } from "../node/errors.ts";

/** A gateway answered a job with a 4xx/5xx, or could not be reached (status 0). */
export class GatewayError extends TributaryError {
  /** HTTP status the gateway answered with (0: no answer). */
  readonly httpStatus: number;

  constructor(code: string, message: string, httpStatus: number, cause?: unknown) {
    super(code, message, { status: httpStatus || 502, cause, details: { httpStatus } });
    this.httpStatus = httpStatus;
  }
}

/** Reads an error envelope (ours, pytrickle's `{status,message}`, or plain text) into a GatewayError. */
export async function gatewayErrorOf(res: Response, what: string): Promise<GatewayError> {
  const text = await res.text().catch(() => "");
  let code = `HTTP_${res.status}`;
  let message = text.trim().slice(0, 500) || res.statusText || "no body";
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown }; message?: unknown };
    if (body.error && typeof body.error === "object") {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string") message = body.error.message;
    } else if (typeof body.message === "string") message = body.message;
  } catch {
    // not JSON: keep the text
  }
  return new GatewayError(code, `${what}: ${res.status} ${code}: ${message}`, res.status);
}

/** Fetches, turning a transport failure into a {@link GatewayError} with status 0. */
export async function gatewayFetch(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if ((err as Error).name === "AbortError" || init.signal?.aborted) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new GatewayError(
      "GATEWAY_UNREACHABLE",
      `${what}: cannot reach ${new URL(url).origin} (${detail}); is the gateway running? (npm start, or --gateway URL)`,
      0,
      err,
    );
  }
}

/** Options of {@link runJob}. */
export interface RunJobOptions {
  /** Model id (native AI) or capability (BYOC), sent as `X-Model-Id`. */
  model?: string;
  /** A JSON value sent as the body (`Content-Type: application/json`). */
  json?: unknown;
  /** A raw body (used when `json` is undefined); set its `Content-Type` in `headers`. */
  body?: Uint8Array | string;
  /** Extra request headers (e.g. `Accept: text/event-stream`, `X-Timeout-Seconds`). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A gateway's successful answer to a job; the body is read once, by one of the readers. */
export interface JobResult {
  status: number;
  /** `Content-Type` (empty when absent). */
  contentType: string;
  headers: Headers;
  /** `X-Orchestrator-Url`: who did the work. */
  orchestrator: string | undefined;
  /** `Livepeer-Balance`: credit left at the orchestrator (on-chain networks). */
  balance: string | undefined;
  /** `X-Trace-Id` of the job. */
  traceId: string | undefined;
  /** True for a `text/event-stream` answer (read it with {@link JobResult.events}). */
  readonly sse: boolean;
  /** The raw body, for streaming it elsewhere. */
  body: ReadableStream<Uint8Array> | null;
  json(): Promise<unknown>;
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
  /** The `data:` payloads of a Server-Sent Events answer, until `[DONE]` or the end. */
  events(): AsyncGenerator<SseEvent>;
}

/** One Server-Sent Event. */
export interface SseEvent {
  /** `event:` field; "message" when absent. */
  event: string;
  /** The joined `data:` lines. */
  data: string;
}

/** Parses a Server-Sent Events byte stream (WHATWG rules for `event` and `data`; comments skipped). */
export async function* parseSse(stream: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = "";
  let event = "";
  let data: string[] = [];
  const flush = (): SseEvent | undefined => {
    if (data.length === 0) {
      event = "";
      return undefined;
    }
    const out = { event: event || "message", data: data.join("\n") };
    event = "";
    data = [];
    return out;
  };
  const lines = function* (final: boolean): Generator<string> {
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buf);
      if (!m) break;
      // A lone trailing \r may be the first half of \r\n: wait for more input.
      if (m[0] === "\r" && m.index === buf.length - 1 && !final) break;
      yield buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
    }
    if (final && buf !== "") {
      yield buf;
      buf = "";
    }
  };
  const handle = (line: string): SseEvent | undefined => {
    if (line === "") return flush();
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    return undefined;
  };
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    for (const line of lines(false)) {
      const e = handle(line);
      if (e) {
        if (e.event === "message" && e.data === "[DONE]") return;
        yield e;
      }
    }
  }
  buf += decoder.decode();
  for (const line of lines(true)) {
    const e = handle(line);
    if (e && !(e.event === "message" && e.data === "[DONE]")) yield e;
  }
  const last = flush();
  if (last && !(last.event === "message" && last.data === "[DONE]")) yield last;
}

/** `http://host:port` without a trailing slash; throws a 400-style error for anything else. */
export function normalizeGatewayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TributaryError(
      "BAD_GATEWAY_URL",
      `not a URL: ${JSON.stringify(url)} (e.g. http://127.0.0.1:8937)`,
      {
        status: 400,
      },
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new TributaryError("BAD_GATEWAY_URL", `the gateway URL must be http(s), got ${u.protocol}`, {
      status: 400,
    });
  return u.href.replace(/\/+$/, "");
}

/**
 * Runs one batch job: `POST {gatewayUrl}/{pipeline}`. Resolves with the unread answer on a 2xx;
 * rejects with a {@link GatewayError} (the envelope's code and message) otherwise.
 */
export async function runJob(
  gatewayUrl: string,
  pipeline: string,
  options: RunJobOptions = {},
): Promise<JobResult> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(pipeline) || pipeline.includes(".."))
    throw new TributaryError("BAD_PIPELINE", `not a pipeline name: ${JSON.stringify(pipeline)}`, {
      status: 400,
    });
  const headers: Record<string, string> = { ...options.headers };
  let body: Uint8Array | string | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] ??= "application/json";
  } else if (options.body !== undefined) body = options.body;
  if (options.model) headers["x-model-id"] = options.model;
  const url = `${normalizeGatewayUrl(gatewayUrl)}/${pipeline}`;
  const what = `job ${pipeline}${options.model ? ` (model ${options.model})` : ""}`;
  const res = await gatewayFetch(
    url,
    {
      method: "POST",
      headers,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : Buffer.from(body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    what,
  );
  if (res.status < 200 || res.status >= 300) throw await gatewayErrorOf(res, what);
  const contentType = res.headers.get("content-type") ?? "";
  const sse = contentType.includes("text/event-stream");
  return {
    status: res.status,
    contentType,
    headers: res.headers,
    orchestrator: res.headers.get("x-orchestrator-url") ?? undefined,
    balance: res.headers.get("livepeer-balance") ?? undefined,
    traceId: res.headers.get("x-trace-id") ?? undefined,
    sse,
    body: res.body,
    json: () => res.json() as Promise<unknown>,
    text: () => res.text(),
    bytes: async () => new Uint8Array(await res.arrayBuffer()),
    events: () => parseSse(res.body ?? emptyStream()),
  };
}

async function* emptyStream(): AsyncGenerator<Uint8Array> {}
