#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { depositCommand } from "./deposit.ts";
import { devCommand } from "./dev.ts";
import { devnetCommand } from "./devnet.ts";
import { gatewayCommand } from "./gateway.ts";
import { initCommand } from "./init.ts";
import { orchestratorCommand } from "./orchestrator.ts";
import { paymentCommand } from "./payment.ts";
import { serveCommand } from "./serve.ts";
import { trickleCommand } from "./trickle.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** Builds the `tributary` command tree. Exported for tests. */
export function buildProgram(): Command {
  const program = new Command("tributary")
    .description(
      "Livepeer Bring-Your-Own-Compute in TypeScript: trickle, orchestrator, gateway, container SDK, payments",
    )
    .version(pkg.version, "-V, --version", "print the version and exit")
    .showHelpAfterError("(run with --help for usage)");
  program.addCommand(trickleCommand());
  program.addCommand(serveCommand());
  program.addCommand(initCommand());
  program.addCommand(paymentCommand());
  program.addCommand(devnetCommand());
  program.addCommand(depositCommand());
  program.addCommand(orchestratorCommand());
  program.addCommand(gatewayCommand());
  program.addCommand(devCommand());
  return program;
}

if (import.meta.main) {
  await buildProgram().parseAsync(process.argv);
}
