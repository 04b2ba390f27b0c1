import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TributaryError } from "../node/errors.ts";
import { Sender } from "../payments/sender.ts";
import { checkPayloadSig } from "../payments/signature.ts";
import type { SenderInfo } from "../payments/types.ts";
import { newJobRequest } from "../protocol/job-header.ts";
import { decodePaymentHeader } from "../protocol/payment-header.ts";
import { priceInfoToGoJson, stringifyJsonBig, ticketParamsToGoJson } from "../protocol/ticket-params-json.ts";
import type { OrchestratorHttp } from "./orch-http.ts";
import { GatewayPayments } from "./payments.ts";

const ORCH = "https://127.0.0.1:1";
const RECIPIENT: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const key = privateKeyToAccount(`0x${"42".repeat(32)}`);
const EV = 1000n;

/**
 * A fake orchestrator `/process/token`: price 10 wei/s, tickets of EV 1000 (face value 2000, win
 * probability ½), fresh params for every token, `balance` as set; counts requests, and can hold them.
 */
function fakeOrchestrator() {
  const state = {
    tokens: 0,
    balance: 0n,
    price: 10n,
    expirationBlock: 1040n,
    hold: undefined as Promise<void> | undefined,
  };
  const http: OrchestratorHttp = {
    async send(url) {
      assert.ok(url.endsWith("/process/token"), url);
      state.tokens++;
      await state.hold;
      const n = state.tokens;
      const body = stringifyJsonBig({
        price: priceInfoToGoJson({
          pricePerUnit: state.price,
          pixelsPerUnit: 1n,
          capability: 0,
          constraint: "",
        }),
        ticket_params: ticketParamsToGoJson({
          recipient: RECIPIENT,
          faceValue: 2n * EV,
          winProb: 1n << 255n,
          recipientRandHash: `0x${n.toString(16).padStart(64, "0")}` as Hex,
          seed: BigInt(n),
          expirationBlock: state.expirationBlock,
          expirationParams: { creationRound: 10n, creationRoundBlockHash: `0x${"41".repeat(32)}` },
        }),
        balance: state.balance,
      });
      return Object.assign(Readable.from([Buffer.from(body)]), {
        statusCode: 200,
      }) as unknown as IncomingMessage;
    },
    close() {},
  };
  return { state, http };
}

function payments(
  http: OrchestratorHttp,
  tokenReuseMs: number,
  block = { n: 1000n },
  maxTicketsPerPayment?: number,
) {
  return paymentsWithSender(http, tokenReuseMs, block, maxTicketsPerPayment).p;
}

