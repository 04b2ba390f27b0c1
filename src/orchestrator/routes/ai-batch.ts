/**
 * Native AI batch: `POST /<pipeline>` (docs/spec/orchestrator-gateway.md#ai-routes) with `model_id`
 * from the JSON body or multipart field (optional when one model serves the pipeline). Priced work
 * is counted in go-livepeer's units from its body, paid with `Livepeer-Payment` + `Livepeer-Segment`
 * (ai-payment.ts) and charged after the work, on success only. Errors are our JSON envelope.
 */
import { BadRequestError, NotFoundError, TributaryError } from "../../node/errors.ts";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { aiRequestUnits } from "../../protocol/ai-units.ts";
import { CAPABILITY, PIPELINE_CAPABILITY } from "../../protocol/capabilities.ts";
import { parseMultipart } from "../../protocol/multipart.ts";
import { type AiPayer, isPriced, takeAiPayment } from "../ai-payment.ts";
import { audioToTextUnits } from "../audio-duration.ts";
import { clientGone, containerHeaders, type OrchestratorContext, reserveOrThrow } from "../context.ts";
import { callContainer, header, NoCapacityError, readBody } from "../http.ts";
import type { Capability } from "../registry.ts";
import { relay } from "../relay.ts";

/** The AI pipelines served as `POST /<pipeline>` (not BYOC, whose jobs use /process/request, nor live video). */
export const NATIVE_BATCH_PIPELINES: readonly string[] = Object.entries(PIPELINE_CAPABILITY)
  .filter(([, id]) => id !== CAPABILITY.BYOC && id !== CAPABILITY.LiveVideoToVideo)
  .map(([pipeline]) => pipeline);

/**
 * Priced work whose units cannot be computed (images other than PNG/JPEG) answers 501 while
 * payments are on, rather than working for free. Free models (price 0) are served.
 */
function refuseUnpaidPrice(ctx: OrchestratorContext, cap: Capability): void {
  if (ctx.gate === undefined) return;
  if (isPriced(cap))
    throw new TributaryError(
      "NOT_IMPLEMENTED",
      `payments for ${cap.pipeline} are not implemented yet; this orchestrator serves ${cap.key} only at price 0`,
      { status: 501 },
    );
}

function modelIdFrom(body: Buffer, contentType: string): string | undefined {
  if (contentType.includes("application/json")) {
    try {
      const o = JSON.parse(body.toString("utf8")) as { model_id?: unknown };
      return typeof o?.model_id === "string" && o.model_id !== "" ? o.model_id : undefined;
    } catch {
      throw new BadRequestError("request body is not valid JSON");
    }
  }
  if (contentType.includes("multipart/form-data")) {
    const id = parseMultipart(body, contentType).fields.model_id;
    return id === undefined || id === "" ? undefined : id;
  }
  return undefined;
}

/** `POST /<pipeline>`: one job on a slot of the model's container; its answer passed back. */
export async function nativeBatch(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
  pipeline: string,
): Promise<void> {
  if (req.method !== "POST") throw new NotFoundError(`no route ${req.method} /${pipeline}`);
  const { gate, metrics, registry } = ctx;
  const started = performance.now();
  const body = await readBody(req, ctx.settings.maxBodyBytes);
  const ct = header(req.headers, "content-type");
  let modelId = modelIdFrom(body, ct);
  const caps = registry.byPipeline(pipeline);
  if (modelId === undefined) {
    if (caps.length !== 1)
      throw new BadRequestError(
        `model_id is required: this orchestrator serves ${caps.length} models for ${pipeline}`,
        { code: "MODEL_ID_REQUIRED" },
      );
    modelId = caps[0]!.modelId;
  }
  const labels = { route: "batch", pipeline, model_id: modelId };
  const cap = registry.get(pipeline, modelId);
  if (cap === undefined) {
    // not the client's model_id as a label: each new value would be a new series kept forever
    metrics.jobs.inc({ ...labels, model_id: "unknown", outcome: "no_capacity" });
    throw new NoCapacityError(`insufficient capacity: model ${modelId} is not served here for ${pipeline}`, {
      pipeline,
      model_id: modelId,
    });
  }
  // Units first (a bad body is a 400 before anything is reserved or paid); only priced work needs them.
  const priced = gate !== undefined && isPriced(cap);
  const units = !priced
    ? undefined
    : pipeline === "audio-to-text" && ct.includes("multipart/form-data")
      ? await audioToTextUnits(parseMultipart(body, ct).files.audio)
      : aiRequestUnits(pipeline, ct, body);
  if (priced && units === undefined && !ct.includes("multipart/form-data"))
    throw new TributaryError(
      "UNSUPPORTED_MEDIA_TYPE",
      `a priced ${pipeline} request is counted from its body: send application/json (text-to-image, llm, text-to-speech) or multipart/form-data (image and audio pipelines)`,
      { status: 415 },
    );
  if (priced && units === undefined) refuseUnpaidPrice(ctx, cap);
  const lease = reserveOrThrow(ctx, cap, labels);
  const gone = clientGone(res);
  try {
    let payer: AiPayer | undefined;
    try {
      payer = await takeAiPayment(ctx, req, cap);
    } catch (err) {
      metrics.jobs.inc({ ...labels, outcome: "rejected" });
      throw err;
    }
    const headers = containerHeaders(ctx, lease, { "content-length": String(body.length) });
    if (ct) headers["Content-Type"] = ct;
    const upstream = await callContainer({
      agents: ctx.agents,
      url: `${lease.container.url}/${pipeline}`,
      headers,
      body,
      timeoutMs: 10 * 60_000,
      signal: gone,
    });
    metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
    // Charged after the work, on success only (go-livepeer `DebitFees`).
    if (payer && units !== undefined && gate && (upstream.statusCode ?? 500) < 400)
      gate.debit(payer.sender, payer.manifestId, payer.price, units);
    await relay(upstream, res, undefined);
    metrics.jobs.inc({ ...labels, outcome: (upstream.statusCode ?? 500) < 400 ? "ok" : "error" });
  } catch (err) {
    metrics.jobs.inc({ ...labels, outcome: "error" });
    throw err;
  } finally {
    lease.release();
  }
}
