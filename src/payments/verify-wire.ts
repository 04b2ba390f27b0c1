/**
 * The messages between verify-pool.ts and its workers (verify-worker.ts), in a module of their own so
 * that a worker loads nothing of the pool.
 *
 * To a worker: `{ id, jobs }`, `jobs` an ArrayBuffer of {@link JOB_BYTES}-byte records (32-byte digest
 * ‖ 65-byte r ‖ s ‖ v). Back: `{ id, signers }`, an ArrayBuffer of {@link SIGNER_BYTES}-byte records in
 * the same order: 1 and the 20-byte address recovered, or 0 and zeros when no key recovers.
 */

/** Bytes of one job record. */
export const JOB_BYTES = 97;
/** Bytes of one answer record. */
export const SIGNER_BYTES = 21;

/** A batch of jobs, to a worker. */
export interface VerifyRequest {
  id: number;
  jobs: ArrayBuffer;
}

/** The answers to a {@link VerifyRequest}. */
export interface VerifyAnswer {
  id: number;
  signers: ArrayBuffer;
}

/** What the pool passes as `workerData`: the main thread's backend choices. */
export interface VerifyWorkerData {
  pureJsSecp256k1: boolean;
  pureJsKeccak: boolean;
}
