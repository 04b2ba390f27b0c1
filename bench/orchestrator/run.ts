/**
 * What the orchestrator costs a batch job, measured in one run against the same container:
 *
 * - latency (one request at a time, keep-alive connections): `POST /text-reverse` straight to the
 *   container (HTTP) vs `POST /process/request/text-reverse` through an offchain orchestrator (HTTPS,
 *   `Livepeer` job header) vs through a priced orchestrator that validates a fresh ticket on every job
 *   (`Livepeer-Payment` with one ticket + a V0-signed job header), p50/p99 and the overhead over direct;
 * - throughput (CONCURRENCY requests in flight): jobs per second on the same three paths.
 *
 * The container (examples/text-reverse, src/runner SDK) runs in its own process
 * (bench/orchestrator/container.ts); both orchestrators and the client run in this process, so the
 * figures include the client's own TLS work on the orchestrator paths (a gateway pays that too).
 * The priced orchestrator uses the payments module's Recipient with chain facts held in memory (no
 * devnet): face value far above the ticket EV, so tickets almost never win and each job costs one
 * ticket check (ecrecover of the ticket signature + the job signature) as on a live network. Tickets
 * are made by the Sender before timing starts; the one signed job header is reused.
 * Targets are measured in interleaved rounds so that noise on the shared machine spreads evenly.
 *
 *   node bench/orchestrator/run.ts [--quick]
 *   node --cpu-prof --cpu-prof-dir=/tmp/orch-prof bench/orchestrator/run.ts --quick   # profile
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Address, type Hex, keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { PaymentGate, type RunningOrchestrator, startOrchestrator } from "../../src/orchestrator/index.ts";
import { Balances } from "../../src/payments/balances.ts";
import type { SenderMonitor, TimeSource } from "../../src/payments/chain-facts.ts";
import { Recipient } from "../../src/payments/recipient.ts";
import { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import type { SenderInfo } from "../../src/payments/types.ts";
import { encodePaymentHeader } from "../../src/protocol/payment-header.ts";
import { priceInfoFromGoJson, ticketParamsFromGoJson } from "../../src/protocol/ticket-params-json.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
/** Sequential requests per latency target. */
const LATENCY_N = quick ? 600 : 3000;
const ROUNDS = quick ? 3 : 5;
/** Requests in flight and seconds per throughput target (per round). */
const CONCURRENCY = 8;
const THROUGHPUT_SECONDS = quick ? 1 : 2;

const ORCH: Address = "0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F";
const gw = privateKeyToAccount(`0x${"42".repeat(32)}`);
const time: TimeSource = {
  lastSeenL1Block: () => 1000n,
  lastInitializedRound: () => 10n,
  lastInitializedL1BlockHash: () => `0x${"41".repeat(32)}` as Hex,
  preLastInitializedL1BlockHash: () => `0x${"99".repeat(32)}` as Hex,
};
const senderInfo: SenderInfo = {
  deposit: 10n ** 24n,
  withdrawRound: 0n,
  reserve: { fundsRemaining: 10n ** 24n, claimedInCurrentRound: 0n },
};
const senders: SenderMonitor = { senderInfo: () => senderInfo, maxFloat: () => 10n ** 30n };

const BODY = JSON.stringify({ text: "the orchestrator benchmark ✓" });
const EXPECTED = JSON.stringify({ text: "✓ kramhcneb rotartsehcro eht" });

interface Target {
  name: string;
  /** Sends one job; resolves with the latency in ms (undefined: no prepared payment left); rejects on a wrong answer. */
  send(): Promise<number | undefined>;
}

function exchange(
  doRequest: typeof httpRequest,
  url: string,
  agent: HttpAgent,
  headers: Record<string, string>,
  extra: { ca?: string } = {},
): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = doRequest(url, { method: "POST", agent, headers, ...extra }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => {
        if (res.statusCode !== 200 || body !== EXPECTED)
          reject(new Error(`${url}: ${res.statusCode} ${body.slice(0, 300)}`));
        else resolve(performance.now() - started);
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(BODY);
  });
}

function startContainer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(HERE, "container.ts")], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on("line", (line) => {
      if (line.startsWith("LISTENING ")) resolve({ url: line.slice(10).trim(), child });
    });
    child.once("exit", (code) => reject(new Error(`container exited (${code}) before listening`)));
  });
}

