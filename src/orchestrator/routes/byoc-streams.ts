/**
 * BYOC streams (docs/spec/orchestrator-gateway.md#orchestrator-byoc-routes): `POST /ai/stream/start`,
 * `/ai/stream/stop`, `/ai/stream/update`, `/ai/stream/payment`. A stream belongs to the sender whose
 * job signature verified at its start; every later route goes through {@link ownedStream} (README
 * "Stream owners"). Paying streams are charged by the stream table (streams.ts, `grace-once`).
 * Errors are go-livepeer's plain text.
 */
import type { ServerResponse } from "node:http";
import { BadRequestError, NotFoundError, TributaryError } from "../../node/errors.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { JOB_REQUEST_HEADER, parseJobHeader } from "../../protocol/job-header.ts";
import { type ByocJob, byocJob, callerOf, charge, isPaid, takePayment } from "../byoc-job.ts";
import {
  containerHeaders,
  isOperator,
  type OrchestratorContext,
  randomId,
  readJsonBody,
  reserveOrThrow,
  trickleUrls,
} from "../context.ts";
import { callContainer, header, readBody, readResponse } from "../http.ts";
import { BYOC_PIPELINE } from "../registry.ts";
import { relay } from "../relay.ts";
import { byocStreamPolicy, type LiveStream } from "../streams.ts";
import { startOnContainer } from "./stream-start.ts";

/** `POST /ai/stream/start`: channels made, the container told, `X-…-Url` headers answered. */
export async function streamStart(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const { gate, metrics, trickle, streams } = ctx;
  const started = performance.now();
  const j = await byocJob(ctx, req);
  const { job, cap } = j;
  const id = job.id || job.streamId;
  if (id === "") throw new BadRequestError("the job header needs an id (the stream id)");
  // the id travels to the container in the x-stream-id header: only what a header value can carry
  if (!/^[\x20-\x7e]{1,256}$/.test(id))
    throw new BadRequestError("the stream id must be printable ASCII, at most 256 characters");
  const { owner } = await callerOf(ctx, job);
  // Ids are unique across senders (the container sees the id in x-stream-id): a start whose id runs
  // already is refused, and the answer is the same whoever runs it.
  if (streams.has(id))
    throw new TributaryError("STREAM_EXISTS", `stream id ${id} is in use here: choose another id`, {
      status: 409,
    });
  const body = await readJsonBody(ctx, req);
  const labels = { route: "byoc-stream", pipeline: BYOC_PIPELINE, model_id: cap.modelId };
  const lease = reserveOrThrow(ctx, cap, labels);
  try {
    await takePayment(ctx, req, j, true, 402);
  } catch (err) {
    lease.release();
    metrics.jobs.inc({ ...labels, outcome: "rejected" });
    throw err;
  }
  const base = randomId();
  const names: Record<string, string> = { control: `${base}-control`, events: `${base}-events` };
  if (job.params.enableVideoIngress) names.in = base;
  if (job.params.enableVideoEgress) names.out = `${base}-out`;
  if (job.params.enableDataOutput) names.data = `${base}-data`;
  trickle.createChannel(names.control!, "application/json");
  trickle.createChannel(names.events!, "application/json");
  if (names.in) trickle.createChannel(names.in, "video/MP2T");
  if (names.out) trickle.createChannel(names.out, "video/MP2T");
  if (names.data) trickle.createChannel(names.data, "application/jsonl");
  const stream: LiveStream = {
    id,
    kind: "byoc",
    lease,
    channels: Object.values(names),
    watch: names.control!,
    ...(names.in && { input: names.in }),
    owner,
  };
  streams.add(stream);
  const urls = trickleUrls(ctx);
  const runnerUrls: Record<string, string> = {
    control_url: urls.runner(names.control!),
    events_url: urls.runner(names.events!),
  };
  if (names.in) runnerUrls.subscribe_url = urls.runner(names.in);
  if (names.out) runnerUrls.publish_url = urls.runner(names.out);
  if (names.data) runnerUrls.data_url = urls.runner(names.data);
  const accepted = await startOnContainer(
    ctx,
    stream,
    labels,
    {
      agents: ctx.agents,
      url: `${lease.container.url}/stream/start`,
      headers: containerHeaders(ctx, lease, { "Content-Type": "application/json", "x-stream-id": id }),
      body: Buffer.from(JSON.stringify({ ...body, gateway_request_id: id, ...runnerUrls })),
      timeoutMs: job.timeoutSeconds * 1000,
    },
    (upstream, answer) => {
      const status = upstream.statusCode === 401 ? 500 : (upstream.statusCode ?? 500);
      (res as ServerResponse).writeHead(status, {
        "Content-Type": header(upstream.headers, "content-type") || "text/plain",
      });
      res.end(upstream.statusCode === 401 ? "Orchestrator worker failure\n" : answer);
    },
  );
  if (!accepted) return;
  metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
  metrics.jobs.inc({ ...labels, outcome: "ok" });
  const balance = charge(ctx, j, BigInt(Math.max(1, Math.ceil((performance.now() - started) / 1000))));
  if (gate && isPaid(ctx, j))
    streams.charge(
      stream,
      { sender: j.sender, manifestId: cap.modelId, price: j.price },
      byocStreamPolicy(ctx.settings.streamDebitIntervalMs),
      // go-livepeer only drops the stream from its map; we also tell the container
      (s) => void stopContainerStream(ctx, s, Buffer.from('{"reason":"insufficient balance"}')),
    );
  const out: Record<string, string> = {
    ...balance,
    "x-control-url": urls.runner(names.control!),
    "x-events-url": urls.runner(names.events!),
  };
  if (names.in) out["x-publish-url"] = urls.runner(names.in);
  if (names.out) out["x-subscribe-url"] = urls.runner(names.out);
  if (names.data) out["x-data-url"] = urls.runner(names.data);
  (res as ServerResponse).writeHead(200, out);
  res.end();
}

