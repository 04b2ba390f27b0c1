/**
 * The gateway as a remote signer's client (`--remote-signer-url`): a signer (ours, `tributary signer`,
 * or go-livepeer's `-remoteSigner`) holds the key and the deposit; the gateway holds none. It speaks
 * the signer protocol:
 *
 * | call | when | what comes back |
 * |---|---|---|
 * | `POST /sign-orchestrator-info` `{}` | once, at start (fails fast, as go-livepeer) | `{address, signature}`: the `GetOrchestrator` credentials and the `Livepeer-Eth-Address` of `/process/token` |
 * | `POST /sign-byoc-job` | each BYOC job, stream start, update and top-up | `{sender, signature}`: a V1 job signature |
 * | `POST /generate-live-payment` | each payment | `{payment, segCreds, state}`; 482 = no tickets needed |
 *
 * {@link RemotePayments} is the {@link GatewayPayer} over it:
 * - BYOC: the gateway asks `/process/token` (price, ticket params, balance) as the signer's address;
 *   under 120 × price of balance it sends the token's params and price as an `OrchestratorInfo` with
 *   `type: "lv2v"` and `capability` (as PyPI `livepeer-gateway` does), without state: the signer pays
 *   its BYOC opening (60 s of the capability's price) on its own nonce counter.
 * - Live video: `type: "lv2v"`; the opaque `state` the signer answers is sent back on the stream's
 *   next payment (the start's on its first top-up, then per manifest), so the signer charges the time
 *   since its last payment against its own estimate of the credit; a 482 skips the top-up.
 * - Native AI batch: no type, `inPixels` = the request's units, at the model's quoted price.
 *
 * How many tickets a payment carries is the signer's decision; the gateway reads the count back from
 * the `Livepeer-Payment` it got (for the stream's figures).
 */
import { randomBytes } from "node:crypto";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import { getAddress, type Hex, hexToBytes } from "viem";
import { TributaryError } from "../node/errors.ts";
import { Rat } from "../payments/index.ts";
import { ticketEV } from "../payments/ticket.ts";
import { CAPABILITY } from "../protocol/capabilities.ts";
import {
  CapabilitiesSchema,
  type OrchestratorInfo,
  OrchestratorInfoSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import type { JobRequest as ClientJobRequest } from "../protocol/job-header.ts";
import { decodePaymentHeader, priceInfoToWire, ticketParamsToWire } from "../protocol/payment-header.ts";
import { aiRequestCapabilities, pipelineToCapability, quotedPrice } from "./capabilities.ts";
import type { RequestCredentials } from "./discovery/index.ts";
import type { OrchestratorHttp } from "./orch-http.ts";
import { asPaymentRefusal, checkKeptPrice, noTicketParams } from "./payment-checks.ts";
import {
  BYOC_MIN_BALANCE_SECONDS,
  fetchProcessToken,
  type GatewayPayer,
  type SentPayment,
} from "./payments.ts";

/** Time allowed for one signer call (go-livepeer's client waits 5 s for sign-orchestrator-info). */
export const DEFAULT_SIGNER_TIMEOUT_MS = 10_000;
/** The signer's statuses: refresh the orchestrator's info, its price is over a ceiling, no tickets needed. */
const HTTP_REFRESH = 480;
const HTTP_PRICE_EXCEEDED = 481;
const HTTP_NO_TICKETS = 482;
/** Live streams whose signer state is kept (the oldest is dropped first). */
const MAX_STREAM_STATES = 10_000;
/** Live starts waiting for their first top-up, per orchestrator and model. */
const MAX_WAITING_STARTS = 64;

/** What one signer call answered. */
export interface SignerAnswer {
  status: number;
  text: string;
}

/** How the client reaches the signer: POST a JSON body to `path` (tests pass a fake). */
export type SignerTransport = (
  path: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
) => Promise<SignerAnswer>;

/**
 * Parses `--remote-signer-headers`: go-livepeer's `Name:value,Name2:value2` (spaces around either
 * separator ignored), or a JSON object of strings. Throws BAD_SIGNER_HEADERS.
 */
export function parseSignerHeaders(text: string): Record<string, string> {
  const bad = (why: string) =>
    new TributaryError("BAD_SIGNER_HEADERS", `--remote-signer-headers: ${why}`, { status: 400 });
  const t = text.trim();
  if (t.startsWith("{")) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw bad("not valid JSON");
    }
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val !== "string") throw bad(`the value of "${k}" is not a string`);
      out[k] = val;
    }
    return out;
  }
  const out: Record<string, string> = {};
  for (const item of t.split(",")) {
    const part = item.trim();
    if (part === "") continue;
    const at = part.indexOf(":");
    if (at <= 0) throw bad(`"${part}" is not "Name:value"`);
    const name = part.slice(0, at).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw bad(`"${name}" is not a header name`);
    out[name] = part.slice(at + 1).trim();
  }
  return out;
}

