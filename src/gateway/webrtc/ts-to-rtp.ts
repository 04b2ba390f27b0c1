/**
 * WHEP playback's media path: the stream's output MPEG-TS segments (the orchestrator's processed
 * video, H.264 without B-frames, and Opus audio when the runner sends some) → access units and Opus
 * packets → RTP (H.264 as RFC 6184 FU-A / STAP-A, Opus as RFC 7587: one packet each) on two
 * WebRTC tracks, without re-encoding. Video RTP timestamps are the TS presentation times (both
 * 90 kHz); Opus RTP timestamps are the same times on Opus's 48 kHz clock, so a player lines the two
 * up as the TS did.
 */
import { randomInt } from "node:crypto";
import { H264Packetizer, RtpHeader, RtpPacket } from "werift";
import { TsReader, type TsUnit } from "./ts.ts";

/** RTP packets made from some TS bytes, per track. */
export interface MediaPackets {
  video: RtpPacket[];
  audio: RtpPacket[];
}

/** The dynamic payload type Opus RTP is stamped with (the sender rewrites it to the negotiated one). */
const OPUS_PAYLOAD_TYPE = 111;

/** TS bytes in, RTP packets out. A viewer joins at the first keyframe (audio from then on too). */
export class TsToRtp {
  readonly #reader = new TsReader();
  readonly #packetizer = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  #started = false;
  #opusSeq = randomInt(0x10000);
  /** Access units sent. */
  frames = 0;
  /** Opus packets sent. */
  audioPackets = 0;

  /** Feeds TS bytes; returns the RTP packets of the access units and Opus packets they completed. */
  push(chunk: Uint8Array): MediaPackets {
    return this.#packets(this.#reader.push(chunk));
  }

  /** The end of a segment: its last access unit (and Opus PES). */
  endSegment(): MediaPackets {
    return this.#packets(this.#reader.flush());
  }

  #packets(units: TsUnit[]): MediaPackets {
    const out: MediaPackets = { video: [], audio: [] };
    for (const u of units) {
      if (u.kind === "opus") {
        if (!this.#started) continue;
        this.#opusSeq = (this.#opusSeq + 1) & 0xffff;
        const header = new RtpHeader({
          payloadType: OPUS_PAYLOAD_TYPE,
          sequenceNumber: this.#opusSeq,
          timestamp: Math.round((u.pts * 48000) / 90000) % 2 ** 32,
        });
        out.audio.push(new RtpPacket(header, u.data));
        this.audioPackets++;
        continue;
      }
      if (!this.#started && !u.keyframe) continue;
      this.#started = true;
      this.frames++;
      out.video.push(...this.#packetizer.packetize(u.data, u.pts % 2 ** 32, { isKeyframe: u.keyframe }));
    }
    return out;
  }
}
