/**
 * The live gateway's HTTP routes, each a handler over the {@link LiveContext}:
 *
 * | route | handler |
 * |---|---|
 * | `POST /live/video-to-video` | {@link startLiveRoute} |
 * | `POST /process/stream/start` | {@link startByocRoute} |
 * | `…/<id>/status` | {@link statusRoute} |
 * | `…/<id>/update` | {@link updateRoute} |
 * | `…/<id>/stop` | {@link stopRoute} |
 * | `GET /process/stream/<id>/data` | {@link dataEventsRoute} |
 * | `/live/video-to-video/<stream>/whip`, `…/<id>-out/whep` | {@link webrtcRoute} (WHIP ingest, WHEP playback) |
 * | `/live/trickle/…` | the gateway's trickle server |
 *
 * Every route about one stream needs its control key as `?key=` ({@link controlled}); a missing or
 * wrong key answers 404 as an unknown id. {@link handleLiveRequest} dispatches.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { BadRequestError, NotFoundError, TributaryError } from "../../node/errors.ts";
import { SseWriter, sendJson } from "../../node/http/index.ts";
import { parseJobHeader } from "../../protocol/job-header.ts";
import { decodePathSegment } from "../../protocol/uri.ts";
import { type LocalSegment, LocalSubscriber, TrickleSegmentNotFoundError } from "../../trickle/index.ts";
import { headerValue } from "../orch-http.ts";
import { readBody, readJsonObject as readJson } from "../read-body.ts";
import { patchRoute, TRICKLE_ICE_TYPE } from "../webrtc/trickle-ice.ts";
import { endWhepViewer, startWhep, type WhepOptions, whepSession } from "../webrtc/whep.ts";
import { startWhip, whipInto, whipSession } from "../webrtc/whip.ts";
import { BYOC_BODY_LIMIT, LIVE_TRICKLE_BASE, type LiveContext } from "./context.ts";
import { stopByocOn, updateByocOn } from "./orchestrator-api.ts";
import { endedError, type LiveStream, serving, statusOf } from "./stream.ts";

/** Stream ids usable as trickle channel names. */
const STREAM_ID = /^[A-Za-z0-9_.-]{1,128}$/;
/** Body limit of native live starts and updates. */
const JSON_BODY_LIMIT = 1024 * 1024;

/** A route about one stream, after its key was checked. */
export type StreamHandler = (
  ctx: LiveContext,
  req: IncomingMessage,
  res: ServerResponse,
  s: LiveStream,
) => Promise<void>;

// The gateway's own body limit answer (../read-body.ts) and 405 text ("use POST") are kept as the
// rest of the gateway answers them; JSON and SSE answers use the shared toolkit (src/node/http/).
function readJsonObject(req: IncomingMessage, limit = JSON_BODY_LIMIT): Promise<Record<string, unknown>> {
  return readJson(req, limit);
}

/** `params` of a start: a JSON object, or a string holding one (go-livepeer's `StartRequest.params`). */
export function paramsOf(value: unknown): Record<string, unknown> {
  let params: unknown = value ?? {};
  if (typeof value === "string") {
    try {
      params = value === "" ? {} : (JSON.parse(value) as unknown);
    } catch {
      params = undefined;
    }
  }
  if (typeof params !== "object" || params === null || Array.isArray(params))
    throw new BadRequestError("invalid model params: params must be a JSON object", { code: "BAD_PARAMS" });
  return params as Record<string, unknown>;
}

function methodNotAllowed(allow: string): TributaryError {
  return new TributaryError("METHOD_NOT_ALLOWED", `use ${allow}`, { status: 405 });
}

/** The URL of one of `s`'s routes under `base`, carrying its control key. */
export const routeUrl =
  (s: LiveStream, base: string) =>
  (route: string): string =>
    `${base}/${encodeURIComponent(s.id)}/${route}?key=${s.key}`;

