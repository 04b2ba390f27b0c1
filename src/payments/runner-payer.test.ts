import assert from "node:assert/strict";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TributaryError } from "../node/errors.ts";
import { AuthTokenSchema, OrchestratorInfoSchema, PaymentResultSchema } from "../protocol/gen/lp_rpc_pb.ts";
import { decodePaymentHeader, priceInfoToWire, ticketParamsToWire } from "../protocol/payment-header.ts";
import { MAX_WIN_PROB } from "./constants.ts";
import {
  decodePaymentParams,
  paymentTypeOfUnit,
  type RunnerChallenge,
  type RunnerPayer,
  RunnerTopUps,
  signerPayer,
  type TopUpAnswer,
  ticketPayer,
} from "./runner-payer.ts";
import { Sender } from "./sender.ts";
import type { TicketParams } from "./types.ts";

const account = privateKeyToAccount(`0x${"07".repeat(32)}`);
const HASH: Hex = `0x${"ab".repeat(32)}`;

function sender(): Sender {
  return new Sender({
    signer: account,
    time: {
      lastSeenL1Block: () => 100n,
      lastInitializedRound: () => 7n,
      lastInitializedL1BlockHash: () => HASH,
    },
    senders: {
      senderInfo: () => ({
        deposit: 10n ** 18n,
        withdrawRound: 0n,
        reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
      }),
    },
  });
}

const params = (rand: string): TicketParams => ({
  recipient: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F",
  faceValue: 10n ** 15n,
  winProb: MAX_WIN_PROB / 1000n,
  recipientRandHash: `0x${rand.repeat(32)}`,
  seed: 5n,
  expirationBlock: 140n,
  expirationParams: { creationRound: 7n, creationRoundBlockHash: HASH },
});

/** A challenge's base64 `OrchestratorInfo` for `manifest` with ticket params `rand`. */
function paymentParams(manifest: string, rand: string): string {
  const info = create(OrchestratorInfoSchema, {
    ticketParams: ticketParamsToWire(params(rand)),
    priceInfo: priceInfoToWire({
      pricePerUnit: 5n * 10n ** 11n,
      pixelsPerUnit: 1n,
      capability: 0,
      constraint: "",
    }),
    authToken: create(AuthTokenSchema, {
      token: new Uint8Array([1, 2]),
      sessionId: manifest,
      expiration: 9n,
    }),
  });
  return Buffer.from(toBinary(OrchestratorInfoSchema, info)).toString("base64");
}

test("paymentTypeOfUnit: fixed, 720p units as lv2v, the rest per second", () => {
  assert.deepEqual(
    ["fixed", "720p", "720p-pixel-seconds", "seconds", "hour", undefined, " FIXED "].map(paymentTypeOfUnit),
    ["fixed", "lv2v", "lv2v", "live", "live", "live", "fixed"],
  );
});

test("ticketPayer: nonces go on across manifests sharing ticket params; the session is forgotten when the last one ends", async () => {
  const s = sender();
  const payer = ticketPayer(s, account);
  const nonces = async (manifest: string, rand: string) => {
    const h = await payer.pay(paymentParams(manifest, rand), manifest, 1);
    return decodePaymentHeader(h?.["Livepeer-Payment"] ?? "").senderParams.map((p) => p.senderNonce);
  };
  assert.deepEqual(await nonces("m1", "01"), [1]);
  assert.deepEqual(await nonces("m2", "01"), [2], "same params: the session goes on");
  payer.end?.("m1");
  assert.equal(s.nonce(`0x${"01".repeat(32)}`), 2, "still used by m2");
  payer.end?.("m2");
  assert.throws(() => s.nonce(`0x${"01".repeat(32)}`), /no payment session/, "forgotten");
});

