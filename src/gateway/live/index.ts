/**
 * Real-time streams on the gateway: native live video (docs/spec/orchestrator-gateway.md#live-video-to-video)
 * and BYOC streams (docs/spec/orchestrator-gateway.md#gateway-stream-start, go-livepeer `byoc/stream_gateway.go`). Both get URLs on the
 * GATEWAY's own trickle server (mounted at `/live/trickle/`), so the client never talks to an
 * orchestrator and its URLs survive a move. The folder's README lists its files; the routes and
 * answers are in the gateway's README.
 *
 * This file assembles the pieces: {@link createLive} builds the {@link LiveContext} once (streams,
 * the trickle server, open / stop / end of a stream), runs the events watchdog and answers requests
 * through routes.ts.
 *
 * Not done: WHIP / RTMP ingest and WHEP / RTMP output, the `{"keep":"alive"}` control keepalive.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { TributaryError } from "../../node/errors.ts";
import { LocalPublisher, LocalSubscriber, TrickleServer } from "../../trickle/index.ts";
import {
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  ENDED_RETENTION_MS,
  INPUT_DRAIN_TIMEOUT_MS,
  LIVE_TRICKLE_BASE,
  type LiveContext,
  type LiveOptions,
  PIPELINE,
} from "./context.ts";
import { startOnNext } from "./failover.ts";
import { handleLiveRequest } from "./routes.ts";
import { type LiveStream, newStream, statusOf, transition } from "./stream.ts";

export {
  DEFAULT_BYOC_PAYMENT_INTERVAL_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_LIVE_PAYMENT_INTERVAL_MS,
  END_DRAIN_TIMEOUT_MS,
  ENDED_RETENTION_MS,
  INPUT_DRAIN_TIMEOUT_MS,
  LIVE_TRICKLE_BASE,
  type LiveOptions,
  MAX_SWAPS,
} from "./context.ts";
export { redactEventUrls } from "./relay.ts";

/** The live part of the gateway. */
export interface LiveManager {
  /** The gateway's trickle server (channels `<channel>-in`, `<channel>-out`, `<channel>-data`). */
  trickle: TrickleServer;
  /** Answers a request under `/live/` or `/process/stream/`. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Streams not ended or stopped (an ended stream's status stays readable for a while). */
  readonly count: number;
  /** The status of every stream held (as its status route answers it), for the dashboard. */
  statuses(): ReturnType<typeof statusOf>[];
  close(): Promise<void>;
}

