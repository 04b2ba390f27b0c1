/**
 * Server-Sent Events: the response head, `event:`/`id:`/`data:` framing, back-pressure, and an end
 * when the client goes away. Used by the runner's streamed batch answers and the gateway dashboard's
 * feed; {@link sseEvent} frames the events other relays add to a stream they pass through.
 */
import { ServerResponse } from "node:http";
import { type AnyResponse, drainedOrClosed, withDefaults } from "./send.ts";

/** One event. `data` that is not a string is sent as JSON (one line: JSON has no raw newlines). */
export interface SseEvent {
  event?: string;
  id?: string | number;
  data: unknown;
}

/** The wire text of one event; a multi-line string becomes several `data:` lines. */
export function sseEvent(e: SseEvent): string {
  let out = "";
  if (e.id !== undefined) out += `id: ${e.id}\n`;
  if (e.event !== undefined) out += `event: ${e.event}\n`;
  const data = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** Options of {@link SseWriter}. */
export interface SseWriterOptions {
  /** Status of the answer; default 200. */
  status?: number;
  /** Extra or replacing head fields (e.g. a `content-type` with a charset, `cache-control: no-store`). */
  headers?: Record<string, string>;
  /** Sent first as `retry:` (the client's reconnect delay). */
  retryMs?: number;
  /** A `: ping` comment this often while the stream is idle and not blocked; default none. */
  heartbeatMs?: number;
}

/**
 * An open event stream. The head is written and flushed at once. {@link SseWriter.signal} aborts
 * when the client goes away or the stream is ended; writes after that are dropped.
 */
export class SseWriter {
  // Typed as node:http's: the http2 compat response has the same members used here.
  readonly #res: ServerResponse;
  readonly #gone = new AbortController();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(res: AnyResponse, options: SseWriterOptions = {}) {
    this.#res = res as ServerResponse;
    const head = withDefaults(
      {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
        // A connection header is not allowed over HTTP/2.
        ...(res instanceof ServerResponse ? { Connection: "keep-alive" } : {}),
      },
      options.headers ?? {},
    );
    this.#res.writeHead(options.status ?? 200, head);
    this.#res.flushHeaders();
    const onClose = (): void => this.#stop();
    this.#res.once("close", onClose);
    if (options.retryMs !== undefined) this.write(`retry: ${options.retryMs}\n\n`);
    if (options.heartbeatMs !== undefined && options.heartbeatMs > 0) {
      this.#heartbeat = setInterval(() => {
        if (!this.blocked) this.write(": ping\n\n");
      }, options.heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  /** Aborts once the client is gone or the stream ended. */
  get signal(): AbortSignal {
    return this.#gone.signal;
  }

  /** True once the client is gone or the stream ended. */
  get closed(): boolean {
    return this.#gone.signal.aborted;
  }

  /** True while the client's socket buffer is full (wait with {@link SseWriter.drained}). */
  get blocked(): boolean {
    return this.#res.writableNeedDrain;
  }

  /** Sends one event; false when the buffer is full (or the stream is closed). */
  send(event: SseEvent): boolean {
    return this.write(sseEvent(event));
  }

  /** Sends `value` as JSON in one unnamed event (a string too: `"…"`). */
  json(value: unknown): boolean {
    return this.send({ data: JSON.stringify(value) });
  }

  /** Writes raw, already framed text (or bytes relayed as they are); false when the buffer is full (or the stream is closed). */
  write(text: string | Uint8Array): boolean {
    if (this.closed) return false;
    return this.#res.write(text);
  }

  /** Resolves once the buffer has room again or the client is gone. */
  async drained(): Promise<void> {
    if (this.closed || !this.blocked) return;
    await drainedOrClosed(this.#res);
  }

  /** Ends the stream, after `last` (framed text) if given. Idempotent. */
  end(last?: string): void {
    if (this.closed) return;
    this.#stop();
    if (!this.#res.writableEnded) this.#res.end(last);
  }

  #stop(): void {
    clearInterval(this.#heartbeat);
    if (!this.#gone.signal.aborted) this.#gone.abort();
  }
}
