/**
 * A live video stream through a gateway (docs/spec/orchestrator-gateway.md#live-video-to-video): `POST
 * {gateway}/live/video-to-video` starts it (a BYOC stream: `POST {gateway}/process/stream/start` with a
 * `Livepeer` job header naming the capability, video in and out) and answers trickle URLs on the gateway; MPEG-TS
 * segments go to `publish_url` with our {@link TricklePublisher}, the processed output is read from
 * `subscribe_url` with our {@link TrickleSubscriber}; `update_url`, `status_url` and `stop_url`
 * control it. Dispose (`await using`) stops the stream and closes both channels' clients.
 */
import { TributaryError } from "../node/errors.ts";
import { encodeJobHeader, newJobRequest } from "../protocol/job-header.ts";
import { TricklePublisher, type TrickleSegmentResult, TrickleSubscriber } from "../trickle/index.ts";
import { gatewayErrorOf, gatewayFetch, normalizeGatewayUrl } from "./job.ts";

/** The gateway's answer to a start, in camelCase. */
export interface LiveStreamInfo {
  streamId: string;
  publishUrl: string;
  subscribeUrl: string;
  updateUrl: string;
  statusUrl: string;
  stopUrl: string;
  /** The orchestrator serving the stream, when the gateway says. */
  orchestrator: string | undefined;
}

/**
 * `GET …/status`, with the fields every Tributary gateway answers typed and the optional ones (live
 * statistics some gateway versions add) read when present; `raw` is the whole answer.
 */
export interface LiveStatus {
  streamId: string;
  state: string;
  orchestrator: string | undefined;
  swaps: number | undefined;
  /** Live payments made (top-ups), when reported. */
  payments: number | undefined;
  /** Output frames per second, when reported. */
  fps: number | undefined;
  /** Input-to-output latency in milliseconds, when reported. */
  latencyMs: number | undefined;
  /** Segments relayed, when reported. */
  segmentsIn: number | undefined;
  segmentsOut: number | undefined;
  /** Wei paid for this stream so far, when reported. */
  paidWei: bigint | undefined;
  /** Tickets sent for this stream so far, when reported. */
  ticketsSent: number | undefined;
  error: string | undefined;
  raw: Record<string, unknown>;
}

/** Options of {@link LiveSession.start}. */
export interface LiveStartOptions {
  /** The live pipeline's model id, e.g. `green-tint`. */
  model: string;
  /** Initial params of the pipeline. */
  params?: Record<string, unknown>;
  /** Ask for this stream id (letters, digits, `_`, `-`). */
  streamId?: string;
  /** Aborting stops the stream and closes the trickle clients. */
  signal?: AbortSignal;
  /**
   * `live` (default): a native live-video-to-video stream, `model` its model id; `byoc`: a BYOC
   * stream, `model` the capability name ({@link detectLiveKind} tells which a gateway offers).
   */
  kind?: LiveKind;
  /** BYOC: the job's `timeout_seconds` (default {@link DEFAULT_BYOC_STREAM_TIMEOUT_SECONDS}). */
  timeoutSeconds?: number;
}

/** Which start route a live stream uses. */
export type LiveKind = "live" | "byoc";

/** `timeout_seconds` of a BYOC stream start's job header when not given. */
export const DEFAULT_BYOC_STREAM_TIMEOUT_SECONDS = 30;

/**
 * Which kind of live stream the gateway offers for `model`, from its dashboard state
 * (`GET {gateway}/dashboard/api/state`): `byoc` when some orchestrator offers the BYOC capability
 * `byoc/<model>` and none `live-video-to-video/<model>`, else `live` (also when the state cannot be
 * read: the native start then answers what is wrong).
 */
