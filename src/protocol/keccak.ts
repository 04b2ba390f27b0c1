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
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { bytesToHex, type Hex, stringToBytes, keccak256 as viemKeccak256 } from "viem";

interface KeccakStateCtor {
  new (): {
    initialize(rate: number, capacity: number): void;
    absorb(data: Buffer): void;
    absorbLastFewBits(bits: number): void;
    squeeze(length: number): Buffer;
  };
}

function loadNative(): KeccakStateCtor | undefined {
  try {
    const bindings = createRequire(import.meta.url).resolve("keccak/bindings");
    // node-gyp-build as `keccak` itself resolves it: it finds the prebuilt binary for this platform.
    const nodeGypBuild = createRequire(bindings)("node-gyp-build") as (dir: string) => unknown;
    const addon = nodeGypBuild(dirname(bindings));
    return typeof addon === "function" ? (addon as KeccakStateCtor) : undefined;
  } catch {
    return undefined;
  }
}

const native = loadNative();
let NativeState = native;

/** Which implementation {@link keccak256} uses. */
export let keccakBackend: "native" | "javascript" = NativeState ? "native" : "javascript";

/**
 * Forces viem's pure-JavaScript hash (`pure`, the default), or goes back to the native binding when it
 * loaded. Both give the same bytes; for comparing speed and for platforms without the prebuilt binary.
 */
export function usePureJsKeccak(pure = true): void {
  NativeState = pure ? undefined : native;
  keccakBackend = NativeState ? "native" : "javascript";
}

/** One sponge reused by every call (hashing is synchronous; `initialize` resets it): a new one per hash cost more than the hash. */
let state: InstanceType<KeccakStateCtor> | undefined;

/** keccak256 of `data` as 32 bytes. */
export function keccak256(data: Uint8Array): Uint8Array {
  if (!NativeState) return viemKeccak256(data, "bytes");
  state ??= new NativeState();
  state.initialize(1088, 512); // keccak256: rate 1088 bits, capacity 512 bits
  state.absorb(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  state.absorbLastFewBits(0x01); // original Keccak padding (not SHA-3's 0x06)
  return new Uint8Array(state.squeeze(32));
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
