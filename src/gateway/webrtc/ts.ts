/**
 * A minimal MPEG-TS writer and reader for H.264 and Opus (ISO/IEC 13818-1; Opus as ETSI TS 103 491
 * defines it and FFmpeg's mpegts muxer writes it): the WHIP side wraps access units received over RTP into TS
 * segments without re-encoding, the WHEP side takes them back out of the orchestrator's TS
 * segments. One program, PMT on PID 0x1000, video on 0x100 (also the PCR PID), Opus on 0x101;
 * every segment starts with a PAT and a PMT.
 *
 * Opus in TS: stream_type 0x06 (private PES), a registration descriptor `Opus` and a DVB extension
 * descriptor (tag 0x7f, extension 0x80) giving the channel configuration; PES stream_id 0xbd; each
 * Opus packet in the PES is preceded by an opus_control_header (`0x7fe0` with the trim and
 * extension flags, then the packet size as a run of 0xff bytes and a last byte under 0xff).
 */
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../../media/ts-check.ts";

const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
const AUDIO_PID = 0x101;
const STREAM_TYPE_H264 = 0x1b;
/** PES private data: Opus is recognised by its registration descriptor. */
const STREAM_TYPE_PRIVATE = 0x06;
/** The `Opus` format identifier of the registration descriptor (tag 0x05). */
const OPUS_REGISTRATION = Buffer.from("Opus", "latin1");
/** Opus's channel_config_code in the DVB extension descriptor: 2 = stereo, RTP mapping (what WebRTC's opus/48000/2 declares). */
const OPUS_CHANNEL_CONFIG = 2;
/** PES stream_id of private_stream_1, which carries Opus. */
const PES_PRIVATE_1 = 0xbd;

/** Opus RTP and TS clocks: 48 kHz against 90 kHz. */
export const OPUS_TO_90K = 90000 / 48000;

