/**
 * WHEP playback of a live stream's output: the `<channel>-out` segments on the gateway's trickle
 * server (what the relay reads from the orchestrator) are sent to the viewer as H.264 RTP. One
 * peer connection per viewer; it closes when the viewer's connection fails or the stream ends.
 */
import { MediaStreamTrack, type RTCPeerConnection } from "werift";
import { TributaryError } from "../../node/errors.ts";
import {
  type LocalSegment,
  LocalSubscriber,
  TrickleSegmentNotFoundError,
  TrickleStreamNotFoundError,
} from "../../trickle/index.ts";
import type { LiveContext } from "../live/context.ts";
import type { LiveStream } from "../live/stream.ts";
import { answerOffer, createPeer, type PeerOptions } from "./peer.ts";
import { TsToRtp } from "./ts-to-rtp.ts";

/** Answers a WHEP offer for `s`'s output; returns the SDP answer. */
export async function startWhep(
  ctx: LiveContext,
  s: LiveStream,
  offer: string,
  options: PeerOptions = {},
): Promise<string> {
  if (s.output === undefined)
    throw new TributaryError(
      "NO_VIDEO_CHANNEL",
      "the stream has no video output: start it with enable_video_egress",
      {
        status: 409,
      },
    );
  const pc = createPeer(options);
  const track = new MediaStreamTrack({ kind: "video" });
  let answer: string;
  try {
    pc.addTransceiver(track, { direction: "sendonly" });
    answer = await answerOffer(pc, offer);
  } catch (err) {
    await pc.close();
    throw err;
  }
  const viewer = new AbortController();
  const signal = AbortSignal.any([viewer.signal, s.stopped.signal]);
  const close = (): void => {
    viewer.abort();
    pc.close().catch(() => {});
  };
  pc.connectionStateChange.subscribe((state) => {
    if (state === "failed" || state === "closed") close();
  });
  signal.addEventListener("abort", close, { once: true });
  void play(ctx, s, pc, track, signal).finally(close);
  return answer;
}

async function play(
  ctx: LiveContext,
  s: LiveStream,
  _pc: RTCPeerConnection,
  track: MediaStreamTrack,
  signal: AbortSignal,
): Promise<void> {
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
      for await (const chunk of seg) for (const p of rtp.push(chunk)) track.writeRtp(p);
    } catch {
      if (signal.aborted) return;
    }
    for (const p of rtp.endSegment()) track.writeRtp(p);
  }
}
