/**
 * The `keccak` package's prebuilt N-API binding (the reference C implementation), loaded without
 * anything else: keccak.ts chooses between it and viem's JavaScript hash, and the signature-recovery
 * workers (src/payments/verify-worker.ts) use it alone, so that they do not load viem.
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";

interface KeccakStateCtor {
  new (): {
    initialize(rate: number, capacity: number): void;
    absorb(data: Buffer): void;
    absorbLastFewBits(bits: number): void;
    squeeze(length: number): Buffer;
  };
}

function load(): KeccakStateCtor | undefined {
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

const State = load();
/** One sponge reused by every call (hashing is synchronous; `initialize` resets it): a new one per hash cost more than the hash. */
const state = State ? new State() : undefined;

function hash(data: Uint8Array): Uint8Array {
  const s = state!;
  s.initialize(1088, 512); // keccak256: rate 1088 bits, capacity 512 bits
  s.absorb(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  s.absorbLastFewBits(0x01); // original Keccak padding (not SHA-3's 0x06)
  return new Uint8Array(s.squeeze(32));
}

/** keccak256 of `data` as 32 bytes by the native binding, or undefined when it did not load. */
export const nativeKeccak256: ((data: Uint8Array) => Uint8Array) | undefined = state ? hash : undefined;
