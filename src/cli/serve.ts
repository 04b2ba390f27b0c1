/**
 * `tributary serve <file-or-folder>`: loads a module whose default export is a pipeline
 * (`defineBatchPipeline` / `defineLivePipeline`) and serves it with the container contract; registers
 * with an orchestrator when `ORCH_URL` and `ORCH_SECRET` are set.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { TributaryError } from "../node/errors.ts";
import { createLogger, type Logger } from "../node/logger.ts";
import { runnerOptionsFromEnv } from "../runner/env.ts";
import { isPipeline, type Pipeline } from "../runner/pipeline.ts";
import { type RegistrationLoop, registrationFromEnv, startRegistration } from "../runner/registration.ts";
import { DEFAULT_RUNNER_PORT, type RunningRunner, startRunner } from "../runner/server.ts";
import { parsePort } from "./options.ts";

/** Files tried, in order, when `serve` is given a folder. */
export const ENTRY_FILES = [
  "pipeline.ts",
  "index.ts",
  "main.ts",
  "pipeline.js",
  "index.js",
  "main.js",
  "index.mjs",
];

/** The module cannot be used as a pipeline. */
export class PipelineModuleError extends TributaryError {
  constructor(message: string, cause?: unknown) {
    super("INVALID_PIPELINE_MODULE", message, { cause, status: 400 });
  }
}

/** Resolves a file or folder argument to the module file to import. @throws PipelineModuleError */
export function resolveEntry(target: string): string {
  const path = resolve(target);
  if (!existsSync(path)) throw new PipelineModuleError(`${target} does not exist`);
  if (!statSync(path).isDirectory()) return path;
  for (const name of ENTRY_FILES) {
    const file = resolve(path, name);
    if (existsSync(file)) return file;
  }
  throw new PipelineModuleError(
    `${target} has none of ${ENTRY_FILES.join(", ")}; pass the module file itself`,
  );
}

/** Imports a pipeline module and returns its default export. @throws PipelineModuleError */
export async function loadPipeline(target: string): Promise<Pipeline> {
  const file = resolveEntry(target);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new PipelineModuleError(`cannot import ${file}: ${(err as Error).message}`, err);
  }
  if (!isPipeline(mod.default))
    throw new PipelineModuleError(
      `${file} must "export default" a pipeline made with defineBatchPipeline() or defineLivePipeline()`,
    );
  return mod.default;
}

/** Options of {@link serve}. */
export interface ServeOptions {
  port: number;
  host: string;
  token?: string;
  maxBodyBytes?: number;
  /** Register with ORCH_URL/ORCH_SECRET when set; default true. */
  register?: boolean;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A served pipeline and its registration loop. */
export interface Served extends AsyncDisposable {
  runner: RunningRunner;
  pipeline: Pipeline;
  registration: RegistrationLoop | undefined;
  close(): Promise<void>;
}

/** Loads and serves a pipeline module (what the command does, without process handling). */
export async function serve(target: string, options: ServeOptions): Promise<Served> {
  const pipeline = await loadPipeline(target);
  const env = options.env ?? process.env;
  const registrationConfig =
    options.register === false
      ? undefined
      : registrationFromEnv(env, { name: pipeline.name, ...(options.token ? { token: options.token } : {}) });
  const runner = await startRunner(pipeline, {
    ...runnerOptionsFromEnv(env),
    port: options.port,
    host: options.host,
    ...(options.token ? { token: options.token } : {}),
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const registration = registrationConfig
    ? startRegistration(registrationConfig, {
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        isIdle: () => runner.health.activeStreams === 0 && runner.health.activeRequests === 0,
      })
    : undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await registration?.stop();
      await runner.close();
    })();
    return closing;
  };
  return { runner, pipeline, registration, close, [Symbol.asyncDispose]: close };
}

function parseBytes(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError("expected a positive number of bytes");
  return n;
}

