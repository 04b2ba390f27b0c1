/**
 * Option parsing shared by the node commands: go-livepeer flag spellings, host:port, durations and
 * prices. Each parser throws commander's InvalidArgumentError, so a bad value prints the flag, the
 * value and what was expected.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { Rat } from "../payments/rational.ts";

/**
 * A go-livepeer flag's meaning here: our flag (a string), `undefined` (accepted and dropped because it
 * is implied, e.g. `-orchestrator`), or our flag with the value rewritten (`-v 6` → `--log-level debug`).
 */
export type GoFlagAlias = string | undefined | { flag: string; value: (goValue: string) => string };

/** go-livepeer flag name → its meaning here (see {@link GoFlagAlias}). */
export type GoFlagAliases = Readonly<Record<string, GoFlagAlias>>;

/** A go-livepeer flag with no meaning here: why, and whether it takes a value (`-nvidia 0`). */
export interface IgnoredGoFlag {
  why: string;
  /** True for flags that take a value; booleans (`-transcoder`, `-monitor=true`) take none. */
  value: boolean;
}

/** go-livepeer flag name → why it has no meaning here. */
export type IgnoredGoFlags = Readonly<Record<string, IgnoredGoFlag>>;

/** go-livepeer's `-v <level>` (glog verbosity) as a pino level: up to 3 info, 4 to 6 debug, above trace. */
export function verbosityToLogLevel(value: string): string {
  const n = Number(value);
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("-v expects a verbosity level, e.g. 6");
  return n <= 3 ? "info" : n <= 6 ? "debug" : "trace";
}

/** go-livepeer flags that mean nothing to any Tributary node (shared by the node commands' lists). */
export const COMMON_IGNORED_GO_FLAGS: IgnoredGoFlags = {
  monitor: { why: "metrics are always served at /metrics", value: false },
  metricsPerStream: { why: "metrics are always served at /metrics", value: false },
  metricsClientIP: { why: "metrics are always served at /metrics", value: false },
  ethController: { why: "the contract addresses come with --network", value: true },
  maxGasPrice: { why: "gas is priced by the RPC node", value: true },
  gasPrice: { why: "gas is priced by the RPC node", value: true },
  gasLimit: { why: "gas is estimated per transaction", value: true },
  blockPollingInterval: { why: "the chain is read on demand", value: true },
  httpIngest: { why: "no RTMP/HTTP video ingest (live video uses trickle)", value: false },
  rtmpAddr: { why: "no RTMP/HTTP video ingest (live video uses trickle)", value: true },
  transcodingOptions: { why: "transcoding is not supported", value: true },
  kafkaBootstrapServers: { why: "no Kafka events", value: true },
  kafkaUser: { why: "no Kafka events", value: true },
  kafkaPassword: { why: "no Kafka events", value: true },
  kafkaGatewayTopic: { why: "no Kafka events", value: true },
};

/** What {@link scanGoFlags} found. */
export interface GoFlagScan {
  /** The arguments in our spellings, ignored go-livepeer flags (and their values) taken out. */
  args: string[];
  /** The ignored go-livepeer flags found, as typed (`-nvidia`), with why. */
  ignored: { flag: string; why: string }[];
}

const GO_FLAG = /^--?([A-Za-z][A-Za-z0-9]*)(=.*)?$/;

/**
 * Rewrites go-livepeer spellings (`-aiModels x`, `-aiModels=x`, `--aiModels x`) to ours using
 * `aliases`, and takes out the go-livepeer flags of `ignored` (with their value). Everything after
 * `--` and every other argument is left as is.
 */
export function scanGoFlags(
  args: readonly string[],
  aliases: GoFlagAliases,
  ignored: IgnoredGoFlags = {},
): GoFlagScan {
  const out: string[] = [];
  const found: GoFlagScan["ignored"] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    const m = GO_FLAG.exec(a);
    const name = m?.[1];
    // Our own kebab-case flags are never go-livepeer ones (theirs are camelCase or single words).
    if (m && name !== undefined && Object.hasOwn(aliases, name)) {
      const ours = aliases[name];
      if (ours === undefined) continue;
      if (typeof ours === "string") {
        out.push(m[2] === undefined ? ours : `${ours}${m[2]}`);
        continue;
      }
      const value = m[2] !== undefined ? m[2].slice(1) : args[++i];
      if (value === undefined) throw new InvalidArgumentError(`${a} needs a value`);
      out.push(ours.flag, ours.value(value));
      continue;
    }
    if (m && name !== undefined && Object.hasOwn(ignored, name)) {
      const spec = ignored[name]!;
      found.push({ flag: a.replace(/=.*$/, ""), why: spec.why });
      if (spec.value && m[2] === undefined && i + 1 < args.length) i++;
      continue;
    }
    out.push(a);
  }
  return { args: out, ignored: found };
}

