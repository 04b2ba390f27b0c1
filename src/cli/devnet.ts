/**
 * `tributary devnet`: a local Livepeer chain for development: anvil + Tributary's own devnet contracts,
 * a funded gateway and an orchestrator in the active pool, rounds kept initialized.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import {
  createChainClients,
  DEFAULT_CHAIN_PORT,
  DEFAULT_ROUND_LENGTH,
  type Devnet,
  startDevnet,
  startRoundInitializer,
} from "../chain/index.ts";
import { parseAmount } from "./deposit.ts";
import { parsePort } from "./options.ts";

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

/** Options as commander parses them. */
interface DevnetCliOptions {
  port: number;
  host: string;
  roundLength: number;
  blockTime: number;
  gatewayDeposit: bigint;
  gatewayReserve: bigint;
  serviceUri?: string;
}

/** The JSON document `tributary devnet` prints once the chain is ready. */
export function devnetSummary(devnet: Devnet) {
  const account = (a: { address: string; privateKey: string }) => ({
    address: a.address,
    privateKey: a.privateKey,
  });
  return {
    rpcUrl: devnet.rpcUrl,
    chainId: devnet.chainId,
    contracts: devnet.contracts,
    /** The ETH/USD price feed (owned by the deployer; orchestrators read it by default on devnet). */
    priceFeed: devnet.priceFeed,
    accounts: {
      deployer: account(devnet.accounts.deployer),
      gateway: account(devnet.accounts.gateway),
      orchestrator: account(devnet.accounts.orchestrator),
    },
    round: devnet.round.toString(),
    roundLength: devnet.roundLength,
    ticketValidityPeriod: devnet.ticketValidityPeriod,
    unlockPeriod: devnet.unlockPeriod,
  };
}

/** Builds the `devnet` subcommand. */
export function devnetCommand(): Command {
  return new Command("devnet")
    .description(
      "Run a local Livepeer devnet: start anvil, deploy Tributary's devnet contracts (Controller, RoundsManager, " +
        "BondingManager, TicketBroker, ServiceRegistry, AI Service Registry), fund the gateway's deposit and " +
        "reserve, register the orchestrator in the active pool with stake, initialize a round, and print the " +
        "RPC URL, addresses and keys as one JSON object on stdout. Runs until SIGINT/SIGTERM, then stops anvil.",
    )
    .addOption(
      new Option("-p, --port <port>", "RPC port; 0 picks a free port")
        .env("TRIBUTARY_DEVNET_PORT")
        .default(DEFAULT_CHAIN_PORT)
        .argParser(parsePort),
    )
    .addOption(
      new Option("--host <host>", "interface to bind").env("TRIBUTARY_DEVNET_HOST").default("127.0.0.1"),
    )
    .addOption(
      new Option("--round-length <blocks>", "blocks per round (winning tickets stay redeemable for 2 rounds)")
        .default(DEFAULT_ROUND_LENGTH)
        .argParser(parsePositiveInt),
    )
    .addOption(
      new Option(
        "--block-time <seconds>",
        "also mine a block every this many seconds (transactions are mined at once either way), so params expiry and rounds advance on an idle chain",
      )
        .default(1)
        .argParser(parsePositiveInt),
    )
    .addOption(
      new Option("--gateway-deposit <amount>", "gateway TicketBroker deposit: wei, or 1eth / 20gwei")
        .default(parseAmount("1eth"), "1eth")
        .argParser(parseAmount),
    )
    .addOption(
      new Option("--gateway-reserve <amount>", "gateway TicketBroker reserve: wei, or 1eth / 20gwei")
        .default(parseAmount("1eth"), "1eth")
        .argParser(parseAmount),
    )
    .option("--service-uri <url>", "service URI the orchestrator registers in both service registries")
    .addHelpText(
      "after",
      `
Accounts are anvil's deterministic development keys (never use them on a real network):
  deployer (Controller owner)  key 0   0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
  gateway (ticket sender)      key 1   0x70997970C51812dc3A010C7d01b50e0d17dc79C8
  orchestrator (recipient)     key 2   0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
Contracts land at fixed addresses (TicketBroker 0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9, …); the JSON
lists them all. Rounds are initialized automatically as blocks advance. Logs go to stderr.

Example:
  tributary devnet --port 8545 > devnet.json &
  tributary deposit --amount 0.5eth --eth-url http://127.0.0.1:8545 --key-file gw.key`,
    )
    .action(async (opts: DevnetCliOptions) => {
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      let devnet: Devnet;
      try {
        devnet = await startDevnet({
          roundLength: opts.roundLength,
          gatewayDeposit: opts.gatewayDeposit,
          gatewayReserve: opts.gatewayReserve,
          orchestratorServiceUri: opts.serviceUri,
          anvil: { port: opts.port, host: opts.host, blockTime: opts.blockTime, signal: ac.signal },
        });
      } catch (err) {
        process.stderr.write(`error: devnet failed to start: ${(err as Error).message}\n`);
        process.exitCode = 1;
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
        return;
      }
      process.stdout.write(`${JSON.stringify(devnetSummary(devnet), null, 2)}\n`);
      const deployer = createChainClients({
        rpcUrl: devnet.rpcUrl,
        chainId: devnet.chainId,
        privateKey: devnet.accounts.deployer.privateKey,
      });
      startRoundInitializer({
        clients: deployer,
        roundsManager: devnet.contracts.roundsManager,
        signal: ac.signal,
        onEvent: (e) => {
          if (e.round !== undefined) process.stderr.write(`devnet: initialized round ${e.round}\n`);
          else process.stderr.write(`devnet: round initialization failed: ${(e.error as Error)?.message}\n`);
        },
      });
      if (!ac.signal.aborted)
        await new Promise((r) => ac.signal.addEventListener("abort", r, { once: true }));
      await devnet.stop();
      process.stderr.write("devnet: stopped\n");
    });
}
