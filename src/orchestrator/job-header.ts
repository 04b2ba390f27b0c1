/**
 * Verification of the BYOC job and sender signatures the orchestrator receives
 * (orchestrator-gateway.md §4.3–§4.4). The header codec itself is src/protocol/job-header.ts.
 */
import type { Address, Hex } from "viem";
import { BadRequestError } from "../node/errors.ts";
import { checkPayloadSig } from "../payments/signature.ts";
import {
  type JobRequest,
  type JobSender,
  jobSigningPayloadV0,
  jobSigningPayloadV1,
  parseJobSenderHeader,
} from "../protocol/job-header.ts";

/** Which signing format a verified job signature used. */
export type JobSignatureVersion = "v0" | "v1";

/** A job signature that verified. */
export interface VerifiedJobSignature {
  signer: Address;
  version: JobSignatureVersion;
}

function bad(message: string): BadRequestError {
  return new BadRequestError(message, { code: "BAD_JOB_SIGNATURE" });
}

/** Normalises a `0x` + 130 hex signature (go strips the first two characters when longer than 130). */
function sigHex(sig: string): Hex | undefined {
  const h = sig.length > 130 ? sig.slice(2) : sig;
  return /^[0-9a-fA-F]{130}$/.test(h) ? (`0x${h}` as Hex) : undefined;
}

/**
 * Checks the job's `sig` by `sender`: first as V1 (personal_sign(keccak256(V1 payload)), which also
 * covers `id`, `capability` and `timeout_seconds`), then as V0 (personal_sign(keccak256(request +
 * parameters)), go-livepeer master). The header has no version field, so both are tried, V1 first.
 * Throws 400 "Could not verify job creds" (go-livepeer's text) when neither verifies.
 */
export async function verifyJobSignature(job: JobRequest): Promise<VerifiedJobSignature> {
  const sig = sigHex(job.sig);
  if (!/^0x[0-9a-fA-F]{40}$/.test(job.sender) || sig === undefined) throw bad("Could not verify job creds");
  const sender = job.sender as Address;
  const t = job.timeoutSeconds;
  if (Number.isInteger(t) && t > 0 && t <= 0xffff_ffff) {
    const v1 = await checkPayloadSig(sender, jobSigningPayloadV1(job), sig);
    if (v1.valid) return { signer: v1.signer, version: "v1" };
  }
  const v0 = await checkPayloadSig(sender, jobSigningPayloadV0(job), sig);
  if (v0.valid) return { signer: v0.signer, version: "v0" };
  throw bad("Could not verify job creds");
}

/**
 * Parses `Livepeer-Eth-Address`; with `verify`, checks personal_sign(keccak256(addr)) by `addr`.
 * Throws 400 "Invalid eth address header" (go-livepeer's text).
 */
export async function parseJobSender(value: string | undefined, verify: boolean): Promise<JobSender> {
  const sender = parseJobSenderHeader(value);
  if (verify) {
    const sig = sigHex(sender.sig);
    if (!/^0x[0-9a-fA-F]{40}$/.test(sender.addr) || sig === undefined)
      throw bad("Invalid eth address header");
    const check = await checkPayloadSig(sender.addr as Address, sender.addr, sig);
    if (!check.valid) throw bad("Invalid eth address header");
  }
  return sender;
}
