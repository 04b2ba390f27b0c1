/**
 * Cross-checks Tributary's payments against go-livepeer's own code (not part of `npm test`: it needs
 * Go and a go-livepeer source tree, and downloads Go modules through the Go module proxy).
 *
 *   node src/payments/go-interop/run.ts <path to a go-livepeer source tree>
 *
 * 1. Tributary's Recipient quotes params (fixed secret) and Tributary's Sender pays 3 tickets, for a
 *    low and a near-1 win probability; the `Livepeer-Payment` headers go to a fixture file.
 * 2. tributary_interop_test.go, copied into <go-livepeer>/pm for the run, decodes them with
 *    go-livepeer's net.Payment and checks ticket hashes, crypto.VerifySig, and
 *    Recipient.ReceiveTicket (same secret: the HMAC recipientRand must match) and the win outcomes.
 * 3. go-livepeer's Recipient.TicketParams output is checked with Tributary's recipientRand.
 * Exit status 0 when everything matches.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { encodePaymentHeader } from "../../protocol/payment-header.ts";
import { Rat } from "../rational.ts";
import { Recipient } from "../recipient.ts";
import { Sender } from "../sender.ts";
import { recipientRandHash, ticketHash, ticketsOfPayment } from "../ticket.ts";

const goSrc = process.argv[2];
if (!goSrc) {
  console.error("usage: node src/payments/go-interop/run.ts <go-livepeer source tree>");
  process.exit(2);
}

const BH: Hex = "0x41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d";
const RECIPIENT: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const PRICE = Rat.of(10n, 3n);
const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);
const time = {
  lastSeenL1Block: () => 1000n,
  lastInitializedRound: () => 10n,
  lastInitializedL1BlockHash: () => BH,
  preLastInitializedL1BlockHash: () => BH,
};
const info = {
  deposit: 10n ** 18n,
  withdrawRound: 0n,
  reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
};
const recipientFor = (maxFloat: bigint, gasPrice: bigint) =>
  new Recipient({
    address: RECIPIENT,
    secret: new Uint8Array(32).fill(9),
    ticketEV: 1000n,
    redeemGas: 10000n,
    time,
    gasPrice: { gasPrice: () => gasPrice },
    senders: { senderInfo: () => info, maxFloat: () => maxFloat },
  });

const cases = [
  { maxFloat: 10n ** 30n, gasPrice: 1n },
  { maxFloat: 1001n, gasPrice: 0n },
];
const fixture = [];
for (const c of cases) {
  const r = recipientFor(c.maxFloat, c.gasPrice);
  const params = await r.ticketParams(gw.address, PRICE);
  const s = new Sender({ signer: gw, time, senders: { senderInfo: () => info } });
  const payment = await s.createPayment(s.startSession(params), 3, {
    pricePerUnit: 10n,
    pixelsPerUnit: 3n,
    capability: 0,
    constraint: "",
  });
  const tickets = [];
  for (const t of ticketsOfPayment(payment)) {
    const res = await r.receiveTicket(t, t.sig, params.seed, PRICE);
    if (res.error) throw res.error;
    tickets.push({ nonce: t.senderNonce, hash: ticketHash(t), won: res.won });
  }
  fixture.push({
    maxFloat: c.maxFloat.toString(),
    gasPrice: c.gasPrice.toString(),
    header: encodePaymentHeader(payment),
    tickets,
    faceValue: params.faceValue.toString(),
    winProb: params.winProb.toString(),
  });
}

const dir = mkdtempSync(join(tmpdir(), "tributary-go-interop-"));
const fixturePath = join(dir, "fixture.json");
const paramsPath = join(dir, "go-params.json");
writeFileSync(fixturePath, JSON.stringify(fixture));
const target = join(resolve(goSrc), "pm", "tributary_interop_test.go");
copyFileSync(fileURLToPath(new URL("./tributary_interop_test.go", import.meta.url)), target);
try {
  execFileSync("go", ["test", "-count=1", "-run", "TestTributaryInterop", "./pm"], {
    cwd: resolve(goSrc),
    stdio: "inherit",
    env: {
      ...process.env,
      GOFLAGS: "-mod=mod",
      TRIBUTARY_FIXTURE: fixturePath,
      TRIBUTARY_GO_PARAMS: paramsPath,
    },
  });
} finally {
  rmSync(target, { force: true });
}

const goParams = JSON.parse(readFileSync(paramsPath, "utf8")) as Array<Record<string, string>>;
let failures = 0;
for (const [i, g] of goParams.entries()) {
  const r = recipientFor(cases[i]!.maxFloat, cases[i]!.gasPrice);
  const rand = r.recipientRand(
    BigInt(g.seed!),
    g.sender as Address,
    BigInt(g.faceValue!),
    BigInt(g.winProb!),
    BigInt(g.expirationBlock!),
    PRICE,
    { creationRound: BigInt(g.creationRound!), creationRoundBlockHash: BH },
  );
  const ok = recipientRandHash(rand).toLowerCase() === g.recipientRandHash!.toLowerCase();
  const ours = await r.ticketParams(g.sender as Address, PRICE);
  const same = ours.faceValue.toString() === g.faceValue && ours.winProb.toString() === g.winProb;
  console.log(
    `go params case ${i}: recipientRandHash ${ok ? "matches" : "MISMATCH"}, faceValue/winProb ${same ? "match" : "DIFFER"}`,
  );
  if (!ok || !same) failures++;
}
rmSync(dir, { recursive: true, force: true });
console.log(failures === 0 ? "go-livepeer interop: OK" : "go-livepeer interop: FAILED");
process.exit(failures === 0 ? 0 : 1);
