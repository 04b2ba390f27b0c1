/**
 * EIP-191 personal-sign signatures as go-livepeer makes and checks them (docs/spec/payments.md#signatures;
 * go-livepeer eth/accountmanager.go `Sign`, crypto/verify.go `VerifySig`).
 *
 * Signing: `personal_sign(msg)` = secp256k1 over keccak256("\x19Ethereum Signed Message:\n" ‖
 * len(msg) ‖ msg), output r ‖ s ‖ v with v ∈ {27, 28} and low s (viem/noble always produce low s).
 * Verification, in go-livepeer's order: length 65, s ≤ n/2, v ∈ {27, 28}, then recovery and an
 * address comparison.
 */
import { type Address, getAddress, type Hex, hexToBytes, size, stringToBytes } from "viem";
import type { LocalAccount } from "viem/accounts";
import { TributaryError } from "../node/errors.ts";
import { hexInto, uintToFixedBytes } from "../protocol/bigint-bytes.ts";
import { keccak256, personalMessageDigest } from "../protocol/keccak.ts";
import { SECP256K1_HALF_N } from "./constants.ts";
import { recoverSigner } from "./ecrecover.ts";

const HALF_N = uintToFixedBytes(SECP256K1_HALF_N);

/** True when the 32 bytes at `s[offset…]` exceed n/2 (a high-s signature). */
function highS(s: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 32; i++) {
    const d = s[offset + i]! - HALF_N[i]!;
    if (d !== 0) return d > 0;
  }
  return false;
}

/** The personal-sign digest of a 32-byte message (a hash: the common case) built in one reused buffer. */
const PREFIX32 = stringToBytes("\x19Ethereum Signed Message:\n32");
const personal32 = new Uint8Array(PREFIX32.length + 32);
personal32.set(PREFIX32);

function personalDigest(msg: Uint8Array): Uint8Array {
  if (msg.length !== 32) return personalMessageDigest(msg);
  personal32.set(msg, PREFIX32.length);
  return keccak256(personal32);
}

/** Why a signature failed verification; the texts are go-livepeer's. */
export type SigFailure =
  | "invalid signature length"
  | "signature s value too high"
  | "signature v value must be 27 or 28"
  | "signature recovery failed"
  | "signer mismatch";

/** Result of {@link checkSig}. */
export type SigCheck =
  | { valid: true; signer: Address }
  | { valid: false; reason: SigFailure; signer?: Address };

/** Anything that can personal-sign raw bytes: a viem LocalAccount, or a remote signer adapter. */
export interface MessageSigner {
  readonly address: Address;
  signMessage(args: { message: { raw: Hex | Uint8Array } }): Promise<Hex>;
}

/**
 * Personal-signs `msg` (e.g. a 32-byte ticket hash) and returns the 65-byte r ‖ s ‖ v signature with
 * v = 27/28. Throws if the signer returns anything else (e.g. a 64-byte EIP-2098 signature), since a
 * go-livepeer recipient would reject it.
 */
export async function signPersonal(
  signer: MessageSigner | LocalAccount,
  msg: Hex | Uint8Array,
): Promise<Hex> {
  const sig = await signer.signMessage({ message: { raw: msg } });
  if (size(sig) !== 65)
    throw new TributaryError(
      "BAD_SIGNER_SIGNATURE",
      `signer returned a ${size(sig)}-byte signature; 65 bytes are required`,
      { status: 500 },
    );
  const v = Number.parseInt(sig.slice(-2), 16);
  if (v !== 27 && v !== 28)
    throw new TributaryError("BAD_SIGNER_SIGNATURE", `signer returned v=${v}; 27 or 28 is required`, {
      status: 500,
    });
  return sig;
}

/**
 * Checks a personal-sign signature over `msg` against `expected`, in go-livepeer's order, and says
 * why it failed. Never throws.
 */
export async function checkSig(expected: Address, msg: Hex | Uint8Array, sig: Hex): Promise<SigCheck> {
  const bytes = new Uint8Array(65);
  if (!sig.startsWith("0x") || !hexInto(sig, 65, bytes))
    return { valid: false, reason: "invalid signature length" };
  if (highS(bytes, 32)) return { valid: false, reason: "signature s value too high" };
  const v = bytes[64];
  if (v !== 27 && v !== 28) return { valid: false, reason: "signature v value must be 27 or 28" };
  const signer = await recoverSigner(personalDigest(typeof msg === "string" ? hexToBytes(msg) : msg), bytes);
  if (signer === undefined) return { valid: false, reason: "signature recovery failed" };
  // `signer` is lower-case hex; `expected` may be checksummed
  if (signer !== expected.toLowerCase())
    return { valid: false, reason: "signer mismatch", signer: getAddress(signer) };
  return { valid: true, signer: expected };
}

/** Boolean form of {@link checkSig} (go-livepeer `VerifySig`). */
export async function verifySig(expected: Address, msg: Hex | Uint8Array, sig: Hex): Promise<boolean> {
  return (await checkSig(expected, msg, sig)).valid;
}

/**
 * go-livepeer's "sign a payload" scheme (`Broadcaster.Sign`, `orch.VerifySig(addr, msg, sig)`):
 * personal_sign(keccak256(msg)). Used for the OrchestratorRequest, SegData, BYOC sender and job
 * signatures and Ping. A string is taken as its UTF-8 bytes.
 */
export async function signPayload(
  signer: MessageSigner | LocalAccount,
  msg: string | Uint8Array,
): Promise<Hex> {
  return signPersonal(signer, keccak256(typeof msg === "string" ? stringToBytes(msg) : msg));
}

/** Checks a {@link signPayload} signature (go-livepeer `orch.VerifySig`). Never throws. */
export async function checkPayloadSig(
  expected: Address,
  msg: string | Uint8Array,
  sig: Hex,
): Promise<SigCheck> {
  return checkSig(expected, keccak256(typeof msg === "string" ? stringToBytes(msg) : msg), sig);
}

/**
 * The payload an `OrchestratorRequest.sig` signs: the gateway address as an EIP-55 checksummed
 * "0x…" string (go-livepeer `addr.Hex()`).
 */
export function orchestratorRequestPayload(address: Address): string {
  return getAddress(address);
}
