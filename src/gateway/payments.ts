/**
 * Gateway-side BYOC payments (docs/spec/payments.md#byoc-payments, docs/spec/orchestrator-gateway.md#job-signature-v0, #job-token, #byoc-payment-header, #gateway-batch-flow):
 * before each send of a BYOC job to an orchestrator the gateway
 * 1. signs the job (`sender`, `sig` = V0 personal_sign over keccak256(request + parameters));
 * 2. asks `GET {O}/process/token` (signed `Livepeer-Eth-Address`, `Livepeer-Capability`) for the price,
 *    fresh ticket params and its balance with the orchestrator;
 * 3. refuses a price more than double the first price it saw from that orchestrator for that
 *    capability (`checkPriceIncrease`, a `switch`: the job moves on);
 * 4. when the price is non-zero and the balance is under 120 × price, sends a batch of
 *    `ceil(max(price × timeout_seconds, 120 × price − balance) / ticketEV)` tickets in
 *    `Livepeer-Payment`, from a session started on the token's ticket params (each token has a fresh
 *    seed, so params are never stale: they are refreshed on every send).
 *
 * Tickets per payment are bounded by the Sender's `maxTicketsPerPayment` (default 600): the ticket EV
 * is the orchestrator's, bound into its params, so the gateway cannot make tickets worth more. Above
 * the bound a BYOC payment is trimmed to it when that still covers the orchestrator's 60 × price
 * minimum plus this job's first second (the rest of a long timeout is paid by the next top-up, after
 * the orchestrator has debited the seconds used); otherwise, and for native AI fees over the bound,
 * the payment is refused with TOO_MANY_TICKETS (402) and the job moves to another orchestrator.
 *
 * Deviation: go-livepeer sends `price × timeout_seconds` worth of tickets, which is less than the
 * orchestrator's own 60 × price minimum for short timeouts; we top up to the 120 × price threshold.
 * Sender errors (deposit or reserve too low, params expired) become actionable 402s.
 *
 * Native AI batch (docs/spec/orchestrator-gateway.md#ai-batch-request-end-to-end): {@link GatewayPayments.aiHeaders} asks the orchestrator again with the
 * job's capabilities (fresh ticket params, price and auth token), estimates the fee from the request
 * (see {@link aiPaymentUnits}), sends `ceil(max(fee, ticketEV) / ticketEV)` tickets, and signs a
 * `Livepeer-Segment` (`manifestId = "<capId>_<modelId>"`, seq 0, empty-segment hash, auth token).
 * The gateway keeps no local credit between jobs (go-livepeer reserves and reuses it): each job pays
 * for itself.
 *
 * Live video (docs/spec/orchestrator-gateway.md#lv2v-payments): the start pays {@link LIVE_INITIAL_SECONDS} of 1280×720 at 30 fps in
 * pixels, then every interval the elapsed seconds' pixels, through the same signed segment
 * (manifest = the stream's `manifest_id`) and `POST {O}/payment` (see live/topups.ts). Pixel units as
 * go-livepeer; an orchestrator pricing live per second or frame is overpaid (bounded by the Sender's
 * tickets per payment and max total EV).
 */
import { TributaryError } from "../node/errors.ts";
import {
  byocMinimumBalance,
  type MessageSigner,
  PaymentError,
  Rat,
  type Sender,
  signPayload,
  tooManyTickets,
} from "../payments/index.ts";
import { aiRequestUnits } from "../protocol/ai-units.ts";
import type { OrchestratorInfo } from "../protocol/gen/lp_rpc_pb.ts";
import type { JobRequest as ClientJobRequest } from "../protocol/job-header.ts";
import { encodePaymentHeader, priceInfoFromWire, ticketParamsFromWire } from "../protocol/payment-header.ts";
import type { PriceInfo, TicketParams } from "../protocol/payment-types.ts";
import { EMPTY_SEGMENT_HASH, encodeSegmentHeader, segCredsSigningBytes } from "../protocol/segment-header.ts";
import { parseJsonBig, priceInfoFromGoJson, ticketParamsFromGoJson } from "../protocol/ticket-params-json.ts";
import { aiRequestCapabilities, pipelineToCapability, quotedPrice } from "./capabilities.ts";
import { type OrchestratorHttp, readText } from "./orch-http.ts";
import { asPaymentRefusal, checkKeptPrice, noTicketParams } from "./payment-checks.ts";