/** Creates the live manager. */
export function createLive(options: LiveOptions): LiveManager {
  const streams = new Map<string, LiveStream>();
  const trickle = new TrickleServer({
    basePath: LIVE_TRICKLE_BASE,
    autocreate: false,
    logger: options.logger,
    beforeDelete: (channel) => inputDrained(channel),
  });
  const eventTimeoutMs = options.eventTimeoutMs ?? DEFAULT_EVENT_TIMEOUT_MS;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const watchdog = setInterval(
    () => {
      const now = Date.now();
      for (const s of [...streams.values()]) {
        // After the input's end the drain timeout bounds the turn (the container stops its heartbeats).
        if (s.state === "running" && !s.inputEnded && now - s.lastEventAt > eventTimeoutMs)
          s.turn?.abort(new Error(`no event from the orchestrator for ${eventTimeoutMs} ms`));
        if (idleTimeoutMs > 0 && isIdle(s, now)) {
          s.error = `no input for ${idleTimeoutMs} ms (started and never fed, or the client went away); stopped`;
          s.errorAt = now;
          s.log.info({ stream_id: s.id, idle_timeout_ms: idleTimeoutMs }, "idle stream stopped");
          ctx.stop(s);
        }
      }
    },
    Math.max(50, Math.min(1000, eventTimeoutMs / 4, idleTimeoutMs > 0 ? idleTimeoutMs / 4 : 1000)),
  );
  watchdog.unref();

  /** When the watchdog first saw each stream past `starting` (its client has had its URLs since). */
  const answeredAt = new WeakMap<LiveStream, number>();

  /**
   * True when `s` takes input and its `<channel>-in` got no write for the idle timeout, counted from
   * the later of its last write and the start's answer (a slow start is not idleness). A stream still
   * starting, or whose input ended (it drains and ends on its own), is not idle.
   */
  function isIdle(s: LiveStream, now: number): boolean {
    if (s.input === undefined || s.inputEnded || s.state === "starting") return false;
    if (s.state === "ended" || s.state === "stopped") return false;
    let since = answeredAt.get(s);
    if (since === undefined) {
      since = now;
      answeredAt.set(s, since);
    }
    const ch = trickle.getChannel(`${s.channel}-in`);
    return ch !== undefined && !ch.closed && now - Math.max(ch.writeTime, since) > idleTimeoutMs;
  }

  /**
   * The client's `DELETE` of `<channel>-in` (its end of input) waits until the input relay has passed on
   * every segment written before it (a delete drops the channel's segments at once), at most
   * {@link INPUT_DRAIN_TIMEOUT_MS}, or until the stream stops, fails or moves.
   */
  async function inputDrained(channel: string): Promise<void> {
    if (!channel.endsWith("-in")) return;
    const base = channel.slice(0, -3);
    const s = [...streams.values()].find((x) => x.channel === base);
    const ch = trickle.getChannel(channel);
    if (s?.input === undefined || ch === undefined) return;
    const deadline = Date.now() + INPUT_DRAIN_TIMEOUT_MS;
    while (s.state === "running" && s.inputRelayed < ch.nextWrite - 1 && Date.now() < deadline)
      await sleep(20, undefined, { signal: s.stopped.signal }).catch(() => {});
  }

  const ctx: LiveContext = {
    options,
    streams,
    trickle,

    async open(req, fields, channels) {
      const previous = streams.get(fields.id);
      if (previous?.state === "ended") ctx.stop(previous);
      if (streams.has(fields.id))
        throw new TributaryError("STREAM_EXISTS", `stream ${fields.id} already exists`, { status: 409 });
      const { trace, log } = options.traceOf(
        req,
        fields.kind === "live" ? `${PIPELINE}/${fields.modelId}` : `byoc/${fields.modelId}`,
      );
      const s = newStream(
        fields,
        { key: randomBytes(16).toString("hex"), channel: randomBytes(16).toString("hex") },
        trace,
        log.child({ stream_id: fields.id }),
      );
      const { signal } = s.stopped;
      if (channels.input) {
        trickle.createChannel(`${s.channel}-in`, "video/MP2T");
        s.input = new LocalSubscriber(trickle, `${s.channel}-in`, { start: 0, signal });
      }
      if (channels.output) {
        trickle.createChannel(`${s.channel}-out`, "video/MP2T");
        s.output = new LocalPublisher(trickle, `${s.channel}-out`, "video/MP2T");
      }
      if (channels.data) {
        trickle.createChannel(`${s.channel}-data`, "application/jsonl");
        s.data = new LocalPublisher(trickle, `${s.channel}-data`, "application/jsonl");
      }
      streams.set(s.id, s);
      try {
        await startOnNext(ctx, s);
      } catch (err) {
        ctx.stop(s);
        throw err;
      }
      return s;
    },

    stop(s) {
      if (!transition(s, "stop")) return; // stopped already
      s.stopped.abort(new Error("stopped"));
      s.output?.close();
      s.data?.close();
      trickle.deleteChannel(`${s.channel}-in`);
      if (streams.get(s.id) === s) streams.delete(s.id);
    },

    end(s) {
      s.output?.close();
      s.data?.close();
      trickle.deleteChannel(`${s.channel}-in`);
      const forget = setTimeout(() => {
        if (streams.get(s.id) === s) ctx.stop(s);
      }, ENDED_RETENTION_MS);
      forget.unref();
      s.stopped.signal.addEventListener("abort", () => clearTimeout(forget), { once: true });
    },
  };

  return {
    trickle,
    get count() {
      let n = 0;
      for (const s of streams.values()) if (s.state !== "ended") n++;
      return n;
    },
    statuses: () => [...streams.values()].map(statusOf),
    handle: (req, res, path) => handleLiveRequest(ctx, req, res, path),
    async close() {
      clearInterval(watchdog);
      for (const s of [...streams.values()]) ctx.stop(s);
      await trickle.close();
    },
  };
}
