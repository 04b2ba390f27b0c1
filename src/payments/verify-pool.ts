/**
 * Signature recovery on every core: a pool of worker threads (verify-worker.ts) that runs
 * {@link recoverSigner}'s secp256k1 recoveries — ticket signatures and BYOC job signatures — off the
 * main thread. Payment state (nonces, balances, winners) is never touched here: workers only answer
 * "which address signed this digest", and the recipient records the result on the main thread.
 *
 * Recoveries asked for in the same tick are sent together, one message per worker, split by load.
 * When the pool is idle and a tick asks for a single recovery, it runs on the calling thread at
 * once: a message round trip would cost more than the recovery saves.
 *
 * Usage: `const pool = startVerifyPool()` once per process (installs it for {@link recoverSigner});
 * `await pool.close()` at shutdown (uninstalls it; recoveries still queued run on the main thread).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Address } from "viem";
import { bytesToHexDigits } from "../protocol/bigint-bytes.ts";
import { keccakBackend } from "../protocol/keccak.ts";
import { ecrecoverBackend, type RecoveryPool, recoverSignerHere, useRecoveryPool } from "./ecrecover.ts";
import {
  JOB_BYTES,
  SIGNER_BYTES,
  type VerifyAnswer,
  type VerifyRequest,
  type VerifyWorkerData,
} from "./verify-wire.ts";

/** Options of {@link startVerifyPool}. */
export interface VerifyPoolOptions {
  /** Worker threads; default: the machine's available parallelism. 0 starts no worker (all inline). */
  threads?: number;
  /** Install as the process-wide pool of {@link recoverSigner} (default true). */
  install?: boolean;
}

interface Job {
  digest: Uint8Array;
  sig: Uint8Array;
  resolve: (signer: Address | undefined) => void;
}

interface Slot {
  worker: Worker;
  /** Batches sent and not yet answered, by id. */
  batches: Map<number, Job[]>;
  /** Jobs in those batches. */
  load: number;
}

/** A pool of signature-recovery workers; see the module documentation. */
export class VerifyPool implements RecoveryPool, AsyncDisposable {
  readonly threads: number;
  readonly #slots: Slot[] = [];
  #queue: Job[] = [];
  #flushQueued = false;
  #nextId = 1;
  #closed = false;
  /** Recoveries run inline on the calling thread (idle fast path or fallback), for tests and metrics. */
  inline = 0;
  /** Recoveries run by workers. */
  offloaded = 0;

  constructor(threads: number) {
    const data: VerifyWorkerData = {
      pureJsSecp256k1: ecrecoverBackend === "javascript",
      pureJsKeccak: keccakBackend === "javascript",
    };
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL("./verify-worker.ts", import.meta.url), { workerData: data });
      const slot: Slot = { worker, batches: new Map(), load: 0 };
      worker.on("message", (m: VerifyAnswer) => this.#answer(slot, m));
      worker.on("error", () => this.#lost(slot));
      worker.on("exit", () => this.#lost(slot));
      worker.unref(); // referenced only while it has work (see #send)
      this.#slots.push(slot);
    }
    this.threads = Math.max(1, threads);
  }

  /** Jobs sent to workers and not answered yet. */
  get pending(): number {
    let n = 0;
    for (const s of this.#slots) n += s.load;
    return n;
  }

  wants(): boolean {
    return !this.#closed && this.#slots.length > 0;
  }

  recover(digest: Uint8Array, sig: Uint8Array): Promise<Address | undefined> {
    return new Promise((resolve) => {
      // copies: the caller may reuse its buffers once this returns
      this.#queue.push({ digest: digest.slice(), sig: sig.slice(), resolve });
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushQueued = false;
    const jobs = this.#queue;
    this.#queue = [];
    if (jobs.length === 0) return;
    if (this.#slots.length === 0 || (jobs.length === 1 && this.pending === 0)) {
      this.#runInline(jobs);
      return;
    }
    // Spread the jobs so that every worker ends with about the same load.
    const slots = [...this.#slots].sort((a, b) => a.load - b.load);
    const total = jobs.length + slots.reduce((n, s) => n + s.load, 0);
    const share = Math.ceil(total / slots.length);
    let at = 0;
    for (const slot of slots) {
      if (at >= jobs.length) break;
      const take = Math.max(0, Math.min(jobs.length - at, share - slot.load));
      if (take > 0) this.#send(slot, jobs.slice(at, at + take));
      at += take;
    }
    if (at < jobs.length) this.#send(slots[0]!, jobs.slice(at));
  }

  #send(slot: Slot, jobs: Job[]): void {
    const buf = new Uint8Array(jobs.length * JOB_BYTES);
    jobs.forEach((j, i) => {
      buf.set(j.digest, i * JOB_BYTES);
      buf.set(j.sig, i * JOB_BYTES + 32);
    });
    const id = this.#nextId++;
    slot.batches.set(id, jobs);
    if (slot.load === 0) slot.worker.ref();
    slot.load += jobs.length;
    this.offloaded += jobs.length;
    const request: VerifyRequest = { id, jobs: buf.buffer };
    slot.worker.postMessage(request, [buf.buffer]);
  }

  #answer(slot: Slot, m: VerifyAnswer): void {
    const jobs = slot.batches.get(m.id);
    if (!jobs) return;
    slot.batches.delete(m.id);
    slot.load -= jobs.length;
    if (slot.load === 0) slot.worker.unref();
    const out = new Uint8Array(m.signers);
    for (const [i, j] of jobs.entries()) {
      const at = i * SIGNER_BYTES;
      j.resolve(out[at] === 1 ? `0x${bytesToHexDigits(out.subarray(at + 1, at + SIGNER_BYTES))}` : undefined);
    }
  }

  /** A worker died (or was terminated): its unanswered jobs run here, and it takes no more. */
  #lost(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    const jobs = [...slot.batches.values()].flat();
    slot.batches.clear();
    slot.load = 0;
    this.#runInline(jobs);
  }

  #runInline(jobs: Job[]): void {
    this.inline += jobs.length;
    for (const j of jobs) void recoverSignerHere(j.digest, j.sig).then(j.resolve);
  }

  /** Stops the workers; recoveries still queued or in flight finish on the main thread. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (installed === this) {
      useRecoveryPool(undefined);
      installed = undefined;
    }
    const slots = [...this.#slots];
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const s of slots) this.#lost(s);
    this.#flush();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

let installed: VerifyPool | undefined;

/**
 * Starts a {@link VerifyPool} and, unless `install: false`, makes it the pool every
 * {@link recoverSigner} call in this process uses (ticket validation, job and sender signatures),
 * replacing (and closing) one installed before. Close it at shutdown.
 */
export function startVerifyPool(opts: VerifyPoolOptions = {}): VerifyPool {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 0)
    throw new RangeError(`verify pool threads must be a whole number ≥ 0, got ${threads}`);
  const pool = new VerifyPool(threads);
  if (opts.install ?? true) {
    const before = installed;
    useRecoveryPool(pool);
    installed = pool;
    void before?.close();
  }
  return pool;
}
