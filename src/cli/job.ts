/**
 * `tributary job`: the client of a gateway. `job run` sends one batch job and prints the answer;
 * `job live` streams a video file or a test pattern through a live pipeline and writes what comes
 * back, with live statistics. Both work against any Tributary gateway (`tributary dev` starts one).
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import { runJob } from "../client/job.ts";
import type { LiveSession, LiveStatus } from "../client/live.ts";
import { TributaryError } from "../node/errors.ts";
import { addRunnerCommand } from "./job-runner.ts";
import { parseDuration } from "./options.ts";

/** The gateway URL when neither `--gateway` nor `TRIBUTARY_GATEWAY` is given (conventions: port 8937). */
export const DEFAULT_GATEWAY_URL = "http://127.0.0.1:8937";

/** Where a command writes: the process's streams, or a test's buffers. */
export interface JobIo {
  stdout: { write(chunk: string | Uint8Array): unknown; isTTY?: boolean };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
}

const processIo = (): JobIo => ({ stdout: process.stdout, stderr: process.stderr });

function parseJsonOption(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
}

function parseJsonObject(value: string): Record<string, unknown> {
  const v = parseJsonOption(value);
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new InvalidArgumentError("expected a JSON object");
  return v as Record<string, unknown>;
}

export function collectHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf(":");
  if (i <= 0) throw new InvalidArgumentError('expected "Name: value"');
  return { ...previous, [value.slice(0, i).trim().toLowerCase()]: value.slice(i + 1).trim() };
}

function parseSize(value: string): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(value);
  const w = Number(m?.[1]);
  const h = Number(m?.[2]);
  if (!m || w < 16 || h < 16 || w > 4096 || h > 4096)
    throw new InvalidArgumentError("expected WIDTHxHEIGHT, each 16..4096, e.g. 512x512");
  return { width: w, height: h };
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 240)) throw new InvalidArgumentError("expected a number from 1 to 240");
  return n;
}

/** Options of `job run`, as commander parses them. */
export interface JobRunOptions {
  gateway: string;
  model?: string;
  json?: unknown;
  data?: string;
  contentType?: string;
  header?: Record<string, string>;
  sse?: boolean;
  timeout?: number;
  verbose?: boolean;
}

/** The body of `--data`: `@file` reads the file, `@-` standard input, anything else is the text itself. */
export function readDataOption(data: string): Uint8Array {
  if (data === "@-") return readFileSync(0);
  if (data.startsWith("@")) {
    try {
      return readFileSync(data.slice(1));
    } catch (err) {
      throw new TributaryError("BAD_DATA", `cannot read ${data.slice(1)}: ${(err as Error).message}`, {
        status: 400,
      });
    }
  }
  return Buffer.from(data);
}

