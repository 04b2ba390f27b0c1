/**
 * secp256k1 public-key recovery, the dominant cost of ticket validation.
 *
 * Uses libsecp256k1 through the `secp256k1` package's prebuilt N-API binding when it and the native
 * keccak load (secp256k1-native.ts; the same C library go-ethereum's `crypto.Ecrecover` uses with
 * cgo, though an older release of it), and viem's pure-JavaScript implementation otherwise. bench/payments/validate.ts measured
 * the JavaScript path at about 1/35 of go-ethereum's rate and the native one close to it;
 * {@link ecrecoverBackend} says which one runs, and {@link usePureJsSecp256k1} forces the JavaScript
 * one (the CLI does when `TRIBUTARY_PURE_JS_SECP256K1=1`).
 *
 * A process may hand recoveries to worker threads (verify-pool.ts, installed with
 * {@link useRecoveryPool}) so that they use every core; {@link recoverSigner} then sends them there.
 */
import { type Address, bytesToHex, recoverAddress } from "viem";
import { bytesToHexDigits } from "../protocol/bigint-bytes.ts";
import { nativeRecoveryLoaded, recoverAddressNative } from "./secp256k1-native.ts";

const loaded = nativeRecoveryLoaded;
let native = loaded;

/** Which implementation {@link recoverSigner} uses: `"libsecp256k1"` or `"javascript"`. */
export let ecrecoverBackend: "libsecp256k1" | "javascript" = native ? "libsecp256k1" : "javascript";

/**
 * Forces viem's pure-JavaScript recovery (`pure`, the default), or goes back to libsecp256k1 when it
 * loaded. Both recover the same address; for comparing speed and for platforms without the binding.
 */
export function usePureJsSecp256k1(pure = true): void {
  native = pure ? false : loaded;
  ecrecoverBackend = native ? "libsecp256k1" : "javascript";
}

/** Somewhere else to run recoveries (verify-pool.ts's worker threads). */
export interface RecoveryPool {
  /** How many recoveries it runs at once. */
  readonly threads: number;
  /** True when a recovery should go to the pool rather than run on this thread now. */
  wants(): boolean;
  /** {@link recoverSignerHere} on a worker thread. */
  recover(digest: Uint8Array, sig: Uint8Array): Promise<Address | undefined>;
}

let pool: RecoveryPool | undefined;

/**
 * Sends {@link recoverSigner}'s recoveries to `p` from now on (undefined: run them on this thread).
 * Returns the pool it replaces.
 */
export function useRecoveryPool(p: RecoveryPool | undefined): RecoveryPool | undefined {
  const before = pool;
  pool = p;
  return before;
}

/** How many recoveries can run at once: the installed pool's threads, or 1. */
export function recoveryParallelism(): number {
  return pool?.threads ?? 1;
}

/**
 * Recovers the address (lower-case hex; compare with `isAddressEqual`) that signed the 32-byte `digest`
 * with the 65-byte r ‖ s ‖ v signature (v = 27/28). Returns undefined when no key recovers (an
 * invalid r or s). Range checks on v and s are the caller's (go-livepeer checks them before
 * recovery, and so does `checkSig`). Runs on the installed {@link useRecoveryPool} when it wants the work.
 */
export function recoverSigner(digest: Uint8Array, sig: Uint8Array): Promise<Address | undefined> {
  if (pool?.wants() && digest.length === 32 && sig.length === 65) return pool.recover(digest, sig);
  return recoverSignerHere(digest, sig);
}

/** {@link recoverSigner} on this thread, whatever pool is installed. */
export async function recoverSignerHere(digest: Uint8Array, sig: Uint8Array): Promise<Address | undefined> {
  if (native) return recoverSignerNative(digest, sig);
  if (digest.length !== 32 || sig.length !== 65) return undefined;
  try {
    return await recoverAddress({ hash: bytesToHex(digest), signature: bytesToHex(sig) });
  } catch {
    return undefined;
  }
}

/**
 * {@link recoverSigner} with libsecp256k1, synchronously; undefined also when the binding did not
 * load (check {@link ecrecoverBackend}).
 */
export function recoverSignerNative(digest: Uint8Array, sig: Uint8Array): Address | undefined {
  if (!native) return undefined;
  const address = recoverAddressNative(digest, sig);
  // Lower-case hex: EIP-55 checksumming costs another keccak and callers compare case-insensitively.
  return address && `0x${bytesToHexDigits(address)}`;
}
