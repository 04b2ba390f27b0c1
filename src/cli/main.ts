#!/usr/bin/env node
/**
 * The `tributary` command. Each subcommand lives in its own module, loaded only when it runs:
 * `tributary job run …` does not load the orchestrator, the chain code or FFmpeg, and
 * `tributary --help` loads none of them (the list shows each command's summary from the table
 * below). {@link buildProgram} still builds the whole tree at once, for tests.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Command } from "commander";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** One subcommand: its module (beside this file) and the factory that builds it. */
interface CommandEntry {
  name: string;
  /** One line for `tributary --help` (the command's own --help has the full description). */
  summary: string;
  module: string;
  factory: string;
}

/** Every subcommand, in the order `tributary --help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "trickle",
    summary: "run a standalone trickle server",
    module: "trickle",
    factory: "trickleCommand",
  },
  {
    name: "serve",
    summary: "serve a pipeline module as a BYOC container",
    module: "serve",
    factory: "serveCommand",
  },
  {
    name: "init",
    summary: "start a new container project from a template",
    module: "init",
    factory: "initCommand",
  },
  {
    name: "payment",
    summary: "decode Livepeer payment headers and tickets",
    module: "payment",
    factory: "paymentCommand",
  },
  {
    name: "devnet",
    summary: "run a local chain (anvil) with the Livepeer contracts",
    module: "devnet",
    factory: "devnetCommand",
  },
  {
    name: "deposit",
    summary: "fund a gateway's TicketBroker deposit and reserve",
    module: "deposit",
    factory: "depositCommand",
  },
  {
    name: "orchestrator",
    summary: "run an orchestrator (go-livepeer compatible flags)",
    module: "orchestrator",
    factory: "orchestratorCommand",
  },
  {
    name: "gateway",
    summary: "run a gateway (go-livepeer compatible flags)",
    module: "gateway",
    factory: "gatewayCommand",
  },
  {
    name: "explorer",
    summary: "run the network capabilities dashboard on its own, against a network's active set",
    module: "explorer",
    factory: "explorerCommand",
  },
  {
    name: "signer",
    summary: "run a remote signer: one key and deposit paying for many clients (go-livepeer -remoteSigner)",
    module: "signer",
    factory: "signerCommand",
  },
  {
    name: "dev",
    summary: "run a whole local network in one process (npm start)",
    module: "dev",
    factory: "devCommand",
  },
  {
    name: "job",
    summary: "send a batch job or stream live video through a gateway",
    module: "job",
    factory: "jobCommand",
  },
];

/** This file's extension: `.ts` from source, `.js` from a build. */
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const moduleUrl = (e: CommandEntry) => new URL(`./${e.module}${EXT}`, import.meta.url);

function programShell(): Command {
  return new Command("tributary")
    .description(
      "Livepeer Bring-Your-Own-Compute in TypeScript: trickle, orchestrator, gateway, container SDK, payments",
    )
    .version(pkg.version, "-V, --version", "print the version and exit")
    .showHelpAfterError("(run with --help for usage)");
}

function build(make: (e: CommandEntry) => Command | undefined): Command {
  const program = programShell();
  for (const e of COMMANDS) {
    const real = make(e);
    if (real) {
      if (!real.summary()) real.summary(e.summary);
      program.addCommand(real);
    } else {
      // A placeholder: named and summarised for the help list; never run (the real one is loaded
      // whenever its name is on the command line).
      program.addCommand(new Command(e.name).summary(e.summary).allowUnknownOption().helpOption(false));
    }
  }
  return program;
}

/** Builds the whole `tributary` command tree, loading every command module (for tests). */
export function buildProgram(): Command {
  const require = createRequire(import.meta.url);
  return build((e) => (require(moduleUrl(e).pathname) as Record<string, () => Command>)[e.factory]?.());
}

/**
 * The library's process-wide switches, set from the environment (only the CLI reads it):
 * `TRIBUTARY_PURE_JS_KECCAK=1` and `TRIBUTARY_PURE_JS_SECP256K1=1` use the pure-JavaScript keccak256
 * and signature recovery instead of the native bindings. Their modules load only when a switch is set.
 */
export async function applyEnvironment(env: Record<string, string | undefined> = process.env): Promise<void> {
  if (env.TRIBUTARY_PURE_JS_KECCAK === "1") (await import("../protocol/keccak.ts")).usePureJsKeccak();
  if (env.TRIBUTARY_PURE_JS_SECP256K1 === "1")
    (await import("../payments/ecrecover.ts")).usePureJsSecp256k1();
}

/**
 * Drops the one warning every node start would print, node:sqlite's `ExperimentalWarning` (the
 * orchestrator, gateway, signer and dev keep their stores in SQLite); every other warning is printed
 * as Node prints it. Called once per process by {@link loadProgram}.
 */
export function quietWarnings(proc: NodeJS.Process = process): void {
  if (quieted.has(proc)) return;
  quieted.add(proc);
  proc.removeAllListeners("warning");
  proc.on("warning", (warning: Error & { code?: string }) => {
    if (isSqliteWarning(warning)) return;
    const code = warning.code ? `[${warning.code}] ` : "";
    proc.stderr.write(`(node:${proc.pid}) ${code}${warning.name}: ${warning.message}\n`);
  });
}

const quieted = new WeakSet<NodeJS.Process>();

/** node:sqlite's experimental-feature warning. */
export function isSqliteWarning(warning: Error): boolean {
  return warning.name === "ExperimentalWarning" && /\bSQLite\b/.test(warning.message);
}

/**
 * Builds the tree for one command line: only the module of the command named in `argv` (also
 * after `help`) is loaded; the others are placeholders. Applies the environment's switches first
 * ({@link applyEnvironment}).
 */
export async function loadProgram(argv: readonly string[] = process.argv): Promise<Command> {
  quietWarnings();
  await applyEnvironment();
  const args = argv.slice(2);
  let name = args.find((a) => !a.startsWith("-"));
  if (name === "help") name = args.slice(args.indexOf("help") + 1).find((a) => !a.startsWith("-"));
  const entry = COMMANDS.find((e) => e.name === name);
  const real = entry
    ? ((await import(moduleUrl(entry).href)) as Record<string, () => Command>)[entry.factory]?.()
    : undefined;
  return build((e) => (e === entry ? real : undefined));
}

if (import.meta.main) {
  await (await loadProgram(process.argv)).parseAsync(process.argv);
}
