/**
 * The gateway benchmark's nodes, each role in its own process (so that CPU time and RSS are measured
 * per node):
 *
 * - `devnet`: anvil with our contracts (funded gateway, staked orchestrator, rounds kept initialized).
 *   Prints `READY {ethUrl, contracts, orchestratorKey, gatewayKey}`.
 * - `orchestrator <container url> <devnet json>`: a priced orchestrator with on-chain payments
 *   (`startOnchainPayments`: real ticket validation, winners redeemed on anvil) at default flags. The
 *   batch container is NOT here: its URL is the argument (bench/orchestrator/container.ts in its own
 *   process), registered as BYOC capability `text-reverse` at 1 gwei per second of compute. Prints
 *   `READY {"orchestrator": url, "chain": {...}}`, where `chain` is what the gateway role needs.
 * - `gateway <chain json>`: a gateway paying that orchestrator with tickets from the gateway account
 *   (`startGatewayOnchain`), discovering it by address, at default flags. Prints
 *   `READY {"gateway": url}` once it can use the orchestrator.
 *
 * Each process answers a line `STATS` on stdin with `STATS {"cpuMs": …, "rssBytes": …, "heapUsedBytes": …}`
 * (its CPU time so far, user + system, its resident set and the JavaScript heap in use), and stops everything when stdin closes or on SIGTERM.
 *
 * With `BENCH_COUNT_RPC=1` the orchestrator and the gateway reach anvil through a counting relay in
 * the devnet's process, and its READY also carries `rpcCounts`: a URL answering the JSON-RPC calls
 * made so far by method (for "how many chain reads does a paid job cost"; the relay adds a hop to
 * every call, so timed runs go without it).
 *
 *   node bench/gateway/nodes.ts devnet
 *   node bench/gateway/nodes.ts orchestrator http://127.0.0.1:PORT '{"ethUrl": …}'
 *   node bench/gateway/nodes.ts gateway '{"ethUrl": …, "privateKey": …, "contracts": {…}, "orchestrator": url}'
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Hex } from "viem";
import type { ContractAddresses } from "../../src/chain/addresses.ts";
import { createChainClients, startDevnet, startRoundInitializer } from "../../src/chain/index.ts";
import { startGateway } from "../../src/gateway/gateway.ts";
import { startGatewayOnchain } from "../../src/gateway/onchain.ts";
import { startOnchainPayments } from "../../src/orchestrator/onchain.ts";
import { startOrchestrator } from "../../src/orchestrator/orchestrator.ts";
import { startRegistration } from "../../src/runner/registration.ts";

const role = process.argv[2];
const arg = process.argv[3];
if (role !== "devnet" && ((role !== "orchestrator" && role !== "gateway") || !arg)) {
  process.stderr.write(
    "usage: node bench/gateway/nodes.ts devnet | orchestrator <container url> <devnet json> | gateway <chain json>\n",
  );
  process.exit(2);
}
const stops: (() => Promise<void>)[] = [];
const dir = mkdtempSync(join(tmpdir(), "bench-gw-"));
let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const s of stops.reverse()) await s().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}
process.on("SIGTERM", () => void stop(0));
const t0 = performance.now();
const step = (what: string) =>
  process.env.BENCH_DEBUG &&
  process.stderr.write(`nodes ${role} +${(performance.now() - t0).toFixed(0)} ms: ${what}\n`);
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() !== "STATS") return;
  const cpu = process.cpuUsage();
  process.stdout.write(
    `STATS ${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed })}\n`,
  );
});
process.stdin.resume();
process.stdin.on("end", () => void stop(0));

/** The devnet as the other roles need it. */
interface DevnetFacts {
  /** anvil, or the counting relay in front of it (`BENCH_COUNT_RPC=1`). */
  ethUrl: string;
  contracts: ContractAddresses;
  orchestratorKey: Hex;
  gatewayKey: Hex;
  rpcCounts?: string;
}

/** What the gateway process needs from the others: the devnet and the orchestrator. */
interface ChainFacts {
  ethUrl: string;
  privateKey: Hex;
  contracts: ContractAddresses;
  orchestrator: string;
}

async function devnetRole(): Promise<void> {
  const devnet = await startDevnet({
    gatewayDeposit: 10n ** 20n,
    gatewayReserve: 10n ** 20n,
    anvil: { host: "127.0.0.1", port: 0, blockTime: 1 },
  });
  stops.push(() => devnet.stop());
  let ethUrl = devnet.rpcUrl;
  let rpcCounts: string | undefined;
  if (process.env.BENCH_COUNT_RPC === "1") {
    rpcCounts = await countingRelay(devnet.rpcUrl);
    ethUrl = rpcCounts;
  }
  step("devnet up");
  const rounds = new AbortController();
  startRoundInitializer({
    clients: createChainClients({
      rpcUrl: devnet.rpcUrl,
      chainId: devnet.chainId,
      privateKey: devnet.accounts.deployer.privateKey,
    }),
    roundsManager: devnet.contracts.roundsManager,
    signal: rounds.signal,
    onEvent: () => {},
  });
  stops.push(async () => rounds.abort());
  const facts: DevnetFacts = {
    ethUrl,
    contracts: devnet.contracts,
    orchestratorKey: devnet.accounts.orchestrator.privateKey,
    gatewayKey: devnet.accounts.gateway.privateKey,
    ...(rpcCounts ? { rpcCounts } : {}),
  };
  process.stdout.write(`READY ${JSON.stringify(facts)}\n`);
}

