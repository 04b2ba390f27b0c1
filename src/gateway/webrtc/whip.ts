/**
 * WHIP ingest (RFC 9725) into a native live stream: the publisher's H.264 track (and its Opus
 * track, when it sends one) becomes the MPEG-TS segments of the stream's `<channel>-in` on the
 * gateway's trickle server, from where the usual relay sends them to the orchestrator (paid as any
 * live stream). The routes' HTTP side (query, content type, keys, CORS) is in `../live/routes.ts`;
 * this file owns the peer connection and its lifecycle: a failed, closed or silent peer (no video
 * RTP for `silentMs`, `--whip-silence-timeout`) stops the stream (and so its payments).
 */
import type { IncomingMessage } from "node:http";
import type { MediaStreamTrack, RTCPeerConnection } from "werift";
import { TributaryError } from "../../node/errors.ts";
import { LocalPublisher } from "../../trickle/index.ts";
import type { LiveContext } from "../live/context.ts";
import type { LiveStream, StreamFields } from "../live/stream.ts";
import { answerOffer, createPeer, offersAudio, type PeerOptions } from "./peer.ts";
import { RtpToTs } from "./rtp-to-ts.ts";
import { type IceSession, iceSession } from "./trickle-ice.ts";

/** A publisher that sent no video this long (or never connected) stops its stream, ms (`--whip-silence-timeout`). */
export const WHIP_SILENT_MS = 10_000;

/** What a WHIP POST produced. */
export interface WhipSession {
  stream: LiveStream;
  /** The SDP answer. */
  answer: string;
  /** The session's entity-tag (the 201's `ETag`, for trickle ICE `PATCH`). */
  etag: string;
}

/** Options of {@link startWhip}. */
export interface WhipOptions extends PeerOptions {
  /** Stop the stream after this long without video RTP, ms; default {@link WHIP_SILENT_MS}. */
  silentMs?: number;
}

/** The publisher sessions of running streams (trickle ICE `PATCH` on the WHIP URL). */
const sessions = new WeakMap<LiveStream, IceSession>();

/** The WHIP session feeding `s`, while its peer is open. */
export function whipSession(s: LiveStream): IceSession | undefined {
  return sessions.get(s);
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
  const p = await answerPublisher(offer, options);
  let s: LiveStream;
  try {
    s = await ctx.open(req, fields, { input: true, output: true, data: false });
  } catch (err) {
    await p.pc.close();
    throw err;
  }
  const session = attach(ctx, s, p, options.silentMs ?? WHIP_SILENT_MS);
  return { stream: s, answer: p.answer, etag: session.etag };
}

/** Streams fed by a WHIP publisher (one each). */
const published = new WeakSet<LiveStream>();

/**
 * Answers a WHIP offer for a stream that already runs (a BYOC stream started with video ingress):
 * its input comes from the publisher from now on. One publisher per stream.
 */
export async function whipInto(
  ctx: LiveContext,
  s: LiveStream,
  offer: string,
  options: WhipOptions = {},
): Promise<{ answer: string; etag: string }> {
  if (s.input === undefined)
    throw new TributaryError(
      "NO_VIDEO_CHANNEL",
      "the stream has no video input: start it with enable_video_ingress",
      {
        status: 409,
      },
    );
  if (published.has(s))
    throw new TributaryError(
      "PUBLISHER_EXISTS",
      "the stream already has a WHIP publisher: DELETE its session first",
      {
        status: 409,
      },
    );
  published.add(s);
  try {
    const p = await answerPublisher(offer, options);
    const session = attach(ctx, s, p, options.silentMs ?? WHIP_SILENT_MS);
    return { answer: p.answer, etag: session.etag };
  } catch (err) {
    published.delete(s);
    throw err;
  }
}

interface Publisher {
  pc: RTCPeerConnection;
  /** Tracks that arrived while the offer was applied (before the stream existed). */
  tracks: MediaStreamTrack[];
  answer: string;
  /** Stops collecting into {@link tracks} (the stream takes over). */
  collected: () => void;
}

async function answerPublisher(offer: string, options: PeerOptions): Promise<Publisher> {
  const pc = createPeer(options);
  const tracks: MediaStreamTrack[] = [];
  const onTrack = pc.onTrack.subscribe((track) => tracks.push(track));
  try {
    pc.addTransceiver("video", { direction: "recvonly" });
    if (offersAudio(offer)) pc.addTransceiver("audio", { direction: "recvonly" });
    const answer = await answerOffer(pc, offer);
    return { pc, tracks, answer, collected: () => onTrack.unSubscribe() };
  } catch (err) {
    onTrack.unSubscribe();
    await pc.close();
    throw err;
  }
}

/** Wires the peer's video and audio into the stream's input channel and ties their lifecycles together. */
function attach(ctx: LiveContext, s: LiveStream, p: Publisher, silentMs: number): IceSession {
  const { pc, tracks } = p;
  p.collected();
  published.add(s);
  const session = iceSession(pc);
  sessions.set(s, session);
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
    expectAudio: pc.getTransceivers().some((t) => t.kind === "audio" && t.currentDirection !== "inactive"),
  });
  const onTrack = (track: MediaStreamTrack): void => {
    if (track.kind === "audio") {
      track.onReceiveRtp.subscribe((rtp) => muxer.pushOpus(rtp));
      return;
    }
    if (track.kind !== "video") return;
    const receiver = (
      pc.getTransceivers().find((t) => t.receiver.tracks.includes(track)) ??
      pc.getTransceivers().find((t) => t.kind === "video")
    )?.receiver;
    // the media SSRC as the packets carry it (the SDP may not announce one)
    let ssrc = track.ssrc;
    pli = () => {
      if (ssrc !== undefined) receiver?.sendRtcpPLI(ssrc).catch(() => {});
    };
    track.onReceiveRtp.subscribe((rtp) => {
      lastMedia = Date.now();
      ssrc = rtp.header.ssrc;
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
    if (sessions.get(s) === session) sessions.delete(s);
    muxer.close();
    pc.close().catch(() => {});
    if (!s.stopped.signal.aborted) {
      s.log.info(
        { stream_id: s.id, reason: why, frames: muxer.frames, audio_packets: muxer.audioPackets },
        "whip publisher gone: stopping the stream",
      );
      ctx.stop(s);
    }
  };
  // 0: no watchdog of its own (the stream's --live-idle-timeout still applies)
  const watchdog =
    silentMs > 0
      ? setInterval(
          () => {
            if (Date.now() - lastMedia > silentMs) close("silent");
          },
          Math.min(1_000, silentMs),
        )
      : undefined;
  watchdog?.unref();
  pc.connectionStateChange.subscribe((state) => {
    if (state === "failed" || state === "closed") close(state);
  });
  s.stopped.signal.addEventListener("abort", () => close("stopped"), { once: true });
  return session;
}
