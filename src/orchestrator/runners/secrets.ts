/**
 * Identifiers and secrets of live runners. Each runner has a random 32-byte seed; every credential
 * it is given is an HMAC-SHA256 of the seed under a label, so nothing but the seed is stored:
 * the heartbeat secret (`heartbeat`), each session's token (`session:<id>`), the o2r channel name
 * part (`trickle:o2r`) and each session's channel name part (`channel:<id>`). Compared in constant
 * time. Encoded as lowercase hex (go-livepeer uses unpadded base32; the value is opaque to runners).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A new runner seed. */
export function newSeed(): Buffer {
  return randomBytes(32);
}

/** The secret derived from `seed` under `label` (64 hex characters). */
export function deriveSecret(seed: Uint8Array, label: string): string {
  return createHmac("sha256", seed).update(label).digest("hex");
}

/** True when `got` equals `want`, compared in constant time. */
export function sameSecret(got: string, want: string): boolean {
  const a = createHash("sha256").update(got).digest();
  const b = createHash("sha256").update(want).digest();
  return timingSafeEqual(a, b) && got.length === want.length;
}

/** A runner id: `runner_` + 40 random bits (go-livepeer's size). */
export function newRunnerId(): string {
  return `runner_${randomBytes(5).toString("hex")}`;
}

/** A session id: `session_` + 128 random bits (go-livepeer: 40 bits). */
export function newSessionId(): string {
  return `session_${randomBytes(16).toString("hex")}`;
}

/** A generated proxy id: 128 random bits (go-livepeer's size). */
export function newProxyId(): string {
  return randomBytes(16).toString("hex");
}

/** A duration in go's `time.Duration.String()` form for whole and fractional seconds ("5s", "1.5s", "250ms"). */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}