/** Balance (in seconds of price) under which the gateway pays again (go-livepeer `minBal = 120 × price`). */
export const BYOC_MIN_BALANCE_SECONDS = 120n;
/** Time allowed for a `/process/token` answer. */
const TOKEN_TIMEOUT_MS = 3_000;

/** What the gateway needs to pay. */
export interface GatewayPaymentsOptions {
  /** The gateway's key: signs jobs, the token request and tickets (the Sender's signer). */
  signer: MessageSigner;
  sender: Sender;
  http: OrchestratorHttp;
  /**
   * Batch jobs ({@link GatewayPayments.byocHeaders}): reuse a `/process/token` (price, ticket params,
   * balance) per orchestrator and capability for this long, instead of asking for one per job;
   * default 0 (a token per job, as go-livepeer). While reused, the balance is estimated locally: the
   * token's balance, minus one second of price per job sent (the orchestrator's minimum charge), plus
   * the tickets sent; a payment uses the token's Sender session (nonces continue; params that
   * expired or used up their 600 nonces are replaced by a fresh token at once). Concurrent jobs
   * waiting for a token share one request. What this allows: a price change is seen (and a more than
   * doubled price refused) up to this long later, and a job longer than one second, or a BYOC stream
   * on the same capability, drains the real balance faster than the estimate until the next token
   * (the orchestrator's 60 × price minimum against our 120 × price threshold is the margin).
   */
  tokenReuseMs?: number;
}

/** A `/process/token` answer kept for reuse, with its Sender session and the balance estimate. */
interface Token {
  price: ReturnType<typeof priceInfoFromGoJson>;
  perUnit: Rat;
  /** Sender session on the token's ticket params. */
  session: string;
  /** Estimated balance with the orchestrator (wei). */
  balance: Rat;
  /** performance.now() when it arrived. */
  fetchedAt: number;
}

/** Job signatures kept (distinct `request + parameters` texts; the oldest is dropped first). */
const JOB_SIG_CACHE = 256;

/** Sender errors that a fresh token cures. */
const REFRESHABLE = new Set(["TICKET_EXPIRED", "TOO_MANY_NONCES", "UNKNOWN_SESSION"]);

/** A price as go-livepeer's JSON `PriceInfo`, as a rational wei/unit. */
function priceRat(p: { pricePerUnit: bigint; pixelsPerUnit: bigint }): Rat {
  return p.pixelsPerUnit > 0n ? Rat.of(p.pricePerUnit, p.pixelsPerUnit) : Rat.of(0n, 1n);
}

/** How many tickets cover `needWei` at `ev` wei each (0 for nothing needed or a zero EV). */
export function ticketCount(needWei: Rat, ev: Rat): number {
  if (needWei.cmp(0n) <= 0) return 0;
  if (ev.cmp(0n) <= 0) return 0;
  return Number(needWei.div(ev).ceil());
}

/**
 * BYOC tickets for `need` wei at `ev` each, at most `max`: when more are needed, `max` tickets if
 * they still cover `floor` wei (the orchestrator's minimum), else TOO_MANY_TICKETS.
 */
export function byocTickets(need: Rat, floor: Rat, ev: Rat, max: number): number {
  const n = ticketCount(need, ev);
  if (n <= max) return n;
  const least = ticketCount(floor, ev);
  if (least > max) throw tooManyTickets(least, max, "the orchestrator's minimum balance");
  return max;
}

/**
 * Units a gateway pays for a native AI request: the orchestrator's own rule
 * ({@link aiRequestUnits}, docs/spec/orchestrator-gateway.md#pricing-units) over the body the gateway
 * sends (llm with `max_tokens` filled in by `withDefaultMaxTokens`). 0 when the units cannot be
 * computed from the body (audio, images other than PNG/JPEG, a body neither JSON nor multipart): the
 * payment is then one ticket, and the orchestrator's answer says if more is needed. Throws 400 for a
 * body the orchestrator would refuse.
 */
export function aiPaymentUnits(pipeline: string, contentType: string, body: Buffer): bigint {
  return aiRequestUnits(pipeline, contentType, body) ?? 0n;
}

/** Pixels per second of live video as go-livepeer pays them (1280 × 720 at 30 fps). */
export const LIVE_PIXELS_PER_SECOND = 1280n * 720n * 30n;
/** Seconds paid at a live start (go-livepeer `initPixelsToPay` = 60 s). */
export const LIVE_INITIAL_SECONDS = 60n;

