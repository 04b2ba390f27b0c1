/**
 * `tributary dev` (and `npm start`): the one-command local network. A devnet chain (anvil, contracts,
 * funded accounts; skipped with `--offchain`), an orchestrator, the example containers text-reverse and
 * green-tint registered, a gateway with its dashboard: one process (anvil is its only child), ready in
 * about a second. Ctrl-C / SIGTERM / SIGHUP, or the death of the parent process, stops everything in
 * reverse order.
 */
import { Command, Option } from "commander";
import { DEFAULT_CHAIN_PORT } from "../chain/anvil.ts";
import {
  type DevNetwork,
  type DevNetworkSummary,
  GREEN_TINT_MODEL,
  startDevNetwork,
  TEXT_REVERSE_CAPABILITY,
} from "../dev/network.ts";
import type { SupervisorEvent } from "../dev/supervisor.ts";
import { DEFAULT_GATEWAY_PORT } from "../gateway/index.ts";
import { createLogger } from "../node/logger.ts";
import { DEFAULT_SERVICE_PORT } from "../orchestrator/orchestrator.ts";
import { parsePort, startFailureMessage } from "./options.ts";

interface DevCliOptions {
  offchain: boolean;
  remoteSigner: boolean;
  dataDir?: string;
  persist: boolean;
  host: string;
  orchestratorPort: number;
  gatewayPort: number;
  chainPort: number;
  json: boolean;
  logLevel: string;
}