function crc32Mpeg(b: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of b) {
    crc ^= byte << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

/** One H.264 access unit: Annex-B bytes and its presentation time (90 kHz). */
export interface AccessUnit {
  data: Buffer;
  pts: number;
  keyframe: boolean;
}

/** One Opus packet (as RTP carries it) and its presentation time (90 kHz). */
export interface OpusPacket {
  data: Buffer;
  pts: number;
}

/** The 5-byte PES timestamp field of `pts` (marker `0x21`: PTS only). */
function ptsField(pts: number): Buffer {
  return Buffer.from([
    0x21 | (Math.floor(pts / 2 ** 29) & 0x0e),
    (pts >>> 22) & 0xff,
    ((pts >>> 14) & 0xfe) | 1,
    (pts >>> 7) & 0xff,
    ((pts << 1) & 0xfe) | 1,
  ]);
}

/** The opus_control_header before one Opus packet (no trims, no extension). */
export function opusControlHeader(size: number): Buffer {
  const run = Math.floor(size / 255);
  const out = Buffer.alloc(2 + run + 1, 0xff);
  out[0] = 0x7f;
  out[1] = 0xe0;
  out[out.length - 1] = size - run * 255;
  return out;
}

/**
 * Duration of an Opus packet in 48 kHz samples, from its TOC byte (RFC 6716 §3.1): the frame size
 * of its configuration times its frame count; 0 for an empty or malformed packet.
 */
export function opusSamples(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const config = toc >> 3;
  // frame length in 1/400 s: SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms
  const frame400 =
    config < 12 ? [4, 8, 16, 24][config & 3] : config < 16 ? [4, 8][config & 1] : [1, 2, 4, 8][config & 3];
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : (packet[1] ?? 0) & 0x3f;
  return ((frame400 as number) * frames * 48000) / 400;
}

/** Writes TS packets, keeping continuity counters across segments. */
export class TsWriter {
  readonly #cc = new Map<number, number>();
  /** The PMT declares the Opus stream (set it before the segment's {@link tables}). */
  audio = false;

  #packet(pid: number, pusi: boolean, payload: Buffer, pcr?: number): { bytes: Buffer; used: number } {
    const out = Buffer.alloc(TS_PACKET_SIZE, 0xff);
    const cc = this.#cc.get(pid) ?? 0;
    this.#cc.set(pid, (cc + 1) & 0xf);
    out[0] = TS_SYNC_BYTE;
    out[1] = (pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f);
    out[2] = pid & 0xff;
    let at = 4;
    const room = TS_PACKET_SIZE - 4 - (pcr !== undefined ? 8 : 0);
    const used = Math.min(room, payload.length);
    if (pcr !== undefined || used < TS_PACKET_SIZE - 4) {
      // adaptation field: PCR and/or stuffing
      const afLen = TS_PACKET_SIZE - 4 - used - 1;
      out[3] = 0x30 | cc;
      out[4] = afLen;
      if (afLen > 0) {
        out[5] = pcr !== undefined ? 0x10 : 0x00;
        if (pcr !== undefined) {
          const base = Math.floor(pcr) % 2 ** 33;
          out[6] = Math.floor(base / 2 ** 25) & 0xff;
          out[7] = (base >>> 17) & 0xff;
          out[8] = (base >>> 9) & 0xff;
          out[9] = (base >>> 1) & 0xff;
          out[10] = ((base & 1) << 7) | 0x7e;
          out[11] = 0;
        }
      }
      at = 5 + afLen;
    } else {
      out[3] = 0x10 | cc;
    }
    payload.copy(out, at, 0, used);
    return { bytes: out, used };
  }

  #section(pid: number, section: Buffer): Buffer {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32Mpeg(section));
    return this.#packet(pid, true, Buffer.concat([Buffer.from([0]), section, crc])).bytes;
  }

  /** PAT and PMT. */
  tables(): Buffer {
    const pat = Buffer.from([
      0x00,
      0xb0,
      0x0d,
      0x00,
      0x01,
      0xc1,
      0x00,
      0x00,
      0x00,
      0x01,
      0xf0 | (PMT_PID >> 8),
      PMT_PID & 0xff,
    ]);
    const streams = [Buffer.from([STREAM_TYPE_H264, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00])];
    if (this.audio) {
      const descriptors = Buffer.concat([
        Buffer.from([0x05, 4]),
        OPUS_REGISTRATION,
        Buffer.from([0x7f, 2, 0x80, OPUS_CHANNEL_CONFIG]),
      ]);
      streams.push(
        Buffer.from([
          STREAM_TYPE_PRIVATE,
          0xe0 | (AUDIO_PID >> 8),
          AUDIO_PID & 0xff,
          0xf0,
          descriptors.length,
        ]),
        descriptors,
      );
    }
    const body = Buffer.concat([
      Buffer.from([0x00, 0x01, 0xc1, 0x00, 0x00, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00]),
      ...streams,
    ]);
    // section_length counts everything after it, CRC included
    const pmt = Buffer.concat([Buffer.from([0x02, 0xb0, body.length + 4]), body]);
    return Buffer.concat([this.#section(0, pat), this.#section(PMT_PID, pmt)]);
  }

  /** One access unit as a PES packet (PTS = DTS; WebRTC H.264 has no B-frames). */
  accessUnit(au: AccessUnit): Buffer {
    const pts = au.pts % 2 ** 33;
    // PES length 0 (unbounded): allowed for video only
    const header = Buffer.concat([
      Buffer.from([0x00, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x80, 0x80, 0x05]),
      ptsField(pts),
    ]);
    const aud = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
    return this.#pes(VIDEO_PID, Buffer.concat([header, aud, au.data]), pts);
  }

  /** One Opus packet as a PES packet of the audio PID (declare it first: {@link audio}). */
  opus(packet: OpusPacket): Buffer {
    const pts = packet.pts % 2 ** 33;
    const payload = Buffer.concat([opusControlHeader(packet.data.length), packet.data]);
    const pesLength = 3 + 5 + payload.length; // flags, header length, PTS, then the data
    const header = Buffer.concat([
      Buffer.from([0x00, 0x00, 0x01, PES_PRIVATE_1, pesLength >> 8, pesLength & 0xff, 0x84, 0x80, 0x05]),
      ptsField(pts),
    ]);
    return this.#pes(AUDIO_PID, Buffer.concat([header, payload]));
  }

  #pes(pid: number, pes: Buffer, pcr?: number): Buffer {
    const out: Buffer[] = [];
    let rest = pes;
    let first = true;
    while (rest.length > 0) {
      const { bytes, used } = this.#packet(pid, first, rest, first ? pcr : undefined);
      out.push(bytes);
      rest = rest.subarray(used);
      first = false;
    }
    return Buffer.concat(out);
  }
}

/** What {@link TsReader} takes out of TS bytes: H.264 access units and Opus packets, in stream order. */
export type TsUnit = ({ kind: "video" } & AccessUnit) | ({ kind: "opus" } & OpusPacket);

