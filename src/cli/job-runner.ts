/**
 * `tributary job runner <app> --orch <url>`: calls a live runner app directly on an orchestrator
 * (src/client/runner.ts). The runner is found in `/discovery` of `--orch` (by its route or its app
 * name): an orchestrator's, or a gateway's listing every orchestrator's runners, tried in order (the
 * most free capacity first; full, withdrawn or unreachable ones fail over to the next). A
 * single-shot runner gets one call, a persistent one a session: reserved, called (plain
 * HTTP, `--sse`, or `--ws`), and stopped. `--session` reserves and keeps the session open until
 * Ctrl-C, printing its URLs for other tools. A priced runner is paid through `--remote-signer-url`
 * (the signer's payment type from the runner's price unit); without it the runner answers
 * PAYMENT_REQUIRED.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { type RunnerAnswer, RunnerClient, type RunnerInfo, type RunnerRequest } from "../client/runner.ts";
import { type RemoteSignerPayerOptions, remoteSignerPayer } from "../client/runner-payer.ts";
import { collectHeader, type JobIo, prettyIfJson, readDataOption } from "./job.ts";

/** Options of `job runner`, as commander parses them. */
export interface JobRunnerOptions {
  orch: string;
  session?: boolean;
  path: string;
  method?: string;
  json?: unknown;
  data?: string;
  header?: Record<string, string>;
  sse?: boolean;
  ws?: boolean;
  /** `--ws`: stop after this many messages. */
  messages?: number;
  verbose?: boolean;
  /** Pay priced runners through this remote signer. */
  remoteSignerUrl?: string;
  /** Headers of every signer call, go-livepeer's `Name:value,…` or a JSON object. */
  remoteSignerHeaders?: string;
  /** Ends `--session` and `--ws` (tests; Ctrl-C otherwise). */
  signal?: AbortSignal;
}

const processIo = (): JobIo => ({ stdout: process.stdout, stderr: process.stderr });

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number ≥ 1");
  return n;
}

function requestOf(opts: JobRunnerOptions): RunnerRequest {
  const headers: Record<string, string> = { ...opts.header };
  const req: RunnerRequest = { headers };
  if (opts.json !== undefined) req.json = opts.json;
  else if (opts.data !== undefined) req.body = readDataOption(opts.data);
  if (opts.method !== undefined) req.method = opts.method.toUpperCase();
  if (opts.sse) headers.accept ??= "text/event-stream";
  return req;
}

async function print(a: RunnerAnswer, io: JobIo): Promise<void> {
  const tty = io.stdout.isTTY === true;
  if (a.sse) {
    for await (const e of a.events()) {
      const prefix = e.event === "message" ? "" : `event ${e.event}: `;
      io.stdout.write(`${prefix}${tty ? prettyIfJson(e.data) : e.data}\n`);
    }
  } else if (a.contentType.includes("json")) {
    const text = await a.text();
    io.stdout.write(tty ? `${prettyIfJson(text)}\n` : text);
  } else io.stdout.write(await a.bytes());
}

/** A promise resolved when `signal` or `also` aborts or on Ctrl-C, and its disposer. */
function interrupted(
  signal: AbortSignal | undefined,
  also?: AbortSignal,
): { done: Promise<void>; dispose(): void } {
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = () => {
      dispose();
      resolve();
    };
  });
  const dispose = () => {
    process.off("SIGINT", finish);
    signal?.removeEventListener("abort", finish);
    also?.removeEventListener("abort", finish);
  };
  process.once("SIGINT", finish);
  signal?.addEventListener("abort", finish, { once: true });
  also?.addEventListener("abort", finish, { once: true });
  if (signal?.aborted || also?.aborted) finish();
  return { done, dispose };
}

