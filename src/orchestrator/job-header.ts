/**
 * The BYOC `Livepeer` job header (orchestrator-gateway.md §4.2–§4.3) and the `Livepeer-Eth-Address`
 * `JobSender` header (§4.3, §5.3), parsed into typed values, plus V0 signature verification.
 *
 * Pure apart from signature recovery. Belongs in src/protocol (wire codec) — kept here until the
 * protocol owner takes it; only the orchestrator uses it so far.
 */
import type { Address, Hex } from "viem";
import { BadRequestError } from "../node/errors.ts";
import { checkPayloadSig } from "../payments/signature.ts";
import { decodeStdBase64 } from "../protocol/base64.ts";

/** Header names (go-livepeer byoc/types.go). */
export const JOB_REQUEST_HEADER = "livepeer";
export const JOB_ETH_ADDRESS_HEADER = "livepeer-eth-address";
export const JOB_CAPABILITY_HEADER = "livepeer-capability";
export const JOB_PAYMENT_HEADER = "livepeer-payment";
export const JOB_BALANCE_HEADER = "livepeer-balance";

/** `JobParameters` (all optional). */
export interface JobParameters {
  orchestrators?: { include?: string[]; exclude?: string[] };
  enableVideoIngress: boolean;
  enableVideoEgress: boolean;
  enableDataOutput: boolean;
}

/** A parsed `JobRequest`. */
export interface JobRequest {
  id: string;
  /** The raw `request` JSON string (signed). */
  request: string;
  /** The raw `parameters` JSON string (signed). */
  parameters: string;
  capability: string;
  sender: string;
  sig: string;
  timeoutSeconds: number;
  /** `request` decoded: `{stream_id}`. */
  streamId: string;
  params: JobParameters;
}

function bad(message: string): BadRequestError {
  return new BadRequestError(message, { code: "BAD_JOB_HEADER" });
}

function decodeJsonHeader(value: string, name: string): Record<string, unknown> {
  const bytes = decodeStdBase64(value.trim());
  if (bytes === undefined) throw bad(`${name} header is not standard padded base64`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw bad(`${name} header is not base64 of JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw bad(`${name} header must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

const str = (o: Record<string, unknown>, k: string): string =>
  typeof o[k] === "string" ? (o[k] as string) : "";

/** Parses the `Livepeer` header. Throws BadRequestError (400) with go-livepeer's reasons. */
export function parseJobRequest(value: string | undefined): JobRequest {
  if (value === undefined || value === "") throw bad("missing Livepeer job header");
  const o = decodeJsonHeader(value, "Livepeer");
  const timeout = o.timeout_seconds;
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout === 0)
    throw bad("no timeout_seconds set with request, timeout_seconds is required");
  if (timeout < 0 || timeout > 86_400) throw bad("timeout_seconds must be between 1 and 86400");
  const request = str(o, "request");
  let details: unknown;
  try {
    details = JSON.parse(request);
  } catch {
    throw bad("job request field 'request' must be a JSON object string");
  }
  if (typeof details !== "object" || details === null || Array.isArray(details))
    throw bad("job request field 'request' must be a JSON object string");
  const parameters = str(o, "parameters");
  let p: Record<string, unknown> = {};
  if (parameters !== "") {
    try {
      p = JSON.parse(parameters) as Record<string, unknown>;
    } catch {
      throw bad("job request field 'parameters' must be a JSON object string");
    }
    if (typeof p !== "object" || p === null || Array.isArray(p))
      throw bad("job request field 'parameters' must be a JSON object string");
  }
  const orch = p.orchestrators as JobParameters["orchestrators"] | undefined;
  return {
    id: str(o, "id"),
    request,
    parameters,
    capability: str(o, "capability"),
    sender: str(o, "sender"),
    sig: str(o, "sig"),
    timeoutSeconds: timeout,
    streamId: str(details as Record<string, unknown>, "stream_id"),
    params: {
      ...(orch && typeof orch === "object" ? { orchestrators: orch } : {}),
      enableVideoIngress: p.enable_video_ingress === true,
      enableVideoEgress: p.enable_video_egress === true,
      enableDataOutput: p.enable_data_output === true,
    },
  };
}

/** Normalises a `0x` + 130 hex signature (go strips the prefix when longer than 130). */
function sigHex(sig: string): Hex | undefined {
  const h = sig.startsWith("0x") ? sig.slice(2) : sig;
  return /^[0-9a-fA-F]{130}$/.test(h) ? (`0x${h}` as Hex) : undefined;
}

/** V0 check: personal_sign(keccak256(request + parameters)) by `sender`. Throws 400 on failure. */
export async function verifyJobSignature(job: JobRequest): Promise<Address> {
  const sig = sigHex(job.sig);
  if (!/^0x[0-9a-fA-F]{40}$/.test(job.sender) || sig === undefined) throw bad("Could not verify job creds");
  const check = await checkPayloadSig(job.sender as Address, job.request + job.parameters, sig);
  if (!check.valid) throw bad("Could not verify job creds");
  return check.signer;
}

/** A parsed `JobSender` (`Livepeer-Eth-Address`). */
export interface JobSender {
  addr: string;
  sig: string;
}

/** Parses `Livepeer-Eth-Address`; with `verify`, checks personal_sign(keccak256(addr)). */
export async function parseJobSender(value: string | undefined, verify: boolean): Promise<JobSender> {
  if (value === undefined || value === "") throw bad("missing Livepeer-Eth-Address header");
  let o: Record<string, unknown>;
  try {
    o = decodeJsonHeader(value, "Livepeer-Eth-Address");
  } catch {
    throw bad("Invalid eth address header");
  }
  const sender = { addr: str(o, "addr"), sig: str(o, "sig") };
  if (verify) {
    const sig = sigHex(sender.sig);
    if (!/^0x[0-9a-fA-F]{40}$/.test(sender.addr) || sig === undefined)
      throw bad("Invalid eth address header");
    const check = await checkPayloadSig(sender.addr as Address, sender.addr, sig);
    if (!check.valid) throw bad("Invalid eth address header");
  }
  return sender;
}