async function orchestratorRole(containerUrl: string, devnet: DevnetFacts): Promise<void> {
  const onchain = await startOnchainPayments({
    network: "devnet",
    ethUrl: devnet.ethUrl,
    privateKey: devnet.orchestratorKey,
    contracts: devnet.contracts,
    dataDir: join(dir, "orchestrator"),
  });
  stops.push(() => onchain.close());
  step("orchestrator payments up");
  const orchSecret = "bench";
  const orch = await startOrchestrator({
    host: "127.0.0.1",
    port: 0,
    payments: onchain.gate,
    address: onchain.address,
    network: "devnet",
    models: [],
    orchSecret,
    dataDir: join(dir, "orchestrator"),
    reload: { sighup: false },
  });
  stops.push(() => orch.close());
  step("orchestrator up");
  const registration = startRegistration(
    {
      orchUrl: orch.url,
      orchSecret,
      name: "text-reverse",
      description: "bench container",
      url: containerUrl,
      capacity: 256,
      pricePerUnit: 1_000_000_000n,
      priceScaling: 1n,
      currency: "",
      token: "",
    },
    { retryDelayMs: 100, maxRetryDelayMs: 1000 },
  );
  stops.push(() => registration.stop());
  if (!(await registration.registered)) throw new Error("text-reverse did not register");
  step("registered");
  const end = Date.now() + 30_000;
  while (!orch.registry.advertised().some((a) => a.key === "byoc/text-reverse")) {
    if (Date.now() > end) throw new Error("the container never became ready behind the orchestrator");
    await orch.health.checkAll();
    await new Promise((r) => setTimeout(r, 100));
  }
  const chain: ChainFacts = {
    ethUrl: devnet.ethUrl,
    privateKey: devnet.gatewayKey,
    contracts: devnet.contracts,
    orchestrator: orch.url,
  };
  process.stdout.write(`READY ${JSON.stringify({ orchestrator: orch.url, chain })}\n`);
}

async function gatewayRole(chain: ChainFacts): Promise<void> {
  const gwChain = await startGatewayOnchain({
    network: "devnet",
    ethUrl: chain.ethUrl,
    privateKey: chain.privateKey,
    contracts: chain.contracts,
  });
  stops.push(() => gwChain.close());
  step("gateway chain up");
  const abort = new AbortController();
  const gw = await startGateway({
    host: "127.0.0.1",
    port: 0,
    discovery: { orchAddr: [chain.orchestrator] },
    payments: gwChain.payments,
    signal: abort.signal,
  });
  stops.push(() => gw.close());
  step("gateway up");
  if ((await gw.pool.current(abort.signal)).length === 0)
    throw new Error("the gateway cannot use the orchestrator");
  process.stdout.write(`READY ${JSON.stringify({ gateway: gw.url })}\n`);
}

/** A relay to anvil counting JSON-RPC calls by method; GET answers the counts. Returns its URL. */
async function countingRelay(rpcUrl: string): Promise<string> {
  const counts: Record<string, number> = {};
  const relay = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET") {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(counts));
        return;
      }
      const body = Buffer.concat(chunks);
      try {
        const parsed = JSON.parse(body.toString()) as { method?: string } | { method?: string }[];
        for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
          const m = call.method ?? "?";
          counts[m] = (counts[m] ?? 0) + 1;
        }
      } catch {
        counts["(unparsable)"] = (counts["(unparsable)"] ?? 0) + 1;
      }
      fetch(rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body })
        .then(async (r) => {
          res.statusCode = r.status;
          res.setHeader("content-type", "application/json");
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch(() => {
          res.statusCode = 502;
          res.end();
        });
    });
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  stops.push(() => new Promise<void>((r) => relay.close(() => r())));
  return `http://127.0.0.1:${(relay.address() as { port: number }).port}`;
}

try {
  if (role === "devnet") await devnetRole();
  else if (role === "orchestrator")
    await orchestratorRole(arg as string, JSON.parse(process.argv[4] as string) as DevnetFacts);
  else await gatewayRole(JSON.parse(arg as string) as ChainFacts);
} catch (err) {
  process.stderr.write(`bench/gateway/nodes.ts ${role}: ${(err as Error).stack ?? String(err)}\n`);
  await stop(1);
}