function paymentsWithSender(
  http: OrchestratorHttp,
  tokenReuseMs: number,
  block = { n: 1000n },
  maxTicketsPerPayment?: number,
) {
  const info: SenderInfo = {
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  };
  const sender = new Sender({
    signer: key,
    time: {
      lastSeenL1Block: () => block.n,
      lastInitializedRound: () => 10n,
      lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}`,
    },
    senders: { senderInfo: () => info },
    maxTicketsPerPayment,
  });
  return { p: new GatewayPayments({ signer: key, sender, http, tokenReuseMs }), sender };
}

const job = () => newJobRequest({ capability: "text-reverse", timeoutSeconds: 30 });

test("without token reuse every batch job asks /process/token", async () => {
  const o = fakeOrchestrator();
  const p = payments(o.http, 0);
  for (let i = 0; i < 3; i++) await p.byocHeaders(ORCH, job());
  assert.equal(o.state.tokens, 3);
});

test("without token reuse each job's Sender session is closed after it, paid or covered by the balance", async () => {
  const o = fakeOrchestrator();
  const { p, sender } = paymentsWithSender(o.http, 0);
  await p.byocHeaders(ORCH, job()); // balance 0: paid
  assert.equal(sender.sessionCount, 0);
  o.state.balance = 10n ** 9n; // covered: nothing to pay (this path kept one session per job)
  for (let i = 0; i < 5; i++) {
    const sent = await p.byocPayment(ORCH, job());
    assert.equal(sent.tickets, 0);
  }
  assert.equal(o.state.tokens, 6);
  assert.equal(sender.sessionCount, 0);
});

test("with token reuse, jobs share one token and pay from a local balance estimate", async () => {
  const o = fakeOrchestrator();
  const p = payments(o.http, 60_000);
  // Balance 0: the first job tops up to 120 s × 10 wei = 1200 wei → 2 tickets of EV 1000.
  const first = await p.byocJobPayment(ORCH, job());
  assert.equal(first.tickets, 2);
  const firstPayment = decodePaymentHeader(first.headers["livepeer-payment"]!);
  // 2000 − 10 (first job's second) = 1990 ≥ 1200: the next jobs need no tickets until the estimate
  // falls under 1200: the 81st job after it sees 1990 − 80 × 10 = 1190.
  let paid = 0;
  let nextPayment: ReturnType<typeof decodePaymentHeader> | undefined;
  for (let i = 0; i < 81; i++) {
    const sent = await p.byocJobPayment(ORCH, job());
    if (sent.tickets > 0) {
      paid++;
      nextPayment = decodePaymentHeader(sent.headers["livepeer-payment"]!);
    }
  }
  assert.equal(paid, 1, "one top-up once the estimate fell under 120 × price");
  assert.equal(o.state.tokens, 1, "one /process/token for all of them");
  // The same params' session continues: nonces go on from the first payment's.
  assert.deepEqual(
    nextPayment?.ticketParams?.recipientRandHash,
    firstPayment.ticketParams?.recipientRandHash,
  );
  assert.ok(
    (nextPayment?.senderParams[0]?.senderNonce ?? 0) > (firstPayment.senderParams.at(-1)?.senderNonce ?? 0),
    "nonces continue",
  );
});

test("concurrent jobs waiting for a token share one request and pay one shortfall once", async () => {
  const o = fakeOrchestrator();
  const p = payments(o.http, 60_000);
  let release = () => {};
  o.state.hold = new Promise<void>((r) => {
    release = r;
  });
  const all = Array.from({ length: 10 }, () => p.byocJobPayment(ORCH, job()));
  await new Promise((r) => setTimeout(r, 10));
  release();
  const sent = await Promise.all(all);
  assert.equal(o.state.tokens, 1);
  const tickets = sent.reduce((n, s) => n + s.tickets, 0);
  assert.ok(tickets >= 2 && tickets <= 3, `tickets: ${tickets}`);
});

test("a reused token is replaced when it is older than tokenReuseMs or its params expired", async () => {
  const o = fakeOrchestrator();
  const block = { n: 1000n };
  const p = payments(o.http, 40, block);
  await p.byocJobPayment(ORCH, job());
  await new Promise((r) => setTimeout(r, 60));
  await p.byocJobPayment(ORCH, job());
  assert.equal(o.state.tokens, 2, "older than tokenReuseMs: fetched again");

  const q = payments(o.http, 60_000, block);
  o.state.tokens = 0;
  await q.byocJobPayment(ORCH, job());
  block.n = 1039n; // the params (expiring at block 1040) can no longer carry tickets
  o.state.expirationBlock = 1080n;
  // Jobs covered by the estimate need no tickets and no new token; the first that must pay finds
  // the params expired and pays on a fresh token instead of failing.
  let sent = await q.byocJobPayment(ORCH, job());
  let jobs = 1;
  while (sent.tickets === 0 && jobs < 200) {
    assert.equal(o.state.tokens, 1);
    sent = await q.byocJobPayment(ORCH, job());
    jobs++;
  }
  assert.ok(sent.tickets > 0, "a job paid");
  assert.equal(o.state.tokens, 2);
  assert.equal(decodePaymentHeader(sent.headers["livepeer-payment"]!).ticketParams?.expirationBlock, 1080n);
});

test("a price more than doubled is refused when the token is fetched again", async () => {
  const o = fakeOrchestrator();
  const p = payments(o.http, 0);
  await p.byocHeaders(ORCH, job());
  o.state.price = 25n;
  await assert.rejects(p.byocHeaders(ORCH, job()), /more than double/);
});

test("a job signature is made once per request + parameters text and still verifies", async () => {
  let signed = 0;
  const signer = {
    address: key.address,
    signMessage: (args: { message: { raw: Hex | Uint8Array } }) => {
      signed++;
      return key.signMessage(args);
    },
  };
  const o = fakeOrchestrator();
  const sender = new Sender({
    signer,
    time: {
      lastSeenL1Block: () => 0n,
      lastInitializedRound: () => 0n,
      lastInitializedL1BlockHash: () => "0x",
    },
    senders: {
      senderInfo: () => ({
        deposit: 0n,
        withdrawRound: 0n,
        reserve: { fundsRemaining: 0n, claimedInCurrentRound: 0n },
      }),
    },
  });
  const p = new GatewayPayments({ signer, sender, http: o.http });
  const a = await p.signJob(job());
  const b = await p.signJob(job());
  assert.equal(signed, 1);
  assert.equal(a.sig, b.sig);
  assert.ok((await checkPayloadSig(key.address, "{}{}", a.sig as Hex)).valid);
  await p.signJob(newJobRequest({ capability: "text-reverse", timeoutSeconds: 30, request: '{"x":1}' }));
  assert.equal(signed, 2, "another text is signed");
});

test("a BYOC payment over maxTicketsPerPayment is trimmed to it when that covers the orchestrator's minimum", async () => {
  const o = fakeOrchestrator();
  const p = payments(o.http, 0, undefined, 50);
  // 30 000 s at 10 wei/s is 300 tickets of EV 1000; the orchestrator's 60 s minimum + 1 s is 1 ticket.
  const sent = await p.byocJobPayment(
    ORCH,
    newJobRequest({ capability: "text-reverse", timeoutSeconds: 30_000 }),
  );
  assert.equal(sent.tickets, 50);
  assert.equal(decodePaymentHeader(sent.headers["livepeer-payment"]!).senderParams.length, 50);
});

test("a BYOC minimum that needs more tickets than maxTicketsPerPayment is refused with 402 TOO_MANY_TICKETS", async () => {
  const o = fakeOrchestrator();
  o.state.price = 1000n; // 61 s × 1000 wei = 61 tickets of EV 1000
  const p = payments(o.http, 0, undefined, 50);
  await assert.rejects(p.byocJobPayment(ORCH, job()), (e: unknown) => {
    assert.ok(e instanceof TributaryError);
    assert.equal(e.code, "TOO_MANY_TICKETS");
    assert.equal(e.status, 402);
    assert.match(e.message, /61 tickets, over this gateway's limit of 50 per payment/);
    return true;
  });
});