async function register(orch: RunningOrchestrator, url: string, price: number): Promise<void> {
  const agent = new HttpsAgent({ ca: orch.cert });
  await new Promise<void>((resolve, reject) => {
    const req = httpsRequest(
      `${orch.url}/capability/register`,
      { method: "POST", agent, headers: { authorization: "bench" } },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`register: ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(
      JSON.stringify({ name: "text-reverse", url, capacity: 64, price_per_unit: price, price_scaling: 1 }),
    );
  });
  agent.destroy();
  const end = Date.now() + 10_000;
  while (!orch.registry.advertised().some((a) => a.key === "byoc/text-reverse")) {
    if (Date.now() > end) throw new Error("the container never became ready behind the orchestrator");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function getJson(orch: RunningOrchestrator, path: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${orch.url}${path}`, { headers, ca: orch.cert, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(JSON.parse(body))
          : reject(new Error(`${path}: ${res.statusCode} ${body}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * `count` one-ticket payments made ahead (not timed). A recipient takes at most 600 nonces per ticket
 * params, so a fresh token (new ticket params) is fetched every 500 tickets, as a gateway would.
 */
async function makePayments(orch: RunningOrchestrator, count: number): Promise<string[]> {
  const sig = await signPayload(gw, gw.address);
  const sender = new Sender({ signer: gw, time, senders });
  const out: string[] = [];
  while (out.length < count) {
    const token = (await getJson(orch, "/process/token", {
      "livepeer-eth-address": Buffer.from(JSON.stringify({ addr: gw.address, sig })).toString("base64"),
      "livepeer-capability": "text-reverse",
    })) as { ticket_params: unknown; price: unknown };
    const session = sender.startSession(ticketParamsFromGoJson(token.ticket_params));
    const price = priceInfoFromGoJson(token.price);
    for (let i = 0; i < 500 && out.length < count; i++)
      out.push(encodePaymentHeader(await sender.createPayment(session, 1, price)));
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function latencies(targets: Target[]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (const t of targets) for (let i = 0; i < 100; i++) await t.send(); // warm-up
  const perRound = Math.ceil(LATENCY_N / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const list = out.get(t.name) as number[];
      for (let i = 0; i < perRound; i++) {
        const ms = await t.send();
        if (ms === undefined) throw new Error(`${t.name}: ran out of prepared payments`);
        list.push(ms);
      }
    }
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

async function throughput(targets: Target[]): Promise<Map<string, number>> {
  const jobs = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const seconds = new Map<string, number>(targets.map((t) => [t.name, 0]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      const started = performance.now();
      const deadline = started + THROUGHPUT_SECONDS * 1000;
      let done = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < deadline) {
            if ((await t.send()) === undefined) return; // payments used up: stop early, time counts to here
            done++;
          }
        }),
      );
      jobs.set(t.name, (jobs.get(t.name) as number) + done);
      seconds.set(t.name, (seconds.get(t.name) as number) + (performance.now() - started) / 1000);
    }
  }
  return new Map(
    targets.map((t) => [t.name, (jobs.get(t.name) as number) / (seconds.get(t.name) as number)]),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-orch-"));
  const container = await startContainer();
  let plain: RunningOrchestrator | undefined;
  let paid: RunningOrchestrator | undefined;
  const agents: HttpAgent[] = [];
  try {
    plain = await startOrchestrator({
      port: 0,
      models: [],
      orchSecret: "bench",
      dataDir: join(dir, "plain"),
      reload: { sighup: false },
    });
    const gate = new PaymentGate({
      recipient: new Recipient({
        address: ORCH,
        secret: new Uint8Array(32).fill(7),
        ticketEV: 1000n,
        redeemGas: 20n,
        maxFaceValue: 10n ** 15n,
        time,
        gasPrice: { gasPrice: () => 1n },
        senders,
      }),
      balances: new Balances(),
      enqueueWinner: () => {},
      isActive: () => true,
    });
    paid = await startOrchestrator({
      port: 0,
      models: [],
      orchSecret: "bench",
      dataDir: join(dir, "paid"),
      reload: { sighup: false },
      network: "devnet",
      payments: gate,
      address: ORCH,
    });
    await register(plain, container.url, 0);
    await register(paid, container.url, 1);

    const jobHeader = Buffer.from(
      JSON.stringify({ request: "{}", parameters: "{}", capability: "text-reverse", timeout_seconds: 30 }),
    ).toString("base64");
    const sig = await gw.signMessage({ message: { raw: keccak256(stringToBytes("{}{}")) } });
    const signedJobHeader = Buffer.from(
      JSON.stringify({
        request: "{}",
        parameters: "{}",
        capability: "text-reverse",
        timeout_seconds: 30,
        sender: gw.address,
        sig,
      }),
    ).toString("base64");
    // Enough for the latency runs plus up to 1500 jobs/s in the throughput runs.
    // The priced path must really check payments: a signed job without a ticket is refused.
    const paidNode = paid;
    const refused = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        `${paidNode.url}/process/request/text-reverse`,
        {
          method: "POST",
          ca: paidNode.cert,
          agent: false,
          headers: { "content-type": "application/json", livepeer: signedJobHeader },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(BODY);
    });
    if (refused !== 400) throw new Error(`a job without payment answered ${refused}, expected 400`);
    const paidJobs = LATENCY_N + 100 + 1500 * THROUGHPUT_SECONDS * ROUNDS;
    process.stderr.write(`making ${paidJobs} one-ticket payments (not timed)…\n`);
    const payments = await makePayments(paid, paidJobs);
    let nextPayment = 0;

    const direct = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });
    const fresh = new HttpAgent({ keepAlive: false, maxSockets: CONCURRENCY });
    const viaPlain = new HttpsAgent({ keepAlive: true, maxSockets: CONCURRENCY, ca: plain.cert });
    const viaPaid = new HttpsAgent({ keepAlive: true, maxSockets: CONCURRENCY, ca: paid.cert });
    agents.push(direct, fresh, viaPlain, viaPaid);
    const json = { "content-type": "application/json" };
    const plainUrl = `${plain.url}/process/request/text-reverse`;
    const paidUrl = `${paid.url}/process/request/text-reverse`;
    const targets: Target[] = [
      {
        name: "direct to the container (HTTP)",
        send: () => exchange(httpRequest, `${container.url}/text-reverse`, direct, json),
      },
      {
        // Reference: what the orchestrator itself does to the container (agent: false in
        // src/orchestrator/http.ts), i.e. a new TCP connection per job.
        name: "direct, new connection per job (reference)",
        send: () => exchange(httpRequest, `${container.url}/text-reverse`, fresh, json),
      },
      {
        name: "through the orchestrator, offchain (HTTPS)",
        send: () => exchange(httpsRequest, plainUrl, viaPlain, { ...json, livepeer: jobHeader }),
      },
      {
        name: "through the orchestrator, one ticket validated per job",
        send: () => {
          const payment = payments[nextPayment++];
          if (payment === undefined) return Promise.resolve(undefined);
          return exchange(httpsRequest, paidUrl, viaPaid, {
            ...json,
            livepeer: signedJobHeader,
            "livepeer-payment": payment,
          });
        },
      },
    ];

    process.stderr.write(`latency: ${LATENCY_N} sequential jobs per path in ${ROUNDS} interleaved rounds…\n`);
    const lat = await latencies(targets);
    process.stderr.write(
      `throughput: ${CONCURRENCY} in flight, ${ROUNDS} × ${THROUGHPUT_SECONDS} s per path…\n`,
    );
    const tput = await throughput(targets);

    const base = lat.get(targets[0]!.name) as number[];
    const baseP50 = percentile(base, 50);
    const baseP99 = percentile(base, 99);
    const baseTput = tput.get(targets[0]!.name) as number;
    const rows = targets.map((t) => {
      const l = lat.get(t.name) as number[];
      const p50 = percentile(l, 50);
      const p99 = percentile(l, 99);
      const jps = tput.get(t.name) as number;
      return {
        path: t.name,
        p50: p50.toFixed(3),
        p99: p99.toFixed(3),
        "p50 overhead": (p50 - baseP50).toFixed(3),
        "p99 overhead": (p99 - baseP99).toFixed(3),
        "jobs/s": jps.toFixed(0),
        "jobs/s vs direct": (jps / baseTput).toFixed(2),
      };
    });
    const cols = Object.keys(rows[0] as object) as (keyof (typeof rows)[number])[];
    const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
    console.log(
      `orchestrator batch overhead (ms; ${LATENCY_N} sequential jobs per path; jobs/s with ${CONCURRENCY} in flight)`,
    );
    console.log(line(cols.map(String)));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const r of rows) console.log(line(cols.map((c) => String(r[c]))));
    const overhead = percentile(lat.get(targets[2]!.name) as number[], 50) - baseP50;
    console.log(
      `goal: p50 overhead (offchain) under 2 ms: ${overhead < 2 ? "met" : "MISSED"} (${overhead.toFixed(3)} ms)`,
    );
  } finally {
    for (const a of agents) a.destroy();
    await paid?.close();
    await plain?.close();
    container.child.stdin?.end();
    container.child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
