/**
 * Paying a live runner session (the orchestrator's 402 challenge): the challenge's shape, and the
 * {@link RunnerPayer} that turns it into the `Livepeer-Payment` and `Livepeer-Segment` headers.
 *
 * A challenge is `{payment_params, manifest_id, orchestrator?, payment_url?}`: `payment_params` is a
 * base64 protobuf `OrchestratorInfo` (the runner's price, ticket params for the payer named in
 * `Livepeer-Payer-Address`, and an auth token whose session id is `manifest_id`). The session id of the
 * paid reservation is `manifest_id`; top-ups go to `payment_url` when the orchestrator names one
 * (go-livepeer), else to `{control_url}/payment`.
 *
 * {@link ticketPayer} pays with a local key through the payments module's {@link Sender} (the caller
 * builds the Sender with its chain facts, as the gateway does); {@link remoteSignerPayer} through a
 * remote signer (`tributary signer`, go-livepeer `-remoteSigner`): `POST /sign-orchestrator-info` once
 * for the address, then `POST /generate-live-payment` `{orchestrator: payment_params, type,
 * ManifestID, state}` per payment, the answered `state` sent back on the next one; the signer decides
 * how many tickets (for `live`: 10 s first, then the time since its last payment).
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Address } from "viem";
import type { Sender } from "../payments/sender.ts";
import { type MessageSigner, signPayload } from "../payments/signature.ts";
import { ticketEV } from "../payments/ticket.ts";
import { type OrchestratorInfo, OrchestratorInfoSchema } from "../protocol/gen/lp_rpc_pb.ts";
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
import { GatewayError, gatewayErrorOf, gatewayFetch } from "./job.ts";

/** The header naming the payer when asking for a challenge (go-livepeer `Livepeer-Payer-Address`). */
export const PAYER_ADDRESS_HEADER = "Livepeer-Payer-Address";

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
 * Reads a 402 answer's body into a challenge; throws a 402 `PAYMENT_REQUIRED` GatewayError when it is
 * not one (e.g. the error envelope answered to a reservation without a payer address).
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
    throw new GatewayError("PAYMENT_REQUIRED", `live runner payment required: ${why}`, 402);
  }
  return { paymentParams, manifestId, paymentUrl: str(b.payment_url), orchestrator: str(b.orchestrator) };
}

/** Decodes a challenge's (or top-up answer's) base64 `OrchestratorInfo`. */
export function decodePaymentParams(paymentParams: string): OrchestratorInfo {
  try {
    return fromBinary(OrchestratorInfoSchema, Buffer.from(paymentParams, "base64"));
  } catch (err) {
    throw new GatewayError(
      "PAYMENT_REQUIRED",
      "live runner payment_params is not an OrchestratorInfo",
      402,
      err,
    );
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
  if (each.num <= 0n)
    throw new GatewayError("PAYMENT_REQUIRED", "the runner's ticket params have no value", 402);
  // ceil(owed / per / (num/den)) = ceil(owed·den / (per·num))
  const n = (owed * each.den + per * each.num - 1n) / (per * each.num);
  return Math.max(1, Number(n));
}

/** A {@link RunnerPayer} over a local key: tickets from `sender` (whose signer is `signer`). */
export function ticketPayer(sender: Sender, signer: MessageSigner): RunnerPayer {
  const started = new Set<string>();
  return {
    address: sender.address,
    async pay(paymentParams, manifestId, seconds) {
      const info = decodePaymentParams(paymentParams);
      if (info.ticketParams === undefined || info.priceInfo === undefined || info.authToken === undefined)
        throw new GatewayError(
          "PAYMENT_REQUIRED",
          "live runner payment_params lack ticket params, price or auth token",
          402,
        );
      const params = ticketParamsFromWire(info.ticketParams);
      const id = params.recipientRandHash.toLowerCase();
      if (!started.has(id)) {
        sender.startSession(params);
        started.add(id);
      }
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
  };
}

/** The signer's status for "no tickets needed this cycle". */
const HTTP_NO_TICKETS = 482;

/** Options of {@link remoteSignerPayer}. */
export interface RemoteSignerPayerOptions {
  /** Headers of every signer call (e.g. `Authorization: Bearer …`). */
  headers?: Record<string, string>;
  /** The payment type: `live` (priced per second or hour, the default), `lv2v` (720p units) or `fixed`. */
  type?: "live" | "lv2v" | "fixed";
}

/** A {@link RunnerPayer} over a remote signer at `signerUrl`; asks its address first. */
export async function remoteSignerPayer(
  signerUrl: string,
  options: RemoteSignerPayerOptions = {},
): Promise<RunnerPayer> {
  const origin = new URL(signerUrl).origin;
  const headers = { "content-type": "application/json", ...options.headers };
  const post = async (path: string, body: unknown): Promise<Response> =>
    gatewayFetch(
      `${origin}${path}`,
      { method: "POST", headers, body: JSON.stringify(body) },
      `remote signer ${path}`,
    );
  const info = await post("/sign-orchestrator-info", {});
  if (info.status !== 200) throw await gatewayErrorOf(info, "remote signer /sign-orchestrator-info");
  const { address } = (await info.json()) as { address?: unknown };
  if (typeof address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(address))
    throw new GatewayError(
      "BAD_GATEWAY_ANSWER",
      "remote signer /sign-orchestrator-info answered no address",
      502,
    );
  const states = new Map<string, unknown>();
  return {
    address: address as Address,
    async pay(paymentParams, manifestId) {
      const state = states.get(manifestId);
      const res = await post("/generate-live-payment", {
        orchestrator: paymentParams,
        type: options.type ?? "live",
        ManifestID: manifestId,
        ...(state === undefined ? {} : { state }),
      });
      if (res.status === HTTP_NO_TICKETS) {
        await res.body?.cancel();
        return undefined;
      }
      if (res.status !== 200) throw await gatewayErrorOf(res, "remote signer /generate-live-payment");
      const body = (await res.json()) as { payment?: unknown; segCreds?: unknown; state?: unknown };
      if (
        typeof body.payment !== "string" ||
        body.payment === "" ||
        typeof body.segCreds !== "string" ||
        body.segCreds === ""
      )
        throw new GatewayError("BAD_GATEWAY_ANSWER", "remote signer answered no payment or segCreds", 502);
      if (body.state !== undefined) states.set(manifestId, body.state);
      return { [PAYMENT_HEADER]: body.payment, [SEGMENT_HEADER]: body.segCreds };
    },
  };
}
