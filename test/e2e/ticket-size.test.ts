/**
 * Tickets sized for the price: an orchestrator whose BYOC capability costs 100 × its ticket EV a
 * second quotes tickets worth more, so a gateway pays a job in at most the target number of tickets
 * (50 by default) instead of 120, and the orchestrator accepts and credits them at their EV; a cheap
 * capability gets go-livepeer's params unchanged; a face value cap bounds the raise, and then more
 * tickets are sent, up to the gateway's own cap. In process: a real Recipient, PaymentGate, gateway
 * Sender and the text-reverse SDK container; chain facts faked (orchestrator-helpers.ts).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import textReverse from "../../examples/text-reverse/pipeline.ts";
import { type RunningGateway, startGateway } from "../../src/gateway/index.ts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import type { Rat } from "../../src/payments/rational.ts";
import { Recipient } from "../../src/payments/recipient.ts";
import { Sender } from "../../src/payments/sender.ts";
import { ticketEV } from "../../src/payments/ticket.ts";
import type { Payment } from "../../src/payments/types.ts";
import type { RunningRunner } from "../../src/runner/index.ts";
import { startRunner } from "../../src/runner/index.ts";
import { senders, time } from "./orchestrator-helpers.ts";

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const gwKey = privateKeyToAccount(`0x${"43".repeat(32)}`);
const TICKET_EV = 1000n;
/** 100 × the ticket EV a second: 120 s (the gateway's top-up) is 12 000 000 wei, 12 000 default tickets. */
const EXPENSIVE = 100n * TICKET_EV;
/** Most tickets in one of the gateway's payments in this suite. */
const GATEWAY_CAP = 100;

describe("tickets sized for the price (orchestrator quotes, gateway pays)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ticket-size-"));
  const payments: { payment: Payment; credited: Rat; tickets: number; error: unknown }[] = [];
  let seed = 0;
  let recipient: Recipient;
  let reverse: RunningRunner;
  let orch: RunningOrchestrator;
  let gw: RunningGateway;

  function register(name: string, price: bigint): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${orch.url}/capability/register`,
        { method: "POST", headers: { authorization: "s" }, ca: orch.cert, agent: false },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ name, url: reverse.url, capacity: 4, price_per_unit: Number(price) }));
    });
  }

  async function job(capability: string): Promise<void> {
    // The container's route is text-reverse; the capability (and its price) is X-Model-Id.
    const r = await fetch(`${gw.url}/text-reverse`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-model-id": capability },
      body: JSON.stringify({ text: "paid" }),
    });
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.deepEqual(JSON.parse(body), { text: "diap" });
  }

  before(async () => {
    reverse = await startRunner(textReverse, { port: 0 });
    // go-livepeer's defaults apart from the EV: gas price 1, redeem gas 20, no face value cap.
    recipient = new Recipient({
      address: ORCH,
      secret: new Uint8Array(32).fill(7),
      ticketEV: TICKET_EV,
      redeemGas: 20n,
      random: (n) => new Uint8Array(n).fill(++seed),
      time,
      gasPrice: { gasPrice: () => 1n },
      senders,
    });
    const processPayment = recipient.processPayment.bind(recipient);
    recipient.processPayment = async (payment, manifestId, balances, onWinner) => {
      try {
        const r = await processPayment(payment, manifestId, balances, onWinner);
        payments.push({ payment, credited: r.credited, tickets: r.creditedTickets, error: r.error });
        return r;
      } catch (error) {
        payments.push({ payment, credited: ticketEV(0n, 0n), tickets: 0, error });
        throw error;
      }
    };
    const gate = new PaymentGate({
      recipient,
      balances: new Balances(),
      enqueueWinner: () => {},
      isActive: () => true,
    });
    orch = await startOrchestrator({
      port: 0,
      dataDir: dir,
      orchSecret: "s",
      network: "devnet",
      payments: gate,
      address: ORCH,
      health: { intervalMs: 100, failureThreshold: 1 },
    });
    for (const [name, price] of [
      ["pricey", EXPENSIVE],
      ["pricey-capped", EXPENSIVE],
      ["cheap", 10n],
    ] as const)
      assert.equal(await register(name, price), 200);
    for (let i = 0; i < 200; i++) {
      const keys = orch.registry.advertised().map((a) => a.key);
      if (["byoc/pricey", "byoc/pricey-capped", "byoc/cheap"].every((k) => keys.includes(k))) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    gw = await startGateway({
      port: 0,
      discovery: { orchAddr: [orch.url] },
      payments: {
        signer: gwKey,
        sender: new Sender({ signer: gwKey, time, senders, maxTicketsPerPayment: GATEWAY_CAP }),
      },
    });
  });

  after(async () => {
    await gw?.close();
    await orch?.close();
    await reverse?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a capability at 100 × EV a second is paid in at most 50 tickets of a larger EV, accepted and credited", async () => {
    payments.length = 0;
    await job("pricey");
    assert.equal(payments.length, 1);
    const [{ payment, credited, tickets, error }] = payments as [(typeof payments)[0]];
    const ev = ticketEV(payment.ticketParams!.faceValue, payment.ticketParams!.winProb);
    assert.ok(ev.cmp(100n * TICKET_EV) > 0, `quoted EV ${ev.toFixed(3)} wei (default ${TICKET_EV})`);
    assert.ok(ev.cmp(payment.ticketParams!.faceValue) < 0, "win probability below 1");
    assert.equal(error, undefined);
    assert.equal(payment.senderParams.length, tickets);
    assert.ok(tickets <= 50, `${tickets} tickets (120 at the default EV)`);
    assert.equal(credited.cmp(ev.mul(BigInt(tickets))), 0, "credit = tickets × EV");
    assert.ok(credited.cmp(EXPENSIVE * 120n) >= 0, "the payment covers the gateway's 120 s top-up");
  });

  test("a cheap capability is quoted go-livepeer's params: EV exactly the ticket EV", async () => {
    payments.length = 0;
    await job("cheap");
    const p = payments[0]!.payment;
    assert.equal(p.ticketParams!.faceValue, 2000n); // txCost 20 × 100
    assert.equal(p.ticketParams!.winProb, recipient.winProb(2000n));
    // go-livepeer's win probability rounds up: the EV is 1000 wei and a fraction of a wei.
    assert.equal(ticketEV(p.ticketParams!.faceValue, p.ticketParams!.winProb).floor(), TICKET_EV);
    assert.equal(payments[0]!.tickets, 2); // 120 s × 10 wei = 1200 wei
  });

  test("--max-face-value bounds the raise: more tickets, trimmed to the gateway's cap, still accepted", async () => {
    recipient.setMaxFaceValue(100_000n);
    try {
      payments.length = 0;
      await job("pricey-capped");
      const [{ payment, credited, tickets, error }] = payments as [(typeof payments)[0]];
      assert.equal(payment.ticketParams!.faceValue, 100_000n);
      const ev = ticketEV(payment.ticketParams!.faceValue, payment.ticketParams!.winProb);
      assert.ok(ev.cmp(99_999n) >= 0 && ev.cmp(100_000n) < 0, `EV ${ev.toFixed(3)}`);
      // 120 s would be 121 tickets; the gateway sends its cap, which covers the 60 s minimum.
      assert.equal(error, undefined);
      assert.equal(tickets, GATEWAY_CAP);
      assert.equal(credited.cmp(ev.mul(BigInt(GATEWAY_CAP))), 0);
    } finally {
      recipient.setMaxFaceValue(0n);
    }
  });
});
