/**
 * The HTTP limit flags of the serving nodes (src/node/http/limits.ts): head size and headers timeout
 * on every node, and on the orchestrator's HTTP/2 port the idle timeout, streams per connection and
 * the per-connection upload budget. Defaults are Go's, which go-livepeer runs with.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_SESSION_UPLOAD_BYTES,
  type HttpLimits,
} from "../node/http/limits.ts";
import { durationLabel, parseDuration } from "./options.ts";

/** Parsed values of the flags added by {@link addHttpLimitOptions}. */
export interface HttpLimitCliOptions {
  maxHeaderBytes: number;
  headersTimeout: number;
  http2IdleTimeout?: number;
  http2MaxStreams?: number;
  http2MaxUploadBytes?: number;
}

/** A positive whole number: `1048576`, or with a unit `64KiB`, `1MiB`, `1GiB`. */
export function parseByteSize(value: string): number {
  const m = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i.exec(value);
  const unit = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[(m?.[2] ?? "b").toLowerCase()];
  const n = m && unit ? Number(m[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError("expected a positive size in bytes, e.g. 1048576 or 1MiB");
  return n;
}

/** A size in bytes as the help text shows a default, in the largest unit that divides it (`64MiB`). */
export function byteSizeLabel(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const)
    if (bytes > 0 && bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

/** A positive whole number. */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < 1)
    throw new InvalidArgumentError("expected a positive integer");
  return Number(value);
}

/**
 * Adds `--max-header-bytes` and `--headers-timeout`, and with `http2` the `--http2-*` flags, to
 * `command`.
 */
export function addHttpLimitOptions<C extends Command>(command: C, http2: boolean): C {
  command
    .addOption(
      new Option(
        "--max-header-bytes <size>",
        "largest request head (request line and headers) accepted; a larger one answers 431",
      )
        .env("TRIBUTARY_MAX_HEADER_BYTES")
        .default(DEFAULT_MAX_HEADER_BYTES, byteSizeLabel(DEFAULT_MAX_HEADER_BYTES))
        .argParser(parseByteSize),
    )
    .addOption(
      new Option(
        "--headers-timeout <duration>",
        `time a client has to ${http2 ? "finish the TLS handshake and " : ""}send a request's headers (slow clients are closed; long uploads and answers are not affected)`,
      )
        .env("TRIBUTARY_HEADERS_TIMEOUT")
        .default(DEFAULT_HEADERS_TIMEOUT_MS, durationLabel(DEFAULT_HEADERS_TIMEOUT_MS))
        .argParser(parseDuration),
    );
  if (!http2) return command;
  return command
    .addOption(
      new Option(
        "--http2-idle-timeout <duration>",
        "close an HTTP/2 connection without open streams after this",
      )
        .env("TRIBUTARY_HTTP2_IDLE_TIMEOUT")
        .default(DEFAULT_IDLE_TIMEOUT_MS, durationLabel(DEFAULT_IDLE_TIMEOUT_MS))
        .argParser(parseDuration),
    )
    .addOption(
      new Option("--http2-max-streams <n>", "HTTP/2 streams open at once on one connection")
        .env("TRIBUTARY_HTTP2_MAX_STREAMS")
        .default(DEFAULT_MAX_CONCURRENT_STREAMS)
        .argParser(parseCount),
    )
    .addOption(
      new Option(
        "--http2-max-upload-bytes <size>",
        "request-body bytes of unfinished uploads one HTTP/2 connection may hold (the stream over it is reset; trickle is exempt)",
      )
        .env("TRIBUTARY_HTTP2_MAX_UPLOAD_BYTES")
        .default(DEFAULT_MAX_SESSION_UPLOAD_BYTES, byteSizeLabel(DEFAULT_MAX_SESSION_UPLOAD_BYTES))
        .argParser(parseByteSize),
    ) as C;
}

/** The {@link HttpLimits} the flags ask for. */
export function httpLimitsOf(opts: HttpLimitCliOptions): HttpLimits {
  return {
    maxHeaderBytes: opts.maxHeaderBytes,
    headersTimeoutMs: opts.headersTimeout,
    ...(opts.http2IdleTimeout === undefined ? {} : { idleTimeoutMs: opts.http2IdleTimeout }),
    ...(opts.http2MaxStreams === undefined ? {} : { maxConcurrentStreams: opts.http2MaxStreams }),
    ...(opts.http2MaxUploadBytes === undefined ? {} : { maxSessionUploadBytes: opts.http2MaxUploadBytes }),
  };
}