/** A PES packet being gathered, and its bytes so far. */
interface PesBuffer {
  parts: Buffer[];
  size: number;
}

/**
 * Reads TS bytes fed in any chunking (PAT → PMT → the first H.264 PID and the first Opus PID, found
 * by its `Opus` registration descriptor): H.264 access units and Opus packets, each with its PTS.
 * A PES of Opus may hold several packets (FFmpeg gathers them): each gets the PTS of the first plus
 * the durations of those before it.
 */
export class TsReader {
  #pmtPid: number | undefined;
  #videoPid: number | undefined;
  #audioPid: number | undefined;
  readonly #video: PesBuffer = { parts: [], size: 0 };
  readonly #audio: PesBuffer = { parts: [], size: 0 };
  #carry = Buffer.alloc(0);

  /** The stream carries Opus (its PMT declared it). */
  get hasOpus(): boolean {
    return this.#audioPid !== undefined;
  }

  /** Feeds bytes; returns the units completed by them. */
  push(chunk: Uint8Array): TsUnit[] {
    const out: TsUnit[] = [];
    let bytes = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : Buffer.from(chunk);
    let at = 0;
    while (at + TS_PACKET_SIZE <= bytes.length) {
      if (bytes[at] !== TS_SYNC_BYTE) {
        at++;
        continue;
      }
      this.#packet(bytes.subarray(at, at + TS_PACKET_SIZE), out);
      at += TS_PACKET_SIZE;
    }
    bytes = bytes.subarray(at);
    this.#carry = Buffer.from(bytes);
    return out;
  }

  /** The units still open at the end of a segment. */
  flush(): TsUnit[] {
    const out: TsUnit[] = [];
    this.#finishVideo(out);
    this.#finishAudio(out);
    return out;
  }

