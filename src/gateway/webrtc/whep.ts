/**
 * WHEP playback of a live stream's output: the `<channel>-out` segments on the gateway's trickle
 * server (what the relay reads from the orchestrator) are sent to the viewer as H.264 RTP, and their
 * Opus audio (what the runner SDK encodes) as Opus RTP when the viewer offers audio. One
 * peer connection per viewer; it closes when the viewer's connection fails, the viewer DELETEs its
 * resource URL ({@link endWhepViewer}) or the stream ends. At most `maxViewers` per stream
 * (`--max-whep-viewers`, {@link DEFAULT_MAX_WHEP_VIEWERS}): each costs a peer connection, a trickle
 * reader and the RTP packetizing of every segment.
 */
import { randomUUID } from "node:crypto";
import { MediaStreamTrack, type RtpPacket } from "werift";
import { TributaryError } from "../../node/errors.ts";
import {
  type LocalSegment,
  LocalSubscriber,
  TrickleSegmentNotFoundError,
  TrickleStreamNotFoundError,
} from "../../trickle/index.ts";
import type { LiveContext } from "../live/context.ts";
import type { LiveStream } from "../live/stream.ts";
import { answerOffer, createPeer, offersAudio, type PeerOptions } from "./peer.ts";
import { type IceSession, iceSession } from "./trickle-ice.ts";
import { TsToRtp } from "./ts-to-rtp.ts";

/** WHEP viewers per stream by default: a small room's worth, each costing a peer and a reader. */
export const DEFAULT_MAX_WHEP_VIEWERS = 8;

/** Options of {@link startWhep}. */
export interface WhepOptions extends PeerOptions {
  /** Most viewers of one stream at once; default {@link DEFAULT_MAX_WHEP_VIEWERS}. */
  maxViewers?: number;
}

/** A viewer started by {@link startWhep}: its id (for its resource URL), the SDP answer and its ETag. */
export interface WhepViewer {
  id: string;
  answer: string;
  /** The session's entity-tag (the 201's `ETag`, for trickle ICE `PATCH`). */
  etag: string;
}

/** One viewer: what ends it, and its session (trickle ICE). */
interface Viewer {
  end: () => void;
  session: IceSession | undefined;
}

/** The stream's viewers by id. */
const viewersOf = new WeakMap<LiveStream, Map<string, Viewer>>();

/** How many WHEP viewers `s` has now. */
export function whepViewerCount(s: LiveStream): number {
  return viewersOf.get(s)?.size ?? 0;
}

/** Ends viewer `id` of `s` (WHEP `DELETE` on its resource URL); false when there is no such viewer. */
export function endWhepViewer(s: LiveStream, id: string): boolean {
  const v = viewersOf.get(s)?.get(id);
  if (v === undefined) return false;
  v.end();
  return true;
}

/** Viewer `id`'s session (trickle ICE `PATCH` on its resource URL), once answered. */
export function whepSession(s: LiveStream, id: string): IceSession | undefined {
  return viewersOf.get(s)?.get(id)?.session;
}

/** Answers a WHEP offer for `s`'s output; 503 `WHEP_VIEWERS_FULL` when `s` already has `maxViewers`. */
export async function startWhep(
  ctx: LiveContext,
  s: LiveStream,
  offer: string,
  options: WhepOptions = {},
): Promise<WhepViewer> {
  if (s.output === undefined)
    throw new TributaryError(
      "NO_VIDEO_CHANNEL",
      "the stream has no video output: start it with enable_video_egress",
      {
        status: 409,
      },
    );
  const max = options.maxViewers ?? DEFAULT_MAX_WHEP_VIEWERS;
  const viewers = viewersOf.get(s) ?? new Map<string, Viewer>();
  viewersOf.set(s, viewers);
  if (viewers.size >= max)
    throw new TributaryError(
      "WHEP_VIEWERS_FULL",
      `the stream already has ${max} WHEP viewers (--max-whep-viewers); try again when one leaves`,
      { status: 503 },
    );
  // the place is taken before the answer is awaited, so concurrent offers cannot overshoot
  const id = randomUUID();
  const pc = createPeer(options);
  const viewer = new AbortController();
  const close = (): void => {
    viewers.delete(id);
    viewer.abort();
    pc.close().catch(() => {});
  };
  const viewerEntry: Viewer = { end: close, session: undefined };
  viewers.set(id, viewerEntry);
  const track = new MediaStreamTrack({ kind: "video" });
  const audio = offersAudio(offer) ? new MediaStreamTrack({ kind: "audio" }) : undefined;
  let answer: string;
  try {
    pc.addTransceiver(track, { direction: "sendonly" });
    if (audio) pc.addTransceiver(audio, { direction: "sendonly" });
    answer = await answerOffer(pc, offer);
  } catch (err) {
    viewers.delete(id);
    await pc.close();
    throw err;
  }
  const signal = AbortSignal.any([viewer.signal, s.stopped.signal]);
  pc.connectionStateChange.subscribe((state) => {
    if (state === "failed" || state === "closed") close();
  });
  signal.addEventListener("abort", close, { once: true });
  viewerEntry.session = iceSession(pc);
  void play(ctx, s, { video: track, audio }, signal).finally(close);
  return { id, answer, etag: viewerEntry.session.etag };
}

async function play(
  ctx: LiveContext,
  s: LiveStream,
  tracks: { video: MediaStreamTrack; audio: MediaStreamTrack | undefined },
  signal: AbortSignal,
): Promise<void> {
  const send = (p: { video: RtpPacket[]; audio: RtpPacket[] }): void => {
    for (const v of p.video) tracks.video.writeRtp(v);
    if (tracks.audio) for (const a of p.audio) tracks.audio.writeRtp(a);
  };
  const sub = new LocalSubscriber(ctx.trickle, `${s.channel}-out`, { start: -2, signal });
  const rtp = new TsToRtp();
  while (!signal.aborted) {
    let seg: LocalSegment;
    try {
      seg = sub.read();
    } catch (err) {
      if (err instanceof TrickleSegmentNotFoundError) {
        sub.setSeq(-1);
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // the output channel appears with the orchestrator's first segment: wait for it
      if (err instanceof TrickleStreamNotFoundError) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      return; // the output ended
    }
    try {
      for await (const chunk of seg) send(rtp.push(chunk));
    } catch {
      if (signal.aborted) return;
    }
    send(rtp.endSegment());
  }
}
