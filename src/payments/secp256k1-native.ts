/**
 * libsecp256k1 public-key recovery through the `secp256k1` package's prebuilt N-API binding, loaded
 * without anything else: ecrecover.ts chooses between it and viem's JavaScript recovery, and the
 * signature-recovery workers (verify-worker.ts) use it alone, so that they do not load viem.
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { nativeKeccak256 } from "../protocol/keccak-native.ts";

/** The binding's own object: `ecdsaRecover` writes the 65-byte uncompressed key and returns 0, or an error code. */
interface NativeSecp256k1 {
  ecdsaRecover(output: Uint8Array, sig64: Uint8Array, recid: number, msg32: Uint8Array): number;
}

function load(): NativeSecp256k1 | undefined {
  try {
    // The prebuilt binary only, found as `secp256k1/bindings` finds it, but without its argument
    // checks and output allocation (the lengths are checked here): no fallback to its slow `elliptic` path.
    const require = createRequire(import.meta.url);
    const bindings = require.resolve("secp256k1/bindings");
    const nodeGypBuild = createRequire(bindings)("node-gyp-build") as (dir: string) => {
      Secp256k1: new () => NativeSecp256k1;
    };
    return new (nodeGypBuild(dirname(bindings)).Secp256k1)();
  } catch {
    return undefined;
  }
}

const secp = load();
/** The uncompressed public key of the last recovery (recovery is synchronous). */
const pubkey = new Uint8Array(65);

/** True when the binding (and the native keccak it hashes keys with) loaded. */
export const nativeRecoveryLoaded = secp !== undefined && nativeKeccak256 !== undefined;

/**
 * Recovers the signer of the 32-byte `digest` from the 65-byte r ‖ s ‖ v signature (v = 27…30) and
 * returns its 20-byte address (a view valid until the next call), or undefined when no key recovers,
 * the lengths are wrong, or the binding did not load.
 */
export function recoverAddressNative(digest: Uint8Array, sig: Uint8Array): Uint8Array | undefined {
  if (!secp || !nativeKeccak256 || digest.length !== 32 || sig.length !== 65) return undefined;
  const recid = sig[64]! - 27;
  if (recid < 0 || recid > 3) return undefined;
  if (secp.ecdsaRecover(pubkey, sig.subarray(0, 64), recid, digest) !== 0) return undefined;
  return nativeKeccak256(pubkey.subarray(1)).subarray(12);
}
