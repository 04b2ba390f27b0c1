import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { Readable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { privateKeyToAccount } from "viem/accounts";
import { MAX_WIN_PROB, Rat, Recipient, Sender } from "../payments/index.ts";
import type { Payment, PriceInfo } from "../payments/types.ts";
import { encodePaymentHeader } from "../protocol/payment-header.ts";
import { describePayment, paymentCommand } from "./payment.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);
const HASH = `0x${"41".repeat(32)}` as const;
const PRICE: PriceInfo = { pricePerUnit: 1n, pixelsPerUnit: 1n, capability: 0, constraint: "" };

async function makeHeader(): Promise<{ header: string; payment: Payment; rand: bigint }> {
  const time = {
    lastSeenL1Block: () => 100n,
    lastInitializedRound: () => 5n,
    lastInitializedL1BlockHash: () => HASH,
    preLastInitializedL1BlockHash: () => HASH,
  };
  const info = {
    deposit: 10n ** 18n,
    withdrawRound: 0n,
    reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
  };
  const recipient = new Recipient({
    address: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F",
    secret: new Uint8Array(32).fill(1),
    ticketEV: 1000n,
    redeemGas: 0n,
    time,
    gasPrice: { gasPrice: () => 0n },
    senders: { senderInfo: () => info, maxFloat: () => 1001n },
  });
  const params = await recipient.ticketParams(gw.address, Rat.of(1n));
  const sender = new Sender({ signer: gw, time, senders: { senderInfo: () => info } });
  const payment = await sender.createPayment(sender.startSession(params), 2, PRICE);
  const rand = recipient.recipientRand(
    params.seed,
    gw.address,
    params.faceValue,
    params.winProb,
    params.expirationBlock,
    Rat.of(1n),
    params.expirationParams!,
  );
  return { header: encodePaymentHeader(payment), payment, rand };
}

test("describePayment reports sender, params, per-ticket hash, EV, signature validity and wins", async () => {
  const { header, payment, rand } = await makeHeader();
  const d = (await describePayment(header, { recipientRand: rand })) as {
    sender: string;
    recipientRandMatches: boolean;
    ticketParams: { faceValue: string; winProb: string };
    tickets: Array<{ senderNonce: number; hash: string; ev: string; signatureValid: boolean; wins: boolean }>;
  };
  assert.equal(d.sender, gw.address);
  assert.equal(d.recipientRandMatches, true);
  assert.equal(d.ticketParams.faceValue, "1001");
  assert.deepEqual(
    d.tickets.map((t) => t.senderNonce),
    [1, 2],
  );
  assert.ok(d.tickets.every((t) => t.signatureValid && /^0x[0-9a-f]{64}$/.test(t.hash)));
  assert.equal(d.tickets[0]!.ev, Rat.of(1001n * payment.ticketParams!.winProb, MAX_WIN_PROB).toString());
  assert.ok(
    d.tickets.some((t) => t.wins),
    "p = 1000/1001 per ticket",
  );
  // a tampered signature is reported invalid, not a crash
  const bad = encodePaymentHeader({
    ...payment,
    senderParams: [{ senderNonce: 1, sig: `0x${"ff".repeat(65)}` }],
  });
  const d2 = (await describePayment(bad)) as {
    tickets: Array<{ signatureValid: boolean; signatureError: string }>;
  };
  assert.equal(d2.tickets[0]!.signatureValid, false);
  assert.equal(d2.tickets[0]!.signatureError, "signature s value too high");
});

test("payment decode reads '-' from stdin and reports garbage with exit status 1", async () => {
  const { header } = await makeHeader();
  let out = "";
  let err = "";
  const io = {
    stdin: Readable.from([`${header}\n`]),
    stdout: (s: string) => (out += s),
    stderr: (s: string) => (err += s),
  };
  await paymentCommand(io).parseAsync(["node", "payment", "decode", "-"]);
  assert.equal(JSON.parse(out).tickets.length, 2);
  const saved = process.exitCode;
  try {
    await paymentCommand(io).parseAsync(["node", "payment", "decode", "not*base64"]);
    assert.equal(process.exitCode, 1);
    assert.match(err, /Livepeer-Payment is not standard padded base64/);
  } finally {
    process.exitCode = saved;
  }
});

test("tributary payment decode --help documents the fields and runs from main", async () => {
  const child = spawn(process.execPath, [MAIN, "payment", "decode", "--help"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.match(out, /--recipient-rand <n>/);
  assert.match(out, /signatureValid/);
});