/** A progress line for a supervisor event, or undefined for none. */
export function progressLine(e: SupervisorEvent): string | undefined {
  const step = (i: number, n: number) => (n > 0 ? `[${i}/${n}] ` : "");
  const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  switch (e.type) {
    case "starting":
      return `dev: ${step(e.index, e.total)}starting ${e.name}…`;
    case "ready":
      return `dev: ${step(e.index, e.total)}${e.name} ready in ${secs(e.ms)}${e.detail ? `  ${e.detail}` : ""}`;
    case "failed":
      return `dev: ${e.name} FAILED: ${e.error instanceof Error ? e.error.message : String(e.error)}`;
    case "stopping":
      return undefined;
    case "stopped":
      return `dev: stopped ${e.name}`;
    case "stop-failed":
      return `dev: ${e.name} did not stop cleanly: ${e.error instanceof Error ? e.error.message : String(e.error)}`;
  }
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The human summary: URLs, accounts, commands to try. */
export function formatSummary(s: DevNetworkSummary): string {
  const lines: string[] = [];
  const out = (l = "") => lines.push(l);
  out();
  out(
    `Tributary dev network (${s.mode}) ready in ${(s.readyMs / 1000).toFixed(2)} s (since the process started)`,
  );
  out();
  if (s.gateway) {
    out(`  gateway       ${s.gateway.url}`);
    out(`  dashboard     ${s.gateway.dashboard}`);
    if (s.gateway.live)
      out(`  live page     ${s.gateway.live}   (publish your camera to green-tint, watch the output)`);
    if (s.gateway.whip) out(`  WHIP (OBS)    ${s.gateway.whip}`);
  } else out("  gateway       not started");
  if (s.signer)
    out(`  signer        ${s.signer.url}   (the gateway pays through it as ${s.signer.address}; no key)`);
  out(`  orchestrator  ${s.orchestrator.url}   (self-signed TLS; BYOC secret ${s.orchestrator.secret})`);
  if (s.chain) out(`  chain RPC     ${s.chain.rpcUrl}   (chain id ${s.chain.chainId})`);
  for (const c of s.containers) out(`  container     ${c.name.padEnd(13)} ${c.url}   → ${c.capability}`);
  out(`  data dir      ${s.dataDir}`);
  if (s.chain) {
    out();
    out("Contracts:");
    for (const [k, v] of Object.entries(s.chain.contracts)) out(`  ${k.padEnd(18)} ${v}`);
    out();
    out("Accounts (anvil's public development keys: never send real funds to them):");
    for (const a of s.accounts) {
      out(`  ${a.role}`);
      out(`    ${a.address}  key ${a.privateKey}`);
    }
  }
  out();
  out("Try:");
  const byocHeader = Buffer.from(
    JSON.stringify({
      request: "{}",
      parameters: "{}",
      capability: TEXT_REVERSE_CAPABILITY,
      timeout_seconds: 30,
    }),
  ).toString("base64");
  if (s.gateway) {
    out(
      `  # a batch job through the gateway (BYOC capability text-reverse${s.chain ? ", paid with tickets: see the Livepeer-Balance header" : ""})`,
    );
    out(
      `  curl -s${s.chain ? "i" : ""} ${s.gateway.url}/${TEXT_REVERSE_CAPABILITY} -H 'content-type: application/json' -d '{"text":"hello 👋"}'`,
    );
    out("  # the same, streamed as Server-Sent Events");
    out(
      `  curl -sN ${s.gateway.url}/${TEXT_REVERSE_CAPABILITY} -H 'content-type: application/json' -H 'accept: text/event-stream' -d '{"text":"abc"}'`,
    );
    out("  # go-livepeer's BYOC route, with the client's Livepeer job header");
    out(
      `  curl -s ${s.gateway.url}/process/request/${TEXT_REVERSE_CAPABILITY} -H 'Livepeer: ${byocHeader}' -H 'content-type: application/json' -d '{"text":"hello"}'`,
    );
    out(
      "  # a live video stream on green-tint for 10 s (a test pattern in, the tinted video out; stopped at the end, so the slot is freed)",
    );
    out(
      `  npm run -s tributary -- job live --gateway ${s.gateway.url} --model ${GREEN_TINT_MODEL} --testsrc --duration 10s --params '{"green":100}' --output out.mp4`,
    );
    out(`  # what the network offers: open ${s.gateway.dashboard}`);
    if (s.gateway.live)
      out(
        `  # your camera through green-tint, in a browser: open ${s.gateway.live} (OBS 30+: docs/webrtc.md#obs)`,
      );
  }
  if (s.signedEthAddressHeader) {
    out("  # a job token with the orchestrator's ticket params for the gateway account");
    out(
      `  curl -sk ${s.orchestrator.url}/process/token -H 'Livepeer-Eth-Address: ${s.signedEthAddressHeader}' -H 'Livepeer-Capability: ${TEXT_REVERSE_CAPABILITY}'`,
    );
  }
  out("  # the orchestrator's capabilities (container URLs and health with its secret)");
  out(`  curl -sk ${s.orchestrator.url}/capabilities -H ${q(`Authorization: ${s.orchestrator.secret}`)}`);
  if (s.chain) {
    out("  # ETH the TicketBroker holds (the gateway's deposit + reserve)");
    out(
      `  curl -s ${s.chain.rpcUrl} -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["${s.chain.contracts.ticketBroker}","latest"]}'`,
    );
  }
  if (s.samplePaymentHeader) {
    out(
      "  # decode a Livepeer-Payment header: one ticket from the gateway account to the orchestrator (made, not sent)",
    );
    out(`  npm run -s tributary -- payment decode ${s.samplePaymentHeader}`);
  } else {
    out("  # decode a Livepeer-Payment header (what a paying gateway sends; try the devnet mode)");
    out("  npm run -s tributary -- payment decode <header>");
  }
  out();
  out("Ctrl-C stops everything.");
  return `${lines.join("\n")}\n`;
}

/** Builds the `dev` subcommand. */
export function devCommand(): Command {
  return new Command("dev")
    .description(
      "Run a whole local network in one process: a devnet chain (anvil, contracts deployed, accounts funded), " +
        "an orchestrator with payments, the example containers text-reverse (BYOC) and green-tint " +
        "(live-video-to-video) registered, and a gateway with its dashboard. Prints the URLs and commands to " +
        "try; Ctrl-C stops everything.",
    )
    .option("--offchain", "no chain: the orchestrator runs offchain (no payments)", false)
    .option(
      "--remote-signer",
      "devnet: run the gateway and a remote signer split (the signer holds the gateway account, the gateway no key)",
      false,
    )
    .addOption(
      new Option(
        "--data-dir <dir>",
        "data directory (default: a fresh temporary directory, removed at exit)",
      ).env("TRIBUTARY_DEV_DATA_DIR"),
    )
    .option("--persist", "keep state in ~/.tributary/dev (when --data-dir is not given)", false)
    .addOption(new Option("--host <host>", "interface every component binds").default("127.0.0.1"))
    .addOption(
      new Option("--orchestrator-port <port>", "orchestrator port; 0 picks a free one")
        .default(DEFAULT_SERVICE_PORT)
        .argParser(parsePort),
    )
    .addOption(
      new Option("--gateway-port <port>", "gateway port; 0 picks a free one")
        .default(DEFAULT_GATEWAY_PORT)
        .argParser(parsePort),
    )
    .addOption(
      new Option("--chain-port <port>", "anvil JSON-RPC port; 0 picks a free one")
        .default(DEFAULT_CHAIN_PORT)
        .argParser(parsePort),
    )
    .option("--json", "print the summary as one JSON line on stdout (for scripts and tests)", false)
    .addOption(
      new Option("--log-level <level>", "component log level (pino JSON lines on stderr)")
        .env("TRIBUTARY_LOG_LEVEL")
        .default("warn"),
    )
    .addHelpText(
      "after",
      `
Everything but anvil runs in this process; anvil is a child that dies with it (even on SIGKILL).
The containers listen on ephemeral loopback ports. text-reverse registers itself as BYOC capability
"text-reverse" through POST /capability/register; green-tint is configured as
live-video-to-video/green-tint.

On devnet the gateway signs its requests and pays with tickets from the funded gateway account;
text-reverse costs 1 gwei per second there, so each job carries real tickets.

Examples:
  npm start
  tributary dev --offchain
  tributary dev --remote-signer
  tributary dev --orchestrator-port 0 --gateway-port 0 --chain-port 0 --json`,
    )
    .action(async (opts: DevCliOptions) => {
      const err = (s: string) => process.stderr.write(`${s}\n`);
      if (opts.remoteSigner && opts.offchain) {
        err("error: --remote-signer needs the devnet (it pays with tickets); drop --offchain");
        process.exitCode = 2;
        return;
      }
      const logger = createLogger({ name: "dev", level: opts.logLevel });
      const stopRequested = new AbortController();
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          err(`dev: ${sig} again: exiting now`);
          process.exit(130);
        }
        err(`dev: ${sig}: stopping…`);
        stopRequested.abort();
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      process.on("SIGHUP", onSignal);
      // The parent died (this process was re-parented): stop, so nothing outlives the terminal or test.
      const ppid = process.ppid;
      const parentWatch = setInterval(() => {
        if (process.ppid !== ppid && !stopRequested.signal.aborted) {
          err("dev: the parent process is gone: stopping…");
          stopRequested.abort();
        }
      }, 1000);
      parentWatch.unref();
      const cleanup = () => {
        clearInterval(parentWatch);
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        process.off("SIGHUP", onSignal);
      };

      err(
        `dev: starting the ${opts.offchain ? "offchain" : "devnet"} network (code loaded in ${(performance.now() / 1000).toFixed(2)} s)`,
      );
      const started = startDevNetwork({
        offchain: opts.offchain,
        remoteSigner: opts.remoteSigner,
        ...(opts.dataDir === undefined ? {} : { dataDir: opts.dataDir }),
        persist: opts.persist,
        host: opts.host,
        orchestratorPort: opts.orchestratorPort,
        gatewayPort: opts.gatewayPort,
        chainPort: opts.chainPort,
        logger,
        startedAt: 0,
        onEvent: (e) => {
          const line = progressLine(e);
          if (line !== undefined) err(line);
        },
      });
      let net: DevNetwork;
      try {
        net = await started;
      } catch (e) {
        const flag = (port?: number) =>
          port === opts.orchestratorPort
            ? "--orchestrator-port"
            : port === opts.chainPort
              ? "--chain-port"
              : "--gateway-port";
        err(`error: the dev network failed to start: ${startFailureMessage(e, flag)}`);
        err("       everything that had started was stopped.");
        cleanup();
        process.exitCode = 1;
        return;
      }
      if (stopRequested.signal.aborted) {
        await net.stop();
        cleanup();
        return;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(net.summary)}\n`);
      else process.stdout.write(formatSummary(net.summary));
      const failure = await Promise.race([
        net.failed,
        new Promise<undefined>((resolve) =>
          stopRequested.signal.addEventListener("abort", () => resolve(undefined), { once: true }),
        ),
      ]);
      if (failure) {
        err(`error: ${failure.message}; stopping everything`);
        process.exitCode = 1;
      }
      await net.stop();
      cleanup();
      err("dev: stopped");
      // Nothing should be left; if something still holds the loop, say what and leave anyway.
      setTimeout(() => {
        err(`dev: still open after stop: ${process.getActiveResourcesInfo().join(", ")}; exiting`);
        process.exit(process.exitCode ?? 0);
      }, 5000).unref();
    });
}
