/**
 * Paying a live runner session (the orchestrator's 402 challenge), shared by the job client
 * (src/client/runner.ts) and the gateway (src/gateway/runners/): the challenge's shape, the
 * {@link RunnerPayer} that turns it into the `Livepeer-Payment` and `Livepeer-Segment` headers, and
 * the {@link RunnerTopUps} loop that keeps a session paid.
 *
 * A challenge is `{payment_params, manifest_id, orchestrator?, payment_url?}`: `payment_params` is a
 * base64 protobuf `OrchestratorInfo` (the runner's price, ticket params for the payer named in
 * `Livepeer-Payer-Address`, and an auth token whose session id is `manifest_id`). The session id of the
 * paid reservation is `manifest_id`; top-ups go to `payment_url` when the orchestrator names one
 * (go-livepeer), else to `{control_url}/payment`.
 *
 * {@link ticketPayer} pays with a local key through a {@link Sender}; {@link signerPayer} through a
 * remote signer's `/generate-live-payment` (`{orchestrator: payment_params, type, ManifestID, state}`,
 * the answered `state` sent back on the manifest's next payment; the signer decides how many
 * tickets). The payment type follows the runner's price unit ({@link paymentTypeOfUnit}): `fixed` is
 * paid once per reservation (1 unit), `720p…` units as live video pixels, the others per second.
 *
 * Errors are TributaryErrors: 402 `PAYMENT_REQUIRED` for a challenge that cannot be paid, 502
 * `REMOTE_SIGNER_UNREACHABLE` for a signer answer without a payment.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Address } from "viem";
import { TributaryError } from "../node/errors.ts";
import {
  type OrchestratorInfo,
  OrchestratorInfoSchema,
  PaymentResultSchema,
} from "../protocol/gen/lp_rpc_pb.ts";
import {
  encodePaymentHeader,
  PAYMENT_HEADER,
  priceInfoFromWire,
  ticketParamsFromWire,
} from "../protocol/payment-header.ts";
import {
  EMPTY_SEGMENT_HASH,
  encodeSegmentHeader,
  SEGMENT_HEADER,
  segCredsSigningBytes,
} from "../protocol/segment-header.ts";
import type { Sender } from "./sender.ts";
import { type MessageSigner, signPayload } from "./signature.ts";
import { ticketEV } from "./ticket.ts";

/** The header naming the payer when asking for a challenge (go-livepeer `Livepeer-Payer-Address`). */
export const PAYER_ADDRESS_HEADER = "Livepeer-Payer-Address";

const paymentRequired = (message: string, cause?: unknown): TributaryError =>
  new TributaryError("PAYMENT_REQUIRED", message, { status: 402, cause });

/** A 402 challenge of a priced runner. */
export interface RunnerChallenge {
  /** Base64 protobuf `OrchestratorInfo`. */
  paymentParams: string;
  /** The manifest (and future session) id the payment is for. */
  manifestId: string;
  /** Where top-ups go, when the orchestrator names it. */
  paymentUrl: string | undefined;
  /** The orchestrator's service URI, when given. */
  orchestrator: string | undefined;
}

/**
 * Reads a 402 answer's body into a challenge; throws 402 `PAYMENT_REQUIRED` when it is not one (e.g.
 * the error envelope answered to a reservation without a payer address, whose message it carries).
 */
export function parseRunnerChallenge(text: string): RunnerChallenge {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const b = (body ?? {}) as Record<string, unknown>;
  const str = (v: unknown): string | undefined =>
    typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  const paymentParams = str(b.payment_params);
  const manifestId = str(b.manifest_id);
  if (paymentParams === undefined || manifestId === undefined) {
    const err = (b.error ?? {}) as { message?: unknown };
    const why =
      typeof err.message === "string" ? err.message : "no payment_params and manifest_id in the 402 answer";
    throw paymentRequired(`live runner payment required: ${why}`);
  }
  return { paymentParams, manifestId, paymentUrl: str(b.payment_url), orchestrator: str(b.orchestrator) };
}

