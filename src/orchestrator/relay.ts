/**
 * Copies a container's answer to the client: SSE streamed as it comes (with the BYOC batch billing's
 * opening balance, closing balance event, credit stop and deadline), anything else whole.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SseWriter, sseEvent } from "../node/http/sse.ts";
import type { NodeResponse } from "../node/server.ts";
import { header, readResponse } from "./http.ts";
import { CreditExhaustedError } from "./payments.ts";

/** Extra behaviour of {@link relay} for BYOC batch jobs. */
export interface RelayBilling {
  /** Headers for a whole (non-SSE) answer, computed when the body is complete (the charge). */
  finalHeaders?: () => Record<string, string>;
  /** SSE: headers sent first (the opening balance), computed only for an SSE answer. */
  openingHeaders?: () => Record<string, string>;
  /** SSE: the last event of a stream that ended or timed out (the final charge and its balance). */
  closingEvent?: () => string;
  /**
   * SSE: the job's stop signal. Aborted with a {@link CreditExhaustedError}, the stream ends with
   * go-livepeer's insufficient-balance events; any other reason (the client left) ends the relay.
   */
  stop?: AbortSignal;
  /** SSE: the stream ends (closing event, then `data: [DONE]`) after this long, go-livepeer's bound. */
  deadlineMs?: number;
}

/** go-livepeer's ending of an SSE answer whose balance ran out. */
export const SSE_INSUFFICIENT_BALANCE =
  sseEvent({ event: "insufficient balance", data: '{"balance": 0}' }) + sseEvent({ data: "[DONE]" });

/** Copies a container answer to the client: SSE streamed as it comes, anything else whole. */
export async function relay(
  upstream: IncomingMessage,
  res: NodeResponse,
  okStatus: number | undefined,
  billing: RelayBilling = {},
): Promise<void> {
  const out = res as ServerResponse;
  const ct = header(upstream.headers, "content-type");
  const meta = header(upstream.headers, "x-metadata");
  const status = upstream.statusCode ?? 502;
  if (ct.includes("text/event-stream")) {
    const sse = new SseWriter(res, {
      status: status < 400 ? 200 : status,
      headers: { ...(meta ? { "X-Metadata": meta } : {}), ...(billing.openingHeaders?.() ?? {}) },
    });
    // Ended by us (credit out, deadline) rather than by the container.
    let ended = false;
    const end = (last: string): void => {
      if (ended) return;
      ended = true;
      sse.end(last);
      upstream.destroy();
    };
    const onStop = (): void => {
      if (billing.stop?.reason instanceof CreditExhaustedError) end(SSE_INSUFFICIENT_BALANCE);
    };
    billing.stop?.addEventListener("abort", onStop);
    const deadline =
      billing.deadlineMs === undefined
        ? undefined
        : setTimeout(
            () => end(`${billing.closingEvent?.() ?? ""}${sseEvent({ data: "[DONE]" })}`),
            billing.deadlineMs,
          );
    try {
      for await (const chunk of upstream) {
        if (ended) break;
        if (!sse.write(chunk)) await sse.drained();
      }
    } catch (err) {
      if (!ended) throw err;
    } finally {
      clearTimeout(deadline);
      billing.stop?.removeEventListener("abort", onStop);
    }
    end(billing.closingEvent?.() ?? "");
    return;
  }
  const body = await readResponse(upstream);
  const headers: Record<string, string> = { ...(billing.finalHeaders?.() ?? {}) };
  if (ct) headers["Content-Type"] = ct;
  if (meta) headers["X-Metadata"] = meta;
  out.writeHead(status < 400 && okStatus !== undefined ? okStatus : status, headers);
  out.end(body);
}