/** Stands for the operator (`Authorization: <orchestrator secret>`) in {@link ownedStream}. */
export const OPERATOR = Symbol("operator");

/**
 * The one check of every BYOC stream route after the start: the stream `id` if `caller` started it
 * (the operator may reach any). Someone else's stream answers exactly as an unknown one, 404, so
 * the routes confirm nothing about streams the caller does not own.
 */
export function ownedStream(
  ctx: OrchestratorContext,
  id: string,
  caller: string | typeof OPERATOR,
): LiveStream {
  const s = ctx.streams.get(id);
  if (s === undefined || s.kind !== "byoc" || (caller !== OPERATOR && s.owner !== caller))
    throw new NotFoundError(`stream ${id} does not run here`, { code: "STREAM_NOT_FOUND" });
  return s;
}

/** Tells the container to stop the stream; a failed call is logged (the stream is removed anyway). */
async function stopContainerStream(
  ctx: OrchestratorContext,
  s: LiveStream,
  body: Buffer,
): Promise<{ status: number; answer: Buffer; ct: string }> {
  try {
    const upstream = await callContainer({
      agents: ctx.agents,
      url: `${s.lease.container.url}/stream/stop`,
      headers: containerHeaders(ctx, s.lease, { "Content-Type": "application/json", "x-stream-id": s.id }),
      body,
      timeoutMs: 10_000,
    });
    const answer = await readResponse(upstream, 1024 * 1024);
    return { status: upstream.statusCode ?? 200, answer, ct: header(upstream.headers, "content-type") };
  } catch (err) {
    ctx.log.warn({ err, stream_id: s.id }, "container stop failed; stream removed anyway");
    return { status: 200, answer: Buffer.alloc(0), ct: "" };
  }
}

/**
 * Stop, update and payment: the header names the stream, which must be the signer's
 * ({@link ownedStream}); then the payment, if sent, is credited. A V0 signature covers only
 * `request + parameters`, so a V0-signed job names its stream in `request.stream_id` (the `id`
 * field counts for V1 and unsigned jobs): a V0 signature seen on any other job cannot be replayed
 * to reach one of the signer's streams by a made-up `id`.
 */
async function streamJob(
  ctx: OrchestratorContext,
  req: NodeRequest,
  required: boolean,
): Promise<{ j: ByocJob; s: LiveStream }> {
  const j = await byocJob(ctx, req);
  const caller = await callerOf(ctx, j.job);
  const id = caller.version === "v0" ? j.job.streamId : j.job.streamId || j.job.id;
  if (id === "")
    throw new BadRequestError(
      caller.version === "v0"
        ? 'name the stream in request (`{"stream_id": …}`): a V0 job signature does not cover id'
        : "the job header names no stream: set request.stream_id",
    );
  const s = ownedStream(ctx, id, caller.owner);
  await takePayment(ctx, req, j, required, 400);
  return { j, s };
}

/**
 * `POST /ai/stream/stop`: by the stream's sender, or by the operator with `Authorization: <orchestrator
 * secret>` and a `Livepeer` header that names the stream (no signature, no payment).
 */
export async function streamStop(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const operator = isOperator(ctx, req);
  let s: LiveStream;
  if (operator) {
    const job = parseJobHeader(header(req.headers, JOB_REQUEST_HEADER) || undefined);
    s = ownedStream(ctx, job.streamId || job.id, OPERATOR);
  } else s = (await streamJob(ctx, req, false)).s;
  const body = await readBody(req, ctx.settings.maxBodyBytes);
  const { status, answer, ct } = await stopContainerStream(ctx, s, body);
  ctx.streams.end(s, operator ? "stopped by the operator" : "stopped by the gateway");
  (res as ServerResponse).writeHead(status, ct ? { "Content-Type": ct } : {});
  res.end(answer);
}

/** `POST /ai/stream/update`: the body goes to the container's `/stream/params`; its answer back. */
export async function streamUpdate(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const { s } = await streamJob(ctx, req, true);
  const body = await readBody(req, ctx.settings.maxBodyBytes);
  const upstream = await callContainer({
    agents: ctx.agents,
    url: `${s.lease.container.url}/stream/params`,
    headers: containerHeaders(ctx, s.lease, { "Content-Type": "application/json", "x-stream-id": s.id }),
    body,
    timeoutMs: 10_000,
  });
  await relay(upstream, res, undefined);
}

/** `POST /ai/stream/payment`: tickets credited; 200 with `Livepeer-Balance` when paid. */
export async function streamPayment(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  const { j } = await streamJob(ctx, req, false);
  req.resume();
  const gate = ctx.gate;
  // Offchain or free: nothing to credit and no balance header.
  const headers =
    gate && isPaid(ctx, j)
      ? { "Livepeer-Balance": gate.balance(j.sender, j.cap.modelId).floor().toString() }
      : {};
  (res as ServerResponse).writeHead(200, headers);
  res.end();
}
