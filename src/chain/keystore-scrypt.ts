/**
 * scrypt (RFC 7914) in TypeScript, for the parameters OpenSSL refuses: OpenSSL enforces RFC 7914's
 * N < 2^(16·r), so `r = 1` with `N ≥ 65536` (the Web3 Secret Storage test vector uses N = 2^18,
 * r = 1, p = 8) fails in node:crypto while geth and ethers accept it. The outer PBKDF2-HMAC-SHA256
 * steps use node:crypto; only ROMix (Salsa20/8 BlockMix) is here. Slower than OpenSSL (a few
 * seconds for N = 2^18, r = 1, p = 8), so node:crypto is always tried first.
 */
import { pbkdf2Sync } from "node:crypto";

/** Salsa20/8 core on `b` (16 words) in place, with locals for speed. */
function salsa8(b: Uint32Array): void {
  const b0 = b[0] as number,
    b1 = b[1] as number,
    b2 = b[2] as number,
    b3 = b[3] as number;
  const b4 = b[4] as number,
    b5 = b[5] as number,
    b6 = b[6] as number,
    b7 = b[7] as number;
  const b8 = b[8] as number,
    b9 = b[9] as number,
    b10 = b[10] as number,
    b11 = b[11] as number;
  const b12 = b[12] as number,
    b13 = b[13] as number,
    b14 = b[14] as number,
    b15 = b[15] as number;
  let x0 = b0,
    x1 = b1,
    x2 = b2,
    x3 = b3,
    x4 = b4,
    x5 = b5,
    x6 = b6,
    x7 = b7;
  let x8 = b8,
    x9 = b9,
    x10 = b10,
    x11 = b11,
    x12 = b12,
    x13 = b13,
    x14 = b14,
    x15 = b15;
  let u: number;
  for (let i = 0; i < 8; i += 2) {
    u = (x0 + x12) | 0;
    x4 ^= (u << 7) | (u >>> 25);
    u = (x4 + x0) | 0;
    x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x4) | 0;
    x12 ^= (u << 13) | (u >>> 19);
    u = (x12 + x8) | 0;
    x0 ^= (u << 18) | (u >>> 14);
    u = (x5 + x1) | 0;
    x9 ^= (u << 7) | (u >>> 25);
    u = (x9 + x5) | 0;
    x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x9) | 0;
    x1 ^= (u << 13) | (u >>> 19);
    u = (x1 + x13) | 0;
    x5 ^= (u << 18) | (u >>> 14);
    u = (x10 + x6) | 0;
    x14 ^= (u << 7) | (u >>> 25);
    u = (x14 + x10) | 0;
    x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x14) | 0;
    x6 ^= (u << 13) | (u >>> 19);
    u = (x6 + x2) | 0;
    x10 ^= (u << 18) | (u >>> 14);
    u = (x15 + x11) | 0;
    x3 ^= (u << 7) | (u >>> 25);
    u = (x3 + x15) | 0;
    x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x3) | 0;
    x11 ^= (u << 13) | (u >>> 19);
    u = (x11 + x7) | 0;
    x15 ^= (u << 18) | (u >>> 14);
    u = (x0 + x3) | 0;
    x1 ^= (u << 7) | (u >>> 25);
    u = (x1 + x0) | 0;
    x2 ^= (u << 9) | (u >>> 23);
    u = (x2 + x1) | 0;
    x3 ^= (u << 13) | (u >>> 19);
    u = (x3 + x2) | 0;
    x0 ^= (u << 18) | (u >>> 14);
    u = (x5 + x4) | 0;
    x6 ^= (u << 7) | (u >>> 25);
    u = (x6 + x5) | 0;
    x7 ^= (u << 9) | (u >>> 23);
    u = (x7 + x6) | 0;
    x4 ^= (u << 13) | (u >>> 19);
    u = (x4 + x7) | 0;
    x5 ^= (u << 18) | (u >>> 14);
    u = (x10 + x9) | 0;
    x11 ^= (u << 7) | (u >>> 25);
    u = (x11 + x10) | 0;
    x8 ^= (u << 9) | (u >>> 23);
    u = (x8 + x11) | 0;
    x9 ^= (u << 13) | (u >>> 19);
    u = (x9 + x8) | 0;
    x10 ^= (u << 18) | (u >>> 14);
    u = (x15 + x14) | 0;
    x12 ^= (u << 7) | (u >>> 25);
    u = (x12 + x15) | 0;
    x13 ^= (u << 9) | (u >>> 23);
    u = (x13 + x12) | 0;
    x14 ^= (u << 13) | (u >>> 19);
    u = (x14 + x13) | 0;
    x15 ^= (u << 18) | (u >>> 14);
  }
  b[0] = x0 + b0;
  b[1] = x1 + b1;
  b[2] = x2 + b2;
  b[3] = x3 + b3;
  b[4] = x4 + b4;
  b[5] = x5 + b5;
  b[6] = x6 + b6;
  b[7] = x7 + b7;
  b[8] = x8 + b8;
  b[9] = x9 + b9;
  b[10] = x10 + b10;
  b[11] = x11 + b11;
  b[12] = x12 + b12;
  b[13] = x13 + b13;
  b[14] = x14 + b14;
  b[15] = x15 + b15;
}