export async function detectLiveKind(
  gatewayUrl: string,
  model: string,
  signal?: AbortSignal,
): Promise<LiveKind> {
  try {
    const res = await fetch(
      `${normalizeGatewayUrl(gatewayUrl)}/dashboard/api/state`,
      signal ? { signal } : {},
    );
    if (res.status !== 200) {
      await res.body?.cancel();
      return "live";
    }
    const state = (await res.json()) as { capabilities?: { key?: unknown }[] };
    const keys = new Set((state.capabilities ?? []).map((c) => c.key));
    return keys.has(`byoc/${model}`) && !keys.has(`live-video-to-video/${model}`) ? "byoc" : "live";
  } catch {
    return "live";
  }
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const firstNum = (o: Record<string, unknown>, ...keys: string[]): number | undefined => {
  for (const k of keys) {
    const v = num(o[k]);
    if (v !== undefined) return v;
  }
  return undefined;
};
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const nested = (o: Record<string, unknown>, key: string): Record<string, unknown> => {
  const v = o[key];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
};

/** `text` as a JSON object, else `{}`. */
function jsonObjectOr(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Reads a status answer, tolerant of where a gateway version puts its live statistics. */
export function parseLiveStatus(raw: Record<string, unknown>): LiveStatus {
  const stats = { ...raw, ...nested(raw, "stats") };
  const segs = nested(stats, "segments");
  let paidWei: bigint | undefined;
  for (const k of ["paid_wei", "price_paid_wei", "paid", "amount_paid_wei"]) {
    const v = stats[k];
    if ((typeof v === "string" && /^\d+$/.test(v)) || (typeof v === "number" && Number.isSafeInteger(v))) {
      paidWei = BigInt(v);
      break;
    }
  }
  const latencyS = firstNum(stats, "latency_seconds", "latency_s");
  // The container's heartbeat figures (`{ingress_video_fps, egress_video_fps, …}`) or a plain number.
  const fpsObj = nested(stats, "fps");
  return {
    streamId: String(raw.stream_id ?? ""),
    state: String(raw.state ?? "unknown"),
    orchestrator:
      typeof raw.orchestrator === "string" && raw.orchestrator !== "" ? raw.orchestrator : undefined,
    swaps: num(raw.swaps),
    payments: num(raw.payments),
    fps: firstNum(stats, "fps", "output_fps", "fps_out") ?? firstNum(fpsObj, "egress_video_fps", "output"),
    latencyMs:
      firstNum(stats, "last_output_latency_ms", "latency_ms") ??
      (latencyS === undefined ? undefined : latencyS * 1000),
    segmentsIn: firstNum(stats, "segments_in", "input_segments") ?? num(segs.in) ?? num(segs.input),
    segmentsOut: firstNum(stats, "segments_out", "output_segments") ?? num(segs.out) ?? num(segs.output),
    paidWei,
    ticketsSent: firstNum(stats, "tickets_sent", "tickets"),
    // go-livepeer's `{error_message, error_time}`; a plain string from older gateways.
    error: typeof raw.error === "string" ? raw.error : str(nested(raw, "error").error_message),
    raw,
  };
}

/** One live stream started on a gateway. */
export class LiveSession implements AsyncDisposable {
  readonly info: LiveStreamInfo;
  readonly #stopOnAbort = () => void this.stop().catch(() => {});
  readonly #signal: AbortSignal | undefined;
  #publisher: TricklePublisher | undefined;
  readonly #subscribers = new Set<TrickleSubscriber>();
  #stopped: Promise<LiveStatus | undefined> | undefined;

  private constructor(info: LiveStreamInfo, signal: AbortSignal | undefined) {
    this.info = info;
    this.#signal = signal;
    signal?.addEventListener("abort", this.#stopOnAbort, { once: true });
  }

  /**
   * Starts a stream: `POST {gatewayUrl}/live/video-to-video`, or for `kind: "byoc"` `POST
   * {gatewayUrl}/process/stream/start` (video in and out). Rejects with a GatewayError on 4xx/5xx.
   */
  static async start(gatewayUrl: string, options: LiveStartOptions): Promise<LiveSession> {
    const base = normalizeGatewayUrl(gatewayUrl);
    const byoc = options.kind === "byoc";
    const what = `${byoc ? "BYOC stream" : "live"} start (${byoc ? "capability" : "model"} ${options.model})`;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (byoc)
      headers.livepeer = encodeJobHeader(
        newJobRequest({
          capability: options.model,
          timeoutSeconds: options.timeoutSeconds ?? DEFAULT_BYOC_STREAM_TIMEOUT_SECONDS,
          parameters: JSON.stringify({ enable_video_ingress: true, enable_video_egress: true }),
        }),
      );
    const res = await gatewayFetch(
      byoc ? `${base}/process/stream/start` : `${base}/live/video-to-video`,
      {
        method: "POST",
        headers,
        body: JSON.stringify({
          ...(byoc ? {} : { model_id: options.model }),
          ...(options.params ? { params: options.params } : {}),
          ...(options.streamId ? { stream_id: options.streamId } : {}),
        }),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      what,
    );
    if (res.status !== 200) throw await gatewayErrorOf(res, what);
    const b = (await res.json()) as Record<string, unknown>;
    const str = (k: string): string => {
      const v = b[k];
      if (typeof v !== "string" || v === "")
        throw new TributaryError("BAD_GATEWAY_ANSWER", `${what}: the gateway's answer lacks ${k}`, {
          status: 502,
        });
      return v;
    };
    const info: LiveStreamInfo = {
      streamId: str("stream_id"),
      publishUrl: str("publish_url"),
      subscribeUrl: str("subscribe_url"),
      updateUrl: str("update_url"),
      statusUrl: str("status_url"),
      stopUrl: str("stop_url"),
      orchestrator: typeof b.orchestrator === "string" ? b.orchestrator : undefined,
    };
    const session = new LiveSession(info, options.signal);
    if (options.signal?.aborted) await session.stop().catch(() => {});
    return session;
  }

  /** The input publisher (created on first use; MIME type `video/mp2t`). */
  get publisher(): TricklePublisher {
    this.#publisher ??= new TricklePublisher(this.info.publishUrl, {
      mimeType: "video/mp2t",
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    return this.#publisher;
  }

  /** Publishes one whole MPEG-TS segment (or a stream of its chunks) as the next input segment. */
  publish(
    segment: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<TrickleSegmentResult> {
    return this.publisher.write(segment);
  }

  /**
   * Ends the input: closes the publisher (`DELETE` of the input channel), which tells the pipeline
   * that no more input comes; it flushes what it holds to the output, then the stream ends.
   */
  async endInput(): Promise<void> {
    await this.#publisher?.close();
  }

  /**
   * A subscriber to the output channel, from its first segment (`start` 0) unless told otherwise.
   * Iterate it (`for await (const seg of sub)`); it ends when the stream stops.
   */
  subscribe(options: { start?: number } = {}): TrickleSubscriber {
    const sub = new TrickleSubscriber(this.info.subscribeUrl, {
      start: options.start ?? 0,
      ...(this.#signal ? { signal: this.#signal } : {}),
    });
    this.#subscribers.add(sub);
    return sub;
  }

  /**
   * The output segments' bytes, in order, from the first one (a {@link subscribe}r read to the end).
   * Ends when the stream ends; a read cut off by {@link stop} ends it too instead of throwing.
   */
  async *output(): AsyncGenerator<Uint8Array> {
    const sub = this.subscribe();
    try {
      for await (const seg of sub) {
        let bytes: Uint8Array;
        try {
          bytes = await seg.bytes();
        } catch (err) {
          if (this.#stopped || this.#signal?.aborted) return;
          throw err;
        }
        yield bytes;
      }
    } catch (err) {
      if (this.#stopped || this.#signal?.aborted) return;
      throw err;
    } finally {
      sub.close();
      this.#subscribers.delete(sub);
    }
  }

  /** Sends new params to the pipeline (`POST update_url`). */
  async update(params: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    const res = await gatewayFetch(
      this.info.updateUrl,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(params),
        ...(signal ? { signal } : {}),
      },
      "live update",
    );
    if (res.status !== 200) throw await gatewayErrorOf(res, "live update");
    await res.body?.cancel();
  }

  /** The stream's state at the gateway (`GET status_url`). */
  async status(signal?: AbortSignal): Promise<LiveStatus> {
    const res = await gatewayFetch(this.info.statusUrl, signal ? { signal } : {}, "live status");
    if (res.status !== 200) throw await gatewayErrorOf(res, "live status");
    return parseLiveStatus((await res.json()) as Record<string, unknown>);
  }

  /**
   * Ends the input (the publisher's close), stops the stream at the gateway (`POST stop_url`) and
   * closes the subscribers. Resolves with the last status, or undefined when the gateway no longer
   * knew the stream. Idempotent.
   */
  stop(): Promise<LiveStatus | undefined> {
    this.#stopped ??= (async () => {
      this.#signal?.removeEventListener("abort", this.#stopOnAbort);
      await this.#publisher?.close();
      let status: LiveStatus | undefined;
      try {
        const res = await gatewayFetch(this.info.stopUrl, { method: "POST" }, "live stop");
        // A BYOC stop answers the container's own stop answer (JSON or not), not a status.
        if (res.status === 200) status = parseLiveStatus(jsonObjectOr(await res.text()));
        else if (res.status !== 404) throw await gatewayErrorOf(res, "live stop");
        else await res.body?.cancel();
      } finally {
        for (const s of this.#subscribers) s.close();
      }
      return status;
    })();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop().catch(() => {});
  }
}
