/**
 * A worker thread of verify-pool.ts: recovers signers for batches of (digest ‖ signature) records
 * with the same backends as the main thread.
 *
 * In: `{ id, jobs }`, `jobs` an ArrayBuffer of 97-byte records (32-byte digest ‖ 65-byte r ‖ s ‖ v).
 * Out: `{ id, signers }`, the lower-case address each record recovers to, or undefined.
 */
import { parentPort, workerData } from "node:worker_threads";
import { usePureJsKeccak } from "../protocol/keccak.ts";
import { recoverSignerHere, usePureJsSecp256k1 } from "./ecrecover.ts";
import { JOB_BYTES, type VerifyWorkerData } from "./verify-pool.ts";

const data = workerData as VerifyWorkerData | undefined;
if (data?.pureJsSecp256k1) usePureJsSecp256k1();
if (data?.pureJsKeccak) usePureJsKeccak();

parentPort?.on("message", async (msg: { id: number; jobs: ArrayBuffer }) => {
  const bytes = new Uint8Array(msg.jobs);
  const signers: (string | undefined)[] = [];
  for (let at = 0; at + JOB_BYTES <= bytes.length; at += JOB_BYTES) {
    signers.push(
      await recoverSignerHere(bytes.subarray(at, at + 32), bytes.subarray(at + 32, at + JOB_BYTES)),
    );
  }
  parentPort!.postMessage({ id: msg.id, signers });
});