/** `POST /live/video-to-video` `{model_id, params?, stream_id?}`: a native live stream. */
export async function startLiveRoute(
  ctx: LiveContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const body = await readJsonObject(req);
  const modelId =
    typeof body.model_id === "string" && body.model_id !== ""
      ? body.model_id
      : headerValue(req.headers, "x-model-id");
  if (!modelId)
    throw new BadRequestError("give model_id (the live pipeline, e.g. noop or comfyui)", {
      code: "MODEL_ID_REQUIRED",
    });
  const params = paramsOf(body.params);
  const id =
    typeof body.stream_id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(body.stream_id)
      ? body.stream_id
      : crypto.randomUUID().replaceAll("-", "");
  const s = await ctx.open(
    req,
    { id, kind: "live", modelId, params },
    { input: true, output: true, data: false },
  );
  const base = ctx.options.baseUrl();
  const route = routeUrl(s, `${base}/live/video-to-video`);
  s.whepUrl = whepUrlOf(s, base);
  sendJson(res, 200, {
    stream_id: id,
    publish_url: `${base}${LIVE_TRICKLE_BASE}${s.channel}-in`,
    subscribe_url: `${base}${LIVE_TRICKLE_BASE}${s.channel}-out`,
    update_url: route("update"),
    status_url: route("status"),
    stop_url: route("stop"),
    whep_url: s.whepUrl,
    orchestrator: s.orchestrator,
  });
}

/** The WHEP playback URL of a native live stream's output (go-livepeer's `<stream>-out/whep`, plus the key). */
export function whepUrlOf(s: LiveStream, base: string): string {
  return `${base}/live/video-to-video/${encodeURIComponent(s.id)}-out/whep?key=${s.key}`;
}

/** Largest SDP offer a WHIP or WHEP POST may send. */
const SDP_BODY_LIMIT = 64 * 1024;

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "POST, PATCH, DELETE, OPTIONS",
  "access-control-allow-headers": "content-type, authorization, if-match",
  "access-control-expose-headers": "location, livepeer-playback-url, etag, accept-patch",
};

/** What WHIP/WHEP `OPTIONS` answers (RFC 9725: the offer's and the trickle ICE PATCH's media types). */
const WEBRTC_OPTIONS = { ...CORS, "accept-post": "application/sdp", "accept-patch": TRICKLE_ICE_TYPE };

async function readSdp(req: IncomingMessage): Promise<string> {
  const type = (headerValue(req.headers, "content-type") ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/sdp") {
    req.resume();
    throw new TributaryError(
      "UNSUPPORTED_MEDIA_TYPE",
      "send the SDP offer with Content-Type: application/sdp",
      {
        status: 415,
      },
    );
  }
  return (await readBody(req, SDP_BODY_LIMIT)).toString("utf8");
}

function sendSdp(res: ServerResponse, sdp: string, headers: Record<string, string>): void {
  res.writeHead(201, { ...CORS, "content-type": "application/sdp", ...headers });
  res.end(sdp);
}

/**
 * WHIP (RFC 9725) and WHEP at go-livepeer's routes. `POST /live/video-to-video/<stream>/whip`
 * (`Content-Type: application/sdp`, else 415; query `pipeline` = model id, `params` = JSON,
 * `streamId`) starts a native live stream fed by the publisher and answers 201 with the SDP, a
 * `Location` (DELETE it to end the stream) and the WHEP URL in `Livepeer-Playback-URL`.
 * `POST …/<id>-out/whep?key=` answers a viewer of the output (at most `--max-whep-viewers`, else 503)
 * with its own `Location` (`…&viewer=<id>`), whose `DELETE` ends that viewer. `OPTIONS` answers CORS.
 */