/**
 * BlockMix: `src` (2r blocks of 16 words at `srcAt`) → `out` (at 0), even blocks to the first half,
 * odd blocks to the second; `t` is 16-word scratch.
 */
function blockMix(src: Uint32Array, srcAt: number, out: Uint32Array, r: number, t: Uint32Array): void {
  const last = srcAt + (2 * r - 1) * 16;
  for (let k = 0; k < 16; k++) t[k] = src[last + k] as number;
  for (let i = 0; i < 2 * r; i++) {
    const from = srcAt + i * 16;
    for (let k = 0; k < 16; k++) t[k] = (t[k] as number) ^ (src[from + k] as number);
    salsa8(t);
    const at = ((i & 1) * r + (i >> 1)) * 16;
    for (let k = 0; k < 16; k++) out[at + k] = t[k] as number;
  }
}

/** ROMix on `block` (32·r words) in place. */
function roMix(block: Uint32Array, n: number, r: number): void {
  const words = 32 * r;
  const v = new Uint32Array(words * (n + 1));
  const x = new Uint32Array(words);
  const t = new Uint32Array(16);
  v.set(block, 0);
  // V[i+1] = BlockMix(V[i]); X = V[N]
  for (let i = 0; i < n; i++) {
    blockMix(v, i * words, x, r, t);
    v.set(x, (i + 1) * words);
  }
  const y = new Uint32Array(words);
  for (let i = 0; i < n; i++) {
    const j = (x[(2 * r - 1) * 16] as number) & (n - 1);
    const from = j * words;
    for (let k = 0; k < words; k++) y[k] = (x[k] as number) ^ (v[from + k] as number);
    blockMix(y, 0, x, r, t);
  }
  block.set(x);
}

/** scrypt(password, salt, N, r, p, dkLen). `n` must be a power of two > 1. */
export function scryptFallback(
  password: Buffer,
  salt: Buffer,
  n: number,
  r: number,
  p: number,
  dkLen: number,
): Buffer {
  const blockBytes = 128 * r;
  const b = pbkdf2Sync(password, salt, 1, p * blockBytes, "sha256");
  for (let i = 0; i < p; i++) {
    const chunk = b.subarray(i * blockBytes, (i + 1) * blockBytes);
    const words = new Uint32Array(blockBytes / 4);
    for (let k = 0; k < words.length; k++) words[k] = chunk.readUInt32LE(k * 4);
    roMix(words, n, r);
    for (let k = 0; k < words.length; k++) chunk.writeUInt32LE(words[k] as number, k * 4);
  }
  return pbkdf2Sync(password, b, 1, dkLen, "sha256");
}
