/**
 * Verification of the BYOC job and sender signatures the orchestrator receives
 * (docs/spec/orchestrator-gateway.md#job-signature-v0, #job-signature-v1). The header codec itself is src/protocol/job-header.ts.
 */
import { createHash } from "node:crypto";
import type { Address, Hex } from "viem";
import { BadRequestError, TributaryError } from "../node/errors.ts";
import { checkPayloadSig } from "../payments/signature.ts";
import {
  type JobRequest,
  type JobSender,
  jobSigningPayloadV0,
  jobSigningPayloadV1,
  MAX_JOB_TIMEOUT_SECONDS,
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

/**
 * Validates the operator's `--max-job-timeout` (whole seconds, 1 … {@link MAX_JOB_TIMEOUT_SECONDS});
 * undefined gives the maximum. Throws a CONFIG error (500) naming the flag.
 */
export function maxJobTimeoutOption(seconds: number | undefined): number {
  if (seconds === undefined) return MAX_JOB_TIMEOUT_SECONDS;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_JOB_TIMEOUT_SECONDS)
    throw new TributaryError(
      "CONFIG",
      `--max-job-timeout must be whole seconds between 1 and ${MAX_JOB_TIMEOUT_SECONDS}, got ${seconds}`,
      { status: 500 },
    );
  return seconds;
}

/**
 * Refuses a batch job whose `timeout_seconds` exceeds the operator's `--max-job-timeout`: 400
 * `JOB_TIMEOUT_TOO_LONG`, naming the flag and the largest timeout accepted.
 */
export function checkJobTimeout(job: Pick<JobRequest, "timeoutSeconds">, maxSeconds: number): void {
  if (job.timeoutSeconds <= maxSeconds) return;
  throw new BadRequestError(
    `Livepeer header: timeout_seconds ${job.timeoutSeconds} exceeds this orchestrator's --max-job-timeout of ` +
      `${maxSeconds} s; send jobs with timeout_seconds ≤ ${maxSeconds}`,
    { code: "JOB_TIMEOUT_TOO_LONG", details: { timeout_seconds: job.timeoutSeconds, max: maxSeconds } },
  );
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
  const v1Payload = Number.isInteger(t) && t > 0 && t <= 0xffff_ffff ? jobSigningPayloadV1(job) : undefined;
  const v0Payload = jobSigningPayloadV0(job);
  // A gateway signs the same request + parameters once and reuses the signature: answer a
  // signature that already verified for this very payload and sender from memory.
  const v0Key = verifiedKey("v0", sender, sig, v0Payload);
  const v1Key = v1Payload && verifiedKey("v1", sender, sig, v1Payload);
  const known = verified.get(v0Key) ?? (v1Key && verified.get(v1Key));
  if (known) return known;
  if (v1Payload && v1Key) {
    const v1 = await checkPayloadSig(sender, v1Payload, sig);
    if (v1.valid) return remember(v1Key, { signer: v1.signer, version: "v1" });
  }
  const v0 = await checkPayloadSig(sender, v0Payload, sig);
  if (v0.valid) return remember(v0Key, { signer: v0.signer, version: "v0" });
  throw bad("Could not verify job creds");
}

/** Most job signatures kept as verified; the oldest is forgotten first. */
const VERIFIED_CACHE_SIZE = 4096;
/**
 * Signatures that verified, by version, sender, signature and payload digest. Verification is a pure
 * function of these, so a hit is exactly as good as a recovery (replay protection does not come from
 * job signatures: a V0 signature covers only request + parameters, as in go-livepeer).
 */
const verified = new Map<string, VerifiedJobSignature>();

function verifiedKey(version: JobSignatureVersion, sender: string, sig: string, payload: Uint8Array): string {
  const digest = createHash("sha256").update(payload).digest("base64");
  return `${version}:${sender.toLowerCase()}:${sig.toLowerCase()}:${digest}`;
}

function remember(key: string, value: VerifiedJobSignature): VerifiedJobSignature {
  if (verified.size >= VERIFIED_CACHE_SIZE) {
    const oldest = verified.keys().next();
    if (!oldest.done) verified.delete(oldest.value);
  }
  verified.set(key, value);
  return value;
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
    // A gateway sends the same signed address with every token request: one recovery per pair.
    const key = `sender:${sender.addr}:${sig}`;
    if (verified.has(key)) return sender;
    const check = await checkPayloadSig(sender.addr as Address, sender.addr, sig);
    if (!check.valid) throw bad("Invalid eth address header");
    remember(key, { signer: sender.addr as Address, version: "v0" });
  }
  return sender;
}