/** What one payment sent. */
export interface SentPayment {
  /** Headers to send (`Livepeer-Segment` / `Livepeer`, and `Livepeer-Payment` when priced). */
  headers: Record<string, string>;
  /** Tickets in `Livepeer-Payment` (0 when nothing was paid). */
  tickets: number;
  /** Their expected value in wei (tickets × EV). */
  value: Rat;
  /**
   * Nothing to send this cycle: the payer says the credit with the orchestrator covers it (a remote
   * signer's 482 on a live top-up). Only a live top-up sees it.
   */
  skip?: boolean;
}

/**
 * Who makes the gateway's payments, chosen once at gateway start: {@link GatewayPayments} (the
 * gateway's own key and ticket Sender) or `RemotePayments` (remote-signer.ts: a remote signer holds
 * the key; the gateway holds none). Handlers only see this interface.
 */
export interface GatewayPayer {
  /** The address that pays (the signer's, when remote). */
  readonly address: string;
  /** The signed `Livepeer` header of a BYOC job (base64 JSON), without any payment. */
  jobHeader(job: ClientJobRequest): Promise<string>;
  /** Native AI batch: `Livepeer-Segment` and, when priced, `Livepeer-Payment` for `units`. */
  aiHeaders(
    orchestrator: string,
    info: OrchestratorInfo,
    pipeline: string,
    modelId: string,
    units: bigint,
  ): Promise<Record<string, string>>;
  /**
   * Native AI or live payment worth `units`; `manifestOverride` is a live stream's manifest (its start
   * and top-ups).
   */
  nativePayment(
    orchestrator: string,
    info: OrchestratorInfo,
    pipeline: string,
    modelId: string,
    units: bigint,
    manifestOverride?: string,
  ): Promise<SentPayment>;
  /** BYOC batch job headers: the signed job and, when the balance is low, a payment. */
  byocHeaders(
    orchestrator: string,
    job: ClientJobRequest,
    signal?: AbortSignal,
  ): Promise<Record<string, string>>;
  /** As {@link byocHeaders}, saying what was sent (BYOC streams: start, updates, top-ups). */
  byocPayment(orchestrator: string, job: ClientJobRequest, signal?: AbortSignal): Promise<SentPayment>;
}

/** BYOC and native AI payments of one gateway, with its own key and ticket Sender. */
export class GatewayPayments implements GatewayPayer {
  readonly #o: GatewayPaymentsOptions;
  /** First price seen per orchestrator and capability. */
  readonly #initialPrice = new Map<string, Rat>();
  #senderHeader: Promise<string> | undefined;
  /** V0 job signatures by signed text (see {@link signJob}). */
  readonly #jobSigs = new Map<string, string>();
  /** Reusable tokens per orchestrator and capability (batch jobs, `tokenReuseMs` > 0). */
  readonly #tokens = new Map<string, Token>();
  /** Token requests under way per orchestrator and capability (single flight). */
  readonly #fetching = new Map<string, Promise<Token | "free">>();

  constructor(options: GatewayPaymentsOptions) {
    this.#o = options;
  }

  get address(): string {
    return this.#o.signer.address;
  }

