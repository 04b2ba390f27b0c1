/**
 * `tributary deposit`: funds a ticket sender's deposit and reserve in the TicketBroker.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { type Address, formatEther, getAddress, isAddress, parseEther, parseUnits } from "viem";
import {
  ARBITRUM_ONE_ADDRESSES,
  ARBITRUM_ONE_CHAIN_ID,
  connectChain,
  DEVNET_CHAIN_ID,
  DEVNET_DEFAULT_ADDRESSES,
  fundSender,
  readPrivateKeyFile,
} from "../chain/index.ts";
import { TributaryError } from "../node/errors.ts";

/**
 * Parses an amount of ether: a bare integer is wei (`"1000000"`), a number with a unit is converted
 * (`"0.5eth"`, `"0.5 ETH"`, `"20gwei"`, `"7wei"`).
 */
export function parseAmount(value: string): bigint {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(wei|gwei|eth|ether)?\s*$/i.exec(value);
  if (!m)
    throw new InvalidArgumentError(
      'expected an amount such as 1000000000000000000 (wei), "0.5eth" or "20gwei"',
    );
  const [, num, unitRaw] = m;
  const unit = (unitRaw ?? "wei").toLowerCase();
  if (unit === "wei") {
    if (num!.includes(".")) throw new InvalidArgumentError("wei amounts must be whole numbers");
    return BigInt(num!);
  }
  if (unit === "gwei") return parseUnits(num!, 9);
  return parseEther(num!);
}

function parseAddress(value: string): Address {
  if (!isAddress(value, { strict: false }))
    throw new InvalidArgumentError("expected a 0x-prefixed 20-byte address");
  return getAddress(value);
}

/** Options as commander parses them. */
interface DepositCliOptions {
  amount: bigint;
  reserve: bigint;
  ethUrl: string;
  keyFile: string;
  ticketBroker?: Address;
  json?: boolean;
}

/** The TicketBroker to use when `--ticket-broker` is not given. */
export function defaultTicketBroker(chainId: number): Address | undefined {
  if (chainId === ARBITRUM_ONE_CHAIN_ID) return ARBITRUM_ONE_ADDRESSES.ticketBroker;
  if (chainId === DEVNET_CHAIN_ID) return DEVNET_DEFAULT_ADDRESSES.ticketBroker;
  return undefined;
}

/** Runs the deposit; returns the exit code. Output goes to the given streams. */
export async function runDeposit(
  opts: DepositCliOptions,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  err: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<number> {
  try {
    if (opts.amount === 0n && opts.reserve === 0n) {
      err("error: nothing to fund: give --amount (deposit) and/or --reserve");
      return 2;
    }
    const privateKey = await readPrivateKeyFile(opts.keyFile);
    const clients = await connectChain({ rpcUrl: opts.ethUrl, privateKey });
    const chainId = clients.chain.id;
    const broker = opts.ticketBroker ?? defaultTicketBroker(chainId);
    if (!broker) {
      err(`error: no known TicketBroker on chain ${chainId}; pass --ticket-broker <address>`);
      return 2;
    }
    const res = await fundSender(clients, broker, { deposit: opts.amount, reserve: opts.reserve });
    if (opts.json) {
      out(
        JSON.stringify({
          sender: res.sender,
          ticketBroker: broker,
          chainId,
          txHash: res.txHash,
          funded: { deposit: res.deposit.toString(), reserve: res.reserve.toString() },
          senderInfo: {
            deposit: res.info.deposit.toString(),
            reserve: res.info.reserve.fundsRemaining.toString(),
            withdrawRound: res.info.withdrawRound.toString(),
          },
        }),
      );
    } else {
      out(`funded sender ${res.sender} on chain ${chainId} (TicketBroker ${broker})`);
      out(`  transaction: ${res.txHash}`);
      out(`  added:       deposit ${formatEther(res.deposit)} ETH, reserve ${formatEther(res.reserve)} ETH`);
      out(
        `  now:         deposit ${formatEther(res.info.deposit)} ETH, reserve ${formatEther(res.info.reserve.fundsRemaining)} ETH`,
      );
    }
    return 0;
  } catch (e) {
    const message = e instanceof TributaryError ? e.message : (e as Error).message.split("\n")[0];
    err(`error: ${message}`);
    return 1;
  }
}

/** Builds the `deposit` subcommand. */
export function depositCommand(): Command {
  return new Command("deposit")
    .description(
      "Fund a ticket sender (gateway) in the Livepeer TicketBroker: add to its deposit (pays winning tickets) " +
        "and its reserve (backs tickets the deposit cannot cover), in one fundDepositAndReserve transaction " +
        "from the account whose key is in --key-file.",
    )
    .addOption(
      new Option("--amount <amount>", "deposit to add: wei, or with a unit (0.5eth, 20gwei)")
        .default(0n, "0")
        .argParser(parseAmount),
    )
    .addOption(
      new Option("--reserve <amount>", "reserve to add: wei, or with a unit (0.5eth, 20gwei)")
        .default(0n, "0")
        .argParser(parseAmount),
    )
    .addOption(
      new Option("--eth-url <url>", "Ethereum JSON-RPC URL (Arbitrum One, or a devnet)")
        .env("TRIBUTARY_ETH_URL")
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "--key-file <file>",
        "file holding the sender's hex private key (64 hex digits, optional 0x)",
      )
        .env("TRIBUTARY_KEY_FILE")
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        "--ticket-broker <address>",
        "TicketBroker address; default: Arbitrum One's on chain 42161, the devnet's on chain 31337",
      )
        .env("TRIBUTARY_TICKET_BROKER")
        .argParser(parseAddress),
    )
    .option("--json", "print the result as one JSON object")
    .addHelpText(
      "after",
      `
Examples:
  tributary deposit --amount 0.1eth --reserve 0.5eth --eth-url https://arb1.arbitrum.io/rpc --key-file gw.key
  tributary deposit --amount 1000000000000000000 --eth-url http://127.0.0.1:8545 --key-file devnet-gw.key --json

Amounts: a bare number is wei; add eth or gwei for other units. A gateway needs a reserve of about
100 x the orchestrators' ticket EV per active orchestrator, and a deposit of at least one ticket face value
(docs/spec/payments.md#known-problems). Exit codes: 0 funded, 1 the chain refused or could not be reached,
2 bad usage.`,
    )
    .action(async (opts: DepositCliOptions) => {
      process.exitCode = await runDeposit(opts);
    });
}