export async function webrtcRoute(
  ctx: LiveContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  kind: "whip" | "whep",
): Promise<void> {
  if (req.method === "OPTIONS") {
    req.resume();
    res.writeHead(204, WEBRTC_OPTIONS);
    return void res.end();
  }
  const base = ctx.options.baseUrl();
  const iceServers = ctx.options.iceServers ?? [];
  if (kind === "whep") {
    if (req.method !== "POST" && req.method !== "DELETE" && req.method !== "PATCH")
      throw methodNotAllowed("POST, PATCH, DELETE or OPTIONS");
    const id = name.endsWith("-out") ? name.slice(0, -4) : name;
    const s = controlled(ctx, req, id);
    if (req.method === "DELETE") return deleteWhepViewer(req, res, s);
    if (req.method === "PATCH") return patchRoute(req, res, whepSession(s, viewerOf(req)), CORS);
    if (s.state === "ended" || s.state === "stopped") {
      req.resume();
      throw endedError(s);
    }
    const v = await startWhep(ctx, s, await readSdp(req), whepOptions(ctx));
    return sendSdp(res, v.answer, { location: `${whepUrlOf(s, base)}&viewer=${v.id}`, etag: v.etag });
  }
  if (req.method === "DELETE") {
    req.resume();
    ctx.stop(controlled(ctx, req, name));
    res.writeHead(200, CORS);
    return void res.end();
  }
  if (req.method === "PATCH") return patchRoute(req, res, whipSession(controlled(ctx, req, name)), CORS);
  if (req.method !== "POST") throw methodNotAllowed("POST, PATCH, DELETE or OPTIONS");
  const q = new URL(req.url ?? "/", "http://x").searchParams;
  const modelId = q.get("pipeline") || headerValue(req.headers, "x-model-id") || "";
  if (modelId === "") {
    req.resume();
    throw new BadRequestError("give ?pipeline= (the live pipeline, e.g. noop or comfyui)", {
      code: "MODEL_ID_REQUIRED",
    });
  }
  const params = paramsOf(q.get("params") ?? undefined);
  const id = q.get("streamId") || name;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    req.resume();
    throw new BadRequestError("the stream name and streamId may hold only letters, digits, '_' and '-'", {
      code: "BAD_STREAM",
    });
  }
  const offer = await readSdp(req);
  const {
    stream: s,
    answer,
    etag,
  } = await startWhip(ctx, req, { id, kind: "live", modelId, params }, offer, {
    iceServers,
    silentMs: ctx.options.whipSilenceTimeoutMs,
  });
  s.whepUrl = whepUrlOf(s, base);
  sendSdp(res, answer, {
    location: `${base}/live/video-to-video/${encodeURIComponent(s.id)}/whip?key=${s.key}`,
    "livepeer-playback-url": s.whepUrl,
    etag,
  });
}

function whepOptions(ctx: LiveContext): WhepOptions {
  return { iceServers: ctx.options.iceServers ?? [], maxViewers: ctx.options.maxWhepViewers };
}

/** The viewer id of a WHEP resource URL (`…&viewer=<id>`). */
function viewerOf(req: IncomingMessage): string {
  return new URL(req.url ?? "/", "http://x").searchParams.get("viewer") ?? "";
}

/** WHEP `DELETE` on a viewer's resource URL (the 201's `Location`, `…&viewer=<id>`): ends that viewer. */
function deleteWhepViewer(req: IncomingMessage, res: ServerResponse, s: LiveStream): void {
  req.resume();
  if (!endWhepViewer(s, viewerOf(req)))
    throw new NotFoundError("no such WHEP viewer: DELETE the Location the WHEP answer gave", {
      code: "WHEP_VIEWER_NOT_FOUND",
    });
  res.writeHead(200, CORS);
  res.end();
}

/**
 * `/process/stream/<id>/whip?key=` and `…/whep?key=` of a BYOC stream (answered as `whip_url` /
 * `whep_url` by its start when it has video ingress / egress): `POST` an SDP offer to publish its
 * input or play its output; `DELETE` on the WHIP URL stops the stream, on a WHEP `Location` ends that viewer.
 */