/** The default transport: `fetch` with a timeout. */
function fetchTransport(base: string, timeoutMs: number): SignerTransport {
  return async (path, body, headers, signal) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    return { status: res.status, text: await res.text() };
  };
}

/** The message of a signer's error answer (our JSON envelope, go-livepeer's plain text). */
function signerMessage(text: string): string {
  try {
    const v = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof v.error === "object" && typeof v.error?.message === "string") return v.error.message;
    if (typeof v.error === "string") return v.error;
    if (typeof v.message === "string") return v.message;
  } catch {}
  return text.trim().slice(0, 200);
}

/** Options of {@link connectRemoteSigner}. */
export interface RemoteSignerOptions {
  /** Base URL of the signer (a trailing path such as `/sign-orchestrator-info` is dropped). */
  url: string;
  /** Headers sent on every signer call (`--remote-signer-headers`), e.g. `Authorization`. */
  headers?: Readonly<Record<string, string>>;
  /** Per-call timeout, ms; default {@link DEFAULT_SIGNER_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Replaces HTTP (tests). */
  transport?: SignerTransport;
}

/** A remote signer that answered `/sign-orchestrator-info`: its address and the calls the gateway makes. */
export class RemoteSignerClient {
  readonly url: string;
  /** The signer's (checksummed) address: the sender of every ticket and job. */
  readonly address: Hex;
  /** Its signature over the address (GetOrchestrator `sig`, `Livepeer-Eth-Address` `sig`). */
  readonly signature: Hex;
  readonly #post: SignerTransport;
  readonly #headers: Readonly<Record<string, string>>;

  constructor(
    url: string,
    address: Hex,
    signature: Hex,
    post: SignerTransport,
    headers: Record<string, string>,
  ) {
    this.url = url;
    this.address = address;
    this.signature = signature;
    this.#post = post;
    this.#headers = headers;
  }

  /** The `GetOrchestrator` request credentials. */
  get credentials(): RequestCredentials {
    return { address: hexToBytes(this.address), sig: hexToBytes(this.signature) };
  }

  /** The `Livepeer-Eth-Address` header value (base64 JSON `{addr, sig}`). */
  get ethAddressHeader(): string {
    return Buffer.from(JSON.stringify({ addr: this.address, sig: this.signature })).toString("base64");
  }

