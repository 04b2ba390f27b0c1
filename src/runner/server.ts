/**
 * The runner's HTTP server (node:http, no framework): the container contract a BYOC orchestrator,
 * go-livepeer's AI worker or a pytrickle client expects (docs/spec/container-contract.md#documented-contract-versus-code to #how-the-orchestrator-reads-health).
 *
 * Routes (system routes are never prefixed; stream routes are served under both `/` and `/api`):
 *
 * | Route | Pipelines |
 * |---|---|
 * | `GET /health` → `{"status":"LOADING"\|"IDLE"\|"OK"\|"ERROR"}` | all |
 * | `GET /version`, `/app-version`, `/hardware/info`, `/hardware/stats` (pytrickle shapes), `/metrics` (Prometheus) | all |
 * | `POST /<name>` (and `/<name>/…`), `POST /run`, `POST /` → `run` (JSON / bytes / SSE) | batch |
 * | `POST [/api]/stream/start` (alias `POST /live-video-to-video`), `/stream/params` (alias `/stream/update`), `/stream/stop`; `GET [/api]/stream/status` | live |
 *
 * Stream routes answer in pytrickle's `{"status":"error","message":…}` shape with pytrickle's codes,
 * improved where pytrickle is wrong (docs/spec/upstream-quirks.md#pytrickle): a start while a stream runs answers **409** (pytrickle: 503)
 * and changes nothing; invalid params answer **400** (pytrickle: 500) and a failed update never sets
 * ERROR; a start while loading answers 503 at once (pytrickle first waits for the load to finish).
 * Other routes answer errors as `{"error":{"code","message"}}`.
 *
 * Live media: for a pipeline with a `video` or `audio` handler, a start with `subscribe_url` reads
 * MPEG-TS segments from it, decodes them (node-av), runs the handlers frame by frame, and encodes and
 * publishes the result to `publish_url`; for a pipeline without media handlers those URLs are ignored
 * (logged) and the stream runs its control, events and data channels.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { errorBody, httpStatusOf, TributaryError } from "../node/errors.ts";
import { DEFAULT_MAX_BODY_BYTES, readBody } from "../node/http/body.ts";
import { clientErrorListener, http1ServerOptions, resolveHttpLimits } from "../node/http/limits.ts";
import { closeServer, listen } from "../node/http/listen.ts";
import {
  MethodNotAllowedError,
  pathOf,
  type RouteGroup,
  type RouteHandler,
  Router,
} from "../node/http/router.ts";
import { pytrickleBody, sendError, sendJson } from "../node/http/send.ts";
import { SseWriter } from "../node/http/sse.ts";
import { type Logger, silentLogger } from "../node/logger.ts";
import type { NodeRequest, NodeResponse } from "../node/server.ts";
import type { ChannelFactory } from "./channels.ts";
import { type GpuProbe, gpuInfo, gpuStats, nvidiaSmiProbe } from "./hardware.ts";
import { RunnerHealth } from "./health.ts";
import {
  acceptsEventStream,
  bearerAuthorized,
  decodeBatchBody,
  isJsonType,
  mediaType,
  parseJson,
  SSE_DONE,
  sseError,
} from "./http.ts";
import { runnerMetrics } from "./metrics.ts";
import { validateStreamParams, validateStreamStart } from "./params.ts";
import type { BatchPipeline, LivePipeline, Pipeline } from "./pipeline.ts";
import { type SessionStats, StreamSession } from "./session.ts";
import { TrickleChannels } from "./trickle-channels.ts";
import { version as sdkVersion } from "./version.ts";

/** The port a container serves on: the BYOC container contract's (pytrickle's and ai-runner's 8000). */
export const DEFAULT_RUNNER_PORT = 8000;