/** {@link scanGoFlags}'s rewritten arguments only (ignored flags left in). */
export function translateGoFlags(args: readonly string[], aliases: GoFlagAliases): string[] {
  return scanGoFlags(args, aliases).args;
}

/**
 * A commander Command for a node that takes go-livepeer command lines: rewrites go-livepeer spellings
 * (see {@link scanGoFlags}) first; warns once per go-livepeer flag that has no meaning here and drops
 * it (`--strict-flags` refuses them instead); reports every unknown flag at once, not one per try.
 * The command takes no arguments besides options.
 */
export class GoCompatibleCommand extends Command {
  readonly #aliases: GoFlagAliases;
  readonly #ignored: IgnoredGoFlags;

  constructor(name: string, aliases: GoFlagAliases, ignored: IgnoredGoFlags = {}) {
    super(name);
    this.#aliases = aliases;
    this.#ignored = ignored;
    this.addOption(
      new Option(
        "--strict-flags",
        "refuse go-livepeer flags that have no meaning here instead of warning and ignoring them",
      ).env("TRIBUTARY_STRICT_FLAGS"),
    );
  }

  override parseOptions(argv: string[]): ReturnType<Command["parseOptions"]> {
    let scan: GoFlagScan;
    try {
      scan = scanGoFlags(argv, this.#aliases, this.#ignored);
    } catch (err) {
      this.error(`error: ${(err as Error).message}`, { exitCode: 2, code: "commander.invalidArgument" });
    }
    const unknown = this.#unknownFlags(scan.args);
    const strict =
      scan.args.includes("--strict-flags") || /^(1|true)$/i.test(process.env.TRIBUTARY_STRICT_FLAGS ?? "");
    const problems: string[] = unknown.map((f) => `  ${f}: unknown${this.#hint(f)}`);
    if (strict)
      problems.push(
        ...scan.ignored.map((g) => `  ${g.flag}: a go-livepeer flag with no meaning here (${g.why})`),
      );
    if (problems.length > 0) {
      const what = problems.length === 1 ? "option" : `${problems.length} options`;
      const note =
        strict && scan.ignored.length > 0
          ? "\n(without --strict-flags they are warned about and ignored)"
          : "";
      this.error(
        `error: ${what} not accepted by tributary ${this.name()} (run with --help for the list):\n${problems.join("\n")}${note}`,
        { exitCode: 2, code: "commander.unknownOption" },
      );
    }
    const { writeErr } = this.configureOutput();
    for (const g of scan.ignored)
      writeErr?.(`warning: ${g.flag} is a go-livepeer flag with no meaning here (${g.why}); ignored\n`);
    return super.parseOptions(scan.args);
  }

  /** Every argument that looks like an option and is none of this command's (with its value skipped). */
  #unknownFlags(args: readonly string[]): string[] {
    const unknown: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === "--") break;
      if (!a.startsWith("-") || a === "-" || /^-\d/.test(a)) continue;
      const name = a.replace(/=.*$/, "");
      if (name === "-h" || name === "--help") continue;
      const option = this.options.find((o) => o.long === name || o.short === name);
      if (option) {
        const takesValue = option.required || (option.optional && !args[i + 1]?.startsWith("-"));
        if (takesValue && !a.includes("=") && i + 1 < args.length) i++;
        continue;
      }
      unknown.push(name);
      // Unknown: a following word is taken as its value (these commands take no arguments).
      if (!a.includes("=") && i + 1 < args.length && !args[i + 1]!.startsWith("-")) i++;
    }
    return unknown;
  }

  /** A hint for an unknown flag: the kebab-case spelling of a camelCase one when it exists. */
  #hint(flag: string): string {
    const kebab = `--${flag
      .replace(/^--?/, "")
      .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
      .toLowerCase()}`;
    if (kebab !== flag && this.options.some((o) => o.long === kebab)) return ` (did you mean ${kebab}?)`;
    return "";
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

/** Resolves at the first SIGINT or SIGTERM (then stops listening for them): a node command waits on it, then closes. */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
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
