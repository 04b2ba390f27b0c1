/**
 * Ticket validation throughput on one core: how many tickets per second Tributary's recipient can
 * check, against go-ethereum's secp256k1 recovery (the dominant cost of go-livepeer's
 * `ReceiveTicket`) measured in the same run by bench/payments/go-ecrecover.
 *
 * Run: node bench/payments/validate.ts [--seconds 2] [--no-go]
 * The Go baseline needs `go` on PATH (modules come from the Go module proxy on first build); without
 * it the table uses our own signature check as the baseline.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  checkSig,
  type NonceStore,
  Rat,
  Recipient,
  Sender,
  type SignedTicket,
  ticketHash,
  ticketsOfPayment,
} from "../../src/payments/index.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "2" }, "no-go": { type: "boolean", default: false } },
});
const seconds = Number(values.seconds);

/** Accepts every nonce, forgetting them in bulk, so the benchmark can loop over a fixed ticket set. */
class LoopNonceStore implements NonceStore {
  #seen = new Set<number>();
  add(_h: Hex, nonce: number) {
    if (this.#seen.size >= 512) this.#seen.clear();
    this.#seen.add(nonce);
    return "added" as const;
  }
  purgeExpired() {
    return 0;
  }
}

async function measure(
  name: string,
  fn: (i: number) => unknown | Promise<unknown>,
): Promise<{ name: string; opsPerSecond: number }> {
  for (let i = 0; i < 50; i++) await fn(i); // warm-up
  let ops = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) {
    for (let k = 0; k < 16; k++) await fn(ops++);
  }
  const elapsed = (performance.now() - start) / 1000;
  return { name, opsPerSecond: ops / elapsed };
}

const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);
const hash: Hex = `0x${"41".repeat(32)}`;
const time = {
  lastSeenL1Block: () => 100n,
  lastInitializedRound: () => 5n,
  lastInitializedL1BlockHash: () => hash,
  preLastInitializedL1BlockHash: () => hash,
};
const info = {
  deposit: 10n ** 18n,
  withdrawRound: 0n,
  reserve: { fundsRemaining: 10n ** 18n, claimedInCurrentRound: 0n },
};
const recipient = new Recipient({
  address: "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F",
  ticketEV: 8_000_000_000n,
  redeemGas: 1_200_000n,
  time,
  gasPrice: { gasPrice: () => 10_000_000n },
  senders: { senderInfo: () => info, maxFloat: () => 10n ** 18n },
  nonces: new LoopNonceStore(),
});
const price = Rat.of(1n);
const params = await recipient.ticketParams(gw.address, price);
const sender = new Sender({ signer: gw, time, senders: { senderInfo: () => info } });
const payment = await sender.createPayment(sender.startSession(params), 256, {
  pricePerUnit: 1n,
  pixelsPerUnit: 1n,
  capability: 0,
  constraint: "",
});
const tickets: SignedTicket[] = ticketsOfPayment(payment);
const hashes = tickets.map((t) => ticketHash(t));

const rows = [
  await measure("ticket hash (keccak of 232 bytes)", (i) => ticketHash(tickets[i % tickets.length]!)),
  await measure("signature check (EIP-191 recover)", async (i) => {
    const t = tickets[i % tickets.length]!;
    const r = await checkSig(t.sender, hashes[i % hashes.length]!, t.sig);
    if (!r.valid) throw new Error("bench ticket failed to verify");
  }),
  await measure("Recipient.receiveTicket (full)", async (i) => {
    const t = tickets[i % tickets.length]!;
    const r = await recipient.receiveTicket(t, t.sig, params.seed, price);
    if (r.error) throw r.error;
  }),
];

let baseline: { name: string; opsPerSecond: number } | undefined;
if (!values["no-go"]) {
  try {
    const dir = fileURLToPath(new URL("./go-ecrecover/", import.meta.url));
    const bin = join(mkdtempSync(join(tmpdir(), "tributary-bench-")), "go-ecrecover");
    execFileSync("go", ["build", "-o", bin, "."], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    const out = JSON.parse(execFileSync(bin, ["-duration", `${seconds}s`], { encoding: "utf8" })) as {
      impl: string;
      opsPerSecond: number;
    };
    baseline = { name: `${out.impl} (Go, baseline)`, opsPerSecond: out.opsPerSecond };
  } catch (err) {
    console.error(`Go baseline skipped: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
}
const base = baseline ?? rows[1]!;
const all = baseline ? [baseline, ...rows] : rows;
console.log(`ticket validation, one core, ${seconds}s per row (baseline: ${base.name})`);
console.log(`${"what".padEnd(48)} ${"ops/s".padStart(12)} ${"× baseline".padStart(11)}`);
for (const r of all) {
  console.log(
    `${r.name.padEnd(48)} ${r.opsPerSecond.toFixed(0).padStart(12)} ${(r.opsPerSecond / base.opsPerSecond).toFixed(3).padStart(11)}`,
  );
}
