/**
 * WHIP ingest (RFC 9725) into a native live stream: the publisher's H.264 track becomes the MPEG-TS
 * segments of the stream's `<channel>-in` on the gateway's trickle server, from where the usual
 * relay sends them to the orchestrator (paid as any live stream). The routes' HTTP side (query,
 * content type, keys, CORS) is in `../live/routes.ts`; this file owns the peer connection and its
 * lifecycle: a failed, closed or silent peer stops the stream (and so its payments).
 */
import type { IncomingMessage } from "node:http";
import type { MediaStreamTrack, RTCPeerConnection } from "werift";
import { LocalPublisher } from "../../trickle/index.ts";
import type { LiveContext } from "../live/context.ts";
import type { LiveStream, StreamFields } from "../live/stream.ts";
import { answerOffer, createPeer, type PeerOptions } from "./peer.ts";
import { RtpToTs } from "./rtp-to-ts.ts";

/** A publisher that sent no video this long (or never connected) stops its stream, ms. */
export const WHIP_SILENT_MS = 10_000;

/** What a WHIP POST produced. */
export interface WhipSession {
  stream: LiveStream;
  /** The SDP answer. */
  answer: string;
}

/** Options of {@link startWhip}. */
export interface WhipOptions extends PeerOptions {
  silentMs?: number;
}

/**
 * Answers the WHIP offer and opens the live stream (`fields`) behind it. On any failure the peer
 * is closed and nothing stays open.
 */
export async function startWhip(
  ctx: LiveContext,
  req: IncomingMessage,
  fields: StreamFields,
  offer: string,
  options: WhipOptions = {},
): Promise<WhipSession> {
  const pc = createPeer(options);
  // tracks arrive while the offer is applied, before the stream exists
  const tracks: MediaStreamTrack[] = [];
  const onTrack = pc.onTrack.subscribe((track) => tracks.push(track));
  let answer: string;
  try {
    pc.addTransceiver("video", { direction: "recvonly" });
    answer = await answerOffer(pc, offer);
  } catch (err) {
    await pc.close();
    throw err;
  }
  let s: LiveStream;
  try {
    s = await ctx.open(req, fields, { input: true, output: true, data: false });
  } catch (err) {
    await pc.close();
    throw err;
  }
  onTrack.unSubscribe();
  attach(ctx, s, pc, tracks, options.silentMs ?? WHIP_SILENT_MS);
  return { stream: s, answer };
}

/** Wires the peer's video into the stream's input channel and ties their lifecycles together. */
function attach(
  ctx: LiveContext,
  s: LiveStream,
  pc: RTCPeerConnection,
  tracks: MediaStreamTrack[],
  silentMs: number,
): void {
  const publisher = new LocalPublisher(ctx.trickle, `${s.channel}-in`, "video/MP2T");
  let lastMedia = Date.now();
  let pli: (() => void) | undefined;
  const muxer = new RtpToTs({
    onSegment: (segment) => {
      publisher.write(segment).catch((err: unknown) => {
        s.log.debug({ stream_id: s.id, err }, "whip segment not written (the stream ended)");
      });
    },
    requestKeyframe: () => pli?.(),
  });
  const onTrack = (track: MediaStreamTrack): void => {
    if (track.kind !== "video") return; // audio: not carried yet (see docs/webrtc.md)
    const receiver = pc.getTransceivers().find((t) => t.receiver.track === track)?.receiver;
    pli = () => {
      if (track.ssrc !== undefined) receiver?.sendRtcpPLI(track.ssrc).catch(() => {});
    };
    track.onReceiveRtp.subscribe((rtp) => {
      lastMedia = Date.now();
      muxer.push(rtp);
    });
  };
  for (const track of tracks) onTrack(track);
  pc.onTrack.subscribe(onTrack);
  let closed = false;
  const close = (why: string): void => {
    if (closed) return;
    closed = true;
    clearInterval(watchdog);
    muxer.close();
    pc.close().catch(() => {});
    if (!s.stopped.signal.aborted) {
      s.log.info(
        { stream_id: s.id, reason: why, frames: muxer.frames },
        "whip publisher gone: stopping the stream",
      );
      ctx.stop(s);
    }
  };
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastMedia > silentMs) close("silent");
    },
    Math.min(1_000, silentMs),
  );
  watchdog.unref();
  pc.connectionStateChange.subscribe((state) => {
    if (state === "failed" || state === "closed") close(state);
  });
  s.stopped.signal.addEventListener("abort", () => close("stopped"), { once: true });
}
