/**
 * Ticket validation throughput: how many tickets per second Tributary's recipient can check on one
 * core, and on the whole machine (signature recoveries in the verify pool's worker threads, 64
 * validations in flight), against go-ethereum's secp256k1 recovery (the dominant cost of
 * go-livepeer's `ReceiveTicket`) measured in the same run by bench/payments/go-ecrecover on one
 * goroutine and on as many goroutines as cores (GOMAXPROCS = cores), in interleaved rounds.
 *
 * Run: node bench/payments/validate.ts [--seconds 2] [--no-go] [--quick]   (`--quick`: 1 s per row)
 * The Go baseline is built once into the tool cache (~/.cache/tributary/bin/go-ecrecover, rebuilt
 * when main.go or go.mod is newer) with cgo, as go-ethereum ships it (libsecp256k1; needs `go` and a C
 * compiler on PATH, modules come from the Go module proxy), and reports the go-ethereum version it
 * was built with; without it the table uses our own signature check as the baseline.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { useRecoveryPool } from "../../src/payments/ecrecover.ts";
import {
  checkSig,
  type NonceStore,
  Rat,
  Recipient,
  Sender,
  type SignedTicket,
  ticketHash,
  ticketHashBytes,
  ticketsOfPayment,
} from "../../src/payments/index.ts";
import { startVerifyPool } from "../../src/payments/verify-pool.ts";
import { type BenchOptions, type BenchResult, CACHE, fmt, logToStderr, median, met } from "../lib.ts";

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

/** Like {@link measure} with `inFlight` calls of `fn` running at once (closed loop). */
async function measureConcurrent(
  seconds: number,
  name: string,
  inFlight: number,
  fn: (i: number) => Promise<unknown>,
): Promise<{ name: string; opsPerSecond: number }> {
  let next = 0;
  const loop = async (deadline: number) => {
    let n = 0;
    while (performance.now() < deadline) {
      await fn(next++);
      n++;
    }
    return n;
  };
  const warm = performance.now() + 200;
  await Promise.all(Array.from({ length: inFlight }, () => loop(warm)));
  const start = performance.now();
  const counts = await Promise.all(Array.from({ length: inFlight }, () => loop(start + seconds * 1000)));
  const ops = counts.reduce((a, b) => a + b, 0);
  return { name, opsPerSecond: ops / ((performance.now() - start) / 1000) };
}

/** One run of the Go baseline: recoveries per second on `goroutines` goroutines (GOMAXPROCS the same). */
interface GoRun {
  impl: string;
  goEthereum: string;
  cgo: boolean;
  opsPerSecond: number;
}

