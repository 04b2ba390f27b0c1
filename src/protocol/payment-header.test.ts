import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { getAddress, type Hex } from "viem";
import { PaymentSchema } from "./gen/lp_rpc_pb.ts";
import {
  decodePaymentHeader,
  decodePaymentMessage,
  encodePaymentHeader,
  PaymentHeaderError,
} from "./payment-header.ts";
import type { Payment } from "./payment-types.ts";

const hexN = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => `0x${Buffer.from(b).toString("hex")}` as Hex);
const addr = hexN(20).map((h) => getAddress(h));
const u256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });

const rec = <T>(m: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(m, { noNullPrototype: true });
const paymentArb: fc.Arbitrary<Payment> = fc.record(
  {
    ticketParams: rec({
      recipient: addr,
      faceValue: u256,
      winProb: u256,
      recipientRandHash: hexN(32),
      seed: u256,
      expirationBlock: u256,
    }),
    sender: addr,
    expirationParams: rec({ creationRound: i64, creationRoundBlockHash: hexN(32) }),
    senderParams: fc.array(
      rec({ senderNonce: fc.nat({ max: 0xffffffff }), sig: fc.oneof(hexN(65), hexN(64), hexN(0)) }),
      { maxLength: 5 },
    ),
    expectedPrice: rec({
      pricePerUnit: i64,
      pixelsPerUnit: i64,
      capability: fc.nat({ max: 0xffffffff }),
      constraint: fc.string(),
    }),
  },
  { requiredKeys: ["sender", "senderParams"], noNullPrototype: true },
);

test("Livepeer-Payment encode → decode round-trips every field", () => {
  fc.assert(
    fc.property(paymentArb, (p) => {
      const header = encodePaymentHeader(p);
      assert.match(header, /^[A-Za-z0-9+/]*={0,2}$/);
      assert.deepEqual(decodePaymentHeader(header), p);
    }),
    { numRuns: 200 },
  );
});

test("integers go on the wire as minimal big-endian bytes (zero = empty)", () => {
  const msg = decodePaymentMessage(
    encodePaymentHeader({
      sender: "0x0000000000000000000000000000000000000001",
      senderParams: [],
      ticketParams: {
        recipient: "0x0000000000000000000000000000000000000002",
        faceValue: 0n,
        winProb: 256n,
        recipientRandHash: `0x${"00".repeat(32)}`,
        seed: 1n,
        expirationBlock: 40n,
        expirationParams: { creationRound: 1n, creationRoundBlockHash: `0x${"00".repeat(32)}` },
      },
    }),
  );
  assert.deepEqual(msg.ticketParams?.faceValue, new Uint8Array(0));
  assert.deepEqual(msg.ticketParams?.winProb, Uint8Array.of(1, 0));
  assert.deepEqual(msg.ticketParams?.expirationBlock, Uint8Array.of(40));
  assert.equal(
    msg.ticketParams?.expirationParams,
    undefined,
    "inner expiration_params left unset like genPayment",
  );
});

test("a payment with only sender and price decodes without ticket params", () => {
  const p = decodePaymentHeader(
    encodePaymentHeader({
      sender: "0x0000000000000000000000000000000000000001",
      senderParams: [],
      expectedPrice: { pricePerUnit: 5n, pixelsPerUnit: 1n, capability: 0, constraint: "" },
    }),
  );
  assert.equal(p.ticketParams, undefined);
  assert.equal(p.expectedPrice?.pricePerUnit, 5n);
});

test("garbage never crashes: it is a PaymentHeaderError with status 402", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.uint8Array().map((b) => Buffer.from(b).toString("base64")),
      ),
      (s) => {
        try {
          decodePaymentHeader(s);
        } catch (err) {
          assert.ok(err instanceof PaymentHeaderError, String(err));
          assert.equal(err.status, 402);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("non-standard base64 (URL alphabet, missing padding) is a base64 decode error", () => {
  for (const bad of ["EgE", "-_-_", "abc$", "QQ"]) {
    assert.throws(
      () => decodePaymentHeader(bad),
      (e: unknown) => e instanceof PaymentHeaderError && e.upstream === "base64 decode error",
    );
  }
  assert.throws(
    () => decodePaymentHeader("/////w=="),
    (e: unknown) => e instanceof PaymentHeaderError && e.upstream === "protobuf unmarshal error",
  );
});

test("a sender that is not 20 bytes or a hash that is not 32 bytes is refused", () => {
  const header = Buffer.from(
    toBinary(PaymentSchema, create(PaymentSchema, { sender: new Uint8Array(19) })),
  ).toString("base64");
  assert.throws(() => decodePaymentHeader(header), /sender must be 20 bytes/);
  const h2 = Buffer.from(
    toBinary(
      PaymentSchema,
      create(PaymentSchema, {
        expirationParams: { creationRound: 1n, creationRoundBlockHash: new Uint8Array(31) },
      }),
    ),
  ).toString("base64");
  assert.throws(() => decodePaymentHeader(h2), PaymentHeaderError);
});