  #packet(p: Buffer, out: TsUnit[]): void {
    const pusi = ((p[1] as number) & 0x40) !== 0;
    const pid = (((p[1] as number) & 0x1f) << 8) | (p[2] as number);
    const afc = ((p[3] as number) >> 4) & 0x3;
    if ((afc & 1) === 0) return;
    let at = 4;
    if (afc & 2) at += 1 + (p[4] as number);
    if (at >= TS_PACKET_SIZE) return;
    const payload = p.subarray(at);
    if (pid === 0 && pusi) this.#pat(payload.subarray(1 + (payload[0] as number)));
    else if (pid === this.#pmtPid && pusi) this.#pmt(payload.subarray(1 + (payload[0] as number)));
    else if (pid === this.#videoPid) {
      if (pusi) this.#finishVideo(out);
      if (pusi || this.#video.parts.length > 0) gather(this.#video, payload);
    } else if (pid === this.#audioPid) {
      if (pusi) this.#finishAudio(out);
      if (pusi || this.#audio.parts.length > 0) gather(this.#audio, payload);
      // an audio PES says its length: it is done when that much came, not at the next one
      const first = this.#audio.parts[0];
      if (first !== undefined && first.length >= 6) {
        const length = ((first[4] as number) << 8) | (first[5] as number);
        if (length > 0 && this.#audio.size >= 6 + length) this.#finishAudio(out);
      }
    }
  }

  #pat(s: Buffer): void {
    const len = (((s[1] as number) & 0x0f) << 8) | (s[2] as number);
    for (let i = 8; i + 4 <= 3 + len - 4; i += 4) {
      const program = ((s[i] as number) << 8) | (s[i + 1] as number);
      if (program !== 0) {
        this.#pmtPid = (((s[i + 2] as number) & 0x1f) << 8) | (s[i + 3] as number);
        return;
      }
    }
  }

  #pmt(s: Buffer): void {
    const len = (((s[1] as number) & 0x0f) << 8) | (s[2] as number);
    const infoLen = (((s[10] as number) & 0x0f) << 8) | (s[11] as number);
    for (let i = 12 + infoLen; i + 5 <= 3 + len - 4; ) {
      const type = s[i] as number;
      const esPid = (((s[i + 1] as number) & 0x1f) << 8) | (s[i + 2] as number);
      const esInfo = (((s[i + 3] as number) & 0x0f) << 8) | (s[i + 4] as number);
      if (type === STREAM_TYPE_H264) this.#videoPid ??= esPid;
      else if (type === STREAM_TYPE_PRIVATE && isOpus(s.subarray(i + 5, i + 5 + esInfo)))
        this.#audioPid ??= esPid;
      i += 5 + esInfo;
    }
  }

  #finishVideo(out: TsUnit[]): void {
    const pes = takePes(this.#video);
    if (pes === undefined) return;
    out.push({ kind: "video", data: pes.data, pts: pes.pts, keyframe: hasIdr(pes.data) });
  }

  #finishAudio(out: TsUnit[]): void {
    const pes = takePes(this.#audio);
    if (pes === undefined) return;
    let pts = pes.pts;
    for (const data of opusPackets(pes.data)) {
      out.push({ kind: "opus", data, pts });
      pts += opusSamples(data) * OPUS_TO_90K;
    }
  }
}

function gather(b: PesBuffer, payload: Buffer): void {
  b.parts.push(Buffer.from(payload));
  b.size += payload.length;
}

/** The PES gathered in `b` (emptied): its payload and PTS; undefined when it is not a PES. */
function takePes(b: PesBuffer): { data: Buffer; pts: number } | undefined {
  if (b.parts.length === 0) return undefined;
  const pes = Buffer.concat(b.parts);
  b.parts = [];
  b.size = 0;
  if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return undefined;
  const flags = pes[7] as number;
  const hlen = pes[8] as number;
  let pts = 0;
  if (flags & 0x80) {
    const t = pes.subarray(9, 14);
    pts =
      (((t[0] as number) >> 1) & 0x07) * 2 ** 30 +
      ((t[1] as number) << 22) +
      (((t[2] as number) >> 1) << 15) +
      ((t[3] as number) << 7) +
      ((t[4] as number) >> 1);
  }
  // a bounded PES (audio) may end before the TS packet's stuffing-free payload does
  const length = ((pes[4] as number) << 8) | (pes[5] as number);
  const end = length > 0 ? Math.min(pes.length, 6 + length) : pes.length;
  return { data: pes.subarray(9 + hlen, end), pts };
}

/** The ES descriptors carry the `Opus` registration. */
function isOpus(descriptors: Buffer): boolean {
  for (let i = 0; i + 2 <= descriptors.length; i += 2 + (descriptors[i + 1] as number)) {
    if (descriptors[i] === 0x05 && descriptors.subarray(i + 2, i + 6).equals(OPUS_REGISTRATION)) return true;
  }
  return false;
}

/** The Opus packets of a PES payload, each behind its opus_control_header (trims and extensions skipped). */
export function opusPackets(payload: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 3 <= payload.length) {
    if (payload[at] !== 0x7f || ((payload[at + 1] as number) & 0xe0) !== 0xe0) break;
    const flags = payload[at + 1] as number;
    at += 2;
    let size = 0;
    for (;;) {
      const b = payload[at++];
      if (b === undefined) return out;
      size += b;
      if (b !== 0xff) break;
    }
    if (flags & 0x10) at += 2; // start_trim
    if (flags & 0x08) at += 2; // end_trim
    if (flags & 0x04) at += 1 + (payload[at] ?? 0); // control_extension
    if (at + size > payload.length) break;
    out.push(payload.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Reads the H.264 access units of TS bytes (a {@link TsReader} that leaves out audio). */
export class TsH264Reader {
  readonly #reader = new TsReader();

  /** Feeds bytes; returns the access units completed by them. */
  push(chunk: Uint8Array): AccessUnit[] {
    return videoOf(this.#reader.push(chunk));
  }

  /** The access unit still open at the end of a segment. */
  flush(): AccessUnit[] {
    return videoOf(this.#reader.flush());
  }
}

function videoOf(units: TsUnit[]): AccessUnit[] {
  const out: AccessUnit[] = [];
  for (const u of units) if (u.kind === "video") out.push({ data: u.data, pts: u.pts, keyframe: u.keyframe });
  return out;
}

/** The NAL units of Annex-B bytes (start codes removed). */
export function nalUnits(annexB: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  for (let i = 0; i + 2 < annexB.length; i++) {
    if (annexB[i] === 0 && annexB[i + 1] === 0 && annexB[i + 2] === 1) {
      if (start >= 0) out.push(trimZeros(annexB.subarray(start, i)));
      start = i + 3;
      i += 2;
    }
  }
  if (start >= 0 && start < annexB.length) out.push(annexB.subarray(start));
  return out.filter((n) => n.length > 0);
}

function trimZeros(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

/** The access unit holds an IDR slice (NAL type 5). */
export function hasIdr(annexB: Buffer): boolean {
  return nalUnits(annexB).some((n) => ((n[0] as number) & 0x1f) === 5);
}