function runGo(bin: string, seconds: number, goroutines: number): GoRun {
  const out = execFileSync(bin, ["-duration", `${seconds}s`, "-goroutines", String(goroutines)], {
    encoding: "utf8",
    env: { ...process.env, GOMAXPROCS: String(goroutines) },
  });
  return JSON.parse(out) as GoRun;
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
    // CGO_ENABLED=1: go-ethereum's crypto uses libsecp256k1 only with cgo (its pure-Go fallback is slower)
    execFileSync("go", ["build", "-o", bin, "."], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, CGO_ENABLED: "1" },
    });
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
  const hashes = tickets.map((t) => ticketHashBytes(t));

  const cores = availableParallelism();
  const bin = opts.noGo ? { skipped: "--no-go" } : goEcrecoverBinary();
  const skipped = typeof bin === "string" ? undefined : bin.skipped;
  const receive = async (i: number) => {
    const t = tickets[i % tickets.length]!;
    const r = await recipient.receiveTicket(t, t.sig, params.seed, price);
    if (r.error) throw r.error;
  };
  const context = [
    await measure(seconds, "ticket hash (keccak of 232 bytes)", (i) =>
      ticketHash(tickets[i % tickets.length]!),
    ),
    await measure(seconds, "signature check (EIP-191 recover)", async (i) => {
      const t = tickets[i % tickets.length]!;
      const r = await checkSig(t.sender, hashes[i % hashes.length]!, t.sig);
      if (!r.valid) throw new Error("bench ticket failed to verify");
    }),
  ];

  // Rounds of Go one goroutine, ours on one core, Go on every core, ours on every core, interleaved
  // so that a change in the shared machine's load shifts both sides alike; each ratio is the median
  // of the rounds' ratios.
  const rounds = opts.quick ? 2 : 3;
  const per: { goOne: number; one: number; goAll: number; all: number }[] = [];
  let go: GoRun | undefined;
  const pool = startVerifyPool({ threads: cores, install: false });
  try {
    for (let r = 0; r < rounds; r++) {
      log(`payments: round ${r + 1}/${rounds}`);
      const goOne = typeof bin === "string" ? runGo(bin, seconds, 1) : undefined;
      const one = (await measure(seconds, "one core", receive)).opsPerSecond;
      const goAll = typeof bin === "string" ? runGo(bin, seconds, cores) : undefined;
      // The whole machine: recoveries in the verify pool (one worker per core), 64 validations in flight.
      useRecoveryPool(pool);
      const all = (await measureConcurrent(seconds, "whole machine", 64, receive)).opsPerSecond;
      useRecoveryPool(undefined);
      go = goOne;
      per.push({
        goOne: goOne?.opsPerSecond ?? Number.NaN,
        one,
        goAll: goAll?.opsPerSecond ?? Number.NaN,
        all,
      });
    }
  } finally {
    useRecoveryPool(undefined);
    await pool.close();
  }
  const med = (f: (x: (typeof per)[number]) => number) => median(per.map(f));
  const one = med((x) => x.one);
  const whole = med((x) => x.all);
  const goOne = med((x) => x.goOne);
  const goAll = med((x) => x.goAll);
  const rOne = med((x) => x.one / x.goOne);
  const rWhole = med((x) => x.all / x.goAll);
  const rWholeVsOne = med((x) => x.all / x.goOne);
  const rSig = context[1]!.opsPerSecond / goOne;
  const version = go
    ? `go-ethereum ${go.goEthereum} crypto.Ecrecover${go.cgo ? " (cgo, libsecp256k1)" : " (NO cgo: pure-Go fallback)"}`
    : "";
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "n/a");
  const lines = [
    `ticket validation, ${seconds}s per row, ${cores} cores, ${rounds} interleaved rounds; baseline: ${version || (skipped ?? "--no-go")}`,
    "",
    "| what | ops/s per round | median | × go-ethereum (median of the rounds' ratios) |",
    "|---|---|---|---|",
    `| ${version}, one goroutine | ${per.map((p) => p.goOne.toFixed(0)).join(", ")} | ${goOne.toFixed(0)} | 1 |`,
    `| ${version}, ${cores} goroutines, GOMAXPROCS=${cores} | ${per.map((p) => p.goAll.toFixed(0)).join(", ")} | ${goAll.toFixed(0)} | ${x(med((p) => p.goAll / p.goOne))} of one goroutine |`,
    `| ticket hash (keccak of 232 bytes), one core | | ${context[0]!.opsPerSecond.toFixed(0)} | ${x(context[0]!.opsPerSecond / goOne)} |`,
    `| signature check (checkSig: EIP-191 digest + recovery), one core | | ${context[1]!.opsPerSecond.toFixed(0)} | ${x(rSig)} |`,
    `| Recipient.receiveTicket (full), one core | ${per.map((p) => p.one.toFixed(0)).join(", ")} | ${one.toFixed(0)} | ${x(rOne)} |`,
    `| Recipient.receiveTicket (full), whole machine (verify pool, ${cores} workers, 64 in flight) | ${per.map((p) => p.all.toFixed(0)).join(", ")} | ${whole.toFixed(0)} | ${x(rWhole)} of Go on ${cores} goroutines; ${x(rWholeVsOne)} of one |`,
  ];
  const goName = (rate: number, what: string) =>
    go ? `${version} ${fmt(rate, 0)} (${what})` : (skipped ?? "skipped (--no-go)");
  const hasGo = go !== undefined;
  return {
    rows: [
      {
        component: "payments",
        measure: "ticket validations/s, one core (Recipient.receiveTicket, higher is better)",
        ours: fmt(one, 0),
        baseline: goName(goOne, "one goroutine"),
        ratio: x(rOne),
        goal: "≥ 0.5× go-ethereum",
        met: hasGo ? met(rOne >= 0.5) : `skipped: ${skipped ?? "--no-go"}`,
      },
      {
        component: "payments",
        measure: `ticket validations/s, whole machine (${cores} cores: verify pool, 64 in flight; higher is better)`,
        ours: fmt(whole, 0),
        baseline: goName(goAll, `${cores} goroutines, GOMAXPROCS=${cores}`),
        ratio: x(rWhole),
        goal: `≥ 1× go-ethereum on ${cores} cores`,
        met: hasGo ? met(rWhole >= 1) : `skipped: ${skipped ?? "--no-go"}`,
      },
      {
        component: "payments",
        measure: `ticket validations/s, whole machine vs go-ethereum on one goroutine`,
        ours: fmt(whole, 0),
        baseline: goName(goOne, "one goroutine"),
        ratio: x(rWholeVsOne),
        goal: "",
        met: "",
      },
      {
        component: "payments",
        measure: "signature recoveries/s, one core (checkSig, higher is better)",
        ours: fmt(context[1]!.opsPerSecond, 0),
        baseline: goName(goOne, "one goroutine"),
        ratio: x(rSig),
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
