/**
 * `net.TicketParams` and `net.PriceInfo` as Go's `encoding/json` writes them (the BYOC `JobToken`
 * body of `GET /process/token`, docs/spec/orchestrator-gateway.md#job-token): snake_case keys from the Go
 * struct tags (`face_value`, `expiration_params.creation_round`…), byte fields as standard padded
 * base64, int64 as plain JSON numbers, every key `omitempty`; PriceInfo keys are `pricePerUnit`,
 * `pixelsPerUnit`, `capability`, `constraint`.
 *
 * JSON numbers beyond 2^53 lose precision in `JSON.parse`; {@link parseJsonBig} and
 * {@link stringifyJsonBig} keep them exact as bigint.
 */
import { create } from "@bufbuild/protobuf";
import { BadRequestError, TributaryError } from "../node/errors.ts";
import { decodeStdBase64, encodeStdBase64 } from "./base64.ts";
import { TicketParamsSchema } from "./gen/lp_rpc_pb.ts";
import {
  priceInfoFromWire,
  priceInfoToWire,
  ticketParamsFromWire,
  ticketParamsToWire,
} from "./payment-header.ts";
import type { PriceInfo, TicketParams } from "./payment-types.ts";

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** JSON.parse that turns integers outside the safe range into bigint (exact). */
export function parseJsonBig(text: string): unknown {
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (
      typeof value === "number" &&
      !Number.isSafeInteger(value) &&
      context?.source &&
      /^-?\d+$/.test(context.source)
    ) {
      return BigInt(context.source);
    }
    return value;
  });
}

/** JSON.stringify that writes bigint values as plain JSON numbers. */
export function stringifyJsonBig(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => (typeof v === "bigint" ? rawJSON(v.toString()) : v),
    space,
  );
}

function bad(message: string, cause?: unknown): BadRequestError {
  return new BadRequestError(message, { code: "BAD_TICKET_PARAMS", cause });
}

function bytesField(obj: Record<string, unknown>, key: string): Uint8Array {
  const v = obj[key];
  if (v === undefined || v === null || v === "") return new Uint8Array(0);
  if (typeof v !== "string") throw bad(`ticket_params.${key} must be a base64 string`);
  const b = decodeStdBase64(v);
  if (!b) throw bad(`ticket_params.${key} is not standard padded base64`);
  return b;
}

function intField(obj: Record<string, unknown>, key: string, where: string): bigint {
  const v = obj[key];
  if (v === undefined || v === null) return 0n;
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw bad(`${where}.${key} must be an integer`);
}

function objectOf(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(`${where} must be a JSON object`);
  return v as Record<string, unknown>;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function int64(v: bigint, where: string): bigint {
  if (v < INT64_MIN || v > INT64_MAX) throw bad(`${where} does not fit in an int64`);
  return v;
}

function plainInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Typed → Go-JSON ticket params (empty fields omitted; int64 beyond 2^53 as bigint for {@link stringifyJsonBig}). */
export function ticketParamsToGoJson(p: TicketParams): Record<string, unknown> {
  const msg = ticketParamsToWire(p);
  const out: Record<string, unknown> = {};
  const put = (k: string, b: Uint8Array) => {
    if (b.length > 0) out[k] = encodeStdBase64(b);
  };
  put("recipient", msg.recipient);
  put("face_value", msg.faceValue);
  put("win_prob", msg.winProb);
  put("recipient_rand_hash", msg.recipientRandHash);
  put("seed", msg.seed);
  put("expiration_block", msg.expirationBlock);
  if (msg.expirationParams) {
    const ep: Record<string, unknown> = {};
    if (msg.expirationParams.creationRound !== 0n)
      ep.creation_round = plainInt(msg.expirationParams.creationRound);
    if (msg.expirationParams.creationRoundBlockHash.length > 0) {
      ep.creation_round_block_hash = encodeStdBase64(msg.expirationParams.creationRoundBlockHash);
    }
    out.expiration_params = ep;
  }
  return out;
}

/** Go-JSON → typed ticket params. Throws BadRequestError (code BAD_TICKET_PARAMS) on anything malformed. */
export function ticketParamsFromGoJson(value: unknown): TicketParams {
  const o = objectOf(value, "ticket_params");
  const msg = create(TicketParamsSchema, {
    recipient: bytesField(o, "recipient"),
    faceValue: bytesField(o, "face_value"),
    winProb: bytesField(o, "win_prob"),
    recipientRandHash: bytesField(o, "recipient_rand_hash"),
    seed: bytesField(o, "seed"),
    expirationBlock: bytesField(o, "expiration_block"),
  });
  if (o.expiration_params !== undefined && o.expiration_params !== null) {
    const ep = objectOf(o.expiration_params, "ticket_params.expiration_params");
    msg.expirationParams = {
      $typeName: "net.TicketExpirationParams",
      creationRound: int64(intField(ep, "creation_round", "expiration_params"), "creation_round"),
      creationRoundBlockHash: bytesField(ep, "creation_round_block_hash"),
    };
  }
  try {
    return ticketParamsFromWire(msg);
  } catch (err) {
    if (err instanceof TributaryError)
      throw bad(err.message.replace(/^payment field /, "ticket_params field "), err);
    throw err;
  }
}

/** Typed → Go-JSON price (`pricePerUnit`, `pixelsPerUnit`, `capability`, `constraint`, zero values omitted). */
export function priceInfoToGoJson(p: PriceInfo): Record<string, unknown> {
  const msg = priceInfoToWire(p);
  const out: Record<string, unknown> = {};
  if (msg.pricePerUnit !== 0n) out.pricePerUnit = plainInt(msg.pricePerUnit);
  if (msg.pixelsPerUnit !== 0n) out.pixelsPerUnit = plainInt(msg.pixelsPerUnit);
  if (msg.capability !== 0) out.capability = msg.capability;
  if (msg.constraint !== "") out.constraint = msg.constraint;
  return out;
}

/** Go-JSON → typed price. Throws BadRequestError (code BAD_TICKET_PARAMS) on anything malformed. */
export function priceInfoFromGoJson(value: unknown): PriceInfo {
  const o = objectOf(value, "price");
  const cap = intField(o, "capability", "price");
  if (cap < 0n || cap > 0xffffffffn) throw bad("price.capability must be a uint32");
  const constraint = o.constraint ?? "";
  if (typeof constraint !== "string") throw bad("price.constraint must be a string");
  return priceInfoFromWire(
    priceInfoToWire({
      pricePerUnit: int64(intField(o, "pricePerUnit", "price"), "price.pricePerUnit"),
      pixelsPerUnit: int64(intField(o, "pixelsPerUnit", "price"), "price.pixelsPerUnit"),
      capability: Number(cap),
      constraint,
    }),
  );
}
