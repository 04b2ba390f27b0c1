/**
 * WHIP ingest's media path: H.264 RTP packets → access units → MPEG-TS segments, and Opus RTP
 * packets into the same segments, without re-encoding. A segment is cut at the first keyframe after
 * {@link SEGMENT_MS}; when none came by then, a keyframe is asked for (the `requestKeyframe`
 * callback sends an RTCP PLI), at most once per {@link PLI_INTERVAL_MS}.
 *
 * Audio and video share the TS clock (90 kHz, starting at 0 with the first video keyframe). Their
 * RTP clocks have unrelated random origins, so the first Opus packet is placed where the video
 * stands when it arrives (the last video PTS plus the wall time since that frame arrived); later
 * packets follow from their RTP timestamps (48 kHz). The PMT declares Opus from the first segment
 * when the session negotiated audio (`expectAudio`), so the runner's demuxer opens the stream even if
 * the first Opus packet comes after the first keyframe; otherwise from the segment after the first
 * Opus packet arrived.
 */
import { H264RtpPayload, type RtpPacket } from "werift";
import { type AccessUnit, OPUS_TO_90K, TsWriter } from "./ts.ts";

/** Target segment length, ms (the orchestrator's trickle segments). */
export const SEGMENT_MS = 1_000;
/** Least time between two keyframe requests, ms. */
export const PLI_INTERVAL_MS = 500;

/** Joins RTP packets (RFC 6184: single NAL, STAP-A, FU-A) into access units, one per RTP timestamp. */
export class H264Depacketizer {
  #fragment: Buffer | undefined;
  #parts: Buffer[] = [];
  #ts: number | undefined;
  #lastSeq: number | undefined;
  #broken = false;
  #keyframe = false;