  /**
   * POSTs to the signer. Resolves with the parsed 200 answer, or "no-tickets" on 482; throws
   * REMOTE_SIGNER_UNREACHABLE (502) when it cannot be reached and REMOTE_SIGNER_REFUSED (402, with the
   * signer's status and message) for any other answer.
   */
  async call(
    path: string,
    body: unknown,
    extraHeaders: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Record<string, unknown> | "no-tickets"> {
    return callSigner(this.#post, this.url, path, body, { ...this.#headers, ...extraHeaders }, signal);
  }
}

async function callSigner(
  post: SignerTransport,
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<Record<string, unknown> | "no-tickets"> {
  let answer: SignerAnswer;
  try {
    answer = await post(path, body, headers, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TributaryError(
      "REMOTE_SIGNER_UNREACHABLE",
      `cannot reach the remote signer at ${url}${path}: ${err instanceof Error ? err.message : String(err)}; check --remote-signer-url and that the signer runs`,
      { status: 502, cause: err },
    );
  }
  if (answer.status === HTTP_NO_TICKETS) return "no-tickets";
  // 480 (refresh the orchestrator's info) and 481 (its price is over a ceiling) concern the
  // orchestrator: 502 moves the job on. Any other refusal is the gateway's own (auth, spend limit):
  // 402 goes back to the client, as the gateway's own deposit problems do.
  if (answer.status !== 200)
    throw new TributaryError(
      "REMOTE_SIGNER_REFUSED",
      `the remote signer answered ${path} with HTTP ${answer.status}: ${signerMessage(answer.text)}`,
      {
        status: answer.status === HTTP_REFRESH || answer.status === HTTP_PRICE_EXCEEDED ? 502 : 402,
        details: { signerStatus: answer.status },
      },
    );
  let v: unknown;
  try {
    v = JSON.parse(answer.text);
  } catch {
    v = undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new TributaryError(
      "REMOTE_SIGNER_UNREACHABLE",
      `the remote signer answered ${path} without a JSON object`,
      {
        status: 502,
      },
    );
  return v as Record<string, unknown>;
}

function field(v: Record<string, unknown>, name: string, path: string): string {
  const s = v[name];
  if (typeof s !== "string" || s === "")
    throw new TributaryError(
      "REMOTE_SIGNER_UNREACHABLE",
      `the remote signer answered ${path} without "${name}"`,
      {
        status: 502,
      },
    );
  return s;
}

/**
 * Connects to the signer: asks `/sign-orchestrator-info` once and fails fast (as go-livepeer's
 * gateway) when the signer cannot be reached, refuses, or answers a signature that is not 65 bytes.
 */
export async function connectRemoteSigner(options: RemoteSignerOptions): Promise<RemoteSignerClient> {
  let base: string;
  try {
    base = new URL(options.url).origin;
  } catch {
    throw new TributaryError("BAD_SIGNER_HEADERS", `--remote-signer-url ${options.url} is not a URL`, {
      status: 400,
    });
  }
  if (base === "null" || !/^https?:/.test(base))
    throw new TributaryError(
      "BAD_SIGNER_HEADERS",
      `--remote-signer-url ${options.url} is not an http(s) URL`,
      {
        status: 400,
      },
    );
  const post = options.transport ?? fetchTransport(base, options.timeoutMs ?? DEFAULT_SIGNER_TIMEOUT_MS);
  const headers = { ...options.headers };
  const path = "/sign-orchestrator-info";
  const v = await callSigner(post, base, path, {}, headers, undefined);
  if (v === "no-tickets")
    throw new TributaryError("REMOTE_SIGNER_REFUSED", `the remote signer answered ${path} with HTTP 482`, {
      status: 402,
    });
  let address: Hex;
  const sig = field(v, "signature", path);
  try {
    address = getAddress(field(v, "address", path));
  } catch (err) {
    if (err instanceof TributaryError) throw err;
    throw new TributaryError("REMOTE_SIGNER_UNREACHABLE", `the remote signer's address is not an address`, {
      status: 502,
    });
  }
  const signature = (sig.startsWith("0x") ? sig : `0x${sig}`) as Hex;
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature))
    throw new TributaryError("REMOTE_SIGNER_UNREACHABLE", `the remote signer's signature is not 65 bytes`, {
      status: 502,
    });
  return new RemoteSignerClient(base, address, signature, post, headers);
}

/** What one `/generate-live-payment` gave: its headers and figures, and the state to send back. */
interface Generated {
  payment: SentPayment;
  state: unknown;
}

/** What {@link RemotePayments} needs. */
export interface RemotePaymentsOptions {
  signer: RemoteSignerClient;
  http: OrchestratorHttp;
}

/** The {@link GatewayPayer} through a remote signer: the gateway holds no key. */
export class RemotePayments implements GatewayPayer {
  readonly #o: RemotePaymentsOptions;
  /** First price seen per orchestrator and capability/model (refuse a more than doubled one). */
  readonly #initialPrice = new Map<string, Rat>();
  /** The signer's state per live stream manifest (per orchestrator). */
  readonly #states = new Map<string, unknown>();
  /** States of live starts whose stream has not paid a top-up yet, per orchestrator and model. */
  readonly #starts = new Map<string, unknown[]>();

  constructor(options: RemotePaymentsOptions) {
    this.#o = options;
  }

  get address(): string {
    return this.#o.signer.address;
  }

  async jobHeader(job: ClientJobRequest): Promise<string> {
    const path = "/sign-byoc-job";
    // A V1 signature covers the id, and signers refuse an empty one: a job without one gets one here.
    const id = job.id !== "" ? job.id : randomBytes(16).toString("hex");
    const v = await this.#o.signer.call(path, {
      id,
      capability: job.capability,
      request: job.request,
      parameters: job.parameters,
      timeout_seconds: job.timeoutSeconds,
    });
    if (v === "no-tickets")
      throw new TributaryError("REMOTE_SIGNER_REFUSED", `the remote signer answered ${path} with HTTP 482`, {
        status: 402,
      });
    return Buffer.from(
      JSON.stringify({
        id,
        request: job.request,
        parameters: job.parameters,
        capability: job.capability,
        timeout_seconds: job.timeoutSeconds,
        sender: field(v, "sender", path),
        sig: field(v, "signature", path),
      }),
    ).toString("base64");
  }

  async byocHeaders(
    orchestrator: string,
    job: ClientJobRequest,
    signal?: AbortSignal,
  ): Promise<Record<string, string>> {
    return (await this.byocPayment(orchestrator, job, signal)).headers;
  }

  async byocPayment(orchestrator: string, job: ClientJobRequest, signal?: AbortSignal): Promise<SentPayment> {
    const headers: Record<string, string> = { livepeer: await this.jobHeader(job) };
    const none: SentPayment = { headers, tickets: 0, value: Rat.ZERO };
    const token = await fetchProcessToken(
      this.#o.http,
      orchestrator,
      job.capability,
      this.#o.signer.ethAddressHeader,
      signal,
    );
    if (token === "free") return none;
    this.#checkPrice(`${orchestrator}\u0000${job.capability}`, token.perUnit);
    if (token.balance.cmp(token.perUnit.mul(BYOC_MIN_BALANCE_SECONDS)) >= 0) return none;
    const byocPrice = priceInfoToWire({
      ...token.price,
      capability: CAPABILITY.BYOC,
      constraint: job.capability,
    });
    const info = create(OrchestratorInfoSchema, {
      transcoder: orchestrator,
      address: hexToBytes(token.ticketParams.recipient),
      ticketParams: ticketParamsToWire(token.ticketParams),
      priceInfo: priceInfoToWire({ ...token.price, capability: 0, constraint: "" }),
      capabilitiesPrices: [byocPrice],
    });
    const got = await this.#generate(
      orchestrator,
      { orchestrator: b64(info), type: "lv2v", capability: job.capability },
      { "livepeer-capability": job.capability },
      signal,
    );
    if (got === "no-tickets") return none;
    return { ...got.payment, headers: { ...headers, ...got.payment.headers } };
  }