/** `job runner`: resolves with the exit code. */
export async function jobRunner(
  app: string,
  opts: JobRunnerOptions,
  io: JobIo = processIo(),
): Promise<number> {
  const started = performance.now();
  await using discovery = new RunnerClient();
  let paying: RunnerClient | undefined;
  try {
    const candidates = await discovery.candidates(opts.orch, app);
    const info = candidates[0] as RunnerInfo;
    const sameMode = candidates.filter((r) => r.mode === info.mode);
    paying = await payingClient(info, opts);
    const client = paying ?? discovery;
    const req = requestOf(opts);
    const verbose = (line: string) => {
      if (opts.verbose) io.stderr.write(`runner: ${line}\n`);
    };
    if (info.mode === "single-shot") {
      if (opts.session || opts.ws)
        throw new InvalidArgumentError(
          `${app} is a single-shot runner: --session and --ws need a persistent one`,
        );
      const { runner, value } = await client.failover(sameMode, (r) => client.call(r.url, opts.path, req));
      await print(value, io);
      verbose(
        `single-shot ${runner.app} at ${runner.url} in ${((performance.now() - started) / 1000).toFixed(2)} s`,
      );
      return 0;
    }
    const { runner, value: session } = await client.failover(sameMode, (r) => client.reserve(r.url));
    verbose(`session ${session.id} of ${runner.app} reserved at ${runner.url}`);
    try {
      if (opts.session) {
        io.stdout.write(
          `${JSON.stringify({ session_id: session.id, app_url: session.appUrl, control_url: session.controlUrl })}\n`,
        );
        io.stderr.write("session open: Ctrl-C stops it\n");
        const stop = interrupted(opts.signal, session.signal);
        await stop.done;
      } else if (opts.ws) {
        await using socket = await session.websocket(opts.path, opts.header ?? {});
        if (req.json !== undefined) socket.send(JSON.stringify(req.json));
        else if (req.body !== undefined) socket.send(Buffer.from(req.body).toString("utf8"));
        const limit = opts.messages ?? (req.json !== undefined || req.body !== undefined ? 1 : Infinity);
        let n = 0;
        const stop = interrupted(opts.signal, session.signal);
        void stop.done.then(() => socket.close());
        try {
          for await (const m of socket.messages()) {
            io.stdout.write(m.text !== undefined ? `${m.text}\n` : m.bytes);
            if (++n >= limit) break;
          }
        } finally {
          stop.dispose();
        }
      } else await print(await session.fetch(opts.path, req), io);
    } finally {
      await session.stop();
      verbose(`session ${session.id} stopped after ${((performance.now() - started) / 1000).toFixed(2)} s`);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await paying?.close();
  }
}

/** The signer payment type of a runner's price unit (livepeer-gateway's mapping); `live` by default. */
export function paymentTypeOf(unit: string | undefined): NonNullable<RemoteSignerPayerOptions["type"]> {
  if (unit === "fixed") return "fixed";
  if (unit === "720p" || unit === "720p-pixel-seconds") return "lv2v";
  return "live";
}

/** A client paying through `--remote-signer-url`, or undefined (offchain). */
async function payingClient(info: RunnerInfo, opts: JobRunnerOptions): Promise<RunnerClient | undefined> {
  if (opts.remoteSignerUrl === undefined) {
    if (opts.remoteSignerHeaders !== undefined)
      throw new InvalidArgumentError("--remote-signer-headers needs --remote-signer-url");
    return undefined;
  }
  // Loaded only when paying: the gateway's parser of go-livepeer's header list.
  const { parseSignerHeaders } = await import("../gateway/remote-signer.ts");
  const headers = opts.remoteSignerHeaders === undefined ? {} : parseSignerHeaders(opts.remoteSignerHeaders);
  const payer = await remoteSignerPayer(opts.remoteSignerUrl, {
    headers,
    type: paymentTypeOf(info.priceInfo?.unit),
  });
  return new RunnerClient({ payer });
}

/** Adds `job runner` to the `job` command. */
export function addRunnerCommand(job: Command, parseJson: (v: string) => unknown): void {
  job
    .command("runner")
    .summary("call a live runner app on an orchestrator")
    .description(
      "Call a live runner app directly on an orchestrator (its /discovery names the runner by route or app): " +
        "a single-shot runner gets one call; a persistent one a session that is reserved, called (HTTP, --sse " +
        "or --ws) and stopped. A priced runner is paid through --remote-signer-url (else PAYMENT_REQUIRED).",
    )
    .argument("<app>", "the runner's route (label or id) or app name, as /discovery lists it")
    .requiredOption(
      "--orch <url>",
      "the orchestrator's service URL (e.g. https://127.0.0.1:8935), or a gateway's whose /discovery lists its orchestrators' runners",
    )
    .option(
      "--session",
      "reserve a session, print {session_id, app_url, control_url} and keep it until Ctrl-C",
    )
    .option("--path <path>", "the app path to call (with its query)", "/")
    .option("--method <method>", "HTTP method (default POST with a body, GET without)")
    .addOption(
      new Option("--json <json>", "JSON request body (--ws: one text message)")
        .argParser(parseJson)
        .conflicts("data"),
    )
    .option("--data <body>", "request body: text, @file, or @- for standard input (--ws: one text message)")
    .option("-H, --header <name: value>", "extra request header (repeatable)", collectHeader)
    .option("--sse", "ask for Server-Sent Events and print one data line each")
    .addOption(new Option("--ws", "open a WebSocket at --path and print the messages").conflicts("sse"))
    .addOption(
      new Option(
        "--messages <n>",
        "--ws: stop after n messages (default 1 after sending a body, else until closed)",
      ).argParser(parseCount),
    )
    .option(
      "--remote-signer-url <url>",
      "pay priced runners through this remote signer (tributary signer or go-livepeer -remoteSigner)",
    )
    .option(
      "--remote-signer-headers <list>",
      'headers sent on every signer call: "Name:value,Name2:value2" or a JSON object',
    )
    .option("-v, --verbose", "print the session and timing on stderr")
    .addHelpText(
      "after",
      `
Examples:
  tributary job runner my/echo --orch https://127.0.0.1:8935 --path /echo --json '{"hi":1}'
  tributary job runner llm --orch https://127.0.0.1:8935 --path /v1/stream --json '{"prompt":"hi"}' --sse
  tributary job runner chat --orch https://127.0.0.1:8935 --path /ws --ws --data hello
  tributary job runner my/echo --orch https://127.0.0.1:8935 --session`,
    )
    .action(async (app: string, opts: JobRunnerOptions) => {
      process.exitCode = await jobRunner(app, opts);
    });
}
