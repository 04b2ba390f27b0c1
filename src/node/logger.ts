import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/**
 * Paths pino redacts in every log line: secrets, tokens, payment and segment credentials (also in a
 * request logged one level down, e.g. `{req: {headers}}`) and trickle channel URLs.
 */
export const REDACT_PATHS: readonly string[] = [
  "secret",
  "orchSecret",
  "token",
  "authToken",
  "password",
  "privateKey",
  "headers.authorization",
  "headers.livepeer",
  'headers["livepeer-payment"]',
  'headers["livepeer-segment"]',
  "*.headers.authorization",
  "*.headers.livepeer",
  '*.headers["livepeer-payment"]',
  '*.headers["livepeer-segment"]',
  "url",
  "channelUrl",
  "subscribeUrl",
  "publishUrl",
  "controlUrl",
  "eventsUrl",
  "dataUrl",
  "*.secret",
  "*.orchSecret",
  "*.token",
  "*.authToken",
  "*.password",
  "*.privateKey",
  "*.url",
];

/** Options for {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Component name, added to every line as `component`. */
  name: string;
  /** pino level; default `info` (the CLI passes `--log-level`, or `TRIBUTARY_LOG_LEVEL`). */
  level?: string;
  /** Where lines go; defaults to stderr so stdout stays free for command output. */
  destination?: NodeJS.WritableStream;
}

/** A pino logger writing JSON lines with Tributary's redaction rules. */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? "info",
    redact: { paths: [...REDACT_PATHS], censor: "[redacted]" },
    base: { component: options.name },
  };
  return pino(config, options.destination ?? pino.destination(2));
}

/** A logger that drops everything: the default for library objects created without one. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
