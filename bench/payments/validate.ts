/**
 * Ticket validation throughput on one core: how many tickets per second Tributary's recipient can
 * check, against go-ethereum's secp256k1 recovery (the dominant cost of go-livepeer's
 * `ReceiveTicket`) measured in the same run by bench/payments/go-ecrecover.
 *
 * Run: node bench/payments/validate.ts [--seconds 2] [--no-go] [--quick]   (`--quick`: 1 s per row)
 * The Go baseline is built once into the tool cache (~/.cache/tributary/bin/go-ecrecover, rebuilt
 * when main.go or go.mod is newer) and needs `go` on PATH for that build (modules come from the Go
 * module proxy); without it the table uses our own signature check as the baseline.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
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
import { type BenchOptions, type BenchResult, CACHE, fmt, logToStderr, met, ratio } from "../lib.ts";

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
  seconds: number,
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

/**
 * The go-ethereum baseline binary, built into the tool cache on first use (and again when its source
 * is newer). Returns its path, or why it is not available.
 */
export function goEcrecoverBinary(): string | { skipped: string } {
  const dir = fileURLToPath(new URL("./go-ecrecover/", import.meta.url));
  const bin = join(CACHE, "bin", "go-ecrecover");
  const newest = Math.max(...["main.go", "go.mod", "go.sum"].map((f) => statSync(join(dir, f)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs >= newest) return bin;
  try {
    mkdirSync(join(CACHE, "bin"), { recursive: true });
    execFileSync("go", ["build", "-o", bin, "."], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    return bin;
  } catch (err) {
    return { skipped: `go-ecrecover did not build: ${(err as Error).message.split("\n")[0]}` };
  }
}

/** Runs the ticket validation benchmark; `seconds` per row (default 2, 1 when quick). */
export async function paymentsBench(
  opts: BenchOptions & { seconds?: number; noGo?: boolean },
): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const seconds = opts.seconds ?? (opts.quick ? 1 : 2);
  log(`payments: ticket validation, ${seconds} s per row…`);
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

  let goBefore = { opsPerSecond: Number.NaN };
  if (!opts.noGo) {
    const bin = goEcrecoverBinary();
    if (typeof bin === "string")
      goBefore = JSON.parse(execFileSync(bin, ["-duration", `${seconds}s`], { encoding: "utf8" })) as {
        opsPerSecond: number;
      };
  }
  const rows = [
    await measure(seconds, "ticket hash (keccak of 232 bytes)", (i) =>
      ticketHash(tickets[i % tickets.length]!),
    ),
    await measure(seconds, "signature check (EIP-191 recover)", async (i) => {
      const t = tickets[i % tickets.length]!;
      const r = await checkSig(t.sender, hashes[i % hashes.length]!, t.sig);
      if (!r.valid) throw new Error("bench ticket failed to verify");
    }),
    await measure(seconds, "Recipient.receiveTicket (full)", async (i) => {
      const t = tickets[i % tickets.length]!;
      const r = await recipient.receiveTicket(t, t.sig, params.seed, price);
      if (r.error) throw r.error;
    }),
  ];

  let baseline: { name: string; opsPerSecond: number } | undefined;
  let skipped: string | undefined;
  if (!opts.noGo) {
    // Measured before AND after our rows (the mean is the baseline), so that a change in the shared
    // machine's load during the run shifts both sides alike.
    const bin = goEcrecoverBinary();
    if (typeof bin === "string") {
      const after = JSON.parse(execFileSync(bin, ["-duration", `${seconds}s`], { encoding: "utf8" })) as {
        impl: string;
        opsPerSecond: number;
      };
      const rate = (goBefore.opsPerSecond + after.opsPerSecond) / 2;
      baseline = {
        name: `${after.impl} (Go, baseline; mean of ${goBefore.opsPerSecond.toFixed(0)} before and ${after.opsPerSecond.toFixed(0)} after ours)`,
        opsPerSecond: rate,
      };
    } else skipped = bin.skipped;
  }
  const base = baseline ?? rows[1]!;
  const all = baseline ? [baseline, ...rows] : rows;
  const lines = [
    `ticket validation, one core, ${seconds}s per row (baseline: ${base.name})${skipped ? ` (${skipped})` : ""}`,
    "",
    "| what | ops/s | × baseline |",
    "|---|---|---|",
    ...all.map(
      (r) =>
        `| ${r.name} | ${r.opsPerSecond.toFixed(0)} | ${(r.opsPerSecond / base.opsPerSecond).toFixed(3)} |`,
    ),
  ];
  const full = rows[2]!.opsPerSecond;
  const goRate = baseline?.opsPerSecond ?? Number.NaN;
  return {
    rows: [
      {
        component: "payments",
        measure: "ticket validations/s, one core (Recipient.receiveTicket, higher is better)",
        ours: fmt(full, 0),
        baseline: baseline ? `go-ethereum Ecrecover ${fmt(goRate, 0)}` : (skipped ?? "skipped (--no-go)"),
        ratio: ratio(full, goRate),
        goal: "≥ 0.5× go-ethereum",
        met: baseline ? met(full / goRate >= 0.5) : `skipped: ${skipped ?? "--no-go"}`,
      },
      {
        component: "payments",
        measure: "signature recoveries/s, one core (checkSig, higher is better)",
        ours: fmt(rows[1]!.opsPerSecond, 0),
        baseline: baseline ? `go-ethereum Ecrecover ${fmt(goRate, 0)}` : (skipped ?? "skipped (--no-go)"),
        ratio: ratio(rows[1]!.opsPerSecond, goRate),
        goal: "",
        met: "",
      },
    ],
    detail: lines.join("\n"),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      "no-go": { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
    },
  });
  const r = await paymentsBench({
    quick: values.quick,
    noGo: values["no-go"],
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
  });
  console.log(r.detail);
}
