/**
 * Which orchestrator serves a stream, and what happens when one fails it.
 *
 * - {@link startOnNext}: the selector's best orchestrator not tried yet (within the client's
 *   `include` / `exclude`) gets the start. A start refused because the ticket params expired on the
 *   way ({@link isTicketParamsExpired}: our own Sender's `TICKET_EXPIRED`, or the orchestrator's
 *   answer as a {@link TicketParamsExpiredError}) is paid again on fresh params on the same
 *   orchestrator after its next chain poll, up to {@link EXPIRED_PARAMS_RETRIES} times (go-livepeer
 *   refreshes the session and retries). A refusal (`LIVE_START_REJECTED`) or our own payment problem
 *   (402) goes back to the client; any other failure suspends the orchestrator for
 *   `LIVE_VIDEO_PENALTY` refreshes and the next one is tried.
 * - {@link moveStream}: a turn ended on its own (turn.ts); the orchestrator is suspended (a BYOC
 *   stream is also stopped there, best effort) and the stream starts on the next one, at most
 *   {@link MAX_SWAPS} times; then it fails.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TributaryError } from "../../node/errors.ts";
import type { Logger } from "../../node/logger.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import { busyError } from "../jobs.ts";
import { failureCauseOf } from "../orch-http.ts";
import { LIVE_VIDEO_PENALTY } from "../selection/index.ts";
import { type LiveContext, MAX_SWAPS, PIPELINE, trimSlash } from "./context.ts";
import {
  LiveStartRejectedError,
  startByoc,
  startLive,
  stopByocOn,
  TicketParamsExpiredError,
} from "./orchestrator-api.ts";
import { countPayment, type LiveStream, transition } from "./stream.ts";
import { runTurn } from "./turn.ts";

/** Retries of a start on the same orchestrator when ticket params expired on the way. */
export const EXPIRED_PARAMS_RETRIES = 3;
/** Pause before such a retry (a node's chain view is polled every ~2 s). */
const EXPIRED_PARAMS_RETRY_DELAY_MS = 1000;

/** True when a start failed because its ticket params expired on the way (ours or the orchestrator's view). */
export function isTicketParamsExpired(err: unknown): boolean {
  return (
    err instanceof TicketParamsExpiredError ||
    (err instanceof TributaryError && err.code === "TICKET_EXPIRED")
  );
}

/** True when a start's failure belongs to the client or to our own payments: it is not the orchestrator's fault. */
export function isClientFailure(err: unknown): boolean {
  return err instanceof LiveStartRejectedError || (err instanceof TributaryError && err.status === 402);
}

/** The selector's best orchestrator for `s` not tried yet; the pool is refreshed once before the first start. */
export async function pick(ctx: LiveContext, s: LiveStream): Promise<OrchestratorDescriptor | undefined> {
  const { options } = ctx;
  const include = s.job?.params.include?.map(trimSlash);
  const choose = (all: OrchestratorDescriptor[]) =>
    options.selector.select(
      include?.length
        ? all.filter((d) => include.includes(trimSlash(d.transcoder)) || include.includes(d.url))
        : all,
      {
        pipeline: s.kind === "live" ? PIPELINE : "byoc",
        modelId: s.modelId,
        exclude: [...(s.job?.params.exclude ?? []), ...s.tried],
      },
    ).ranked[0]?.descriptor;
  let d = choose(await options.pool.current(options.signal));
  if (d === undefined && s.tried.size === 0)
    d = choose(await options.pool.refresh(options.signal).catch(() => []));
  return d;
}

