import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/**
 * Secret-bearing field names: each is redacted at the top of a line and one level down. Log fields are
 * snake_case (`orch_secret`); the camelCase spellings stay covered for objects logged whole.
 */
const SECRET_FIELDS = [
  "secret",
  "orchSecret",
  "orch_secret",
  "token",
  "authToken",
  "auth_token",
  "password",
  "privateKey",
  "private_key",
  "url",
];

/** Trickle channel URL fields (a channel's URL is its credential), redacted at the top of a line. */
const CHANNEL_URL_FIELDS = [
  "channelUrl",
  "subscribeUrl",
  "publishUrl",
  "controlUrl",
  "eventsUrl",
  "dataUrl",
  "channel_url",
  "subscribe_url",
  "publish_url",
  "control_url",
  "events_url",
  "data_url",
];

/**
 * Paths pino redacts in every log line: secrets, tokens, payment and segment credentials (also in a
 * request logged one level down, e.g. `{req: {headers}}`) and trickle channel URLs.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  "headers.authorization",
  "headers.livepeer",
  'headers["livepeer-payment"]',
  'headers["livepeer-segment"]',
  "*.headers.authorization",
  "*.headers.livepeer",
  '*.headers["livepeer-payment"]',
  '*.headers["livepeer-segment"]',
  ...CHANNEL_URL_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
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