/** `job run`: sends the job, prints the answer; resolves with the exit code. */
export async function jobRun(
  pipeline: string,
  opts: JobRunOptions,
  io: JobIo = processIo(),
): Promise<number> {
  const headers: Record<string, string> = { ...opts.header };
  if (opts.sse) headers.accept = "text/event-stream";
  if (opts.timeout !== undefined) headers["x-timeout-seconds"] = String(opts.timeout);
  let body: Uint8Array | undefined;
  if (opts.json === undefined && opts.data !== undefined) {
    body = readDataOption(opts.data);
    if (!headers["content-type"]) {
      let isJson = false;
      try {
        JSON.parse(Buffer.from(body).toString("utf8"));
        isJson = true;
      } catch {}
      headers["content-type"] =
        opts.contentType ?? (isJson ? "application/json" : "application/octet-stream");
    }
  } else if (opts.contentType) headers["content-type"] = opts.contentType;
  const started = performance.now();
  try {
    const r = await runJob(opts.gateway, pipeline, {
      ...(opts.model ? { model: opts.model } : {}),
      ...(opts.json === undefined ? {} : { json: opts.json }),
      ...(body === undefined ? {} : { body }),
      headers,
    });
    const tty = io.stdout.isTTY === true;
    if (r.sse) {
      for await (const e of r.events()) {
        const prefix = e.event === "message" ? "" : `event ${e.event}: `;
        io.stdout.write(`${prefix}${tty ? prettyIfJson(e.data) : e.data}\n`);
      }
    } else if (r.contentType.includes("json")) {
      const text = await r.text();
      io.stdout.write(tty ? `${prettyIfJson(text)}\n` : text);
    } else {
      io.stdout.write(await r.bytes());
    }
    if (opts.verbose)
      io.stderr.write(
        `job: ${r.status} in ${((performance.now() - started) / 1000).toFixed(2)} s` +
          `${r.orchestrator ? `, orchestrator ${r.orchestrator}` : ""}` +
          `${r.balance ? `, balance ${r.balance}` : ""}${r.traceId ? `, trace ${r.traceId}` : ""}\n`,
      );
    return 0;
  } catch (err) {
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

export function prettyIfJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Options of `job live`, as commander parses them. */
export interface JobLiveOptions {
  gateway: string;
  model: string;
  /** A BYOC stream (`--model` is the capability); without it the gateway's offers decide. */
  byoc?: boolean;
  input?: string;
  testsrc?: boolean;
  size: { width: number; height: number };
  fps: number;
  duration?: number;
  segment: number;
  params?: Record<string, unknown>;
  output?: string;
  /** Longest wait for the last output after the input ended (ms). */
  drain?: number;
  /** Seconds between plain progress lines (not a TTY). */
  statsInterval?: number;
  signal?: AbortSignal;
}

/** Live statistics as shown. */
export interface LiveStats {
  elapsedSeconds: number;
  /** Input media sent, seconds. */
  sentSeconds: number;
  segmentsIn: number;
  segmentsOut: number;
  framesOut: number;
  fps: number | undefined;
  latencyMs: number | undefined;
  paidWei: bigint | undefined;
  tickets: number | undefined;
  bytesOut: number;
}

/** Wei as the most readable unit. */
export function formatWei(wei: bigint): string {
  if (wei === 0n) return "0 wei";
  if (wei >= 10n ** 15n) return `${(Number(wei) / 1e18).toFixed(6)} ETH`;
  if (wei >= 10n ** 6n) return `${(Number(wei) / 1e9).toFixed(3)} gwei`;
  return `${wei} wei`;
}

/** One line of statistics (the TTY progress bar is drawn around it). */
export function formatLiveStats(s: LiveStats): string {
  const parts = [
    `in ${s.segmentsIn} seg`,
    `out ${s.segmentsOut} seg / ${s.framesOut} frames`,
    `fps ${s.fps === undefined ? "–" : s.fps.toFixed(1)}`,
    `latency ${s.latencyMs === undefined ? "–" : `${(s.latencyMs / 1000).toFixed(2)} s`}`,
    `paid ${s.paidWei === undefined ? "–" : formatWei(s.paidWei)}${s.tickets ? ` (${s.tickets} tickets)` : ""}`,
  ];
  return parts.join("  ");
}

function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}]`;
}

/** `job live`: streams the input through the gateway; resolves with the exit code. */
export async function jobLive(opts: JobLiveOptions, io: JobIo = processIo()): Promise<number> {
  // node-av and the trickle clients load only here: `job run` and `--help` stay light.
  const [{ LiveSession: Session, detectLiveKind }, media, { scanMpegTs }] = await Promise.all([
    import("../client/live.ts"),
    import("../client/media.ts"),
    import("../client/mpegts.ts"),
  ]);
  const err = (s: string) => io.stderr.write(`${s}\n`);
  if ((opts.input === undefined) === (opts.testsrc !== true)) {
    err("error: give exactly one of --input <file> and --testsrc");
    return 2;
  }
  if (opts.input !== undefined) {
    try {
      accessSync(opts.input, constants.R_OK);
    } catch (e) {
      err(
        `error: cannot read --input ${opts.input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
      return 1;
    }
  }
  const durationMs = opts.duration ?? (opts.testsrc ? 10_000 : undefined);
  const source =
    opts.input !== undefined ? { file: opts.input } : { testsrc: { ...opts.size, fps: opts.fps } };
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const tty = io.stderr.isTTY === true;
  const t0 = performance.now();
  const stats: LiveStats = {
    elapsedSeconds: 0,
    sentSeconds: 0,
    segmentsIn: 0,
    segmentsOut: 0,
    framesOut: 0,
    fps: undefined,
    latencyMs: undefined,
    paidWei: undefined,
    tickets: undefined,
    bytesOut: 0,
  };
  // Client-side figures: publish time of each input segment by its last PTS, output arrival times.
  const sentAt: { maxPts: number; at: number }[] = [];
  let outMinPts: number | undefined;
  let outMaxPts = -1;
  let gatewayFps: number | undefined;
  let gatewayLatency: number | undefined;
  let clientLatency: number | undefined;
  let clientFps: number | undefined;
  const refresh = () => {
    stats.elapsedSeconds = (performance.now() - t0) / 1000;
    stats.fps = clientFps ?? (gatewayFps !== undefined && gatewayFps > 0 ? gatewayFps : undefined);
    stats.latencyMs = clientLatency ?? gatewayLatency;
  };
  let lastLine = 0;
  const draw = (final = false) => {
    refresh();
    const line = formatLiveStats(stats);
    if (tty) {
      const progress =
        durationMs === undefined
          ? `${stats.sentSeconds.toFixed(1)} s`
          : `${bar((stats.sentSeconds * 1000) / durationMs)} ${stats.sentSeconds.toFixed(1)}/${(durationMs / 1000).toFixed(1)} s`;
      io.stderr.write(`\r\x1b[2K${progress}  ${line}${final ? "\n" : ""}`);
    } else if (final || performance.now() - lastLine >= (opts.statsInterval ?? 2) * 1000) {
      lastLine = performance.now();
      err(`live: t=${stats.elapsedSeconds.toFixed(1)}s sent=${stats.sentSeconds.toFixed(1)}s ${line}`);
    }
  };

  let session: LiveSession;
  let kind: "live" | "byoc" = "byoc";
  try {
    if (opts.byoc !== true) kind = await detectLiveKind(opts.gateway, opts.model, stop.signal);
    session = await Session.start(opts.gateway, {
      model: opts.model,
      kind,
      ...(opts.params ? { params: opts.params } : {}),
      signal: stop.signal,
    });
  } catch (e) {
    opts.signal?.removeEventListener("abort", onAbort);
    err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  if (!tty)
    err(
      `live: ${kind === "byoc" ? "BYOC " : ""}stream ${session.info.streamId} on ${session.info.orchestrator ?? "?"}`,
    );
  const out = opts.output ? new media.OutputFile(opts.output) : undefined;
  let failure: Error | undefined;
  let videoPid: number | undefined;

  const publishing = (async () => {
    for await (const seg of media.inputSegments(source, {
      segmentSeconds: opts.segment,
      ...(durationMs === undefined ? {} : { durationMs }),
      signal: stop.signal,
    })) {
      const scan = scanMpegTs(seg.bytes);
      const at = performance.now();
      if (scan.maxPts !== undefined) {
        sentAt.push({ maxPts: scan.maxPts, at });
      }
      await session.publish(seg.bytes);
      stats.segmentsIn++;
      stats.sentSeconds = seg.endSeconds;
    }
  })().catch((e: unknown) => {
    if (!stop.signal.aborted) failure ??= e instanceof Error ? e : new Error(String(e));
  });

  const receiving = (async () => {
    for await (const bytes of session.output()) {
      const at = performance.now();
      const scan = scanMpegTs(bytes, videoPid);
      videoPid = scan.videoPid;
      stats.segmentsOut++;
      stats.framesOut += scan.videoFrames;
      stats.bytesOut += bytes.length;
      if (scan.maxPts !== undefined && scan.firstPts !== undefined) {
        outMaxPts = Math.max(outMaxPts, scan.maxPts);
        outMinPts = Math.min(outMinPts ?? scan.firstPts, scan.firstPts);
        // Frames per second of output media time (what a viewer gets; dropped frames lower it).
        const span = (outMaxPts - outMinPts) / 90000;
        if (span > 0) clientFps = stats.framesOut / (span + span / Math.max(1, stats.framesOut - 1));
        // The input segment that carried this output's last frame: latency from its publication.
        const src = sentAt.find((s) => s.maxPts >= (scan.maxPts as number));
        if (src) clientLatency = at - src.at;
      }
      await out?.write(bytes);
    }
  })().catch((e: unknown) => {
    if (!stop.signal.aborted) failure ??= e instanceof Error ? e : new Error(String(e));
  });

  const polling = (async () => {
    while (!stop.signal.aborted) {
      try {
        const st: LiveStatus = await session.status(stop.signal);
        gatewayFps = st.fps;
        gatewayLatency = st.latencyMs;
        if (st.paidWei !== undefined) stats.paidWei = st.paidWei;
        if (st.ticketsSent !== undefined) stats.tickets = st.ticketsSent;
        if (st.state === "failed" || st.error)
          failure ??= new Error(`the stream failed: ${st.error ?? st.state}`);
      } catch {
        // a status hiccup is not fatal; the stream's own channels say when it ends
      }
      draw();
      await sleep(500, undefined, { signal: stop.signal }).catch(() => {});
    }
  })();

  const onSigint = () => {
    err("\nlive: interrupted: stopping the stream…");
    stop.abort();
  };
  process.once("SIGINT", onSigint);
  try {
    await publishing;
    // The input is over: end the input channel. The pipeline flushes what it holds and the gateway
    // ends the output after its last segment, which ends `receiving`; --drain bounds the wait.
    if (!stop.signal.aborted) await session.endInput().catch(() => {});
    const drainMs = opts.drain ?? 15_000;
    const drainStart = performance.now();
    let outputEnded = false;
    const ended = receiving.then(() => {
      outputEnded = true;
    });
    while (
      !stop.signal.aborted &&
      failure === undefined &&
      !outputEnded &&
      performance.now() - drainStart < drainMs
    )
      await Promise.race([ended, sleep(250)]);
    if (!outputEnded && !stop.signal.aborted && failure === undefined)
      err(`live: the output did not end within ${drainMs} ms of the end of input; stopping the stream`);
    // One more status read for the final figures (payments of the whole stream): a native stop
    // answers the final status, a BYOC stop the container's answer, so read the status first.
    const before = kind === "byoc" ? await session.status().catch(() => undefined) : undefined;
    const last = (await session.stop().catch(() => undefined)) ?? before;
    const final = kind === "byoc" ? before : last;
    if (final?.paidWei !== undefined) stats.paidWei = final.paidWei;
    if (final?.ticketsSent !== undefined) stats.tickets = final.ticketsSent;
    stop.abort();
    await receiving;
    await polling;
    draw(true);
    if (out) {
      const written = await out.close();
      if (written.bytes > 0) err(`live: wrote ${written.path} (${written.bytes} bytes)`);
    }
    if (failure) {
      err(`error: ${failure.message}`);
      return 1;
    }
    if (stats.segmentsOut === 0) {
      err("error: no output came back from the stream");
      return 1;
    }
    return 0;
  } finally {
    process.off("SIGINT", onSigint);
    opts.signal?.removeEventListener("abort", onAbort);
    stop.abort();
    await session[Symbol.asyncDispose]();
    await out?.close().catch(() => {});
  }
}

