/**
 * A worker thread of verify-pool.ts: recovers signers for batches of (digest ‖ signature) records
 * (verify-wire.ts). With the native bindings it loads only them (secp256k1-native.ts), not viem: a
 * worker costs a few MiB, not tens; a main thread forced to the JavaScript backends makes its workers
 * load and use them too.
 */
import { parentPort, workerData } from "node:worker_threads";
import { hexInto } from "../protocol/bigint-bytes.ts";
import { nativeRecoveryLoaded, recoverAddressNative } from "./secp256k1-native.ts";
import {
  JOB_BYTES,
  SIGNER_BYTES,
  type VerifyAnswer,
  type VerifyRequest,
  type VerifyWorkerData,
} from "./verify-wire.ts";

const data = workerData as VerifyWorkerData;

type Recover = (
  digest: Uint8Array,
  sig: Uint8Array,
  out: Uint8Array,
  at: number,
) => Promise<boolean> | boolean;

async function javascriptRecovery(): Promise<Recover> {
  const { usePureJsKeccak } = await import("../protocol/keccak.ts");
  const { recoverSignerHere, usePureJsSecp256k1 } = await import("./ecrecover.ts");
  if (data.pureJsKeccak) usePureJsKeccak();
  if (data.pureJsSecp256k1) usePureJsSecp256k1();
  return async (digest, sig, out, at) => {
    const signer = await recoverSignerHere(digest, sig);
    return signer !== undefined && hexInto(signer, 20, out, at);
  };
}

const recover: Recover =
  nativeRecoveryLoaded && !data.pureJsSecp256k1 && !data.pureJsKeccak
    ? (digest, sig, out, at) => {
        const address = recoverAddressNative(digest, sig);
        if (address) out.set(address, at);
        return address !== undefined;
      }
    : await javascriptRecovery();

parentPort!.on("message", async (msg: VerifyRequest) => {
  const jobs = new Uint8Array(msg.jobs);
  const n = Math.floor(jobs.length / JOB_BYTES);
  const out = new Uint8Array(n * SIGNER_BYTES);
  for (let i = 0; i < n; i++) {
    const at = i * JOB_BYTES;
    const ok = await recover(
      jobs.subarray(at, at + 32),
      jobs.subarray(at + 32, at + JOB_BYTES),
      out,
      i * SIGNER_BYTES + 1,
    );
    if (ok) out[i * SIGNER_BYTES] = 1;
  }
  const answer: VerifyAnswer = { id: msg.id, signers: out.buffer };
  parentPort!.postMessage(answer, [out.buffer]);
});
