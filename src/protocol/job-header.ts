/**
 * The BYOC `Livepeer` job header (go-livepeer `JobRequest`, docs/spec/orchestrator-gateway.md#job-request) and the
 * `Livepeer-Eth-Address` header (`JobSender`, docs/spec/orchestrator-gateway.md#job-signature-v0): one codec used by the gateway (which reads the
 * client's header and forwards it) and the orchestrator (which reads the gateway's signed header).
 *
 * Also the bytes a job signature covers:
 * - V0 (go-livepeer master): UTF-8 of `request + parameters`, nothing else (docs/spec/orchestrator-gateway.md#job-signature-v0).
 * - V1 (branch `feat/remote-signer-byoc`, PR #3869): `"LP_BYOC_JOB_V1\0\0"` ‖ u32be(timeout) ‖
 *   u32be(len) ‖ id ‖ u32be(len) ‖ capability ‖ u32be(len) ‖ request ‖ u32be(len) ‖ parameters (docs/spec/orchestrator-gateway.md#job-signature-v1).
 * Both are then signed as go-livepeer's `Sign` does: personal_sign(keccak256(payload)). The header
 * carries no version field: a verifier tries V1 and then V0 (the branch tries V1 only).
 *
 * Pure: no I/O, no signature recovery (see src/orchestrator/job-header.ts for verification).
 */
import { BadRequestError } from "../node/errors.ts";
import { decodeStdBase64 } from "./base64.ts";

/** Header names (go-livepeer byoc/types.go), lower case as node:http presents them. */
export const JOB_REQUEST_HEADER = "livepeer";
/** `JobSender` header of `GET /process/token`. */
export const JOB_ETH_ADDRESS_HEADER = "livepeer-eth-address";
/** Capability name header of `GET /process/token`. */
export const JOB_CAPABILITY_HEADER = "livepeer-capability";
/** Payment tickets header. */
export const JOB_PAYMENT_HEADER = "livepeer-payment";
/** Balance header of BYOC answers. */
export const JOB_BALANCE_HEADER = "livepeer-balance";

/** V1 domain separator, 16 bytes (go-livepeer branch feat/remote-signer-byoc `BYOCJobSigV1Prefix`). */
export const JOB_SIG_V1_PREFIX = "LP_BYOC_JOB_V1\x00\x00";

/**
 * Largest `timeout_seconds` we accept: one day. go-livepeer takes any non-zero int (V1 any uint32);
 * a longer job has no use here and a bound keeps timers and the V1 encoding safe. An orchestrator
 * lowers it for its batch jobs with `--max-job-timeout` (src/orchestrator/job-header.ts).
 */
export const MAX_JOB_TIMEOUT_SECONDS = 86_400;

/** The decoded `parameters` string (go-livepeer `JobParameters`); every field optional on the wire. */
export interface JobParameters {
  /** `orchestrators.include`: orchestrator URLs the gateway may use (exact string match). */
  include?: string[];
  /** `orchestrators.exclude`: orchestrator URLs the gateway must not use. */
  exclude?: string[];
  enableVideoIngress: boolean;
  enableVideoEgress: boolean;
  enableDataOutput: boolean;
}

/** The fields a job header carries and a signature may cover (what {@link encodeJobHeader} writes). */
export interface JobHeader {
  id: string;
  /** The raw `request` JSON string (signed byte for byte). */
  request: string;
  /** The raw `parameters` JSON string (signed byte for byte). */
  parameters: string;
  capability: string;
  timeoutSeconds: number;
  /** `0x` address of the signer (the gateway); "" when unsigned. */
  sender: string;
  /** `0x` + 130 hex signature; "" when unsigned. */
  sig: string;
}

/** A parsed `Livepeer` header: the wire fields plus `request` and `parameters` decoded. */
export interface JobRequest extends JobHeader {
  /** `request` decoded: its `stream_id` ("" when absent). */
  streamId: string;
  params: JobParameters;
}

/** What differs between the two readers of the header. */
export interface ParseJobHeaderOptions {
  /**
   * The gateway reading a client's header: `capability` must be non-empty and an empty `parameters`
   * becomes `"{}"` (a go-livepeer gateway or orchestrator further on fails on ""). The orchestrator
   * (default) keeps `parameters` exactly as received, since the signature covers it. A client's
   * `sender` and `sig` are dropped: the gateway signs the job itself.
   */
  client?: boolean;
}

function bad(message: string): BadRequestError {
  return new BadRequestError(`Livepeer header: ${message}`, { code: "BAD_JOB_HEADER" });
}