function gatewayOption(): Option {
  return new Option("--gateway <url>", "the gateway's user API")
    .env("TRIBUTARY_GATEWAY")
    .default(DEFAULT_GATEWAY_URL);
}

/** Builds the `job` command (`job run`, `job live`). */
export function jobCommand(): Command {
  const job = new Command("job").description(
    "Send jobs through a gateway: a batch job (job run) or a live video stream (job live); or call a live " +
      "runner app on an orchestrator (job runner)",
  );
  job
    .command("run")
    .summary("run one batch job and print the answer")
    .description(
      "Run one batch job: POST <gateway>/<pipeline> and print the answer (JSON pretty-printed on a terminal, " +
        "as received otherwise; Server-Sent Events one data line each). Exits 1 with the gateway's error message on a 4xx/5xx.",
    )
    .argument("<pipeline>", "native AI pipeline (text-to-image, llm, …) or BYOC capability (text-reverse, …)")
    .addOption(gatewayOption())
    .option("--model <id>", "model id / capability, sent as X-Model-Id")
    .addOption(new Option("--json <json>", "JSON request body").argParser(parseJsonOption).conflicts("data"))
    .option("--data <body>", "request body: text, @file, or @- for standard input")
    .option(
      "--content-type <type>",
      "Content-Type of --data (default: JSON when it parses, else octet-stream)",
    )
    .option("-H, --header <name: value>", "extra request header (repeatable)", collectHeader)
    .option("--sse", "ask for Server-Sent Events (Accept: text/event-stream)")
    .addOption(
      new Option(
        "--timeout <seconds>",
        "job timeout the gateway gives the orchestrator (X-Timeout-Seconds)",
      ).argParser(parsePositive),
    )
    .option("-v, --verbose", "print status, orchestrator, balance and trace id on stderr")
    .addHelpText(
      "after",
      `
Examples:
  tributary job run text-reverse --json '{"text":"hello"}'
  tributary job run text-reverse --data @request.json --sse
  tributary job run text-to-image --model ByteDance/SDXL-Lightning --json '{"prompt":"a river"}' > out.json
  tributary job run text-reverse --gateway http://10.0.0.5:8937 --json '{"text":"abc"}' -v`,
    )
    .action(async (pipeline: string, opts: JobRunOptions) => {
      process.exitCode = await jobRun(pipeline, opts);
    });

  job
    .command("live")
    .summary("stream a video file or a test pattern through a live pipeline")
    .description(
      "Stream video through a live pipeline: the input (a file, or a generated test pattern) is cut into MPEG-TS " +
        "segments of about --segment, published at real time to the gateway, and the processed output is " +
        "written to --output. Shows a progress bar (plain lines when stderr is not a terminal) with fps, " +
        "latency, segments and the price paid.",
    )
    .addOption(gatewayOption())
    .requiredOption("--model <id>", "live model id, e.g. green-tint; or a BYOC capability name")
    .option(
      "--byoc",
      "a BYOC stream (POST /process/stream/start, --model is the capability); by default the gateway's " +
        "offers decide: BYOC when only byoc/<model> is offered",
    )
    .addOption(
      new Option("--input <file>", "video file to stream (H.264 is copied, other codecs encoded)").conflicts(
        "testsrc",
      ),
    )
    .option("--testsrc", "stream FFmpeg's testsrc2 pattern instead of a file (H.264)")
    .addOption(
      new Option("--size <WxH>", "test pattern size")
        .default({ width: 512, height: 512 }, "512x512")
        .argParser(parseSize),
    )
    .addOption(new Option("--fps <n>", "test pattern frame rate").default(24).argParser(parsePositive))
    .addOption(
      new Option(
        "--duration <d>",
        "stop after this much input (e.g. 10s, 1m; --testsrc default 10s, a file plays to its end)",
      ).argParser(parseDuration),
    )
    .addOption(
      new Option("--segment <d>", "input segment length")
        .default(1, "1s")
        .argParser((v) => parseDuration(v) / 1000),
    )
    .addOption(
      new Option("--params <json>", "pipeline params, e.g. '{\"green\":120}'").argParser(parseJsonObject),
    )
    .option("--output <file>", "write the output here: .ts as received, .mp4/.mkv remuxed at the end")
    .addHelpText(
      "after",
      `
Latency is measured on this side: from publishing the input segment that carried a frame to
receiving the output segment with it (the gateway's own figure is shown when the client cannot
match timestamps). fps is the output's frame rate (frames received per second of output media
time; frames the pipeline drops lower it), else the container's own figure from the gateway. The price paid is the gateway's count for this stream (0 offchain).
The output size is the pipeline's (the SDK's default is 512x512: pass --params
'{"width":1280,"height":720}' to keep a 720p input's size).

Examples:
  tributary job live --model green-tint --testsrc --duration 10s --output out.mp4
  tributary job live --model green-tint --input clip.mp4 --params '{"green":120}' --output tinted.mp4
  tributary job live --model green-tint --testsrc --size 1280x720 --fps 30 --duration 1m --output out.ts
  tributary job live --byoc --model my-filter --testsrc --duration 10s --output out.mp4`,
    )
    .action(async (opts: JobLiveOptions) => {
      process.exitCode = await jobLive(opts);
    });
  addRunnerCommand(job, parseJsonOption);
  return job;
}
