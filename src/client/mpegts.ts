/**
 * A small MPEG-TS reader (no I/O) for client-side live statistics: finds the first video stream
 * through the PAT and PMT (ISO/IEC 13818-1 §2.4.4) and counts its PES packets (one per frame in what
 * FFmpeg muxes) with their presentation timestamps.
 */
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../media/ts-check.ts";

/** Stream types of video in a PMT: MPEG-1/2, MPEG-4 part 2, H.264, HEVC. */
const VIDEO_STREAM_TYPES = new Set([0x01, 0x02, 0x10, 0x1b, 0x24]);

/** What {@link scanMpegTs} found in one buffer. */
export interface TsVideoScan {
  /** PES packets (frames) of the first video stream. */
  videoFrames: number;
  /** PTS of the first and last of those frames (90 kHz), when they carry one. */
  firstPts: number | undefined;
  lastPts: number | undefined;
  /** Largest PTS seen (frames may come out of presentation order). */
  maxPts: number | undefined;
}

/**
 * Scans whole TS packets of `bytes` (a segment starts with its own PAT/PMT; pass `videoPid` learnt
 * from an earlier segment when it does not). Malformed packets are skipped, never thrown on.
 */
export function scanMpegTs(
  bytes: Uint8Array,
  videoPid?: number,
): TsVideoScan & { videoPid: number | undefined } {
  let pmtPid: number | undefined;
  let pid = videoPid;
  const out: TsVideoScan = { videoFrames: 0, firstPts: undefined, lastPts: undefined, maxPts: undefined };
  for (let at = 0; at + TS_PACKET_SIZE <= bytes.length; at += TS_PACKET_SIZE) {
    if (bytes[at] !== TS_SYNC_BYTE) continue;
    const b1 = bytes[at + 1] as number;
    const pusi = (b1 & 0x40) !== 0;
    const packetPid = ((b1 & 0x1f) << 8) | (bytes[at + 2] as number);
    const afc = ((bytes[at + 3] as number) >> 4) & 0x3;
    if ((afc & 0x1) === 0) continue; // no payload
    let p = at + 4;
    if (afc === 0x3) p += 1 + (bytes[p] as number);
    const end = at + TS_PACKET_SIZE;
    if (p >= end) continue;
    if (packetPid === 0 && pusi) {
      p += 1 + (bytes[p] as number); // pointer_field
      // table header (8 bytes), then 4-byte program entries until the CRC
      const sectionLength = (((bytes[p + 1] as number) & 0x0f) << 8) | (bytes[p + 2] as number);
      const last = Math.min(end, p + 3 + sectionLength - 4);
      for (let e = p + 8; e + 4 <= last; e += 4) {
        const program = ((bytes[e] as number) << 8) | (bytes[e + 1] as number);
        if (program !== 0) {
          pmtPid = (((bytes[e + 2] as number) & 0x1f) << 8) | (bytes[e + 3] as number);
          break;
        }
      }
    } else if (packetPid === pmtPid && pusi && pid === undefined) {
      p += 1 + (bytes[p] as number);
      const sectionLength = (((bytes[p + 1] as number) & 0x0f) << 8) | (bytes[p + 2] as number);
      const last = Math.min(end, p + 3 + sectionLength - 4);
      const infoLength = (((bytes[p + 10] as number) & 0x0f) << 8) | (bytes[p + 11] as number);
      for (let e = p + 12 + infoLength; e + 5 <= last; ) {
        const type = bytes[e] as number;
        const esPid = (((bytes[e + 1] as number) & 0x1f) << 8) | (bytes[e + 2] as number);
        const esInfo = (((bytes[e + 3] as number) & 0x0f) << 8) | (bytes[e + 4] as number);
        if (VIDEO_STREAM_TYPES.has(type)) {
          pid = esPid;
          break;
        }
        e += 5 + esInfo;
      }
    } else if (packetPid === pid && pusi) {
      if (bytes[p] !== 0 || bytes[p + 1] !== 0 || bytes[p + 2] !== 1) continue;
      out.videoFrames++;
      const flags = bytes[p + 7] as number;
      if ((flags & 0x80) !== 0 && p + 14 <= end) {
        const pts = readPts(bytes, p + 9);
        out.firstPts ??= pts;
        out.lastPts = pts;
        if (out.maxPts === undefined || pts > out.maxPts) out.maxPts = pts;
      }
    }
  }
  return { ...out, videoPid: pid };
}

/** A 33-bit PES timestamp at `at` (5 bytes with marker bits). */
function readPts(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) >> 1) & 0x07) * 2 ** 30 +
    ((b[at + 1] as number) << 22) +
    (((b[at + 2] as number) >> 1) << 15) +
    ((b[at + 3] as number) << 7) +
    ((b[at + 4] as number) >> 1)
  );
}