/** Decodes a challenge's (or top-up answer's) base64 `OrchestratorInfo`. */
export function decodePaymentParams(paymentParams: string): OrchestratorInfo {
  try {
    return fromBinary(OrchestratorInfoSchema, Buffer.from(paymentParams, "base64"));
  } catch (err) {
    throw paymentRequired("live runner payment_params is not an OrchestratorInfo", err);
  }
}

/**
 * `paymentParams` with the ticket params of a top-up answer's fresh `OrchestratorInfo` when they carry
 * value; the price (the runner's) and the auth token (bound to the session's manifest id) stay the
 * challenge's: the answer's price is the node's general one.
 */
export function refreshPaymentParams(paymentParams: string, fresh: OrchestratorInfo): string {
  if (fresh.ticketParams === undefined) return paymentParams;
  let t: { faceValue: bigint; winProb: bigint };
  try {
    t = ticketParamsFromWire(fresh.ticketParams);
  } catch {
    return paymentParams;
  }
  if (t.faceValue <= 0n || t.winProb <= 0n) return paymentParams;
  const info = decodePaymentParams(paymentParams);
  info.ticketParams = fresh.ticketParams;
  return Buffer.from(toBinary(OrchestratorInfoSchema, info)).toString("base64");
}

/** A remote signer's payment type for a runner price unit (`price_info.unit`), as upstream clients map it. */
export type RunnerPaymentType = "live" | "lv2v" | "fixed";

/** `fixed` → `fixed`; `720p`, `720p-pixel-seconds` → `lv2v`; anything else (seconds, hour, none) → `live`. */
export function paymentTypeOfUnit(unit: string | undefined): RunnerPaymentType {
  const u = (unit ?? "").trim().toLowerCase();
  if (u === "fixed") return "fixed";
  if (u === "720p" || u === "720p-pixel-seconds") return "lv2v";
  return "live";
}

/** Pays a runner session: the headers for `seconds` of the session under a challenge's params. */
export interface RunnerPayer {
  /** The payer's 0x address (sent as `Livepeer-Payer-Address` to get a challenge). */
  readonly address: Address;
  /**
   * `Livepeer-Payment` and `Livepeer-Segment` paying `seconds` of the runner's price for `manifestId`;
   * undefined when nothing needs paying this time (a remote signer's 482: the credit covers it).
   */
  pay(
    paymentParams: string,
    manifestId: string,
    seconds: number,
  ): Promise<Record<string, string> | undefined>;
  /** Forgets what the payer keeps for `manifestId` (ticket sessions, signer state); the session ended. */
  end?(manifestId: string): void;
}

/** Tickets that cover `seconds` at `price` wei per `pixelsPerUnit` units, at least one. */
export function ticketsFor(
  price: { pricePerUnit: bigint; pixelsPerUnit: bigint },
  ev: { faceValue: bigint; winProb: bigint },
  seconds: number,
): number {
  const each = ticketEV(ev.faceValue, ev.winProb);
  const units = BigInt(Math.max(1, Math.ceil(seconds)));
  const per = price.pixelsPerUnit > 0n ? price.pixelsPerUnit : 1n;
  const owed = price.pricePerUnit * units; // wei × per
  if (each.num <= 0n) throw paymentRequired("the runner's ticket params have no value");
  // ceil(owed / per / (num/den)) = ceil(owed·den / (per·num))
  const n = (owed * each.den + per * each.num - 1n) / (per * each.num);
  return Math.max(1, Number(n));
}

/**
 * A {@link RunnerPayer} over a local key: tickets from `sender` (whose signer is `signer`), one ticket
 * session per ticket params (nonces go on across top-ups and manifests that share the params),
 * forgotten once no live manifest uses it.
 */
