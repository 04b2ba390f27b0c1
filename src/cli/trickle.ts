/**
 * `tributary trickle`: a standalone trickle server (like j0sh/http-trickle: port 2939, channels
 * auto-created on first publish).
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { createLogger } from "../node/logger.ts";
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_TRICKLE_PORT,
  startTrickleServer,
} from "../trickle/index.ts";
import { durationLabel, parseDuration, parsePort, startFailureMessage, untilStopSignal } from "./options.ts";

/** Options as commander parses them. */
interface TrickleCliOptions {
  port: number;
  host: string;
  basePath: string;
  autocreate: boolean;
  changefeed: boolean;
  tlsCert?: string;
  tlsKey?: string;
  idleTimeout: number;
  stallTimeout: number;
  logLevel?: string;
}

/** Builds the `trickle` subcommand. */
export function trickleCommand(): Command {
  return new Command("trickle")
    .description(
      "Run a standalone trickle server: channels of numbered segments, published with POST and read with GET " +
        "while they are being written (Livepeer's streaming transport, wire-compatible with go-livepeer).",
    )
    .addOption(
      new Option("-p, --port <port>", "port to listen on; 0 picks a free port")
        .env("TRIBUTARY_PORT")
        .default(DEFAULT_TRICKLE_PORT)
        .argParser(parsePort),
    )
    .addOption(new Option("--host <host>", "interface to bind").env("TRIBUTARY_HOST").default("127.0.0.1"))
    .addOption(
      new Option("--base-path <path>", "URL path the channels live under")
        .env("TRIBUTARY_BASE_PATH")
        .default("/"),
    )
    .option("--no-autocreate", "only serve channels created in-process (as an orchestrator does)")
    .addOption(
      new Option("--changefeed", "announce channel creation and removal on the _changes channel").env(
        "TRIBUTARY_CHANGEFEED",
      ),
    )
    .addOption(
      new Option("--tls-cert <file>", "PEM certificate: serve HTTP/2 and HTTP/1.1 over TLS").env(
        "TRIBUTARY_TLS_CERT",
      ),
    )
    .addOption(new Option("--tls-key <file>", "PEM private key for --tls-cert").env("TRIBUTARY_TLS_KEY"))
    .addOption(
      new Option("--idle-timeout <duration>", "remove channels with no new segment for this long")
        .env("TRIBUTARY_IDLE_TIMEOUT")
        .default(DEFAULT_IDLE_TIMEOUT_MS, durationLabel(DEFAULT_IDLE_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option(
        "--stall-timeout <duration>",
        "drop a subscriber that accepts no bytes, or a publisher that sends none mid-segment, for this long",
      )
        .env("TRIBUTARY_STALL_TIMEOUT")
        .default(DEFAULT_STALL_TIMEOUT_MS, durationLabel(DEFAULT_STALL_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(new Option("--log-level <level>", "pino log level").env("TRIBUTARY_LOG_LEVEL"))
    .addHelpText(
      "after",
      `
Routes (under --base-path):
  POST   /{channel}          create a channel (Expect-Content: <mime>)
  POST   /{channel}/{seq}    publish segment seq (-1 = next)
  GET    /{channel}/{seq}    read segment seq (-1 = next, -2 = current from byte 0)
  GET    /{channel}/next     the next seq to be written
  DELETE /{channel}/{seq}    close one segment
  DELETE /{channel}          close and remove the channel

Examples:
  tributary trickle --port 2939
  curl -X POST --data-binary @seg0.ts http://127.0.0.1:2939/mychannel/0
  curl http://127.0.0.1:2939/mychannel/-2 > current.ts`,
    )
    .action(async (opts: TrickleCliOptions, cmd: Command) => {
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) {
        cmd.error("error: --tls-cert and --tls-key go together", { exitCode: 2 });
      }
      const logger = createLogger({ name: "trickle", level: opts.logLevel });
      const tls =
        opts.tlsCert !== undefined && opts.tlsKey !== undefined
          ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }
          : undefined;
      let running: Awaited<ReturnType<typeof startTrickleServer>>;
      try {
        running = await startTrickleServer({
          host: opts.host,
          port: opts.port,
          basePath: opts.basePath,
          autocreate: opts.autocreate,
          changefeed: opts.changefeed === true,
          idleTimeoutMs: opts.idleTimeout,
          stallTimeoutMs: opts.stallTimeout,
          tls,
          logger,
        });
      } catch (err) {
        cmd.error(`error: ${startFailureMessage(err, "--port")}`, { exitCode: 1 });
      }
      process.stdout.write(`trickle server listening on ${running.url}\n`);
      await untilStopSignal();
      await running.close();
      logger.info("trickle server stopped");
      logger.flush();
    });
}
