/**
 * The gateway's WebRTC peer connections (werift, pure TypeScript): the codecs both WHIP and WHEP
 * negotiate (H.264 packetization-mode 1 with NACK and PLI feedback, Opus), ICE servers from
 * `--ice-servers`, host candidates including loopback, and the non-trickle answer (every candidate
 * gathered before the SDP is answered, as WHIP/WHEP clients such as OBS expect).
 */
import { type RTCIceServer, RTCPeerConnection, RTCRtpCodecParameters } from "werift";
import { BadRequestError } from "../../node/errors.ts";

/** H.264 as offered by browsers and OBS: constrained baseline, packetization-mode 1. */
export const H264_CODEC = (): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({
    mimeType: "video/H264",
    clockRate: 90000,
    rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }, { type: "goog-remb" }],
    parameters: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
  });

export const OPUS_CODEC = (): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({ mimeType: "audio/opus", clockRate: 48000, channels: 2 });

/** How long the answer waits for ICE gathering before answering with what it has, ms. */
export const ICE_GATHER_TIMEOUT_MS = 5_000;

/** Options of {@link createPeer}. */
export interface PeerOptions {
  /** STUN/TURN servers (none on loopback or a public host). */
  iceServers?: RTCIceServer[];
}

/** A werift peer connection with the gateway's codecs. */
export function createPeer(options: PeerOptions = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    codecs: { video: [H264_CODEC()], audio: [OPUS_CODEC()] },
    iceServers: options.iceServers ?? [],
    iceUseIpv4: true,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ["127.0.0.1"],
  });
}

/** The SDP offers an audio media section (WHIP/WHEP answer it with an Opus transceiver). */
export function offersAudio(sdp: string): boolean {
  return /^m=audio /m.test(sdp);
}

/** Resolves once the peer gathered its candidates (or after {@link ICE_GATHER_TIMEOUT_MS}). */
export async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ICE_GATHER_TIMEOUT_MS);
    timer.unref();
    const sub = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === "complete") done();
    });
    function done(): void {
      clearTimeout(timer);
      sub.unSubscribe();
      resolve();
    }
  });
}

/**
 * Answers `offer` (an SDP string) on `pc` with every candidate gathered; `prepare` runs between the
 * remote description and the answer (add the tracks to send there).
 */
export async function answerOffer(
  pc: RTCPeerConnection,
  offer: string,
  prepare: () => void = () => {},
): Promise<string> {
  if (!offer.startsWith("v=0"))
    throw new BadRequestError("the body must be an SDP offer (starting v=0)", { code: "BAD_SDP" });
  try {
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
  } catch (err) {
    throw new BadRequestError(`the SDP offer could not be used: ${(err as Error).message}`, {
      code: "BAD_SDP",
    });
  }
  prepare();
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription?.sdp ?? "";
}

/**
 * Parses `--ice-servers`: a comma-separated list of `stun:` / `turn:` URLs, a TURN URL may carry
 * `user:password@` (`turn:user:pass@host:3478`), or a JSON array of `RTCIceServer`s.
 */
export function parseIceServers(text: string | undefined): RTCIceServer[] {
  const t = (text ?? "").trim();
  if (t === "") return [];
  if (t.startsWith("[")) {
    const v = JSON.parse(t) as unknown;
    if (!Array.isArray(v))
      throw new BadRequestError("--ice-servers JSON must be an array", { code: "BAD_ICE_SERVERS" });
    return v as RTCIceServer[];
  }
  return t.split(",").map((raw) => {
    const u = raw.trim();
    const m = /^(stuns?|turns?):(?:([^:@]+):([^@]+)@)?(.+)$/.exec(u);
    if (!m)
      throw new BadRequestError(`--ice-servers: ${u} is not a stun: or turn: URL`, {
        code: "BAD_ICE_SERVERS",
      });
    const server: RTCIceServer = { urls: `${m[1]}:${m[4]}` };
    if (m[2] !== undefined) {
      server.username = m[2];
      server.credential = m[3];
    }
    return server;
  });
}