/** Options of {@link startRunner}. */
export interface RunnerOptions {
  /** TCP port; default {@link DEFAULT_RUNNER_PORT}; 0 picks a free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1 (use 0.0.0.0 in a container). */
  host?: string;
  /** When set, every route requires `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** Aborting it closes the runner. */
  signal?: AbortSignal;
  logger?: Logger;
  /** Opens a live stream's channels; default {@link TrickleChannels} (real trickle, self-signed TLS accepted). */
  channels?: ChannelFactory;
  /** Largest accepted request body in bytes (413 above); default 10 MiB. */
  maxBodyBytes?: number;
  /** `pipeline` of `/version` and `/hardware/*`; default the pipeline's name (`tributary serve`: env `PIPELINE`, see env.ts). */
  pipelineName?: string;
  /** `model_id` of `/version` and `/hardware/*`; default "" (`tributary serve`: env `CAPABILITY_NAME`, then `MODEL_ID`). */
  modelId?: string;
  /** `/app-version` answer; default "0.0.1" (pytrickle's default). */
  appVersion?: string;
  /** Reads the GPUs for `/hardware/*`; default `nvidia-smi` (empty maps on CPU-only machines). */
  gpuProbe?: GpuProbe;
  /** Session timers, for tests. */
  session?: { heartbeatIntervalMs?: number; dataIntervalMs?: number; dataKeepaliveMs?: number };
}

/** A running runner. */
export interface RunningRunner extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  /** The health state (read it; tests may also drive it). */
  readonly health: RunnerHealth;
  /** Resolves when `load` has finished (successfully or not). */
  readonly loaded: Promise<void>;
  /** The running stream, if any. */
  readonly session: StreamSession | undefined;
  /** Batch counters: requests handled and requests whose `run` threw (or whose stream failed). */
  readonly stats: { batchRequests: number; batchErrors: number };
  /** Stops the stream, closes the server and every connection. Idempotent. */
  close(): Promise<void>;
}

type Family = "system" | "stream" | "batch";

/** The pytrickle-shaped error body of stream routes. */
const streamError = pytrickleBody;

/** A refused upload is read to its end (at most 5 s) before the 413, so a piping orchestrator reads it. */
const DRAIN = { tooLarge: "drain" } as const;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}

const STREAM_PREFIXES = ["", "/api"];

/**
 * Serves `pipeline` over HTTP and starts its `load` in the background (`/health` LOADING → IDLE, or
 * ERROR if `load` throws). Resolves once the port is listening.
 */
