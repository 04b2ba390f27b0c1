import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { byocTicketCount, stageUpdate } from "./balances.ts";
import { computeMaxFloat } from "./chain-facts.ts";
import { MAX_WIN_PROB } from "./constants.ts";
import { PaymentError } from "./errors.ts";
import { MemoryNonceStore } from "./nonce-store.ts";
import { Rat } from "./rational.ts";
import { checkPriceIncrease, Sender } from "./sender.ts";
import { checkSig } from "./signature.ts";
import { newTicket, ticketHash } from "./ticket.ts";
import type { SenderInfo, TicketParams } from "./types.ts";

const account = privateKeyToAccount(`0x${"07".repeat(32)}`);
const HASH: Hex = `0x${"ab".repeat(32)}`;

function make(info: Partial<SenderInfo> = {}, opts: { block?: bigint; maxTicketsPerPayment?: number } = {}) {
  const senderInfo: SenderInfo = {
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
    ...info,
  };
  const time = {
    lastSeenL1Block: () => opts.block ?? 100n,
    lastInitializedRound: () => 7n,
    lastInitializedL1BlockHash: () => HASH,
  };
  return new Sender({
    signer: account,
    time,
    senders: { senderInfo: () => senderInfo },
    maxTicketsPerPayment: opts.maxTicketsPerPayment,
  });
}

const params = (over: Partial<TicketParams> = {}): TicketParams => ({
  recipient: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F",
  faceValue: 10n ** 15n,
  winProb: MAX_WIN_PROB / 1000n,
  recipientRandHash: `0x${"01".repeat(32)}`,
  seed: 5n,
  expirationBlock: 140n,
  expirationParams: { creationRound: 7n, creationRoundBlockHash: HASH },
  ...over,
});

const code = (c: string) => (e: unknown) => e instanceof PaymentError && e.code === c;

