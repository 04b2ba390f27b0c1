/**
 * A minimal MPEG-TS writer and reader for H.264 (ISO/IEC 13818-1): the WHIP side wraps access
 * units received over RTP into TS segments without re-encoding, the WHEP side takes the access
 * units back out of the orchestrator's TS segments. One program, PMT on PID 0x1000, video on 0x100
 * (also the PCR PID); every segment starts with a PAT and a PMT.
 */
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from "../../media/ts-check.ts";

const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
const STREAM_TYPE_H264 = 0x1b;

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

/** Writes TS packets, keeping continuity counters across segments. */
export class TsWriter {
  readonly #cc = new Map<number, number>();

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
    const pmt = Buffer.from([
      0x02,
      0xb0,
      0x12,
      0x00,
      0x01,
      0xc1,
      0x00,
      0x00,
      0xe0 | (VIDEO_PID >> 8),
      VIDEO_PID & 0xff,
      0xf0,
      0x00,
      STREAM_TYPE_H264,
      0xe0 | (VIDEO_PID >> 8),
      VIDEO_PID & 0xff,
      0xf0,
      0x00,
    ]);
    return Buffer.concat([this.#section(0, pat), this.#section(PMT_PID, pmt)]);
  }

  /** One access unit as a PES packet (PTS = DTS; WebRTC H.264 has no B-frames). */
  accessUnit(au: AccessUnit): Buffer {
    const pts = au.pts % 2 ** 33;
    const header = Buffer.from([
      0x00,
      0x00,
      0x01,
      0xe0,
      0x00,
      0x00,
      0x80,
      0x80,
      0x05,
      0x21 | (Math.floor(pts / 2 ** 29) & 0x0e),
      (pts >>> 22) & 0xff,
      ((pts >>> 14) & 0xfe) | 1,
      (pts >>> 7) & 0xff,
      ((pts << 1) & 0xfe) | 1,
    ]);
    const aud = Buffer.from([0, 0, 0, 1, 0x09, 0xf0]);
    let rest = Buffer.concat([header, aud, au.data]);
    const out: Buffer[] = [];
    let first = true;
    while (rest.length > 0) {
      const { bytes, used } = this.#packet(VIDEO_PID, first, rest, first ? pts : undefined);
      out.push(bytes);
      rest = rest.subarray(used);
      first = false;
    }
    return Buffer.concat(out);
  }
}

/** Reads H.264 access units out of TS bytes fed in any chunking (PAT → PMT → the first H.264 PID). */
export class TsH264Reader {
  #pmtPid: number | undefined;
  #videoPid: number | undefined;
  #pes: Buffer[] = [];
  #carry = Buffer.alloc(0);

  /** Feeds bytes; returns the access units completed by them. */
  push(chunk: Uint8Array): AccessUnit[] {
    const out: AccessUnit[] = [];
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

  /** The access unit still open at the end of a segment. */
  flush(): AccessUnit[] {
    const au = this.#finish();
    return au ? [au] : [];
  }

  #packet(p: Buffer, out: AccessUnit[]): void {
    const pusi = ((p[1] as number) & 0x40) !== 0;
    const pid = (((p[1] as number) & 0x1f) << 8) | (p[2] as number);
    const afc = ((p[3] as number) >> 4) & 0x3;
    if ((afc & 1) === 0) return;
    let at = 4;
    if (afc & 2) at += 1 + (p[4] as number);
    if (at >= TS_PACKET_SIZE) return;
    const payload = p.subarray(at);
    if (pid === 0 && pusi) {
      const s = payload.subarray(1 + (payload[0] as number));
      const len = (((s[1] as number) & 0x0f) << 8) | (s[2] as number);
      for (let i = 8; i + 4 <= 3 + len - 4; i += 4) {
        const program = ((s[i] as number) << 8) | (s[i + 1] as number);
        if (program !== 0) {
          this.#pmtPid = (((s[i + 2] as number) & 0x1f) << 8) | (s[i + 3] as number);
          break;
        }
      }
      return;
    }
    if (pid === this.#pmtPid && pusi) {
      const s = payload.subarray(1 + (payload[0] as number));
      const len = (((s[1] as number) & 0x0f) << 8) | (s[2] as number);
      const infoLen = (((s[10] as number) & 0x0f) << 8) | (s[11] as number);
      for (let i = 12 + infoLen; i + 5 <= 3 + len - 4; ) {
        const type = s[i] as number;
        const esPid = (((s[i + 1] as number) & 0x1f) << 8) | (s[i + 2] as number);
        const esInfo = (((s[i + 3] as number) & 0x0f) << 8) | (s[i + 4] as number);
        if (type === STREAM_TYPE_H264 && this.#videoPid === undefined) this.#videoPid = esPid;
        i += 5 + esInfo;
      }
      return;
    }
    if (pid !== this.#videoPid) return;
    if (pusi) {
      const au = this.#finish();
      if (au) out.push(au);
    }
    if (pusi || this.#pes.length > 0) this.#pes.push(Buffer.from(payload));
  }

  #finish(): AccessUnit | undefined {
    if (this.#pes.length === 0) return undefined;
    const pes = Buffer.concat(this.#pes);
    this.#pes = [];
    if (pes.length < 9 || pes[0] !== 0 || pes[1] !== 0 || pes[2] !== 1) return undefined;
    const flags = pes[7] as number;
    const hlen = pes[8] as number;
    let pts = 0;
    if (flags & 0x80) {
      const b = pes.subarray(9, 14);
      pts =
        (((b[0] as number) >> 1) & 0x07) * 2 ** 30 +
        ((b[1] as number) << 22) +
        (((b[2] as number) >> 1) << 15) +
        ((b[3] as number) << 7) +
        ((b[4] as number) >> 1);
    }
    const data = pes.subarray(9 + hlen);
    return { data, pts, keyframe: hasIdr(data) };
  }
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