  async aiHeaders(
    orchestrator: string,
    info: OrchestratorInfo,
    pipeline: string,
    modelId: string,
    units: bigint,
  ): Promise<Record<string, string>> {
    return (await this.nativePayment(orchestrator, info, pipeline, modelId, units)).headers;
  }

  async nativePayment(
    orchestrator: string,
    info: OrchestratorInfo,
    pipeline: string,
    modelId: string,
    units: bigint,
    manifestOverride?: string,
  ): Promise<SentPayment> {
    const capId = pipelineToCapability(pipeline);
    const manifestId = manifestOverride ?? `${capId}_${modelId}`;
    const quoted = quotedPrice(info, pipeline, modelId);
    if (quoted === undefined || quoted.perUnit.cmp(0n) <= 0)
      throw new TributaryError(
        "REMOTE_SIGNER_FREE",
        `${orchestrator} quotes no price for ${pipeline}/${modelId}; a remote signer pays priced orchestrators only`,
        { status: 502 },
      );
    this.#checkPrice(`${orchestrator}\u0000${pipeline}/${modelId}`, quoted.perUnit);
    if (info.ticketParams === undefined) throw noTicketParams();
    // The signer charges `price_info`: the model's quote when the orchestrator sent none.
    let sent = info;
    if (info.priceInfo === undefined || info.priceInfo.pricePerUnit <= 0n) {
      sent = clone(OrchestratorInfoSchema, info);
      sent.priceInfo = priceInfoToWire({ ...quoted.wire, capability: capId ?? 0, constraint: modelId });
    }
    // A live stream's start (no manifest yet: the orchestrator names it in its answer) and top-ups
    // are one signer session: the start's state waits, per orchestrator and model, for the stream's
    // first top-up.
    const live = manifestOverride !== undefined || capId === CAPABILITY.LiveVideoToVideo;
    const startKey = `${orchestrator}\u0000${pipeline}/${modelId}`;
    const stateKey = `${orchestrator}\u0000${manifestId}`;
    const body: Record<string, unknown> = {
      orchestrator: b64(sent),
      capabilities: Buffer.from(
        toBinary(CapabilitiesSchema, aiRequestCapabilities({ pipeline, modelId })),
      ).toString("base64"),
      ManifestID: manifestId,
    };
    if (live) {
      body.type = "lv2v";
      const state =
        manifestOverride === undefined
          ? undefined
          : (this.#states.get(stateKey) ?? this.#starts.get(startKey)?.shift());
      if (state !== undefined) body.state = state;
      // Kept for the stream whatever the answer (a 482 leaves the session as it was).
      if (state !== undefined && manifestOverride !== undefined) this.#keep(stateKey, state);
    } else {
      body.type = "";
      body.inPixels = Number(units > 0n ? units : 1n);
    }
    const got = await this.#generate(orchestrator, body, {}, undefined);
    if (got === "no-tickets") return { headers: {}, tickets: 0, value: Rat.ZERO, skip: true };
    if (live && manifestOverride === undefined) {
      const waiting = this.#starts.get(startKey) ?? [];
      if (waiting.length >= MAX_WAITING_STARTS) waiting.shift();
      waiting.push(got.state);
      this.#starts.set(startKey, waiting);
    } else if (live) this.#keep(stateKey, got.state);
    return got.payment;
  }

  #keep(stateKey: string, state: unknown): void {
    this.#states.delete(stateKey);
    if (this.#states.size >= MAX_STREAM_STATES) this.#states.delete(this.#states.keys().next().value!);
    this.#states.set(stateKey, state);
  }

  #checkPrice(key: string, perUnit: Rat): void {
    try {
      checkKeptPrice(this.#initialPrice, key, perUnit);
    } catch (err) {
      throw asPaymentRefusal(err);
    }
  }

  /** One `/generate-live-payment`: the headers to send and what they carry. */
  async #generate(
    orchestrator: string,
    body: Record<string, unknown>,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Generated | "no-tickets"> {
    const path = "/generate-live-payment";
    const v = await this.#o.signer.call(path, body, headers, signal);
    if (v === "no-tickets") return v;
    const payment = field(v, "payment", path);
    const out: Record<string, string> = { "livepeer-payment": payment };
    if (typeof v.segCreds === "string" && v.segCreds !== "") out["livepeer-segment"] = v.segCreds;
    let decoded: ReturnType<typeof decodePaymentHeader>;
    try {
      decoded = decodePaymentHeader(payment);
    } catch (err) {
      throw new TributaryError(
        "REMOTE_SIGNER_UNREACHABLE",
        `the remote signer's payment for ${orchestrator} does not decode: ${err instanceof Error ? err.message : String(err)}`,
        { status: 502, cause: err },
      );
    }
    const tickets = decoded.senderParams.length;
    const p = decoded.ticketParams;
    const value = p ? ticketEV(p.faceValue, p.winProb).mul(BigInt(tickets)) : Rat.ZERO;
    return { payment: { headers: out, tickets, value }, state: v.state };
  }
}

function b64(info: OrchestratorInfo): string {
  return Buffer.from(toBinary(OrchestratorInfoSchema, info)).toString("base64");
}
