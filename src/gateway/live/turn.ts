/**
 * One orchestrator's turn with a stream: opens the orchestrator's channels, runs the relay loops
 * (relay.ts) and the top-ups (topups.ts), and decides what the end of the turn means.
 *
 * The client's end of input (it closes `<channel>-in`) closes the orchestrator's input channel, so the
 * container sees the end of its input, flushes what it holds and closes its output. From then on
 * the end of the orchestrator's output and data channels (and of its events channel when neither
 * exists) is the normal end of the stream: `<channel>-out` and `<channel>-data` are closed after
 * their last segment, the state becomes `ended`, and nothing moves. Bounded by
 * {@link END_DRAIN_TIMEOUT_MS}. Any other end of the turn (a relay failed, the output or events
 * channel ended, the events watchdog) is a lost turn: `onLost` moves the stream (failover.ts).
 */
import type { Logger } from "../../node/logger.ts";
import { TricklePublisher, TrickleSubscriber } from "../../trickle/index.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import { END_DRAIN_TIMEOUT_MS, type LiveContext, ORCH_TLS } from "./context.ts";
import { type RelayName, readEvents, relayData, relayInput, relayOutput, type TurnControl } from "./relay.ts";
import { type LiveStream, type OrchUrls, transition } from "./stream.ts";
import { startTopUps } from "./topups.ts";

/**
 * Relays between the gateway's channels and orchestrator `d` (channels `urls`) until the turn ends.
 * `onLost(reason)` is called when the turn ended on its own (not a stop, not the stream's end).
 */
export function runTurn(
  ctx: LiveContext,
  s: LiveStream,
  urls: OrchUrls,
  log: Logger,
  d: OrchestratorDescriptor,
  onLost: (reason: string) => void,
): void {
  if (!transition(s, "started")) return; // stopped while the start was answered
  const turn = new AbortController();
  const signal = AbortSignal.any([turn.signal, s.stopped.signal]);
  s.turn = turn;
  s.lastEventAt = Date.now();
  s.control = urls.controlUrl
    ? new TricklePublisher(urls.controlUrl, { tls: ORCH_TLS, mimeType: "application/json" })
    : undefined;
  const ingress =
    s.input && urls.publishUrl
      ? new TricklePublisher(urls.publishUrl, { tls: ORCH_TLS, mimeType: "video/MP2T", signal })
      : undefined;
  const egress =
    s.output && urls.subscribeUrl
      ? new TrickleSubscriber(urls.subscribeUrl, { tls: ORCH_TLS, signal, start: -1 })
      : undefined;
  const dataIn =
    s.data && urls.dataUrl
      ? new TrickleSubscriber(urls.dataUrl, { tls: ORCH_TLS, signal, start: 0 })
      : undefined;
  const events = new TrickleSubscriber(urls.eventsUrl, { tls: ORCH_TLS, signal, start: 0 });
  s.stats.pendingInputs = [];

  /** Orchestrator channels (`output`, `data`, `events`) that ended after the input ended. */
  const drained = new Set<RelayName>();
  let drainTimer: NodeJS.Timeout | undefined;
  /** The stream ended normally: the input ended and the orchestrator's channels drained. */
  const finish = (why: string): void => {
    if (signal.aborted) return;
    if (!transition(s, "drained")) return;
    log.info({ stream_id: s.id, why }, "stream ended (input ended, output drained)");
    turn.abort(new Error("stream ended"));
  };
  const control: TurnControl = {
    s,
    log,
    signal,
    abort: (reason) => turn.abort(reason),
    drained(name) {
      drained.add(name);
      const waiting = [egress && "output", dataIn && "data"].filter((n) => n && !drained.has(n as RelayName));
      if (waiting.length === 0 && (egress || dataIn || drained.has("events"))) finish(`${name} ended`);
    },
    async endInput() {
      s.inputEnded = true;
      log.info({ stream_id: s.id }, "client input ended; closing the orchestrator's input");
      drainTimer = setTimeout(
        () => finish(`no end of output within ${END_DRAIN_TIMEOUT_MS} ms of the input's end`),
        END_DRAIN_TIMEOUT_MS,
      );
      drainTimer.unref();
      await ingress?.close();
    },
  };

  const loops: [RelayName, Promise<void>][] = [];
  if (ingress && s.input) {
    // After a move, continue with the next input segment (the one in flight went to the old turn).
    if (s.swaps > 0) s.input.setSeq(-1);
    loops.push(["input", relayInput(control, s.input, ingress)]);
  }
  if (egress && s.output) loops.push(["output", relayOutput(control, egress, s.output)]);
  if (dataIn && s.data) loops.push(["data", relayData(control, dataIn, s.data)]);
  loops.push(["events", readEvents(control, events)]);
  startTopUps(ctx.options, s, d, urls, log, signal);
  for (const [name, p] of loops)
    p.catch((err: unknown) => {
      if (signal.aborted) return;
      if (s.inputEnded && name !== "input") {
        // The container closed its channels at the end of its input (a 404 before any segment).
        log.debug({ stream_id: s.id, err }, `stream ${name} ended after the input`);
        control.drained(name);
        return;
      }
      log.warn({ stream_id: s.id, err }, `stream ${name} relay failed`);
      turn.abort(err);
    });

  signal.addEventListener(
    "abort",
    () => {
      clearTimeout(drainTimer);
      void ingress?.close().catch(() => {});
      void s.control?.close().catch(() => {}); // the orchestrator ends the stream there
      egress?.close();
      dataIn?.close();
      events.close();
      if (s.stopped.signal.aborted) return;
      if (s.state === "ended") return ctx.end(s);
      // The orchestrator's turn ended on its own: move the stream.
      onLost((turn.signal.reason as Error | undefined)?.message ?? "unknown");
    },
    { once: true },
  );
}
