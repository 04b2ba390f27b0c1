/**
 * Option parsing shared by the node commands: go-livepeer flag spellings, host:port, durations and
 * prices. Each parser throws commander's InvalidArgumentError, so a bad value prints the flag, the
 * value and what was expected.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { Rat } from "../payments/rational.ts";

/** go-livepeer flag name → our flag (`undefined`: accepted and ignored because it is implied). */
export type GoFlagAliases = Readonly<Record<string, string | undefined>>;

/**
 * Rewrites go-livepeer spellings (`-aiModels x`, `-aiModels=x`, `--aiModels x`) to ours using
 * `aliases`. Flags mapped to undefined (implied booleans such as `-orchestrator`, `-gateway`) are
 * dropped. Everything after `--` and every other argument is left as is.
 */
export function translateGoFlags(args: readonly string[], aliases: GoFlagAliases): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const m = /^--?([A-Za-z][A-Za-z0-9]*)(=.*)?$/.exec(a);
    if (m && Object.hasOwn(aliases, m[1]!)) {
      const ours = aliases[m[1]!];
      if (ours === undefined) continue;
      out.push(m[2] === undefined ? ours : `${ours}${m[2]}`);
      continue;
    }
    out.push(a);
  }
  return out;
}

/** A commander Command that rewrites go-livepeer flag spellings (see {@link translateGoFlags}) first. */
export class GoCompatibleCommand extends Command {
  readonly #aliases: GoFlagAliases;

  constructor(name: string, aliases: GoFlagAliases) {
    super(name);
    this.#aliases = aliases;
  }

  override parseOptions(argv: string[]): ReturnType<Command["parseOptions"]> {
    return super.parseOptions(translateGoFlags(argv, this.#aliases));
  }
}

/** A TCP port number, 0 to 65535 (0: the system picks a free port). */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError("expected a port number 0-65535");
  return n;
}

/** `host:port` (IPv6 in brackets; an empty host means every interface). */
export function parseHostPort(value: string, example = "127.0.0.1:8935"): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError(`expected host:port, e.g. ${example}`);
  const host = m[1]!.replace(/^\[|\]$/g, "") || "0.0.0.0";
  return { host, port: Number(m[2]) };
}

/** A positive duration in milliseconds from `500ms`, `5s`, `1m` or a bare number of seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m) throw new InvalidArgumentError("expected a duration such as 500ms, 5s or 1m");
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const ms = unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000;
  if (!(ms > 0)) throw new InvalidArgumentError("expected a positive duration");
  return ms;
}

/**
 * A duration in milliseconds as the help text shows a default, in the largest unit that divides it:
 * 300000 → `5m`, 30000 → `30s`, 1500 → `1500ms` ({@link parseDuration} reads each back).
 */
export function durationLabel(ms: number): string {
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A whole number of wei (`-maxTicketEV`, `-ticketEV`, `-maxFaceValue`, …). */
export function parseWei(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected an integer number of wei");
  return BigInt(value);
}

/** A non-negative price in wei per unit: an integer, a decimal or `n/d`. */
export function parsePrice(value: string): Rat {
  let r: Rat;
  try {
    r = Rat.parse(value);
  } catch {
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a number of wei (integer, decimal or n/d)`,
    );
  }
  if (r.cmp(0n) < 0) throw new InvalidArgumentError("must not be negative");
  return r;
}

/** The first `ErrnoException` of a listen failure in `err` or its `cause` chain. */
function listenErrnoOf(
  err: unknown,
): (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (
      typeof (e as NodeJS.ErrnoException).code === "string" &&
      (e as NodeJS.ErrnoException).syscall === "listen"
    )
      return e as NodeJS.ErrnoException & { address?: string; port?: number };
  return undefined;
}

/**
 * The one line a node command prints when it cannot start. A busy port (`EADDRINUSE`) or a port it may
 * not bind (`EACCES`) names the flag that picks another, as `tributary serve` does; anything else is
 * the error's message.
 */
export function startFailureMessage(err: unknown, flag: string | ((port?: number) => string)): string {
  const e = listenErrnoOf(err);
  if (typeof flag === "function") flag = flag(e?.port);
  const where = e?.port === undefined ? "" : `${e.port} on ${e.address ?? "the host"}`;
  if (e?.code === "EADDRINUSE") return `port ${where} is already in use; pick another with ${flag}`;
  if (e?.code === "EACCES") return `no permission to listen on port ${where}; pick another with ${flag}`;
  return err instanceof Error ? err.message : String(err);
}

/** What a node's `--network` does, for its help text. */
export interface NodeOptionsHelp {
  /** The node's name, e.g. "orchestrator": default data dir `~/.tributary/<node>`. */
  node: string;
  /** What the data directory keeps. */
  dataDir: string;
  /** What an on-chain network means for this node. */
  onchain: string;
}

/** Adds the options every node shares: `--data-dir`, `--network`, `--eth-url`, `--key-file`. */
export function addNodeOptions<C extends Command>(command: C, help: NodeOptionsHelp): C {
  command
    .addOption(
      new Option("--data-dir <dir>", help.dataDir)
        .env("TRIBUTARY_DATA_DIR")
        .default(join(homedir(), ".tributary", help.node), `~/.tributary/${help.node}`),
    )
    .addOption(
      new Option(
        "--network <name>",
        `offchain (no payments) | devnet | arbitrum-one (${help.onchain}; needs --eth-url and --key-file)`,
      )
        .choices(["offchain", "devnet", "arbitrum-one"])
        .env("TRIBUTARY_NETWORK")
        .default("offchain"),
    )
    .addOption(
      new Option("--eth-url <url>", "Ethereum JSON-RPC URL (on-chain networks)").env("TRIBUTARY_ETH_URL"),
    )
    .addOption(
      new Option("--key-file <file>", `file with the ${help.node}'s hex private key (on-chain networks)`).env(
        "TRIBUTARY_KEY_FILE",
      ),
    );
  return command;
}