/** Starts the stream on the next orchestrator that accepts it. */
export async function startOnNext(ctx: LiveContext, s: LiveStream): Promise<void> {
  const { options } = ctx;
  /** An orchestrator to try again: its ticket params expired on the way. */
  let again: OrchestratorDescriptor | undefined;
  let expiredRetries = 0;
  /** Orchestrators that answered "no capacity" (busy, not failed). */
  let busy = 0;
  for (;;) {
    if (s.stopped.signal.aborted) return;
    const retry = again;
    again = undefined;
    const d = retry ?? (await pick(ctx, s));
    if (retry === undefined) expiredRetries = 0;
    if (d === undefined) {
      if (busy > 0 && busy === s.tried.size)
        throw busyError(
          `${s.kind === "live" ? `${PIPELINE}/` : "BYOC stream capability "}${s.modelId}`,
          busy,
        );
      throw new TributaryError(
        "NO_ORCHESTRATORS",
        `no orchestrator accepted ${s.kind === "live" ? "live stream model" : "BYOC stream capability"} ${s.modelId} (tried ${s.tried.size})`,
        { status: 503 },
      );
    }
    s.tried.add(d.transcoder);
    const log = s.log.child({ orchestrator: d.transcoder });
    try {
      const started = s.kind === "live" ? await startLive(options, s, d) : await startByoc(options, s, d);
      options.pool.recordSuccess(d.transcoder);
      options.suspender.release(d.transcoder);
      countPayment(s, started.paid);
      s.orchestrator = d.transcoder;
      s.orch = started.urls;
      runTurn(ctx, s, started.urls, log, d, (reason) => moveStream(ctx, s, d, reason, log));
      log.info({ stream_id: s.id }, "stream started on orchestrator");
      return;
    } catch (err) {
      if (s.stopped.signal.aborted) return;
      if (isTicketParamsExpired(err) && expiredRetries < EXPIRED_PARAMS_RETRIES) {
        expiredRetries++;
        log.info({ stream_id: s.id, err }, "ticket params expired; retrying");
        await sleep(EXPIRED_PARAMS_RETRY_DELAY_MS, undefined, { signal: s.stopped.signal }).catch(() => {});
        again = d;
        continue;
      }
      if (isClientFailure(err)) throw err;
      // Busy is not dead: an orchestrator at capacity is skipped, not counted as failed nor suspended.
      if (failureCauseOf(err) === "no-capacity") {
        busy++;
        log.info({ stream_id: s.id, err }, "orchestrator at capacity; trying the next one");
        continue;
      }
      options.pool.recordFailure(d.transcoder, err);
      options.suspender.suspend(d.transcoder, LIVE_VIDEO_PENALTY);
      log.warn({ stream_id: s.id, err }, "stream start failed; trying the next one");
    }
  }
}

/** The stream fails with `error`; false when a stop came first. */
function fail(s: LiveStream, error: string): boolean {
  if (!transition(s, "gaveUp")) return false;
  s.error = error;
  s.errorAt = Date.now();
  return true;
}

/** Orchestrator `d`'s turn ended on its own (`reason`): suspend it and move the stream, or give up. */
export function moveStream(
  ctx: LiveContext,
  s: LiveStream,
  d: OrchestratorDescriptor,
  reason: string,
  log: Logger,
): void {
  const { options } = ctx;
  if (s.kind === "byoc")
    void stopByocOn(options, s, d, Buffer.from(JSON.stringify({ reason }))).catch(() => {}); // best effort
  if (s.orchestrator) {
    options.pool.recordFailure(s.orchestrator, new Error(reason));
    options.suspender.suspend(s.orchestrator, LIVE_VIDEO_PENALTY);
  }
  if (s.swaps >= MAX_SWAPS) {
    if (fail(s, `gave up after ${s.swaps} orchestrator moves; last: ${reason}`))
      log.warn({ stream_id: s.id, reason }, "stream failed");
    return;
  }
  s.swaps++;
  if (!transition(s, "lost")) return;
  log.warn({ stream_id: s.id, reason, swaps: s.swaps }, "moving the stream to another orchestrator");
  startOnNext(ctx, s).catch((err: unknown) => {
    if (fail(s, (err as Error).message)) log.warn({ stream_id: s.id, err }, "stream failed");
  });
}
