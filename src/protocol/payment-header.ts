/**
 * The `Livepeer-Payment` header: standard padded base64 of a protobuf `net.Payment`
 * (docs/spec/payments.md#protobuf-messages, #payment-header), and the typed ↔ wire mappings of `TicketParams`, `PriceInfo`
 * and `TicketExpirationParams` that `OrchestratorInfo` also carries.
 *
 * Decoding never throws anything but {@link PaymentHeaderError} (HTTP 402, like go-livepeer), whatever
 * the input.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes } from "viem";
import { TributaryError } from "../node/errors.ts";
import { decodeStdBase64, encodeStdBase64 } from "./base64.ts";
import { bigIntToBytes, bytesToUint } from "./bigint-bytes.ts";
import {
  type Payment as PaymentMsg,
  PaymentSchema,
  type PriceInfo as PriceInfoMsg,
  PriceInfoSchema,
  type TicketExpirationParams as TicketExpirationParamsMsg,
  TicketExpirationParamsSchema,
  type TicketParams as TicketParamsMsg,
  TicketParamsSchema,
} from "./gen/lp_rpc_pb.ts";
import type {
  Payment,
  PriceInfo,
  TicketExpirationParams,
  TicketParams,
  TicketSenderParams,
} from "./payment-types.ts";

/** HTTP header carrying a payment. */
export const PAYMENT_HEADER = "Livepeer-Payment";

const ZERO_ADDRESS: Address = "0x0000000000000000000000000000000000000000";
const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/** A `Livepeer-Payment` value (or a message inside it) could not be decoded. Answers 402. */
export class PaymentHeaderError extends TributaryError {
  /** go-livepeer's text for the same failure ("base64 decode error", "protobuf unmarshal error"). */
  readonly upstream: string;
  constructor(
    message: string,
    upstream: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super("BAD_PAYMENT_HEADER", message, { ...options, status: 402 });
    this.upstream = upstream;
  }
}

function fieldError(field: string, problem: string): PaymentHeaderError {
  return new PaymentHeaderError(`payment field ${field} ${problem}`, "protobuf unmarshal error", {
    details: { field },
  });
}

/** 20 bytes → checksummed address; empty → zero address; anything else is an error. */
export function addressFromWire(bytes: Uint8Array, field: string): Address {
  if (bytes.length === 0) return ZERO_ADDRESS;
  if (bytes.length !== 20) throw fieldError(field, `must be 20 bytes, got ${bytes.length}`);
  return getAddress(bytesToHex(bytes));
}

function hashFromWire(bytes: Uint8Array, field: string): Hex {
  if (bytes.length === 0) return ZERO_HASH;
  if (bytes.length !== 32) throw fieldError(field, `must be 32 bytes, got ${bytes.length}`);
  return bytesToHex(bytes);
}

function uintFromWire(bytes: Uint8Array, field: string): bigint {
  try {
    return bytesToUint(bytes, field);
  } catch {
    throw fieldError(field, "does not fit in 32 bytes");
  }
}

/** Wire → typed expiration params. */
export function expirationParamsFromWire(msg: TicketExpirationParamsMsg): TicketExpirationParams {
  return {
    creationRound: msg.creationRound,
    creationRoundBlockHash: hashFromWire(msg.creationRoundBlockHash, "creation_round_block_hash"),
  };
}

/** Typed → wire expiration params. */
export function expirationParamsToWire(p: TicketExpirationParams): TicketExpirationParamsMsg {
  return create(TicketExpirationParamsSchema, {
    creationRound: p.creationRound,
    creationRoundBlockHash: hexToBytes(p.creationRoundBlockHash),
  });
}

/** Wire → typed ticket params; throws {@link PaymentHeaderError} on malformed fields. */
export function ticketParamsFromWire(msg: TicketParamsMsg): TicketParams {
  const out: TicketParams = {
    recipient: addressFromWire(msg.recipient, "ticket_params.recipient"),
    faceValue: uintFromWire(msg.faceValue, "ticket_params.face_value"),
    winProb: uintFromWire(msg.winProb, "ticket_params.win_prob"),
    recipientRandHash: hashFromWire(msg.recipientRandHash, "ticket_params.recipient_rand_hash"),
    seed: uintFromWire(msg.seed, "ticket_params.seed"),
    expirationBlock: uintFromWire(msg.expirationBlock, "ticket_params.expiration_block"),
  };
  if (msg.expirationParams) out.expirationParams = expirationParamsFromWire(msg.expirationParams);
  return out;
}