async function byocWebrtcRoute(
  ctx: LiveContext,
  req: IncomingMessage,
  res: ServerResponse,
  s: LiveStream,
  kind: "whip" | "whep",
): Promise<void> {
  const iceServers = ctx.options.iceServers ?? [];
  const here = routeUrl(s, `${ctx.options.baseUrl()}/process/stream`)(kind);
  if (kind === "whip" && req.method === "DELETE") {
    req.resume();
    ctx.stop(s);
    res.writeHead(200, CORS);
    return void res.end();
  }
  if (kind === "whep" && req.method === "DELETE") return deleteWhepViewer(req, res, s);
  if (req.method === "PATCH")
    return patchRoute(req, res, kind === "whip" ? whipSession(s) : whepSession(s, viewerOf(req)), CORS);
  if (req.method !== "POST") throw methodNotAllowed("POST, PATCH, DELETE or OPTIONS");
  if (s.state === "ended" || s.state === "stopped") {
    req.resume();
    throw endedError(s);
  }
  const offer = await readSdp(req);
  if (kind === "whep") {
    const v = await startWhep(ctx, s, offer, whepOptions(ctx));
    return sendSdp(res, v.answer, { location: `${here}&viewer=${v.id}`, etag: v.etag });
  }
  const { answer, etag } = await whipInto(ctx, s, offer, {
    iceServers,
    silentMs: ctx.options.whipSilenceTimeoutMs,
  });
  sendSdp(res, answer, {
    location: here,
    etag,
    ...(s.whepUrl ? { "livepeer-playback-url": s.whepUrl } : {}),
  });
}

/** `POST /process/stream/start`: a BYOC stream (client `Livepeer` header, go-livepeer's `StartRequest` body). */
export async function startByocRoute(
  ctx: LiveContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const job = parseJobHeader(headerValue(req.headers, "livepeer"), { client: true });
  const body = await readJsonObject(req, BYOC_BODY_LIMIT);
  const params = paramsOf(body.params);
  const given = typeof body.stream_id === "string" ? body.stream_id : "";
  const name = typeof body.stream_name === "string" ? body.stream_name : "";
  if (name.endsWith("-out"))
    throw new BadRequestError("stream_name must not end in -out (kept for outputs)", {
      code: "BAD_STREAM",
    });
  let id = given || crypto.randomUUID().replaceAll("-", "");
  if (name !== "") id = `${name}-${id}`;
  if (!STREAM_ID.test(id))
    throw new BadRequestError("stream_id and stream_name may hold only letters, digits, '.', '_' and '-'", {
      code: "BAD_STREAM",
    });
  const s = await ctx.open(
    req,
    { id, kind: "byoc", modelId: job.capability, params, job },
    {
      input: job.params.enableVideoIngress,
      output: job.params.enableVideoEgress,
      data: job.params.enableDataOutput,
    },
  );
  const base = ctx.options.baseUrl();
  const route = routeUrl(s, `${base}/process/stream`);
  if (s.output) s.whepUrl = route("whep");
  sendJson(res, 200, {
    stream_id: id,
    whip_url: s.input ? route("whip") : "",
    whep_url: s.whepUrl ?? "",
    rtmp_url: "",
    rtmp_output_url: "",
    update_url: route("update"),
    status_url: route("status"),
    data_url: s.data ? route("data") : "",
    stop_url: route("stop"),
    publish_url: s.input ? `${base}${LIVE_TRICKLE_BASE}${s.channel}-in` : "",
    subscribe_url: s.output ? `${base}${LIVE_TRICKLE_BASE}${s.channel}-out` : "",
    orchestrator: s.orchestrator,
  });
}

/**
 * The one check of every route about a stream: the stream `id` if the request's `?key=` is its
 * control key. A wrong or missing key answers exactly as an unknown id (404), so ids confirm nothing.
 */
