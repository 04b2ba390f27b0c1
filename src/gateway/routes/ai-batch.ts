/**
 * `POST /<ai pipeline>` (`/text-to-image`, `/llm`, …): a native AI batch job. `model_id` comes from
 * `X-Model-Id`, the JSON body or a multipart field (400 `MODEL_ID_REQUIRED` otherwise); the job is
 * forwarded to the orchestrator's `POST /<pipeline>` with `Authorization: Livepeer-AI-Worker-1.0`,
 * paid per send when the gateway pays (docs/spec/orchestrator-gateway.md#ai-batch-request-end-to-end).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadRequestError } from "../../node/errors.ts";
import { withDefaultMaxTokens } from "../../protocol/ai-units.ts";
import { parseMultipart } from "../../protocol/multipart.ts";
import { aiRequestCapabilities } from "../capabilities.ts";
import { clientGone, forwardedType, type GatewayContext, traceOf } from "../context.ts";
import type { OrchestratorDescriptor } from "../discovery/index.ts";
import { runJob } from "../jobs.ts";
import { headerValue } from "../orch-http.ts";
import { aiPaymentUnits } from "../payments.ts";
import { readBody } from "../read-body.ts";

/** `Authorization` value go-livepeer sends on AI calls (`protoVerAIWorker`). */
const AI_WORKER_PROTOCOL = "Livepeer-AI-Worker-1.0";

/** The model id of a native AI request: `X-Model-Id`, else JSON `model_id`, else a multipart field. */
export function modelIdOf(headers: IncomingMessage["headers"], body: Buffer): string | undefined {
  const h = headerValue(headers, "x-model-id");
  if (h) return h;
  const type = String(headers["content-type"] ?? "");
  if (type.includes("multipart/form-data")) return parseMultipart(body, type).fields.model_id || undefined;
  if (body.length === 0) return undefined;
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const id = (v as { model_id?: unknown }).model_id;
      return typeof id === "string" && id !== "" ? id : undefined;
    }
  } catch {
    throw new BadRequestError("the request body is not valid JSON", { code: "BAD_JSON" });
  }
  return undefined;
}

/** Handles a native AI job for `pipeline`. */
export async function aiBatch(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  pipeline: string,
): Promise<void> {
  const gone = clientGone(res);
  const { payments } = ctx;
  const type = headerValue(req.headers, "content-type") ?? "";
  // An llm request leaves with max_tokens (256 when the client gave none, as go-livepeer's gateway):
  // orchestrators refuse one without it, and charge what the gateway paid for.
  const body = withDefaultMaxTokens(pipeline, type, await readBody(req));
  const modelId = modelIdOf(req.headers, body);
  if (modelId === undefined)
    throw new BadRequestError(`${pipeline}: give model_id in the body or an X-Model-Id header`, {
      code: "MODEL_ID_REQUIRED",
    });
  const { trace, log } = traceOf(ctx.log, req, `${pipeline}/${modelId}`);
  log.info({ bytes: body.length }, "AI job received");
  const headers = { ...forwardedType(req), authorization: AI_WORKER_PROTOCOL };
  // Units once per job, by the orchestrator's rule: a body it would refuse is a 400 here.
  const units = payments ? aiPaymentUnits(pipeline, type, body) : 0n;
  const prepare =
    payments &&
    (async (d: OrchestratorDescriptor, sig: AbortSignal) => {
      // Fresh ticket params, price and auth token for exactly this job
      // (docs/spec/orchestrator-gateway.md#ai-batch-request-end-to-end).
      const info = await ctx.pool.fetchOne(d.url, {
        capabilities: aiRequestCapabilities({ pipeline, modelId }),
        signal: sig,
      });
      return payments.aiHeaders(d.transcoder, info, pipeline, modelId, units);
    });
  await runJob(
    ctx,
    {
      pipeline,
      modelId,
      path: `/${pipeline}`,
      headers,
      body,
      prepare,
      headersTimeoutMs: ctx.aiTimeoutMs,
      trace,
      log,
    },
    res,
    gone,
  );
}
