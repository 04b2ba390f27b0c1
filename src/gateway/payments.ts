/**
 * Gateway-side BYOC payments (shared/spec/payments.md §16, orchestrator-gateway.md §4.3–§4.6, §6.1):
 * before each send of a BYOC job to an orchestrator the gateway
 * 1. signs the job (`sender`, `sig` = V0 personal_sign over keccak256(request + parameters));
 * 2. asks `GET {O}/process/token` (signed `Livepeer-Eth-Address`, `Livepeer-Capability`) for the price,
 *    fresh ticket params and its balance with the orchestrator;
 * 3. refuses a price more than double the first price it saw from that orchestrator for that
 *    capability (`checkPriceIncrease`, a `switch`: the job moves on);
 * 4. when the price is non-zero and the balance is under 120 × price, sends a batch of
 *    `ceil(max(price × timeout_seconds, 120 × price − balance) / ticketEV)` tickets (at most 600) in
 *    `Livepeer-Payment`, from a session started on the token's ticket params (each token has a fresh
 *    seed, so params are never stale: they are refreshed on every send).
 *
 * Deviation: go-livepeer sends `price × timeout_seconds` worth of tickets, which is less than the
 * orchestrator's own 60 × price minimum for short timeouts; we top up to the 120 × price threshold.
 * Sender errors (deposit or reserve too low, params expired) become actionable 402s.
 *
 * Native AI batch and live-video payments are not implemented (offchain only there).
 */
import { TributaryError } from "../node/errors.ts";
import {
  checkPriceIncrease,
  type MessageSigner,
  PaymentError,
  Rat,
  type Sender,
  signPayload,
} from "../payments/index.ts";
import { encodePaymentHeader } from "../protocol/payment-header.ts";
import { parseJsonBig, priceInfoFromGoJson, ticketParamsFromGoJson } from "../protocol/ticket-params-json.ts";
import type { ClientJobRequest } from "./gateway.ts";
import { type OrchestratorHttp, readText } from "./orch-http.ts";

/** Tickets in one batch at most (go-livepeer `maxSenderNonces`). */
export const MAX_TICKETS_PER_BATCH = 600;
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
}

/** A price as go-livepeer's JSON `PriceInfo`, as a rational wei/unit. */
function priceRat(p: { pricePerUnit: bigint; pixelsPerUnit: bigint }): Rat {
  return p.pixelsPerUnit > 0n ? Rat.of(p.pricePerUnit, p.pixelsPerUnit) : Rat.of(0n, 1n);
}

/** How many tickets cover `needWei` at `ev` wei each, capped at {@link MAX_TICKETS_PER_BATCH}. */
export function ticketCount(needWei: Rat, ev: Rat): number {
  if (needWei.cmp(0n) <= 0) return 0;
  if (ev.cmp(0n) <= 0) return 0;
  const q = needWei.div(ev);
  const n = q.ceil();
  return Number(n > BigInt(MAX_TICKETS_PER_BATCH) ? BigInt(MAX_TICKETS_PER_BATCH) : n);
}

/** BYOC payments of one gateway. */
export class GatewayPayments {
  readonly #o: GatewayPaymentsOptions;
  /** First price seen per orchestrator and capability. */
  readonly #initialPrice = new Map<string, Rat>();
  #senderHeader: Promise<string> | undefined;

  constructor(options: GatewayPaymentsOptions) {
    this.#o = options;
  }

  get address(): string {
    return this.#o.signer.address;
  }

  /** The job with `sender` and V0 `sig` set. */
  async signJob(job: ClientJobRequest): Promise<Record<string, unknown>> {
    const sig = await signPayload(this.#o.signer, job.request + job.parameters);
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
    const headers: Record<string, string> = {
      livepeer: Buffer.from(JSON.stringify(await this.signJob(job))).toString("base64"),
    };
    const res = await this.#o.http.send(`${orchestrator.replace(/\/+$/, "")}/process/token`, {
      method: "GET",
      headers: {
        "livepeer-eth-address": await this.#ethAddressHeader(),
        "livepeer-capability": job.capability,
      },
      headersTimeoutMs: TOKEN_TIMEOUT_MS,
      signal,
    });
    const text = await readText(res, 256 * 1024);
    if ((res.statusCode ?? 500) !== 200)
      throw new TributaryError(
        "TOKEN_FAILED",
        `orchestrator token request: HTTP ${res.statusCode}: ${text.slice(0, 200)}`,
        {
          status: 502,
        },
      );
    const token = parseJsonBig(text) as { price?: unknown; ticket_params?: unknown; balance?: unknown };
    const price = token.price === undefined ? undefined : priceInfoFromGoJson(token.price);
    const perUnit = price ? priceRat(price) : Rat.of(0n, 1n);
    if (perUnit.cmp(0n) <= 0 || price === undefined) return headers;
    const key = `${orchestrator}\u0000${job.capability}`;
    const initial = this.#initialPrice.get(key);
    if (initial === undefined) this.#initialPrice.set(key, perUnit);
    else checkPriceIncrease(initial, perUnit);
    if (token.ticket_params === undefined)
      throw new TributaryError("NO_TICKET_PARAMS", "a priced orchestrator sent no ticket params", {
        status: 502,
      });
    const balance = Rat.of(BigInt(String(token.balance ?? 0)), 1n);
    const threshold = perUnit.mul(BYOC_MIN_BALANCE_SECONDS);
    if (balance.cmp(threshold) >= 0) return headers;
    const forTimeout = perUnit.mul(BigInt(job.timeoutSeconds));
    const topUp = threshold.sub(balance);
    const need = forTimeout.cmp(topUp) > 0 ? forTimeout : topUp;
    try {
      const session = this.#o.sender.startSession(ticketParamsFromGoJson(token.ticket_params));
      try {
        const n = ticketCount(need, this.#o.sender.ev(session));
        const payment = await this.#o.sender.createPayment(session, n, price);
        headers["livepeer-payment"] = encodePaymentHeader(payment);
      } finally {
        this.#o.sender.cleanupSession(session);
      }
    } catch (err) {
      if (err instanceof PaymentError)
        throw new TributaryError(err.code, `cannot pay ${orchestrator}: ${err.message}`, {
          status: 402,
          cause: err,
        });
      throw err;
    }
    return headers;
  }
}
