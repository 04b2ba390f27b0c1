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
import { mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import {
  BATCH_BODY,
  type BenchOptions,
  type BenchResult,
  type BenchRow,
  exchange,
  fmt,
  latencies,
  logToStderr,
  markdownTable,
  met,
  percentile,
  ratio,
  startBenchContainer,
  type Target,
  throughput,
} from "../lib.ts";

/** Requests in flight in the throughput runs. */
const CONCURRENCY = 8;

function config(quick: boolean) {
  return {
    /** Sequential requests per latency target. */
    latencyN: quick ? 600 : 3000,
    rounds: quick ? 3 : 5,
    /** Seconds per throughput target (per round). */
    throughputSeconds: quick ? 1 : 2,
  };
}

/** The payer and the priced orchestrator's chain facts, held in memory (no devnet). */
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

/** Runs the orchestrator benchmark; returns its rows of the combined table and its own table. */
export async function orchestratorBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? logToStderr;
  const { latencyN, rounds, throughputSeconds } = config(opts.quick);
  const dir = mkdtempSync(join(tmpdir(), "bench-orch-"));
  const container = await startBenchContainer();
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
      req.end(BATCH_BODY);
    });
    if (refused !== 400) throw new Error(`a job without payment answered ${refused}, expected 400`);
    const paidJobs = latencyN + 100 + 1500 * throughputSeconds * rounds;
    log(`orchestrator: making ${paidJobs} one-ticket payments (not timed)…`);
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
        // Reference: what a job to the container costs on a new TCP connection, as the orchestrator
        // did before it kept them open (`containerKeepAlive`, now on by default; false opts out).
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

    log(`orchestrator: latency, ${latencyN} sequential jobs per path in ${rounds} interleaved rounds…`);
    const lat = await latencies(targets, { perTarget: latencyN, rounds });
    log(`orchestrator: throughput, ${CONCURRENCY} in flight, ${rounds} × ${throughputSeconds} s per path…`);
    const tput = await throughput(targets, { concurrency: CONCURRENCY, seconds: throughputSeconds, rounds });

    const base = lat.get(targets[0]!.name) as number[];
    const baseP50 = percentile(base, 50);
    const baseP99 = percentile(base, 99);
    const baseTput = tput.get(targets[0]!.name) as number;
    const records = targets.map((t) => {
      const l = lat.get(t.name) as number[];
      const p50 = percentile(l, 50);
      const p99 = percentile(l, 99);
      const jps = tput.get(t.name) as number;
      return {
        path: t.name,
        "p50 ms": p50.toFixed(3),
        "p99 ms": p99.toFixed(3),
        "p50 overhead": (p50 - baseP50).toFixed(3),
        "p99 overhead": (p99 - baseP99).toFixed(3),
        "jobs/s": jps.toFixed(0),
        "jobs/s vs direct": (jps / baseTput).toFixed(2),
      };
    });
    const p50Of = (i: number) => percentile(lat.get(targets[i]!.name) as number[], 50);
    const p99Of = (i: number) => percentile(lat.get(targets[i]!.name) as number[], 99);
    const offchain = p50Of(2) - baseP50;
    const ticket = p50Of(3) - baseP50;
    const directP50 = `direct ${fmt(baseP50, 3)}`;
    const rows: BenchRow[] = [
      {
        component: "orchestrator",
        measure: "batch p50 added over a direct call, offchain (ms, 1 at a time)",
        ours: fmt(offchain, 3),
        baseline: directP50,
        ratio: ratio(p50Of(2), baseP50),
        goal: "< 2 ms",
        met: met(offchain < 2),
      },
      {
        component: "orchestrator",
        measure: "batch p50 added, one ticket validated per job (ms)",
        ours: fmt(ticket, 3),
        baseline: directP50,
        ratio: ratio(p50Of(3), baseP50),
        goal: "< 2 ms",
        met: met(ticket < 2),
      },
      {
        component: "orchestrator",
        measure: "batch p99 added, one ticket validated per job (ms)",
        ours: fmt(p99Of(3) - baseP99, 3),
        baseline: `direct ${fmt(baseP99, 3)}`,
        ratio: ratio(p99Of(3), baseP99),
        goal: "",
        met: "",
      },
      {
        component: "orchestrator",
        measure: `jobs/s, one ticket validated per job (${CONCURRENCY} in flight)`,
        ours: fmt(tput.get(targets[3]!.name) as number, 0),
        baseline: `direct ${fmt(baseTput, 0)}`,
        ratio: ratio(tput.get(targets[3]!.name) as number, baseTput),
        goal: "",
        met: "",
      },
    ];
    const detail =
      `orchestrator batch overhead (ms; ${latencyN} sequential jobs per path; jobs/s with ${CONCURRENCY} in flight)\n\n` +
      `${markdownTable(records)}\n\ngoal: p50 overhead (offchain) under 2 ms: ${offchain < 2 ? "met" : "MISSED"} (${offchain.toFixed(3)} ms)`;
    return { rows, detail };
  } finally {
    for (const a of agents) a.destroy();
    await paid?.close();
    await plain?.close();
    await container.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main)
  console.log((await orchestratorBench({ quick: process.argv.includes("--quick") })).detail);
