/**
 * A BYOC job as the BYOC routes (jobs and streams) see it: the `Livepeer` header parsed, its
 * signature verified when payments are on, its capability and price, its payment taken, and who
 * sent it (the owner of a stream).
 */
import type { Address } from "viem";
import type { NodeRequest } from "../node/server.ts";
import { byocMinimumBalance } from "../payments/balances.ts";
import { Rat } from "../payments/rational.ts";
import {
  JOB_PAYMENT_HEADER,
  JOB_REQUEST_HEADER,
  type JobRequest,
  parseJobHeader,
} from "../protocol/job-header.ts";
import type { OrchestratorContext } from "./context.ts";
import { header, NoCapacityError } from "./http.ts";
import { checkJobTimeout, type JobSignatureVersion, verifyJobSignature } from "./job-header.ts";
import { balanceHeader } from "./payments.ts";
import { BYOC_PIPELINE, type Capability } from "./registry.ts";

/** A parsed, authenticated BYOC job: its capability, the paying sender and the price per second. */
export interface ByocJob {
  job: JobRequest;
  cap: Capability;
  /** The verified signer (on-chain) or undefined (offchain). */
  sender: Address | undefined;
  price: Rat;
}

/**
 * Parses the job header and, with payments, verifies the V1 or V0 signature (400 "Could not verify job
 * creds"). Offchain nothing is verified and the price is 0. An unknown capability answers 503. A batch
 * job (`maxTimeoutSeconds` given) asking for more than the operator's `--max-job-timeout` answers 400.
 */
export async function byocJob(
  ctx: OrchestratorContext,
  req: NodeRequest,
  maxTimeoutSeconds?: number,
): Promise<ByocJob> {
  const job = parseJobHeader(header(req.headers, JOB_REQUEST_HEADER) || undefined);
  if (maxTimeoutSeconds !== undefined) checkJobTimeout(job, maxTimeoutSeconds);
  const sender = ctx.gate ? (await verifyJobSignature(job)).signer : undefined;
  const cap = ctx.registry.get(BYOC_PIPELINE, job.capability);
  if (cap === undefined)
    throw new NoCapacityError("No capacity available for capability", { capability: job.capability });
  return { job, cap, sender, price: ctx.gate && sender ? ctx.registry.priceFor(cap, sender) : Rat.ZERO };
}

/** True when the job is paid: payments on, a verified sender and a non-zero price. */
export function isPaid(ctx: OrchestratorContext, j: ByocJob): j is ByocJob & { sender: Address } {
  return ctx.gate !== undefined && j.sender !== undefined && !j.price.isZero();
}

/**
 * With payments and a price: credits the `Livepeer-Payment` tickets (manifest = capability name)
 * and, when `required`, demands 60 × price of credit (`status` when short: 400 batch, 402 stream).
 */
export async function takePayment(
  ctx: OrchestratorContext,
  req: NodeRequest,
  j: ByocJob,
  required: boolean,
  status: number,
): Promise<void> {
  const gate = ctx.gate;
  if (gate === undefined || !isPaid(ctx, j)) return;
  await gate.receive(header(req.headers, JOB_PAYMENT_HEADER) || undefined, j.cap.modelId);
  if (required) gate.require(j.sender, j.cap.modelId, byocMinimumBalance(j.price), status);
}

/** Charges `units` seconds and returns the `Livepeer-Balance` header, if payments apply. */
export function charge(ctx: OrchestratorContext, j: ByocJob, units: bigint): Record<string, string> {
  const gate = ctx.gate;
  if (gate === undefined || !isPaid(ctx, j)) return {};
  const balance = gate.debit(j.sender, j.cap.modelId, j.price, units);
  return { "Livepeer-Balance": balanceHeader(balance) };
}

/**
 * Who sends a BYOC stream job: the lower-case address whose V1 or V0 signature verified, or ""
 * for an unsigned job offchain (where a signature that does not verify also counts as none; on
 * chain `byocJob` has refused it already). `version` is the signature's format.
 */
export async function callerOf(
  ctx: OrchestratorContext,
  job: JobRequest,
): Promise<{ owner: string; version?: JobSignatureVersion }> {
  if (ctx.gate === undefined && job.sig === "") return { owner: "" };
  try {
    const v = await verifyJobSignature(job);
    return { owner: v.signer.toLowerCase(), version: v.version };
  } catch (err) {
    if (ctx.gate !== undefined) throw err;
    return { owner: "" };
  }
}