export function controlled(ctx: LiveContext, req: IncomingMessage, id: string): LiveStream {
  const s = ctx.streams.get(id);
  const given = Buffer.from(new URL(req.url ?? "/", "http://x").searchParams.get("key") ?? "");
  const key = Buffer.from(s?.key ?? "");
  if (s === undefined || given.length !== key.length || !timingSafeEqual(given, key))
    throw new NotFoundError(`unknown stream ${id}: use the URLs the start answered (they carry its key)`);
  return s;
}

/**
 * The status JSON in go-livepeer's shape: the container's last status event (`{"type":"status",…}`)
 * as the base, then our fields (`stream_id`, `state`, counters …), then the keys go-livepeer's gateway
 * sets: `orchestrator` (its URL, "" before one is chosen), `whep_url` (WHEP playback, also as `gateway_status.whep_url`),
 * `ingest_metrics` (`{"stats": …}` of the input) and, once the stream failed, `error`
 * (`{error_message, error_time}`).
 */
export function streamStatus(s: LiveStream): Record<string, unknown> {
  const { error: _ours, ...ours } = statusOf(s);
  return {
    ...s.runnerStatus,
    ...ours,
    orchestrator: s.orchestrator ?? "",
    whep_url: s.whepUrl ?? "",
    gateway_status: { whep_url: s.whepUrl ?? "" },
    ingest_metrics: {
      stats: { segments_in: s.stats.segmentsIn, bytes_in: s.stats.bytesIn, uptime_ms: ours.uptime_ms },
    },
    ...(s.error ? { error: { error_message: s.error, error_time: s.errorAt ?? null } } : {}),
  };
}

/** `…/<id>/status`: the status JSON ({@link streamStatus}). */
export const statusRoute: StreamHandler = async (_ctx, _req, res, s) => sendJson(res, 200, streamStatus(s));

/**
 * `POST …/<id>/update`. Native live: the JSON params are written to the orchestrator's control
 * channel. BYOC: the body goes to `/ai/stream/update` (as go-livepeer, not the control channel) and
 * the orchestrator's answer comes back. Either way a JSON object is replayed on a move.
 */
export const updateRoute: StreamHandler = async (ctx, req, res, s) => {
  if (req.method !== "POST") throw methodNotAllowed("POST");
  if (s.state === "ended") {
    req.resume();
    throw endedError(s);
  }
  if (s.kind === "live") {
    const update = await readJsonObject(req);
    const params = (
      typeof update.params === "object" && update.params !== null ? update.params : update
    ) as Record<string, unknown>;
    s.params = params; // replayed on the next orchestrator's start after a move
    if (s.control === undefined)
      throw new TributaryError("NOT_READY", "the stream has no control channel yet; retry", {
        status: 503,
      });
    await s.control.write(Buffer.from(JSON.stringify(params)));
    return sendJson(res, 200, { stream_id: s.id, params });
  }
  const body = await readBody(req, BYOC_BODY_LIMIT);
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) s.params = v as Record<string, unknown>;
  } catch {} // the container decides what an update is; only JSON objects are replayed on a move
  const d = serving(s);
  const up = await updateByocOn(ctx.options, s, d, body, headerValue(req.headers, "content-type"));
  res.writeHead(up.status, { "content-type": up.type ?? "text/plain" });
  res.end(up.text);
};

/**
 * `POST …/<id>/stop`: stops the stream here and, for a running BYOC stream, on the orchestrator
 * (body passed on); answers the orchestrator's (the container's) stop answer as go-livepeer, else
 * the final status.
 */
export const stopRoute: StreamHandler = async (ctx, req, res, s) => {
  if (req.method !== "POST") throw methodNotAllowed("POST");
  const body = await readBody(req, BYOC_BODY_LIMIT);
  const d = s.kind === "byoc" && s.state === "running" && s.orchestrator ? serving(s) : undefined;
  ctx.stop(s);
  if (d === undefined) return sendJson(res, 200, streamStatus(s));
  const answer = await stopByocOn(ctx.options, s, d, body).catch((err: unknown) => {
    s.log.warn({ stream_id: s.id, err }, "stop on the orchestrator failed");
    return undefined;
  });
  if (answer === undefined || answer.status >= 400) return sendJson(res, 200, streamStatus(s));
  res.writeHead(200, answer.type ? { "content-type": answer.type } : {});
  res.end(answer.text);
};