export function ticketPayer(sender: Sender, signer: MessageSigner): RunnerPayer {
  /** The manifests paying on each ticket session. */
  const users = new Map<string, Set<string>>();
  return {
    address: sender.address,
    async pay(paymentParams, manifestId, seconds) {
      const info = decodePaymentParams(paymentParams);
      if (info.ticketParams === undefined || info.priceInfo === undefined || info.authToken === undefined)
        throw paymentRequired("live runner payment_params lack ticket params, price or auth token");
      const params = ticketParamsFromWire(info.ticketParams);
      const id = params.recipientRandHash.toLowerCase();
      let on = users.get(id);
      if (on === undefined) {
        sender.startSession(params);
        on = new Set();
        users.set(id, on);
      }
      on.add(manifestId);
      const price = priceInfoFromWire(info.priceInfo);
      const payment = await sender.createPayment(id, ticketsFor(price, params, seconds), price);
      const sig = await signPayload(signer, segCredsSigningBytes(manifestId, 0n, EMPTY_SEGMENT_HASH));
      const token = info.authToken;
      const segment = encodeSegmentHeader({
        manifestId,
        seq: 0n,
        hash: EMPTY_SEGMENT_HASH,
        sig,
        durationMs: 0,
        authToken: {
          token: `0x${Buffer.from(token.token).toString("hex")}`,
          sessionId: token.sessionId,
          expiration: token.expiration,
        },
      });
      return { [PAYMENT_HEADER]: encodePaymentHeader(payment), [SEGMENT_HEADER]: segment };
    },
    end(manifestId) {
      for (const [id, on] of users) {
        if (!on.delete(manifestId) || on.size > 0) continue;
        users.delete(id);
        sender.cleanupSession(id);
      }
    },
  };
}

/** What a remote signer's `/generate-live-payment` answered: the payment, or "no-tickets" (its 482). */
export type GeneratedPayment = { payment: unknown; segCreds: unknown; state?: unknown } | "no-tickets";

/** Sends one `/generate-live-payment` body to the signer; errors are the caller's (transport, refusal). */
export type GenerateLivePayment = (body: Record<string, unknown>) => Promise<GeneratedPayment>;

/**
 * A {@link RunnerPayer} over a remote signer whose address is `address`: each payment is one
 * `/generate-live-payment` of `type` (default `live`), the state it answers kept per manifest and sent
 * back on the next one.
 */
export function signerPayer(
  address: Address,
  generate: GenerateLivePayment,
  type: RunnerPaymentType = "live",
): RunnerPayer {
  const states = new Map<string, unknown>();
  return {
    address,
    async pay(paymentParams, manifestId) {
      const state = states.get(manifestId);
      const got = await generate({
        orchestrator: paymentParams,
        type,
        ManifestID: manifestId,
        ...(state === undefined ? {} : { state }),
      });
      if (got === "no-tickets") return undefined;
      const { payment, segCreds } = got;
      if (typeof payment !== "string" || payment === "" || typeof segCreds !== "string" || segCreds === "")
        throw new TributaryError(
          "REMOTE_SIGNER_UNREACHABLE",
          "the remote signer answered /generate-live-payment without payment or segCreds",
          { status: 502 },
        );
      if (got.state !== undefined) states.set(manifestId, got.state);
      return { [PAYMENT_HEADER]: payment, [SEGMENT_HEADER]: segCreds };
    },
    end(manifestId) {
      states.delete(manifestId);
    },
  };
}

/**
 * The headers paying a challenge upfront (`seconds` of the runner's price; a `fixed` runner's price
 * once); 402 `PAYMENT_REQUIRED` when the payer makes no payment.
 */
export async function payChallenge(
  payer: RunnerPayer,
  challenge: RunnerChallenge,
  seconds: number,
): Promise<Record<string, string>> {
  const paid = await payer.pay(challenge.paymentParams, challenge.manifestId, seconds);
  if (paid === undefined) throw paymentRequired("the payer made no payment for the live runner's challenge");
  return paid;
}

/** An answer of the orchestrator to a top-up: its status and body. */
export interface TopUpAnswer {
  status: number;
  body: Uint8Array;
}

