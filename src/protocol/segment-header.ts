/**
 * The `Livepeer-Segment` header ("segment credentials"): standard padded base64 of a protobuf
 * `net.SegData` (docs/spec/payments.md#segment-credentials), and the bytes its signature is taken over.
 *
 * Partial: profiles are carried through as opaque `fullProfiles*` messages; the signing message
 * supports the AI/live form (no transcoding profiles, `profilesHex` = "") and any caller-supplied
 * profiles hex string, but go-livepeer's `ProfilesToTranscodeOpts` is not implemented here.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { bytesToHex, type Hex, hexToBytes, keccak256 } from "viem";
import { TributaryError } from "../node/errors.ts";
import { decodeStdBase64, encodeStdBase64 } from "./base64.ts";
import { uintToFixedBytes } from "./bigint-bytes.ts";
import { type Capabilities, type SegData, SegDataSchema } from "./gen/lp_rpc_pb.ts";

/** HTTP header carrying segment credentials. */
export const SEGMENT_HEADER = "Livepeer-Segment";

/** keccak256 of empty input: the segment hash AI and live requests send. */
export const EMPTY_SEGMENT_HASH: Hex = "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470";

/** A `Livepeer-Segment` value could not be decoded. Answers 403, like go-livepeer's verifySegCreds. */
export class SegmentHeaderError extends TributaryError {
  /** go-livepeer's text ("ErrorSegEncoding"). */
  readonly upstream = "ErrorSegEncoding";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("BAD_SEGMENT_HEADER", message, { ...options, status: 403 });
  }
}

/** Typed auth token (wire `net.AuthToken`). */
export interface AuthTokenValue {
  token: Hex;
  sessionId: string;
  /** Unix seconds. */
  expiration: bigint;
}

/** Typed segment credentials (wire `net.SegData`). */
export interface SegCreds {
  /** AI batch: `"<capabilityId>_<modelId>"`; transcoding: the manifest id. */
  manifestId: string;
  seq: bigint;
  /** 32-byte segment hash ({@link EMPTY_SEGMENT_HASH} for AI and live). */
  hash: Hex;
  /** 65-byte personal-sign signature over keccak256 of {@link segCredsSigningBytes}. */
  sig: Hex;
  /** Milliseconds. */
  durationMs: number;
  capabilities?: Capabilities;
  authToken?: AuthTokenValue;
  /** The raw message, for fields not mapped here (profiles, storage, segment parameters). */
  raw?: SegData;
}

/**
 * The bytes go-livepeer's `SegTranscodingMetadata.Flatten` produces: utf8(manifestId) ‖
 * leftpad32(seq) ‖ hash(32) ‖ utf8(profilesHex). The signature is personal_sign(keccak256(these)).
 */
export function segCredsSigningBytes(
  manifestId: string,
  seq: bigint,
  hash: Hex,
  profilesHex = "",
): Uint8Array {
  const m = new TextEncoder().encode(manifestId);
  const h = hexToBytes(hash);
  const p = new TextEncoder().encode(profilesHex);
  const out = new Uint8Array(m.length + 32 + h.length + p.length);
  out.set(m, 0);
  out.set(uintToFixedBytes(seq < 0n ? -seq : seq), m.length);
  out.set(h, m.length + 32);
  out.set(p, m.length + 32 + h.length);
  return out;
}

/** keccak256 of {@link segCredsSigningBytes}: the 32-byte message the gateway personal-signs. */
export function segCredsSigningHash(manifestId: string, seq: bigint, hash: Hex, profilesHex = ""): Hex {
  return keccak256(segCredsSigningBytes(manifestId, seq, hash, profilesHex));
}

/** Encodes segment credentials as a `Livepeer-Segment` header value. */
export function encodeSegmentHeader(c: SegCreds): string {
  const msg = c.raw ? create(SegDataSchema, c.raw) : create(SegDataSchema);
  msg.manifestId = new TextEncoder().encode(c.manifestId);
  msg.seq = c.seq;
  msg.hash = hexToBytes(c.hash);
  msg.sig = hexToBytes(c.sig);
  msg.duration = c.durationMs;
  msg.capabilities = c.capabilities;
  msg.authToken = c.authToken
    ? {
        $typeName: "net.AuthToken",
        token: hexToBytes(c.authToken.token),
        sessionId: c.authToken.sessionId,
        expiration: c.authToken.expiration,
      }
    : undefined;
  return encodeStdBase64(toBinary(SegDataSchema, msg));
}

/** Decodes a `Livepeer-Segment` header value. Throws only {@link SegmentHeaderError}. */
export function decodeSegmentHeader(value: string): SegCreds {
  const bytes = decodeStdBase64(value.trim());
  if (!bytes)
    throw new SegmentHeaderError(`${SEGMENT_HEADER} is not standard padded base64 of a net.SegData protobuf`);
  let msg: SegData;
  try {
    msg = fromBinary(SegDataSchema, bytes);
  } catch (cause) {
    throw new SegmentHeaderError(`${SEGMENT_HEADER} does not hold a valid net.SegData protobuf`, { cause });
  }
  if (msg.hash.length !== 0 && msg.hash.length !== 32) {
    throw new SegmentHeaderError(`${SEGMENT_HEADER} hash must be 32 bytes, got ${msg.hash.length}`);
  }
  const out: SegCreds = {
    manifestId: new TextDecoder().decode(msg.manifestId),
    seq: msg.seq,
    hash: msg.hash.length === 0 ? `0x${"00".repeat(32)}` : bytesToHex(msg.hash),
    sig: bytesToHex(msg.sig),
    durationMs: msg.duration,
    raw: msg,
  };
  if (msg.capabilities) out.capabilities = msg.capabilities;
  if (msg.authToken) {
    out.authToken = {
      token: bytesToHex(msg.authToken.token),
      sessionId: msg.authToken.sessionId,
      expiration: msg.authToken.expiration,
    };
  }
  return out;
}
