/**
 * WHEP playback's media path: the stream's output MPEG-TS segments (the orchestrator's processed
 * video, H.264 without B-frames) → access units → RTP (RFC 6184, FU-A / STAP-A) on a WebRTC track,
 * without re-encoding. RTP timestamps are the TS presentation times (both 90 kHz).
 */
import { H264Packetizer, type RtpPacket } from "werift";
import { TsH264Reader } from "./ts.ts";

/** TS bytes in, RTP packets out. A viewer joins at the first keyframe. */
export class TsToRtp {
  readonly #reader = new TsH264Reader();
  readonly #packetizer = new H264Packetizer({ payloadType: 96, inputFormat: "annexb" });
  #started = false;
  /** Access units sent. */
  frames = 0;

  /** Feeds TS bytes; returns the RTP packets of the access units they completed. */
  push(chunk: Uint8Array): RtpPacket[] {
    return this.#packets(this.#reader.push(chunk));
  }

  /** The end of a segment: its last access unit. */
  endSegment(): RtpPacket[] {
    return this.#packets(this.#reader.flush());
  }

  #packets(units: { data: Buffer; pts: number; keyframe: boolean }[]): RtpPacket[] {
    const out: RtpPacket[] = [];
    for (const au of units) {
      if (!this.#started && !au.keyframe) continue;
      this.#started = true;
      this.frames++;
      out.push(...this.#packetizer.packetize(au.data, au.pts % 2 ** 32, { isKeyframe: au.keyframe }));
    }
    return out;
  }
}