/** `GET /process/stream/<id>/data`: the data channel as server-sent events, as go-livepeer. */
export const dataEventsRoute: StreamHandler = async (ctx, req, res, s) => {
  if (req.method !== "GET") throw methodNotAllowed("GET");
  if (s.data === undefined)
    throw new TributaryError("NO_DATA", "stream data not available: start it with enable_data_output", {
      status: 503,
    });
  const sse = new SseWriter(res);
  const sub = new LocalSubscriber(ctx.trickle, `${s.channel}-data`, {
    start: 0,
    signal: AbortSignal.any([sse.signal, s.stopped.signal]),
  });
  try {
    while (!sse.closed) {
      let seg: LocalSegment;
      try {
        seg = sub.read();
      } catch (err) {
        if (err instanceof TrickleSegmentNotFoundError) {
          sub.setSeq(-1);
          await sleep(50);
          continue;
        }
        break; // closed or removed: the stream ended
      }
      for (const line of (await seg.text()).split("\n"))
        if (line.trim() !== "") sse.write(`data: ${line}\n\n`);
    }
  } catch {
    // the client went away, or the stream stopped while a segment was being read
  }
  sse.end('event: end\ndata: {"type":"stream_ended"}\n\n');
};

const STREAM_ROUTES: Record<string, StreamHandler> = {
  status: statusRoute,
  update: updateRoute,
  stop: stopRoute,
  data: dataEventsRoute,
};

/** Answers a request under `/live/` or `/process/stream/` (`path`: the URL's path). */
export async function handleLiveRequest(
  ctx: LiveContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  if (path.startsWith(LIVE_TRICKLE_BASE)) {
    if (!ctx.trickle.handle(req, res)) throw new NotFoundError(`no trickle route ${path}`);
    return;
  }
  if (path === "/live/video-to-video") {
    if (req.method !== "POST") throw methodNotAllowed("POST");
    return startLiveRoute(ctx, req, res);
  }
  if (path === "/process/stream/start") {
    if (req.method !== "POST") throw methodNotAllowed("POST");
    return startByocRoute(ctx, req, res);
  }
  const w = /^\/live\/video-to-video\/([^/]+)\/(whip|whep)$/.exec(path);
  if (w) {
    const stream = decodePathSegment(w[1] as string);
    if (stream === undefined)
      throw new BadRequestError(`the stream name ${JSON.stringify(w[1])} holds a malformed %-escape`, {
        code: "BAD_STREAM",
      });
    return webrtcRoute(ctx, req, res, stream, w[2] as "whip" | "whep");
  }
  const m =
    /^\/live\/video-to-video\/([^/]+)\/(update|status|stop)$/.exec(path) ??
    /^\/process\/stream\/([^/]+)\/(update|status|stop|data|whip|whep|rtmp)$/.exec(path);
  if (!m) throw new NotFoundError(`no route ${req.method} ${path}`);
  const route = m[2] as string;
  if (route === "rtmp") {
    req.resume();
    throw new TributaryError(
      "NOT_IMPLEMENTED",
      "rtmp ingest is not supported by this gateway; publish by WHIP or MPEG-TS segments to the stream's publish_url (trickle)",
      { status: 501 },
    );
  }
  if ((route === "whip" || route === "whep") && req.method === "OPTIONS") {
    req.resume();
    res.writeHead(204, WEBRTC_OPTIONS);
    return void res.end();
  }
  const s = controlled(ctx, req, m[1] as string);
  if (route === "whip" || route === "whep") return byocWebrtcRoute(ctx, req, res, s, route);
  return (STREAM_ROUTES[route] as StreamHandler)(ctx, req, res, s);
}
