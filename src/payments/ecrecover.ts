/**
 * secp256k1 public-key recovery, the dominant cost of ticket validation.
 *
 * Uses libsecp256k1 through the `secp256k1` package's prebuilt N-API binding when it loads (the same C
 * library go-ethereum's `crypto.Ecrecover` uses with cgo), and viem's pure-JavaScript implementation
 * otherwise. bench/payments/validate.ts measured the JavaScript path at about 1/35 of go-ethereum's
 * rate and the native one on par with it; {@link ecrecoverBackend} says which one runs, and
 * {@link usePureJsSecp256k1} forces the JavaScript one (the CLI does when
 * `TRIBUTARY_PURE_JS_SECP256K1=1`).
 */
import { createRequire } from "node:module";
import { type Address, bytesToHex, recoverAddress } from "viem";
import { keccak256Hex } from "../protocol/keccak.ts";

interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
}

function loadNative(): NativeSecp256k1 | undefined {
  try {
    // `secp256k1/bindings` is the native build only (no silent fallback to the slow `elliptic` path).
    return createRequire(import.meta.url)("secp256k1/bindings") as NativeSecp256k1;
  } catch {
    return undefined;
  }
}

const loaded = loadNative();
let native = loaded;

/** Which implementation {@link recoverSigner} uses: `"libsecp256k1"` or `"javascript"`. */
export let ecrecoverBackend: "libsecp256k1" | "javascript" = native ? "libsecp256k1" : "javascript";

/**
 * Forces viem's pure-JavaScript recovery (`pure`, the default), or goes back to libsecp256k1 when it
 * loaded. Both recover the same address; for comparing speed and for platforms without the binding.
 */
export function usePureJsSecp256k1(pure = true): void {
  native = pure ? undefined : loaded;
  ecrecoverBackend = native ? "libsecp256k1" : "javascript";
}

/**
 * Recovers the address (lower-case hex; compare with `isAddressEqual`) that signed the 32-byte `digest` with the 65-byte r ‖ s ‖ v signature
 * (v = 27/28). Returns undefined when no key recovers (an invalid r or s). Range checks on v and s
 * are the caller's (go-livepeer checks them before recovery, and so does `checkSig`).
 */
export async function recoverSigner(digest: Uint8Array, sig: Uint8Array): Promise<Address | undefined> {
  if (digest.length !== 32 || sig.length !== 65) return undefined;
  const v = sig[64]!;
  if (native) {
    try {
      const pub = native.ecdsaRecover(sig.subarray(0, 64), v - 27, digest, false);
      // Lower-case hex: EIP-55 checksumming costs another keccak and callers compare case-insensitively.
      return `0x${keccak256Hex(pub.subarray(1)).slice(26)}`;
    } catch {
      return undefined;
    }
  }
  try {
    return await recoverAddress({ hash: bytesToHex(digest), signature: bytesToHex(sig) });
  } catch {
    return undefined;
  }
}
