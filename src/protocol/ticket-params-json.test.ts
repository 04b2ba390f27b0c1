import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { getAddress, type Hex } from "viem";
import { BadRequestError } from "../node/errors.ts";
import type { TicketParams } from "./payment-types.ts";
import {
  parseJsonBig,
  priceInfoFromGoJson,
  priceInfoToGoJson,
  stringifyJsonBig,
  ticketParamsFromGoJson,
  ticketParamsToGoJson,
} from "./ticket-params-json.ts";

const hexN = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => `0x${Buffer.from(b).toString("hex")}` as Hex);
const u256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });

test("Go encoding/json shape: snake_case keys, base64 bytes, numbers, empty fields omitted", () => {
  const p: TicketParams = {
    recipient: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F",
    faceValue: 1000000n,
    winProb: 0n,
    recipientRandHash: `0x${"00".repeat(31)}01`,
    seed: 256n,
    expirationBlock: 40n,
    expirationParams: { creationRound: 10n, creationRoundBlockHash: `0x${"ff".repeat(32)}` },
  };
  const j = ticketParamsToGoJson(p);
  assert.deepEqual(j, {
    recipient: Buffer.from("73AEd7b5dEb30222fa896f399d46cC99c7BEe57F", "hex").toString("base64"),
    face_value: "D0JA",
    recipient_rand_hash: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=",
    seed: "AQA=",
    expiration_block: "KA==",
    expiration_params: {
      creation_round: 10,
      creation_round_block_hash: Buffer.alloc(32, 0xff).toString("base64"),
    },
  });
  assert.deepEqual(ticketParamsFromGoJson(JSON.parse(JSON.stringify(j))), p);
});

test("Go-JSON ticket params round-trip through text, big integers included", () => {
  fc.assert(
    fc.property(
      fc.record(
        {
          recipient: hexN(20).map((h) => getAddress(h)),
          faceValue: u256,
          winProb: u256,
          recipientRandHash: hexN(32),
          seed: u256,
          expirationBlock: u256,
          expirationParams: fc.record(
            {
              creationRound: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
              creationRoundBlockHash: hexN(32),
            },
            { noNullPrototype: true },
          ),
        },
        { noNullPrototype: true },
      ),
      (p) => {
        const text = stringifyJsonBig(ticketParamsToGoJson(p));
        assert.deepEqual(ticketParamsFromGoJson(parseJsonBig(text)), p);
      },
    ),
    { numRuns: 100 },
  );
});

test("price uses pricePerUnit/pixelsPerUnit keys and keeps int64 exact", () => {
  const price = { pricePerUnit: 9007199254740993n, pixelsPerUnit: 1n, capability: 37, constraint: "my-cap" };
  const text = stringifyJsonBig(priceInfoToGoJson(price));
  assert.equal(
    text,
    '{"pricePerUnit":9007199254740993,"pixelsPerUnit":1,"capability":37,"constraint":"my-cap"}',
  );
  assert.deepEqual(priceInfoFromGoJson(parseJsonBig(text)), price);
  assert.deepEqual(priceInfoFromGoJson({}), {
    pricePerUnit: 0n,
    pixelsPerUnit: 0n,
    capability: 0,
    constraint: "",
  });
});

test("malformed Go-JSON is a BadRequestError, never a crash", () => {
  for (const bad of [
    null,
    5,
    [],
    { recipient: 5 },
    { seed: "***" },
    { recipient: "AAAA" },
    { expiration_params: 3 },
  ]) {
    assert.throws(() => ticketParamsFromGoJson(bad), BadRequestError);
  }
  assert.throws(() => priceInfoFromGoJson({ pricePerUnit: 1.5 }), BadRequestError);
  assert.throws(() => priceInfoFromGoJson({ pricePerUnit: 1n << 64n }), BadRequestError);
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        ticketParamsFromGoJson(v);
      } catch (err) {
        assert.ok(err instanceof BadRequestError);
      }
    }),
  );
});