  /**
   * The job with `sender` and V0 `sig` set. The V0 signature covers `request + parameters` only, so a
   * signature made once stays valid for every job with the same text: signatures are cached by it
   * (jobs of one route usually share it: `{}` + `{}`), at most {@link JOB_SIG_CACHE} of them.
   */
  async signJob(job: ClientJobRequest): Promise<Record<string, unknown>> {
    const payload = job.request + job.parameters;
    let sig = this.#jobSigs.get(payload);
    if (sig === undefined) {
      sig = await signPayload(this.#o.signer, payload);
      if (this.#jobSigs.size >= JOB_SIG_CACHE) this.#jobSigs.delete(this.#jobSigs.keys().next().value!);
      this.#jobSigs.set(payload, sig);
    }
    return {
      id: job.id,
      request: job.request,
      parameters: job.parameters,
      capability: job.capability,
      timeout_seconds: job.timeoutSeconds,
      sender: this.#o.signer.address,
      sig,
    };
  }

  #ethAddressHeader(): Promise<string> {
    this.#senderHeader ??= signPayload(this.#o.signer, this.#o.signer.address).then((sig) =>
      Buffer.from(JSON.stringify({ addr: this.#o.signer.address, sig })).toString("base64"),
    );
    return this.#senderHeader;
  }

  /**
   * `Livepeer-Segment` and, when priced, `Livepeer-Payment` for a native AI job of `units`
   * ({@link aiPaymentUnits}, computed once per job) on the orchestrator whose fresh `info` (asked with
   * the job's capabilities) is given.
   */
  aiHeaders(
    orchestrator: string,
    info: OrchestratorInfo,
    pipeline: string,
    modelId: string,
    units: bigint,
  ): Promise<Record<string, string>> {
    return this.nativeHeaders(orchestrator, info, pipeline, modelId, units);
  }

  /**
   * `Livepeer-Segment` and, when priced, `Livepeer-Payment` worth `units` (at least one ticket), for
   * the native AI or live routes. `manifestId` defaults to `"<capId>_<modelId>"` (a live stream's
   * top-ups use its `manifest_id`).
   */
  async nativeHeaders(
    orchestrator: string,
    info: OrchestratorInfo,
    pipeline: string,
    modelId: string,
    units: bigint,
    manifestOverride?: string,
  ): Promise<Record<string, string>> {
    return (await this.nativePayment(orchestrator, info, pipeline, modelId, units, manifestOverride)).headers;
  }

  /**
   * As {@link nativeHeaders}, also saying what was sent: the number of tickets and their expected
   * value in wei (0 when the orchestrator is free). Live streams add these up per stream.
   */
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
    const sig = await signPayload(this.#o.signer, segCredsSigningBytes(manifestId, 0n, EMPTY_SEGMENT_HASH));
    const headers: Record<string, string> = {
      "livepeer-segment": encodeSegmentHeader({
        manifestId,
        seq: 0n,
        hash: EMPTY_SEGMENT_HASH,
        sig,
        durationMs: 0,
        capabilities: aiRequestCapabilities({ pipeline, modelId }),
        authToken: info.authToken && {
          token: `0x${Buffer.from(info.authToken.token).toString("hex")}`,
          sessionId: info.authToken.sessionId,
          expiration: info.authToken.expiration,
        },
      }),
    };
    const quoted = quotedPrice(info, pipeline, modelId);
    if (quoted === undefined || quoted.perUnit.cmp(0n) <= 0) return { headers, tickets: 0, value: Rat.ZERO };
    const key = `${orchestrator}\u0000${pipeline}/${modelId}`;
    checkKeptPrice(this.#initialPrice, key, quoted.perUnit);
    if (info.ticketParams === undefined) throw noTicketParams();
    const fee = quoted.perUnit.mul(units);
    try {
      const session = this.#o.sender.startSession(ticketParamsFromWire(info.ticketParams));
      try {
        const ev = this.#o.sender.ev(session);
        let n = Math.max(1, ticketCount(fee.cmp(ev) > 0 ? fee : ev, ev));
        const max = this.#o.sender.maxTicketsPerPayment;
        // A live stream's payment over the bound sends the bound (the next top-up pays the rest); a
        // batch fee must be paid whole, or the orchestrator refuses the job.
        if (n > max && manifestOverride !== undefined) n = max;
        else if (n > max) throw tooManyTickets(n, max, `a fee of ${fee.ceil()} wei`);
        const expected = info.priceInfo
          ? priceInfoFromWire(info.priceInfo)
          : { ...quoted.wire, capability: capId ?? 0, constraint: modelId };
        const payment = await this.#o.sender.createPayment(session, n, expected);
        headers["livepeer-payment"] = encodePaymentHeader(payment);
        return { headers, tickets: n, value: ev.mul(BigInt(n)) };
      } finally {
        this.#o.sender.cleanupSession(session);
      }
    } catch (err) {
      throw asPaymentRefusal(err, orchestrator);
    }
  }

  /**
   * Headers for sending `job` to `orchestrator` (its base URL): the signed `Livepeer` header and, when
   * needed, `Livepeer-Payment`. Throws a `switch`-able error (text contains "insufficient capacity"
   * semantics are not used; the caller treats every throw as a failure of this orchestrator) or an
   * actionable 402 for the gateway's own deposit/reserve problems.
   */
  async byocHeaders(
    orchestrator: string,
    job: ClientJobRequest,
    signal?: AbortSignal,
  ): Promise<Record<string, string>> {
    return (await this.byocJobPayment(orchestrator, job, signal)).headers;
  }

  /** The signed `Livepeer` header of `job` (base64 JSON), without any payment. */
  async jobHeader(job: ClientJobRequest): Promise<string> {
    return Buffer.from(JSON.stringify(await this.signJob(job))).toString("base64");
  }

  /**
   * As {@link byocHeaders}, also saying what was sent (tickets and their expected value; none when
   * the balance with the orchestrator is high enough or the capability is free). BYOC streams use it
   * for their start, updates and top-ups.
   */
  async byocPayment(orchestrator: string, job: ClientJobRequest, signal?: AbortSignal): Promise<SentPayment> {
    return this.#byoc(orchestrator, job, false, signal);
  }

  /**
   * As {@link byocPayment} for a batch job: with `tokenReuseMs` > 0 a `/process/token` younger than
   * that is reused (see {@link GatewayPaymentsOptions.tokenReuseMs}); otherwise the same.
   */
  async byocJobPayment(
    orchestrator: string,
    job: ClientJobRequest,
    signal?: AbortSignal,
  ): Promise<SentPayment> {
    return this.#byoc(orchestrator, job, (this.#o.tokenReuseMs ?? 0) > 0, signal);
  }

  async #byoc(
    orchestrator: string,
    job: ClientJobRequest,
    reuse: boolean,
    signal: AbortSignal | undefined,
    retried = false,
  ): Promise<SentPayment> {
    const headers: Record<string, string> = { livepeer: await this.jobHeader(job) };
    const none = (): SentPayment => ({ headers, tickets: 0, value: Rat.ZERO });
    const key = `${orchestrator}\u0000${job.capability}`;
    const token =
      (reuse ? this.#reusable(key) : undefined) ??
      (await this.#fetchToken(orchestrator, job.capability, key, reuse, signal));
    if (token === "free") return none();
    try {
      return await this.#payFromToken(orchestrator, job, reuse, signal, retried, key, token, headers);
    } finally {
      // A token of its own (no reuse) is this job's: its Sender session goes with it, whether the
      // job paid or the balance already covered it.
      if (!reuse) this.#o.sender.cleanupSession(token.session);
    }
  }

  /** The payment of one BYOC job on `token` (see {@link GatewayPayments.byocHeaders}). */
  async #payFromToken(
    orchestrator: string,
    job: ClientJobRequest,
    reuse: boolean,
    signal: AbortSignal | undefined,
    retried: boolean,
    key: string,
    token: Token,
    headers: Record<string, string>,
  ): Promise<SentPayment> {
    const none = (): SentPayment => ({ headers, tickets: 0, value: Rat.ZERO });
    const { price, perUnit } = token;
    const threshold = perUnit.mul(BYOC_MIN_BALANCE_SECONDS);
    // What this job costs at least (one second, the orchestrator's minimum charge) comes off the
    // estimate now, so the jobs sent on one token see the balance their predecessors leave.
    const balance = token.balance;
    token.balance = token.balance.sub(perUnit);
    if (balance.cmp(threshold) >= 0) return none();
    const forTimeout = perUnit.mul(BigInt(job.timeoutSeconds));
    const topUp = threshold.sub(balance);
    const need = forTimeout.cmp(topUp) > 0 ? forTimeout : topUp;
    try {
      let payment: Awaited<ReturnType<Sender["createPayment"]>>;
      let ev = Rat.ZERO;
      let n = 0;
      try {
        ev = this.#o.sender.ev(token.session);
        // The orchestrator starts a job on 60 × price of credit and takes this job's first second.
        const floor = byocMinimumBalance(perUnit).add(perUnit).sub(balance);
        n = byocTickets(need, floor, ev, this.#o.sender.maxTicketsPerPayment);
        // Counted at once, so jobs running alongside do not pay for the same shortfall.
        token.balance = token.balance.add(ev.mul(BigInt(n)));
        payment = await this.#o.sender.createPayment(token.session, n, price);
      } catch (err) {
        token.balance = token.balance.sub(ev.mul(BigInt(n)));
        // Reused params that expired, ran out of nonces or were replaced meanwhile: once more on
        // a fresh token.
        if (!reuse || retried || !(err instanceof PaymentError) || !REFRESHABLE.has(err.code)) throw err;
        this.#forget(key, token);
        return this.#byoc(orchestrator, job, reuse, signal, true);
      }
      headers["livepeer-payment"] = encodePaymentHeader(payment);
      return { headers, tickets: n, value: ev.mul(BigInt(n)) };
    } catch (err) {
      throw asPaymentRefusal(err, orchestrator);
    }
  }

  /** The cached token of `key` while it is younger than `tokenReuseMs`. */
  #reusable(key: string): Token | undefined {
    const t = this.#tokens.get(key);
    if (t === undefined) return undefined;
    if (performance.now() - t.fetchedAt < (this.#o.tokenReuseMs ?? 0)) return t;
    this.#forget(key, t);
    return undefined;
  }

  #forget(key: string, t: Token): void {
    if (this.#tokens.get(key) !== t) return;
    this.#tokens.delete(key);
    this.#o.sender.cleanupSession(t.session);
  }

  /**
   * Asks `GET {O}/process/token`, checks the price and starts a Sender session on its params;
   * "free" when the capability is not priced. With `share`, concurrent callers for one key share one
   * request and the result is cached for reuse.
   */
  #fetchToken(
    orchestrator: string,
    capability: string,
    key: string,
    share: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Token | "free"> {
    if (!share) return this.#requestToken(orchestrator, capability, key, signal);
    let pending = this.#fetching.get(key);
    if (pending === undefined) {
      // Not tied to one job's signal: other jobs wait on it too (the 3 s headers timeout bounds it).
      pending = this.#requestToken(orchestrator, capability, key, undefined)
        .then((t) => {
          if (t !== "free") {
            const old = this.#tokens.get(key);
            if (old !== undefined) this.#forget(key, old);
            this.#tokens.set(key, t);
          }
          return t;
        })
        .finally(() => this.#fetching.delete(key));
      this.#fetching.set(key, pending);
    }
    return pending;
  }

  async #requestToken(
    orchestrator: string,
    capability: string,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<Token | "free"> {
    const token = await fetchProcessToken(
      this.#o.http,
      orchestrator,
      capability,
      await this.#ethAddressHeader(),
      signal,
    );
    if (token === "free") return "free";
    const { price, perUnit } = token;
    checkKeptPrice(this.#initialPrice, key, perUnit);
    let session: string;
    try {
      session = this.#o.sender.startSession(token.ticketParams);
    } catch (err) {
      throw asPaymentRefusal(err, orchestrator);
    }
    return {
      price,
      perUnit,
      session,
      balance: token.balance,
      fetchedAt: performance.now(),
    };
  }
}

/** A priced `/process/token` answer (docs/spec/orchestrator-gateway.md#job-token). */
export interface ProcessToken {
  price: PriceInfo;
  /** Wei per unit (second). */
  perUnit: Rat;
  ticketParams: TicketParams;
  /** The sender's balance with the orchestrator for the capability (wei). */
  balance: Rat;
}

/**
 * Asks `GET {O}/process/token` for `capability` as the sender whose signed `Livepeer-Eth-Address`
 * is `ethAddress`: the price, fresh ticket params and the balance; "free" when not priced.
 */
export async function fetchProcessToken(
  http: OrchestratorHttp,
  orchestrator: string,
  capability: string,
  ethAddress: string,
  signal: AbortSignal | undefined,
): Promise<ProcessToken | "free"> {
  const res = await http.send(`${orchestrator.replace(/\/+$/, "")}/process/token`, {
    method: "GET",
    headers: { "livepeer-eth-address": ethAddress, "livepeer-capability": capability },
    headersTimeoutMs: TOKEN_TIMEOUT_MS,
    signal,
  });
  const text = await readText(res, 256 * 1024);
  if ((res.statusCode ?? 500) !== 200)
    throw new TributaryError(
      "TOKEN_FAILED",
      `orchestrator token request: HTTP ${res.statusCode}: ${text.slice(0, 200)}`,
      { status: 502 },
    );
  const token = parseJsonBig(text) as { price?: unknown; ticket_params?: unknown; balance?: unknown };
  const price = token.price === undefined ? undefined : priceInfoFromGoJson(token.price);
  const perUnit = price ? priceRat(price) : Rat.of(0n, 1n);
  if (perUnit.cmp(0n) <= 0 || price === undefined) return "free";
  if (token.ticket_params === undefined) throw noTicketParams();
  return {
    price,
    perUnit,
    ticketParams: ticketParamsFromGoJson(token.ticket_params),
    balance: Rat.of(BigInt(String(token.balance ?? 0)), 1n),
  };
}
