/**
 * Live video to video (docs/spec/orchestrator-gateway.md#live-video-to-video): `POST
 * /live-video-to-video` starts a stream on a container slot over four trickle channels with 128-bit
 * random names; priced streams are charged by the stream table (streams.ts, `end-unpaid`) and topped
 * up with `POST /payment` (docs/spec/payments.md#paid-endpoints). Errors are our JSON envelope.
 */
import type { ServerResponse } from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { BadRequestError } from "../../node/errors.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { OrchestratorRequestSchema, PaymentResultSchema } from "../../protocol/gen/lp_rpc_pb.ts";
import { type AiPayer, takeAiPayment, verifyPaymentHeaders } from "../ai-payment.ts";
import {
  containerHeaders,
  type OrchestratorContext,
  randomId,
  readJsonBody,
  requestLog,
  reserveOrThrow,
  trickleUrls,
} from "../context.ts";
import { header, NoCapacityError, sendJson, sendText } from "../http.ts";
import { buildOrchestratorInfo } from "../info.ts";
import { type LiveStream, liveVideoPolicy } from "../streams.ts";
import { startOnContainer } from "./stream-start.ts";

const PIPELINE = "live-video-to-video";

/** `POST /live-video-to-video`: `{publish_url, subscribe_url, control_url, events_url, manifest_id}`. */
export async function liveVideoToVideo(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
): Promise<void> {
  // plain text, as before this route had a router (our other errors are the JSON envelope)
  if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
  const { metrics, registry, trickle, streams } = ctx;
  const started = performance.now();
  const body = await readJsonBody(ctx, req);
  const caps = registry.byPipeline(PIPELINE);
  let modelId = typeof body.model_id === "string" && body.model_id !== "" ? body.model_id : undefined;
  if (modelId === undefined) {
    if (caps.length !== 1) throw new BadRequestError("model_id is required", { code: "MODEL_ID_REQUIRED" });
    modelId = caps[0]!.modelId;
  }
  const labels = { route: "live", pipeline: PIPELINE, model_id: modelId };
  const cap = registry.get(PIPELINE, modelId);
  if (cap === undefined) {
    // not the client's model_id as a label: each new value would be a new series kept forever
    metrics.jobs.inc({ ...labels, model_id: "unknown", outcome: "no_capacity" });
    throw new NoCapacityError(`insufficient capacity: model ${modelId} is not served here`, {
      model_id: modelId,
    });
  }
  const lease = reserveOrThrow(ctx, cap, labels);
  const mid = randomId();
  let payer: AiPayer | undefined;
  try {
    // The stream's balance is kept under its manifest id (go-livepeer `ProcessPayment(mid)`).
    payer = await takeAiPayment(ctx, req, cap, mid);
  } catch (err) {
    lease.release();
    metrics.jobs.inc({ ...labels, outcome: "rejected" });
    throw err;
  }
  const names = { in: mid, out: `${mid}-out`, control: `${mid}-control`, events: `${mid}-events` };
  trickle.createChannel(names.in, "video/MP2T");
  trickle.createChannel(names.out, "video/MP2T");
  trickle.createChannel(names.control, "application/json");
  trickle.createChannel(names.events, "application/json");
  const stream: LiveStream = {
    id: mid,
    kind: "lv2v",
    lease,
    channels: Object.values(names),
    watch: names.control,
    input: names.in,
  };
  streams.add(stream);
  const urls = trickleUrls(ctx);
  const accepted = await startOnContainer(
    ctx,
    stream,
    labels,
    {
      agents: ctx.agents,
      url: `${lease.container.url}/live-video-to-video`,
      headers: containerHeaders(ctx, lease, { "Content-Type": "application/json" }),
      body: Buffer.from(
        JSON.stringify({
          model_id: modelId,
          subscribe_url: urls.runner(names.in),
          publish_url: urls.runner(names.out),
          control_url: urls.runner(names.control),
          events_url: urls.runner(names.events),
          params: body.params ?? {},
          gateway_request_id: typeof body.gateway_request_id === "string" ? body.gateway_request_id : "",
          manifest_id: mid,
          stream_id: typeof body.stream_id === "string" ? body.stream_id : "",
        }),
      ),
      timeoutMs: 60_000,
    },
    (upstream, answer) => {
      (res as ServerResponse).writeHead(upstream.statusCode ?? 500, {
        "Content-Type": header(upstream.headers, "content-type") || "application/json",
      });
      res.end(answer);
    },
  );
  if (!accepted) return;
  metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
  metrics.jobs.inc({ ...labels, outcome: "ok" });
  if (payer)
    streams.charge(stream, payer, liveVideoPolicy(ctx.settings.livePaymentIntervalMs, cap.priceUnit));
  requestLog(ctx).info({ stream_id: mid, capability: cap.key }, "live stream started");
  sendJson(res, 200, {
    publish_url: urls.client(names.in),
    subscribe_url: urls.client(names.out),
    control_url: urls.client(names.control),
    events_url: urls.client(names.events),
    manifest_id: mid,
  });
}

/**
 * `POST /payment` (LV2V top-ups): verified `Livepeer-Payment` and `Livepeer-Segment`, tickets
 * credited to the segment's manifest id (the stream's `manifest_id`); answers a protobuf
 * `PaymentResult{info}` with fresh ticket params.
 */
export async function payment(ctx: OrchestratorContext, req: NodeRequest, res: NodeResponse): Promise<void> {
  // plain text, as before this route had a router
  if (req.method !== "POST") return sendText(res, 405, "Method not allowed");
  const gate = ctx.gate;
  if (gate === undefined) {
    req.resume();
    (res as ServerResponse).writeHead(200, { "Content-Type": "application/octet-stream" });
    res.end(
      toBinary(
        PaymentResultSchema,
        create(PaymentResultSchema, { info: await buildOrchestratorInfo(ctx.info, undefined) }),
      ),
    );
    return;
  }
  const { sender, paymentValue, seg } = await verifyPaymentHeaders(ctx, req);
  req.resume();
  await gate.receive(paymentValue, seg.manifestId);
  const orchInfo = await buildOrchestratorInfo(
    ctx.info,
    create(OrchestratorRequestSchema, { address: Buffer.from(sender.slice(2), "hex") }),
  );
  (res as ServerResponse).writeHead(200, { "Content-Type": "application/octet-stream" });
  res.end(toBinary(PaymentResultSchema, create(PaymentResultSchema, { info: orchInfo })));
}
