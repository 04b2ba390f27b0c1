/**
 * Seen sender nonces per recipientRand (docs/spec/payments.md#validation-order step 5; go-livepeer
 * pm/recipient.go `updateSenderNonce`): at most {@link MAX_SENDER_NONCES} per recipientRand, any
 * order, each once; an entry is purged once its params expiration block is reached.
 *
 * Entries are keyed by recipientRandHash rather than recipientRand: the recipient only records a
 * nonce after checking keccak256(rand) == hash, so the two keys are equivalent and no secret-derived
 * value reaches storage.
 */
import type { Hex } from "viem";

/** Outcome of {@link NonceStore.add}. */
export type NonceAddResult = "added" | "seen" | "full";

/**
 * Storage of seen nonces. Implementations must make {@link NonceStore.add} atomic (a synchronous
 * method on node:sqlite's DatabaseSync or on a Map is).
 */
export interface NonceStore {
  /**
   * Records `nonce` under `recipientRandHash` unless it was already seen ("seen") or `max` nonces are
   * already recorded for it ("full"). The first add for a hash records `expirationBlock` for purging.
   */
  add(recipientRandHash: Hex, nonce: number, expirationBlock: bigint, max: number): NonceAddResult;
  /** Forgets every hash whose expiration block is ≤ `latestL1Block`; returns how many were purged. */
  purgeExpired(latestL1Block: bigint): number;
}

/** In-memory {@link NonceStore}. */
export class MemoryNonceStore implements NonceStore {
  readonly #entries = new Map<string, { seen: Set<number>; expirationBlock: bigint }>();

  add(recipientRandHash: Hex, nonce: number, expirationBlock: bigint, max: number): NonceAddResult {
    const key = recipientRandHash.toLowerCase();
    let entry = this.#entries.get(key);
    if (entry?.seen.has(nonce)) return "seen";
    if (!entry) {
      entry = { seen: new Set(), expirationBlock };
      this.#entries.set(key, entry);
    }
    if (entry.seen.size >= max) return "full";
    entry.seen.add(nonce);
    return "added";
  }

  purgeExpired(latestL1Block: bigint): number {
    let n = 0;
    for (const [k, v] of this.#entries) {
      if (v.expirationBlock <= latestL1Block) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Number of recipientRandHashes tracked (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }
}