/** The `serve` command. */
export function serveCommand(): Command {
  return new Command("serve")
    .summary("serve a container pipeline (batch or live) over the BYOC container contract")
    .description(
      "Load a module whose default export is a pipeline (defineBatchPipeline or defineLivePipeline) and " +
        "serve it over the BYOC container contract.",
    )
    .argument(
      "<file-or-folder>",
      `pipeline module, or a folder containing one of ${ENTRY_FILES.slice(0, 3).join(", ")}, …`,
    )
    .addOption(
      new Option("--port <port>", "TCP port")
        .env("TRIBUTARY_PORT")
        .default(DEFAULT_RUNNER_PORT)
        .argParser(parsePort),
    )
    .addOption(
      new Option("--host <host>", "interface to bind (0.0.0.0 inside a container)")
        .env("TRIBUTARY_HOST")
        .default("127.0.0.1"),
    )
    .addOption(
      new Option("--token <token>", "require Authorization: Bearer <token> on every route").env(
        "TRIBUTARY_TOKEN",
      ),
    )
    .addOption(
      new Option("--max-body-bytes <n>", "largest accepted request body (413 above)")
        .env("TRIBUTARY_MAX_BODY_BYTES")
        .argParser(parseBytes),
    )
    .option("--no-register", "do not register with ORCH_URL even when it is set")
    .addHelpText(
      "after",
      `
Routes:
  GET  /health, /version, /app-version, /hardware/info, /hardware/stats
  POST /<name>, /run, /              batch pipelines: JSON, bytes or multipart in; JSON, bytes or
                                     Server-Sent Events out (async generators, or Accept: text/event-stream)
  POST /stream/start|params|stop     live pipelines (also under /api; /live-video-to-video = start)
  GET  /stream/status
  A live pipeline with video/audio handlers reads MPEG-TS from subscribe_url, runs its handlers frame
  by frame and publishes MPEG-TS to publish_url; one without them runs its control, events and data
  channels only.

Registration with an orchestrator (POST {ORCH_URL}/capability/register), when ORCH_URL and ORCH_SECRET
are set; retried with backoff and refreshed every 5 minutes while idle:
  ORCH_URL, ORCH_SECRET              orchestrator URL (self-signed TLS accepted) and its -orchSecret
  CAPABILITY_NAME                    default: the pipeline name
  CAPABILITY_URL                     where the orchestrator reaches this runner (default http://localhost:${DEFAULT_RUNNER_PORT})
  CAPABILITY_DESCRIPTION, CAPABILITY_CAPACITY (1), CAPABILITY_PRICE_PER_UNIT (0),
  CAPABILITY_PRICE_SCALING (1), CAPABILITY_CURRENCY (""), CAPABILITY_TOKEN (default: --token)

Examples:
  tributary serve examples/text-reverse
  tributary serve ./my-pipeline.ts --host 0.0.0.0 --port 8000 --token s3cret
  ORCH_URL=https://orch:8935 ORCH_SECRET=... CAPABILITY_URL=http://me:8000 tributary serve ./pipeline.ts`,
    )
    .action(
      async (
        target: string,
        opts: { port: number; host: string; token?: string; maxBodyBytes?: number; register: boolean },
      ) => {
        const level = process.env.TRIBUTARY_LOG_LEVEL;
        const logger = createLogger({ name: "runner", ...(level ? { level } : {}) });
        const ac = new AbortController();
        let served: Served;
        try {
          served = await serve(target, {
            port: opts.port,
            host: opts.host,
            register: opts.register,
            logger,
            signal: ac.signal,
            ...(opts.token ? { token: opts.token } : {}),
            ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
          });
        } catch (err) {
          console.error(`tributary serve: ${(err as Error).message}`);
          process.exitCode = 1;
          return;
        }
        console.error(
          `serving ${served.pipeline.kind} pipeline "${served.pipeline.name}" at ${served.runner.url}` +
            (served.registration ? " (registering with the orchestrator)" : ""),
        );
        await new Promise<void>((done) => {
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            ac.abort();
            void served.close().then(done);
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      },
    );
}