/** Options of {@link RunnerTopUps}. */
export interface RunnerTopUpOptions {
  payer: RunnerPayer;
  challenge: RunnerChallenge;
  /** The session's `control_url` (top-ups go to `{control_url}/payment` without a `payment_url`). */
  controlUrl: string;
  /** Top-up period, ms (0: no timer; call {@link RunnerTopUps.topUp} yourself). */
  everyMs: number;
  /** Seconds of the runner's price each top-up pays. */
  seconds: number;
  /** POSTs a top-up's headers to `url` (no body). */
  post(url: string, headers: Record<string, string>): Promise<TopUpAnswer>;
  /** The orchestrator says the session is gone (a top-up's 404): the loop has stopped. */
  onGone?(): void;
}

/** An error of a top-up answer: the orchestrator's envelope code and message when it has one. */
function topUpError(a: TopUpAnswer): TributaryError {
  const text = Buffer.from(a.body).toString("utf8");
  let code = `HTTP_${a.status}`;
  let message = text.trim().slice(0, 500) || "no body";
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code === "string") code = e.code;
    if (typeof e?.message === "string") message = e.message;
  } catch {
    // plain text
  }
  return new TributaryError(code, `live runner top-up: ${a.status} ${code}: ${message}`, {
    status: a.status,
  });
}

/**
 * Keeps a paid session paid: every `everyMs` one payment of `seconds` to the payment URL, the ticket
 * params refreshed from each answer's `PaymentResult`. A 404 means the orchestrator released the
 * session (`onGone`); another 4xx than 408/429 stops the loop (paying again would not help); other
 * failures are kept in {@link lastError} and the next period tries again. One top-up at a time.
 */
export class RunnerTopUps implements Disposable {
  /** Top-ups the orchestrator accepted. */
  accepted = 0;
  /** Payments skipped because the payer's credit covered the period (a signer's 482). */
  skipped = 0;
  /** The last failure, if any. */
  lastError: Error | undefined;
  readonly #o: RunnerTopUpOptions;
  #paymentParams: string;
  #timer: NodeJS.Timeout | undefined;
  #paying = false;
  #stopped = false;

  constructor(options: RunnerTopUpOptions) {
    this.#o = options;
    this.#paymentParams = options.challenge.paymentParams;
    if (options.everyMs > 0) {
      this.#timer = setInterval(() => void this.topUp(), options.everyMs);
      this.#timer.unref();
    }
  }

  /** The top-up URL: the challenge's `payment_url`, else `{control_url}/payment`. */
  get url(): string {
    return this.#o.challenge.paymentUrl ?? `${this.#o.controlUrl.replace(/\/+$/, "")}/payment`;
  }

  /** True once stopped (by {@link stop}, a 404 or a refusal). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Pays one top-up now; false when nothing was accepted. */
  async topUp(): Promise<boolean> {
    if (this.#stopped || this.#paying) return false;
    this.#paying = true;
    const { payer, challenge, seconds } = this.#o;
    try {
      const headers = await payer.pay(this.#paymentParams, challenge.manifestId, seconds);
      if (headers === undefined) {
        this.skipped++;
        return false;
      }
      if (this.#stopped) return false;
      const answer = await this.#o.post(this.url, headers);
      if (answer.status === 200) {
        try {
          const info = fromBinary(PaymentResultSchema, answer.body).info;
          if (info !== undefined) this.#paymentParams = refreshPaymentParams(this.#paymentParams, info);
        } catch {
          // not a PaymentResult: keep the params
        }
        this.accepted++;
        return true;
      }
      this.lastError = topUpError(answer);
      if (answer.status === 404) {
        this.stop();
        this.#o.onGone?.();
      } else if (
        answer.status >= 400 &&
        answer.status < 500 &&
        answer.status !== 408 &&
        answer.status !== 429
      )
        this.stop();
      return false;
    } catch (err) {
      this.lastError = err as Error;
      return false;
    } finally {
      this.#paying = false;
    }
  }

  /** Stops paying and lets the payer forget the manifest. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#stopped = true;
    this.#o.payer.end?.(this.#o.challenge.manifestId);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