/**
 * Typed → wire ticket params, integers as minimal big-endian bytes. `withExpirationParams` false
 * leaves `expiration_params` unset, as a go-livepeer gateway does inside `Payment.ticket_params`.
 */
export function ticketParamsToWire(p: TicketParams, withExpirationParams = true): TicketParamsMsg {
  const msg = create(TicketParamsSchema, {
    recipient: hexToBytes(p.recipient),
    faceValue: bigIntToBytes(p.faceValue),
    winProb: bigIntToBytes(p.winProb),
    recipientRandHash: hexToBytes(p.recipientRandHash),
    seed: bigIntToBytes(p.seed),
    expirationBlock: bigIntToBytes(p.expirationBlock),
  });
  if (withExpirationParams && p.expirationParams) {
    msg.expirationParams = expirationParamsToWire(p.expirationParams);
  }
  return msg;
}

/** Wire → typed price. */
export function priceInfoFromWire(msg: PriceInfoMsg): PriceInfo {
  return {
    pricePerUnit: msg.pricePerUnit,
    pixelsPerUnit: msg.pixelsPerUnit,
    capability: msg.capability,
    constraint: msg.constraint,
  };
}

/** Typed → wire price. */
export function priceInfoToWire(p: PriceInfo): PriceInfoMsg {
  return create(PriceInfoSchema, p);
}

/** Wire → typed payment; throws {@link PaymentHeaderError} on malformed fields. */
export function paymentFromWire(msg: PaymentMsg): Payment {
  const out: Payment = {
    sender: addressFromWire(msg.sender, "sender"),
    senderParams: msg.ticketSenderParams.map(
      (sp): TicketSenderParams => ({ senderNonce: sp.senderNonce, sig: bytesToHex(sp.sig) }),
    ),
  };
  if (msg.ticketParams) out.ticketParams = ticketParamsFromWire(msg.ticketParams);
  if (msg.expirationParams) out.expirationParams = expirationParamsFromWire(msg.expirationParams);
  if (msg.expectedPrice) out.expectedPrice = priceInfoFromWire(msg.expectedPrice);
  return out;
}

/**
 * Typed → wire payment, as go-livepeer's `genPayment` builds it: `ticket_params` without its inner
 * `expiration_params`, top-level `expiration_params`, one `TicketSenderParams` per ticket.
 */
export function paymentToWire(p: Payment): PaymentMsg {
  const msg = create(PaymentSchema, {
    sender: hexToBytes(p.sender),
    ticketSenderParams: p.senderParams.map((sp) => ({
      senderNonce: sp.senderNonce,
      sig: hexToBytes(sp.sig),
    })),
  });
  if (p.ticketParams) msg.ticketParams = ticketParamsToWire(p.ticketParams, false);
  if (p.expirationParams) msg.expirationParams = expirationParamsToWire(p.expirationParams);
  if (p.expectedPrice) msg.expectedPrice = priceInfoToWire(p.expectedPrice);
  return msg;
}

/** Encodes a payment as a `Livepeer-Payment` header value. */
export function encodePaymentHeader(p: Payment): string {
  return encodeStdBase64(toBinary(PaymentSchema, paymentToWire(p)));
}

/** Decodes a `Livepeer-Payment` header value to the raw protobuf message. */
export function decodePaymentMessage(value: string): PaymentMsg {
  const bytes = decodeStdBase64(value.trim());
  if (!bytes) {
    throw new PaymentHeaderError(
      `${PAYMENT_HEADER} is not standard padded base64 of a net.Payment protobuf`,
      "base64 decode error",
    );
  }
  try {
    return fromBinary(PaymentSchema, bytes);
  } catch (cause) {
    throw new PaymentHeaderError(
      `${PAYMENT_HEADER} does not hold a valid net.Payment protobuf`,
      "protobuf unmarshal error",
      {
        cause,
      },
    );
  }
}

/** Decodes a `Livepeer-Payment` header value to a typed payment. Throws only {@link PaymentHeaderError}. */
export function decodePaymentHeader(value: string): Payment {
  return paymentFromWire(decodePaymentMessage(value));
}