export async function startRunner(pipeline: Pipeline, options: RunnerOptions = {}): Promise<RunningRunner> {
  const log = (options.logger ?? silentLogger()).child({ pipeline: pipeline.name });
  const health = new RunnerHealth();
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const pipelineName = options.pipelineName ?? pipeline.name;
  const modelId = options.modelId ?? "";
  const closing = new AbortController();
  let session: StreamSession | undefined;
  let starting = false;
  const stats = { batchRequests: 0, batchErrors: 0 };
  const ended: SessionStats = {
    userErrors: 0,
    controlMessages: 0,
    eventsSent: 0,
    eventErrors: 0,
    dataItemsSent: 0,
    dataItemsDropped: 0,
  };
  const sessionTotals = (): SessionStats => {
    const out = { ...ended };
    if (session) for (const k of Object.keys(out) as (keyof SessionStats)[]) out[k] += session.stats[k];
    return out;
  };
  const channels = options.channels ?? new TrickleChannels({ logger: log });

  const loaded = (async () => {
    try {
      await pipeline.load?.({ signal: closing.signal });
      health.setStartupComplete();
      log.info("pipeline loaded");
    } catch (err) {
      health.setError(`Model loading failed: ${messageOf(err)}`);
      log.error({ err }, "pipeline load failed");
    }
  })();

  const live = pipeline.kind === "live" ? pipeline : undefined;
  const batch = pipeline.kind === "batch" ? pipeline : undefined;

  // Each family answers its errors in its own shape: stream routes in pytrickle's, the others in
  // our envelope. A wrong or missing token is refused before routing (401, also on unknown paths).
  const unauthorized = "missing or wrong bearer token; send Authorization: Bearer <token>";
  const router = new Router({
    formatError: (res, err, req) => answerError("system", res, err, req),
    onRequest: (req, res) => {
      if (bearerAuthorized(req.headers.authorization, options.token)) return;
      req.resume();
      res.setHeader("WWW-Authenticate", "Bearer");
      throw new TributaryError("UNAUTHORIZED", unauthorized, { status: 401 });
    },
    onError: (err, req) => {
      if (httpStatusOf(err) >= 500) log.error({ err, path: pathOf(req.url) }, "request failed");
    },
    notFound: (req, res, match) => {
      req.resume();
      sendJson(res, 404, { error: { code: "NOT_FOUND", message: `no route ${req.method} ${match.path}` } });
    },
  });
  const groups = {
    system: router.group({ name: "system" }),
    stream: router.group({
      name: "stream",
      formatError: (res, err, req) => answerError("stream", res, err, req),
    }),
    batch: router.group({ name: "batch" }),
  } satisfies Record<Family, RouteGroup>;
  type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;
  // A GET route answers HEAD too.
  const add = (path: string, family: Family, method: "GET" | "POST", h: Handler, prefix = false) => {
    const handler: RouteHandler = (req, res) => h(req as IncomingMessage, res as ServerResponse);
    const methods = method === "GET" ? ["GET", "HEAD"] : [method];
    if (prefix) groups[family].prefix(path, handler, { methods });
    else groups[family].route(path, handler, { methods });
  };

  // System routes.
  add("/health", "system", "GET", (_req, res) => sendJson(res, 200, { status: health.status }));
  add("/version", "system", "GET", (_req, res) =>
    sendJson(res, 200, { pipeline: pipelineName, model_id: modelId, version: sdkVersion }),
  );
  add("/app-version", "system", "GET", (_req, res) =>
    sendJson(res, 200, { version: options.appVersion ?? "0.0.1" }),
  );
  // pytrickle's shapes; empty GPU maps on CPU-only machines (what pytrickle answers without NVML).
  const probe = options.gpuProbe ?? nvidiaSmiProbe;
  add("/hardware/info", "system", "GET", async (_req, res) =>
    sendJson(res, 200, { pipeline: pipelineName, model_id: modelId, gpu_info: gpuInfo(await probe()) }),
  );
  add("/hardware/stats", "system", "GET", async (_req, res) =>
    sendJson(res, 200, { pipeline: pipelineName, model_id: modelId, gpu_stats: gpuStats(await probe()) }),
  );

  const metrics = runnerMetrics({
    health,
    batch: stats,
    sessions: sessionTotals,
    labels: { pipeline: pipelineName, model_id: modelId },
  });
  add("/metrics", "system", "GET", async (_req, res) => {
    const text = await metrics.metrics();
    res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(text) });
    res.end(text);
  });

  // Stream routes.
  const noStreams = (_req: IncomingMessage, res: ServerResponse) =>
    sendJson(
      res,
      404,
      streamError(
        `This runner serves the batch pipeline "${pipeline.name}"; it has no real-time stream routes`,
      ),
    );
  const handleStart = live
    ? (req: IncomingMessage, res: ServerResponse) => startStream(live, req, res)
    : noStreams;
  for (const p of STREAM_PREFIXES) {
    add(`${p}/stream/start`, "stream", "POST", handleStart);
    add(`${p}/stream/params`, "stream", "POST", live ? updateParams : noStreams);
    add(`${p}/stream/update`, "stream", "POST", live ? updateParams : noStreams);
    add(`${p}/stream/stop`, "stream", "POST", live ? stopStream : noStreams);
    add(`${p}/stream/status`, "stream", "GET", live ? streamStatus : noStreams);
  }
  add("/live-video-to-video", "stream", "POST", handleStart);
  add("/live-video-to-video/", "stream", "POST", handleStart);

  // Batch routes.
  if (batch) {
    const run: Handler = (req, res) => runBatch(batch, req, res);
    for (const path of [`/${batch.name}`, "/run", "/"]) add(path, "batch", "POST", run);
    // BYOC forwards /process/request/<route> as POST {url}/<route>; sub-paths of the name reach `run` too.
    add(`/${batch.name}/`, "batch", "POST", run, true);
  }

  async function readJsonStreamBody(req: IncomingMessage): Promise<unknown> {
    const ct = req.headers["content-type"];
    if (!isJsonType(ct)) {
      // drain, so the connection stays usable
      await readBody(req, maxBody, DRAIN);
      throw new TributaryError(
        "UNSUPPORTED_CONTENT_TYPE",
        `Unknown content type: ${mediaType(ct) || "(none)"}`,
        {
          status: 400,
        },
      );
    }
    return parseJson(await readBody(req, maxBody, DRAIN));
  }

  async function startStream(pl: LivePipeline, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const state = () => health.pipelineState();
    if (!health.ready) {
      await readBody(req, maxBody, DRAIN).catch(() => {});
      const message =
        health.status === "ERROR"
          ? `Pipeline is in ERROR state: ${health.errorMessage}`
          : "Pipeline is still initializing. Please wait for IDLE status.";
      sendJson(res, 503, streamError(message, { current_state: state() }));
      return;
    }
    let request: ReturnType<typeof validateStreamStart>;
    try {
      request = validateStreamStart(await readJsonStreamBody(req));
    } catch (err) {
      const status = httpStatusOf(err) === 413 ? 413 : 400;
      sendJson(
        res,
        status,
        streamError(`Error starting stream: ${messageOf(err)}`, { current_state: state() }),
      );
      return;
    }
    if (session || starting) {
      sendJson(res, 409, streamError("Pipeline is still in use", { current_state: state() }));
      return;
    }
    const media = request.subscribe_url !== undefined || request.publish_url !== undefined;
    if (media && !pl.handlesMedia)
      log.warn("pipeline has no video/audio handler: subscribe_url/publish_url ignored (data-only stream)");
    starting = true;
    try {
      const s = await StreamSession.start({
        pipeline: pl,
        request,
        channels,
        logger: log,
        ...options.session,
        onStopped: (stopped) => {
          for (const k of Object.keys(ended) as (keyof SessionStats)[]) ended[k] += stopped.stats[k];
          if (session === stopped) {
            session = undefined;
            health.setActiveStreams(0);
          }
        },
      });
      session = s;
      health.setActiveStreams(1);
    } catch (err) {
      sendJson(
        res,
        httpStatusOf(err) === 500 ? 500 : 400,
        streamError(`Error starting stream: ${messageOf(err)}`, { current_state: state() }),
      );
      return;
    } finally {
      starting = false;
    }
    log.info({ stream_id: request.gateway_request_id }, "stream started");
    sendJson(res, 200, {
      status: "success",
      message: "Stream started successfully",
      request_id: request.gateway_request_id,
      current_state: state(),
    });
  }

  async function updateParams(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let params: Record<string, unknown>;
    try {
      params = validateStreamParams(await readJsonStreamBody(req));
    } catch (err) {
      const status = httpStatusOf(err) === 413 ? 413 : 400;
      sendJson(res, status, streamError(`Parameter update failed: ${messageOf(err)}`));
      return;
    }
    const s = session;
    if (!s) {
      sendJson(res, 400, streamError("No active stream to update"));
      return;
    }
    try {
      await s.updateParams(params, "http");
    } catch (err) {
      sendJson(res, 400, streamError(`Parameter update failed: ${messageOf(err)}`));
      return;
    }
    sendJson(res, 200, { status: "success", message: "Parameters updated successfully" });
  }

  async function stopStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The body is free text (a reason) or empty; read it (bounded) and ignore it.
    await readBody(req, maxBody, DRAIN).catch(() => {});
    const s = session;
    if (!s) {
      sendJson(res, 400, streamError("No active stream to stop"));
      return;
    }
    await s.stop();
    sendJson(res, 200, { status: "success", message: "Stream stopped successfully" });
  }

  function streamStatus(_req: IncomingMessage, res: ServerResponse): void {
    const s = session;
    const body: Record<string, unknown> = { ...health.pipelineState(), client_active: s !== undefined };
    if (s) {
      body.client_running = s.running;
      body.fps = s.fps();
      body.current_params = {
        subscribe_url: s.request.subscribe_url ?? null,
        publish_url: s.request.publish_url ?? null,
        gateway_request_id: s.streamId,
      };
      body.additional_info = { stats: { ...s.stats }, params: s.params };
    }
    sendJson(res, 200, body);
  }

  async function runBatch(
    pl: BatchPipeline<never>,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (!health.ready) {
      await readBody(req, maxBody, DRAIN).catch(() => {});
      const loading = health.status !== "ERROR";
      sendJson(res, 503, {
        error: {
          code: loading ? "PIPELINE_LOADING" : "PIPELINE_ERROR",
          message: loading
            ? "the pipeline is still loading; retry when GET /health answers IDLE"
            : `the pipeline failed: ${health.errorMessage}`,
        },
      });
      return;
    }
    const input = await decodeBatchBody(req.headers["content-type"], await readBody(req, maxBody, DRAIN));
    const done = health.enterRequest();
    stats.batchRequests++;
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on("close", onClose);
    const onClosing = () => abort.abort();
    closing.signal.addEventListener("abort", onClosing, { once: true });
    try {
      const out = await pl.run(input as never, {
        path: (req.url ?? "/").split("?", 1)[0]!,
        headers: req.headers,
        contentType: req.headers["content-type"] ?? "",
        signal: abort.signal,
      });
      const wantsSse = acceptsEventStream(req.headers.accept);
      if (out instanceof Response) await sendResponse(res, out);
      else if (out instanceof Uint8Array || out instanceof ArrayBuffer) {
        const bytes = out instanceof ArrayBuffer ? new Uint8Array(out) : out;
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": bytes.byteLength,
        });
        res.end(bytes);
      } else if (isAsyncIterable(out)) {
        await sendSse(res, out, abort.signal);
      } else if (wantsSse) {
        await sendSse(res, single(out), abort.signal);
      } else if (out === undefined) {
        res.writeHead(204).end();
      } else {
        sendJson(res, 200, out);
      }
    } catch (err) {
      stats.batchErrors++;
      if (!(err instanceof TributaryError)) log.warn({ err }, "batch run failed");
      sendError(res, err);
    } finally {
      done();
      res.off("close", onClose);
      closing.signal.removeEventListener("abort", onClosing);
    }
  }

  async function* single(value: unknown): AsyncGenerator<unknown> {
    yield value;
  }

  async function sendResponse(res: ServerResponse, out: Response): Promise<void> {
    const headers: Record<string, string> = {};
    out.headers.forEach((v, k) => {
      headers[k] = v;
    });
    res.writeHead(out.status, headers);
    if (!out.body) {
      res.end();
      return;
    }
    const body = Readable.fromWeb(out.body as import("node:stream/web").ReadableStream<Uint8Array>);
    body.on("error", () => res.destroy());
    body.pipe(res);
    await once(res, "close");
  }

  async function sendSse(
    res: ServerResponse,
    items: AsyncIterable<unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const sse = new SseWriter(res);
    const it = items[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (signal.aborted) break;
        const { value, done } = await it.next();
        if (done) break;
        if (value === undefined) continue;
        if (!sse.json(value)) await sse.drained();
      }
      if (!signal.aborted) sse.write(SSE_DONE);
    } catch (err) {
      stats.batchErrors++;
      log.warn({ err }, "batch stream failed");
      sse.write(sseError(errorBody(err)));
    } finally {
      if (signal.aborted) await it.return?.().catch(() => {});
      sse.end();
    }
  }

  /** Answers an error in the family's shape; a 405 names the method, the path and what to use. */
  function answerError(family: Family, res: NodeResponse, err: unknown, req: NodeRequest): void {
    let e = err;
    if (err instanceof MethodNotAllowedError) {
      req.resume();
      const allow = err.allow.filter((m) => m !== "HEAD").join(", ");
      res.setHeader("Allow", allow);
      e = new TributaryError(
        "METHOD_NOT_ALLOWED",
        `method ${req.method} not allowed on ${pathOf(req.url)}; use ${allow}`,
        { status: 405 },
      );
    }
    if (family === "stream") sendJson(res, httpStatusOf(e), streamError(messageOf(e)));
    else sendJson(res, httpStatusOf(e), errorBody(e));
  }

  // Heads up to 1 MiB (a BYOC job's `Livepeer` header can be large), 30 s to send them, no
  // whole-request timeout (long uploads and SSE answers).
  const limits = resolveHttpLimits();
  const server: Server = createServer(http1ServerOptions(limits), router.handle);
  server.on("clientError", clientErrorListener(limits));
  const port = options.port ?? DEFAULT_RUNNER_PORT;
  const bindHost = options.host ?? "127.0.0.1";
  try {
    await listen(server, bindHost, port);
  } catch (err) {
    closing.abort();
    await loaded;
    const code = (err as NodeJS.ErrnoException).code;
    throw new TributaryError(
      code === "EADDRINUSE" ? "PORT_IN_USE" : "LISTEN_FAILED",
      code === "EADDRINUSE"
        ? `port ${port} on ${bindHost} is already in use; pick another with --port`
        : `cannot listen on ${bindHost}:${port}: ${messageOf(err)}`,
      { cause: err },
    );
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log.info({ port: addr.port }, "runner listening");

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing.abort();
      options.signal?.removeEventListener("abort", onAbort);
      await session?.stop();
      // Answers in flight get a second; then every connection left is dropped.
      await closeServer(server, { graceMs: 1000 });
      await loaded;
    })();
    return closed;
  };
  const onAbort = () => void close();
  if (options.signal?.aborted) await close();
  else options.signal?.addEventListener("abort", onAbort, { once: true });

  return {
    url,
    health,
    loaded,
    stats,
    get session() {
      return session;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