function decodeJsonObject(value: string, fail: (m: string) => Error): Record<string, unknown> {
  const bytes = decodeStdBase64(value.trim());
  if (bytes === undefined) throw fail("not standard padded base64");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw fail("not base64 of JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw fail("must hold a JSON object");
  return parsed as Record<string, unknown>;
}

const str = (o: Record<string, unknown>, k: string): string =>
  typeof o[k] === "string" ? (o[k] as string) : "";

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : undefined;

function jsonObjectString(field: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw bad(`job request field '${field}' must be a string holding a JSON object, e.g. "{}"`);
  return parsed as Record<string, unknown>;
}

/** Decodes a `parameters` string ("" reads as no parameters). Throws BadRequestError. */
export function parseJobParameters(parameters: string): JobParameters {
  const p = parameters === "" ? {} : jsonObjectString("parameters", parameters);
  const orch = p.orchestrators;
  const filter = typeof orch === "object" && orch !== null ? (orch as Record<string, unknown>) : {};
  const include = strings(filter.include);
  const exclude = strings(filter.exclude);
  return {
    ...(include ? { include } : {}),
    ...(exclude ? { exclude } : {}),
    enableVideoIngress: p.enable_video_ingress === true,
    enableVideoEgress: p.enable_video_egress === true,
    enableDataOutput: p.enable_data_output === true,
  };
}

/**
 * Parses a `Livepeer` header value (standard base64 of a JSON `JobRequest`) with go-livepeer's
 * checks: `timeout_seconds` a non-zero integer (here 1 … {@link MAX_JOB_TIMEOUT_SECONDS}),
 * `request` a string holding a JSON object, `parameters` empty or a string holding a JSON object.
 * Unknown keys (`OrchSearchTimeout`, `capability_url`, …) are ignored. Throws BadRequestError (400,
 * code `BAD_JOB_HEADER`) whose message starts with "Livepeer header:".
 */
export function parseJobHeader(value: string | undefined, options: ParseJobHeaderOptions = {}): JobRequest {
  if (value === undefined || value === "") throw bad("missing (base64 of the JSON job request)");
  const o = decodeJsonObject(value, bad);
  const timeout = o.timeout_seconds;
  if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout === 0)
    throw bad("no timeout_seconds set with request, timeout_seconds is required");
  if (timeout < 0 || timeout > MAX_JOB_TIMEOUT_SECONDS)
    throw bad(`timeout_seconds must be between 1 and ${MAX_JOB_TIMEOUT_SECONDS}`);
  const capability = str(o, "capability");
  if (options.client && capability === "") throw bad("capability is required");
  const request = str(o, "request");
  const details = jsonObjectString("request", request);
  let parameters = str(o, "parameters");
  if (options.client && parameters === "") parameters = "{}";
  return {
    id: str(o, "id"),
    request,
    parameters,
    capability,
    timeoutSeconds: timeout,
    sender: options.client ? "" : str(o, "sender"),
    sig: options.client ? "" : str(o, "sig"),
    streamId: str(details, "stream_id"),
    params: parseJobParameters(parameters),
  };
}

/** A job built in code (no header to parse): `request` and `parameters` default to `"{}"`. */
export function newJobRequest(
  fields: Pick<JobHeader, "capability" | "timeoutSeconds"> & Partial<JobHeader>,
): JobRequest {
  const request = fields.request ?? "{}";
  const parameters = fields.parameters ?? "{}";
  return {
    id: fields.id ?? "",
    request,
    parameters,
    capability: fields.capability,
    timeoutSeconds: fields.timeoutSeconds,
    sender: fields.sender ?? "",
    sig: fields.sig ?? "",
    streamId: str(jsonObjectString("request", request), "stream_id"),
    params: parseJobParameters(parameters),
  };
}

/**
 * Encodes a `Livepeer` header with go-livepeer's keys; `sender` and `sig` only when set (an
 * offchain gateway sends neither).
 */
export function encodeJobHeader(job: JobHeader): string {
  const wire: Record<string, unknown> = {
    id: job.id,
    request: job.request,
    parameters: job.parameters,
    capability: job.capability,
    timeout_seconds: job.timeoutSeconds,
  };
  if (job.sender !== "") wire.sender = job.sender;
  if (job.sig !== "") wire.sig = job.sig;
  return Buffer.from(JSON.stringify(wire)).toString("base64");
}

/** The bytes a V0 job signature covers: UTF-8 of `request + parameters`. */
export function jobSigningPayloadV0(job: Pick<JobHeader, "request" | "parameters">): Uint8Array {
  return new TextEncoder().encode(job.request + job.parameters);
}

/**
 * The bytes a V1 job signature covers (branch `feat/remote-signer-byoc` `FlattenBYOCJob`): the
 * 16-byte prefix, the timeout as u32be, then id, capability, request and parameters, each as
 * u32be(byte length) ‖ UTF-8 bytes. Throws RangeError for a timeout outside 1 … 2³²−1.
 */
export function jobSigningPayloadV1(
  job: Pick<JobHeader, "id" | "capability" | "request" | "parameters" | "timeoutSeconds">,
): Uint8Array {
  if (!Number.isInteger(job.timeoutSeconds) || job.timeoutSeconds <= 0 || job.timeoutSeconds > 0xffff_ffff)
    throw new RangeError(`timeout_seconds ${job.timeoutSeconds} cannot be encoded as uint32 > 0`);
  const enc = new TextEncoder();
  const parts = [job.id, job.capability, job.request, job.parameters].map((s) => enc.encode(s));
  const prefix = enc.encode(JOB_SIG_V1_PREFIX);
  const out = new Uint8Array(prefix.length + 4 + parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  out.set(prefix, 0);
  let at = prefix.length;
  view.setUint32(at, job.timeoutSeconds);
  at += 4;
  for (const p of parts) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** A parsed `Livepeer-Eth-Address` value: the sender and its signature over `addr` itself. */
export interface JobSender {
  addr: string;
  sig: string;
}

/**
 * Parses `Livepeer-Eth-Address` (base64 of `{"addr","sig"}`). Throws BadRequestError with
 * go-livepeer's text "Invalid eth address header".
 */
export function parseJobSenderHeader(value: string | undefined): JobSender {
  const fail = () => new BadRequestError("Invalid eth address header", { code: "BAD_JOB_SENDER" });
  if (value === undefined || value === "")
    throw new BadRequestError("missing Livepeer-Eth-Address header", { code: "BAD_JOB_SENDER" });
  const o = decodeJsonObject(value, fail);
  return { addr: str(o, "addr"), sig: str(o, "sig") };
}

/** Encodes `Livepeer-Eth-Address`. */
export function encodeJobSenderHeader(sender: JobSender): string {
  return Buffer.from(JSON.stringify({ addr: sender.addr, sig: sender.sig })).toString("base64");
}