test("signerPayer: the state goes back per manifest, 482 pays nothing, a payment without segCreds is refused", async () => {
  const bodies: Record<string, unknown>[] = [];
  let answer: unknown = { payment: "P", segCreds: "S", state: { n: 1 } };
  const payer = signerPayer(
    account.address,
    async (body) => {
      bodies.push(body);
      return answer as never;
    },
    "fixed",
  );
  assert.deepEqual(await payer.pay("params", "m", 10), { "Livepeer-Payment": "P", "Livepeer-Segment": "S" });
  await payer.pay("params", "m", 10);
  assert.deepEqual(bodies[0], { orchestrator: "params", type: "fixed", ManifestID: "m" });
  assert.deepEqual(bodies[1]?.state, { n: 1 });
  payer.end?.("m");
  await payer.pay("params", "m", 10);
  assert.equal(bodies[2]?.state, undefined, "ended: no state");
  answer = "no-tickets";
  assert.equal(await payer.pay("params", "m", 10), undefined);
  answer = { payment: "P" };
  await assert.rejects(payer.pay("params", "m", 10), (e: TributaryError) => e.status === 502);
});

/** A payer that records what it was asked. */
function recorder(): RunnerPayer & { paid: string[]; ended: string[] } {
  const paid: string[] = [];
  const ended: string[] = [];
  return {
    address: account.address,
    paid,
    ended,
    pay: async (p) => {
      paid.push(p);
      return { "Livepeer-Payment": "x", "Livepeer-Segment": "y" };
    },
    end: (m) => ended.push(m),
  };
}

const challenge = (paymentUrl?: string): RunnerChallenge => ({
  paymentParams: paymentParams("m", "01"),
  manifestId: "m",
  paymentUrl,
  orchestrator: undefined,
});

test("RunnerTopUps: posts to payment_url (else control_url/payment), refreshes the ticket params from the answer", async () => {
  const payer = recorder();
  const urls: string[] = [];
  const fresh = create(PaymentResultSchema, {
    info: create(OrchestratorInfoSchema, { ticketParams: ticketParamsToWire(params("02")) }),
  });
  const loop = new RunnerTopUps({
    payer,
    challenge: challenge(),
    controlUrl: "https://o/apps/r/session/m/",
    everyMs: 0,
    seconds: 5,
    post: async (url) => {
      urls.push(url);
      return { status: 200, body: toBinary(PaymentResultSchema, fresh) };
    },
  });
  assert.equal(await loop.topUp(), true);
  assert.equal(await loop.topUp(), true);
  assert.deepEqual(urls, ["https://o/apps/r/session/m/payment", "https://o/apps/r/session/m/payment"]);
  const second = decodePaymentParams(payer.paid[1] as string);
  assert.equal(Buffer.from(second.ticketParams?.recipientRandHash ?? []).toString("hex"), "02".repeat(32));
  assert.equal(second.authToken?.sessionId, "m", "the auth token stays the challenge's");
  assert.equal(loop.accepted, 2);
  assert.equal(
    new RunnerTopUps({ ...loopOptions(payer), challenge: challenge("https://p/pay") }).url,
    "https://p/pay",
  );
  loop.stop();
  assert.deepEqual(payer.ended, ["m"], "stopping forgets the manifest");
  assert.equal(await loop.topUp(), false, "nothing after stop");
});

function loopOptions(payer: RunnerPayer) {
  return {
    payer,
    challenge: challenge(),
    controlUrl: "https://o/c",
    everyMs: 0,
    seconds: 1,
    post: async (): Promise<TopUpAnswer> => ({ status: 200, body: new Uint8Array() }),
  };
}

test("RunnerTopUps: a 404 means gone (stop, onGone); a 4xx stops; 5xx and 429 try again next time", async () => {
  const answers = [500, 429, 403];
  const payer = recorder();
  let gone = 0;
  const loop = new RunnerTopUps({
    ...loopOptions(payer),
    post: async () => ({
      status: answers.shift() ?? 404,
      body: Buffer.from(JSON.stringify({ error: { code: "C", message: "m" } })),
    }),
    onGone: () => gone++,
  });
  assert.equal(await loop.topUp(), false);
  assert.equal(loop.stopped, false);
  assert.equal((loop.lastError as TributaryError).code, "C");
  assert.equal(await loop.topUp(), false);
  assert.equal(loop.stopped, false, "429 is retried");
  assert.equal(await loop.topUp(), false);
  assert.equal(loop.stopped, true, "403 stops");
  assert.equal(gone, 0);
  const loop2 = new RunnerTopUps({
    ...loopOptions(payer),
    post: async () => ({ status: 404, body: new Uint8Array() }),
    onGone: () => gone++,
  });
  await loop2.topUp();
  assert.deepEqual([loop2.stopped, gone], [true, 1]);
});