describe("sender", () => {
  test("batches are signed by the sender over the ticket hash and nonces continue across batches", async () => {
    const s = make();
    const id = s.startSession(params());
    const a = await s.createTicketBatch(id, 2);
    const b = await s.createTicketBatch(id, 1);
    assert.deepEqual(
      [...a.senderParams, ...b.senderParams].map((x) => x.senderNonce),
      [1, 2, 3],
    );
    const t = newTicket(a.params, a.expirationParams, account.address, 2);
    assert.equal((await checkSig(account.address, ticketHash(t), a.senderParams[1]!.sig)).valid, true);
  });

  test("concurrent batches on one session never share a nonce", async () => {
    const s = make();
    const id = s.startSession(params());
    const batches = await Promise.all([1, 2, 3].map(() => s.createTicketBatch(id, 3)));
    const nonces = batches.flatMap((b) => b.senderParams.map((p) => p.senderNonce)).sort((x, y) => x - y);
    assert.deepEqual(nonces, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("params expiring within 1 block are refused as TICKET_EXPIRED", async () => {
    const s = make({}, { block: 139n });
    await assert.rejects(s.validateTicketParams(params()), code("TICKET_EXPIRED"));
    await make({}, { block: 138n }).validateTicketParams(params());
  });

  test("zero EV params need no funds; faceValue ≤ EV is refused", async () => {
    await make({ deposit: 0n }).validateTicketParams(params({ faceValue: 0n, winProb: 0n }));
    await assert.rejects(
      make().validateTicketParams(params({ faceValue: 5n, winProb: MAX_WIN_PROB })),
      code("FACE_VALUE_TOO_LOW"),
    );
  });

  test("max ticket EV and max total EV limits apply", async () => {
    const s = make();
    await assert.rejects(
      s.validateTicketParams(params({ winProb: MAX_WIN_PROB / 2n })),
      code("TICKET_EV_TOO_HIGH"),
    );
    // EV = 1e12; 21 tickets = 2.1e13 > 2e13
    await s.validateTicketParams(params(), 20);
    await assert.rejects(s.validateTicketParams(params(), 21), code("TOTAL_EV_TOO_HIGH"));
  });

  test("funding problems say what to fund", async () => {
    await assert.rejects(
      make({ reserve: { fundsRemaining: 0n, claimedInCurrentRound: 0n } }).validateTicketParams(params()),
      code("NO_SENDER_RESERVE"),
    );
    await assert.rejects(make({ deposit: 0n }).validateTicketParams(params()), code("NO_SENDER_DEPOSIT"));
    await assert.rejects(
      make({ withdrawRound: 8n }).validateTicketParams(params()),
      code("SENDER_UNLOCKING"),
    );
    await make({ withdrawRound: 9n }).validateTicketParams(params());
    await assert.rejects(make({ deposit: 4n * 10n ** 14n }).validateTicketParams(params()), (e: unknown) => {
      assert.ok(e instanceof PaymentError && e.code === "FACE_VALUE_ABOVE_DEPOSIT");
      assert.match(e.message, /fund 600000000000000 wei more deposit/);
      return true;
    });
  });

  test("zero expiration params fall back to the sender's own round and hash", async () => {
    const s = make();
    const id = s.startSession(
      params({ expirationParams: { creationRound: 0n, creationRoundBlockHash: HASH } }),
    );
    const b = await s.createTicketBatch(id, 1);
    assert.deepEqual(b.expirationParams, { creationRound: 7n, creationRoundBlockHash: HASH });
  });

  test("an unknown session is UNKNOWN_SESSION and n = 0 gives a payment without tickets", async () => {
    const s = make();
    await assert.rejects(s.createTicketBatch("0xdead", 1), code("UNKNOWN_SESSION"));
    const p = await s.createPayment("0xdead", 0, {
      pricePerUnit: 1n,
      pixelsPerUnit: 1n,
      capability: 0,
      constraint: "",
    });
    assert.equal(p.ticketParams, undefined);
    assert.equal(p.sender, account.address);
  });
});

describe("tickets per payment", () => {
  test("a payment over maxTicketsPerPayment is refused with TOO_MANY_TICKETS before any nonce is used", async () => {
    const s = make({}, { maxTicketsPerPayment: 40 });
    assert.equal(s.maxTicketsPerPayment, 40);
    const id = s.startSession(params({ winProb: MAX_WIN_PROB / 10n ** 6n })); // EV 1 gwei
    await assert.rejects(
      s.createPayment(id, 41, { pricePerUnit: 1n, pixelsPerUnit: 1n, capability: 0, constraint: "" }),
      (e) => {
        assert.ok(code("TOO_MANY_TICKETS")(e));
        assert.match((e as Error).message, /41 tickets, over this gateway's limit of 40 per payment/);
        assert.match((e as Error).message, /--max-tickets-per-payment/);
        return true;
      },
    );
    assert.equal(s.nonce(id), 0);
    const ok = await s.createTicketBatch(id, 40);
    assert.equal(ok.senderParams.length, 40);
  });

  test("the default is go-livepeer's 600; the limit must be 1 to 600", () => {
    assert.equal(make().maxTicketsPerPayment, 600);
    for (const bad of [0, 601, 1.5])
      assert.throws(
        () => make({}, { maxTicketsPerPayment: bad }),
        /maxTicketsPerPayment must be an integer from 1 to 600/,
      );
  });
});

describe("price increase", () => {
  test("a price up to 2× the initial one is accepted; more is PRICE_INCREASED with go-livepeer's text", () => {
    checkPriceIncrease(Rat.of(3n, 2n), Rat.of(3n));
    assert.throws(
      () => checkPriceIncrease(Rat.of(3n, 2n), Rat.of(31n, 10n)),
      (e: unknown) =>
        e instanceof PaymentError &&
        e.code === "PRICE_INCREASED" &&
        e.upstream ===
          "Orchestrator price has more than doubled, Orchestrator price: 31/10, Orchestrator initial price: 3/2",
    );
  });
});

describe("ticket counts and max float", () => {
  test("stageUpdate sends ceil((minCredit − existing) / EV) tickets", () => {
    assert.equal(stageUpdate(Rat.of(0n), Rat.of(10n), Rat.of(3n)).numTickets, 4);
    assert.equal(stageUpdate(Rat.of(1n), Rat.of(10n), Rat.of(3n)).numTickets, 3);
    assert.equal(stageUpdate(Rat.of(10n), Rat.of(10n), Rat.of(3n)).numTickets, 0);
    assert.equal(stageUpdate(Rat.of(0n), Rat.of(10n), Rat.ZERO).numTickets, 0);
    assert.equal(stageUpdate(Rat.of(0n), Rat.of(10n), Rat.of(3n)).newCredit.toString(), "12");
  });

  test("BYOC ticket count is ceil(cost / EV) capped at 600", () => {
    assert.equal(byocTicketCount(Rat.of(10n), Rat.of(3n)), 4);
    assert.equal(byocTicketCount(Rat.of(10n ** 9n), Rat.of(1n)), 600);
    assert.equal(byocTicketCount(Rat.of(10n), Rat.ZERO), 0);
  });

  test("max float is the reserve share, minus pending unless deposit covers 3× pending", () => {
    const info: SenderInfo = {
      deposit: 30n,
      withdrawRound: 0n,
      reserve: { fundsRemaining: 1000n, claimedInCurrentRound: 0n },
    };
    assert.equal(computeMaxFloat({ info, poolSize: 10n, claimedByRecipient: 0n, pendingAmount: 0n }), 100n);
    assert.equal(computeMaxFloat({ info, poolSize: 10n, claimedByRecipient: 20n, pendingAmount: 10n }), 80n);
    assert.equal(computeMaxFloat({ info, poolSize: 10n, claimedByRecipient: 0n, pendingAmount: 11n }), 89n);
    assert.equal(computeMaxFloat({ info, poolSize: 0n, claimedByRecipient: 0n, pendingAmount: 0n }), 0n);
  });
});

describe("nonce store and rationals", () => {
  test("the memory nonce store records each nonce once up to max, and purges by expiration block", () => {
    const st = new MemoryNonceStore();
    assert.equal(st.add(HASH, 2, 50n, 2), "added");
    assert.equal(st.add(HASH, 2, 50n, 2), "seen");
    assert.equal(st.add(HASH, 1, 50n, 2), "added");
    assert.equal(st.add(HASH, 3, 50n, 2), "full");
    assert.equal(st.purgeExpired(49n), 0);
    assert.equal(st.purgeExpired(50n), 1);
    assert.equal(st.add(HASH, 2, 60n, 2), "added");
  });

  test("Rat keeps lowest terms with a positive denominator and rounds like Go FloatString", () => {
    assert.equal(Rat.of(6n, -4n).toString(), "-3/2");
    assert.equal(Rat.of(7n, 2n).floor(), 3n);
    assert.equal(Rat.of(-7n, 2n).floor(), -4n);
    assert.equal(Rat.of(7n, 2n).ceil(), 4n);
    assert.equal(Rat.of(2n, 3n).toFixed(5), "0.66667");
    assert.equal(Rat.parse("1.25").toString(), "5/4");
    assert.equal(Rat.parse("10/4").toString(), "5/2");
    assert.throws(() => Rat.of(1n, 0n), RangeError);
    assert.throws(() => Rat.parse("abc"), RangeError);
  });
});