  /** Feeds one packet; returns the access unit it completed (marker bit), if any. */
  push(rtp: RtpPacket): { data: Buffer; timestamp: number; keyframe: boolean } | undefined {
    const { sequenceNumber: seq, timestamp, marker } = rtp.header;
    if (this.#lastSeq !== undefined && seq !== ((this.#lastSeq + 1) & 0xffff)) this.#broken = true;
    this.#lastSeq = seq;
    let done: { data: Buffer; timestamp: number; keyframe: boolean } | undefined;
    if (this.#ts !== undefined && timestamp !== this.#ts) done = this.#emit(); // marker lost
    this.#ts = timestamp;
    const p = H264RtpPayload.deSerialize(rtp.payload, this.#fragment);
    this.#fragment = p.fragment;
    if (p.payload && p.payload.length > 0) this.#parts.push(p.payload);
    if (p.isKeyframe) this.#keyframe = true;
    if (marker) done = this.#emit() ?? done;
    return done;
  }

  #emit(): { data: Buffer; timestamp: number; keyframe: boolean } | undefined {
    const parts = this.#parts;
    const broken = this.#broken;
    const keyframe = this.#keyframe;
    const timestamp = this.#ts as number;
    this.#parts = [];
    this.#fragment = undefined;
    this.#broken = false;
    this.#keyframe = false;
    this.#ts = undefined;
    if (parts.length === 0 || broken) return undefined;
    return { data: Buffer.concat(parts), timestamp, keyframe };
  }

  /** A packet was lost since the last access unit: the next one is dropped (the caller asks for a keyframe). */
  get lossSeen(): boolean {
    return this.#broken;
  }
}

/** Options of {@link RtpToTs}. */
export interface RtpToTsOptions {
  /** A finished segment (whole TS bytes), in order. */
  onSegment: (segment: Buffer) => void;
  /** Ask the sender for a keyframe (RTCP PLI). */
  requestKeyframe: () => void;
  segmentMs?: number;
  now?: () => number;
  /** The publisher negotiated audio: declare Opus from the first segment. */
  expectAudio?: boolean;
}

/** RTP in, MPEG-TS segments out (see the module comment). */
export class RtpToTs {
  readonly #opts: RtpToTsOptions;
  readonly #depack = new H264Depacketizer();
  readonly #ts = new TsWriter();
  #chunks: Buffer[] = [];
  #segmentStart = 0;
  #started = false;
  #lastPli = -Infinity;
  #lastTs: number | undefined;
  #ptsBase = 0;
  /** The last video PTS and when its frame arrived (the audio's anchor). */
  #lastVideo: { pts: number; at: number } | undefined;
  /** Audio: an Opus packet came; the first one's RTP timestamp and PTS; the unwrapped RTP offset. */
  #audioSeen = false;
  #audio: { pts0: number; lastTs: number; offset: number } | undefined;
  /** Access units put into segments. */
  frames = 0;
  /** Opus packets put into segments. */
  audioPackets = 0;

  constructor(opts: RtpToTsOptions) {
    this.#opts = opts;
    this.#audioSeen = opts.expectAudio === true;
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  #pli(): void {
    const now = this.#now();
    if (now - this.#lastPli < PLI_INTERVAL_MS) return;
    this.#lastPli = now;
    this.#opts.requestKeyframe();
  }

  /** 32-bit RTP timestamps (any start, wrapping) unwrapped to a PTS starting at 0. */
  #pts(timestamp: number): number {
    if (this.#lastTs === undefined) this.#ptsBase = 0;
    else this.#ptsBase += (timestamp - this.#lastTs) | 0; // signed 32-bit step: wraps and reorders
    this.#lastTs = timestamp;
    return Math.max(0, this.#ptsBase);
  }

  /** Feeds one RTP packet of the H.264 track. */
  push(rtp: RtpPacket): void {
    const au = this.#depack.push(rtp);
    if (this.#depack.lossSeen) this.#pli();
    if (au === undefined) return;
    const now = this.#now();
    if (!this.#started) {
      if (!au.keyframe) {
        this.#pli(); // a segment starts on a keyframe
        return;
      }
      this.#started = true;
      this.#segmentStart = now;
      this.#tables();
    } else if (now - this.#segmentStart >= (this.#opts.segmentMs ?? SEGMENT_MS)) {
      if (au.keyframe) {
        this.#cut();
        this.#segmentStart = now;
        this.#tables();
      } else this.#pli();
    }
    const unit: AccessUnit = { data: au.data, pts: this.#pts(au.timestamp), keyframe: au.keyframe };
    this.#lastVideo = { pts: unit.pts, at: now };
    this.#chunks.push(this.#ts.accessUnit(unit));
    this.frames++;
  }

  /** A segment's PAT and PMT; the PMT declares Opus once some came. */
  #tables(): void {
    this.#ts.audio = this.#audioSeen;
    this.#chunks.push(this.#ts.tables());
  }

  /** Feeds one RTP packet of the Opus track (one Opus packet each, RFC 7587). */
  pushOpus(rtp: RtpPacket): void {
    this.#audioSeen = true;
    if (!this.#ts.audio || this.#lastVideo === undefined || rtp.payload.length === 0) return;
    const ts = rtp.header.timestamp;
    let a = this.#audio;
    if (a === undefined) {
      const v = this.#lastVideo;
      a = { pts0: v.pts + (this.#now() - v.at) * 90, lastTs: ts, offset: 0 };
      this.#audio = a;
    }
    a.offset += (ts - a.lastTs) | 0; // signed 32-bit step, as for video
    a.lastTs = ts;
    const pts = Math.round(a.pts0 + a.offset * OPUS_TO_90K);
    if (pts < 0) return;
    this.#chunks.push(this.#ts.opus({ data: Buffer.from(rtp.payload), pts }));
    this.audioPackets++;
  }

  #cut(): void {
    if (this.#chunks.length === 0) return;
    const seg = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#opts.onSegment(seg);
  }

  /** Ends the last segment. */
  close(): void {
    this.#cut();
  }
}
