/**
 * keccak256, the hash of every Ethereum-facing byte string (ticket hashes, personal-sign digests,
 * addresses from public keys).
 *
 * Uses the `keccak` package's prebuilt N-API binding (the reference C implementation) when it loads,
 * about 6× faster than the pure-JavaScript hash (bench/payments/validate.ts: keccak was a third of a
 * ticket validation's CPU time), and viem's implementation otherwise. Both give the same bytes;
 * {@link keccakBackend} says which runs, and {@link usePureJsKeccak} forces the JavaScript one (the
 * CLI does when `TRIBUTARY_PURE_JS_KECCAK=1`).
 */
import { bytesToHex, type Hex, stringToBytes, keccak256 as viemKeccak256 } from "viem";
import { nativeKeccak256 } from "./keccak-native.ts";

const native = nativeKeccak256;
let nativeHash = native;

/** Which implementation {@link keccak256} uses. */
export let keccakBackend: "native" | "javascript" = nativeHash ? "native" : "javascript";

/**
 * Forces viem's pure-JavaScript hash (`pure`, the default), or goes back to the native binding when it
 * loaded. Both give the same bytes; for comparing speed and for platforms without the prebuilt binary.
 */
export function usePureJsKeccak(pure = true): void {
  nativeHash = pure ? undefined : native;
  keccakBackend = nativeHash ? "native" : "javascript";
}

/** keccak256 of `data` as 32 bytes. */
export function keccak256(data: Uint8Array): Uint8Array {
  return nativeHash ? nativeHash(data) : viemKeccak256(data, "bytes");
}

/** keccak256 of `data` as 0x-prefixed hex. */
export function keccak256Hex(data: Uint8Array): Hex {
  return bytesToHex(keccak256(data));
}

/** The EIP-191 personal-sign digest of `message`: keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message). */
export function personalMessageDigest(message: Uint8Array): Uint8Array {
  const prefix = stringToBytes(`\x19Ethereum Signed Message:\n${message.length}`);
  const buf = new Uint8Array(prefix.length + message.length);
  buf.set(prefix);
  buf.set(message, prefix.length);
  return keccak256(buf);
}
