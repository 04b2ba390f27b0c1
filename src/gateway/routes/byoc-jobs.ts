/**
 * BYOC batch jobs (docs/spec/orchestrator-gateway.md#gateway-byoc-routes):
 * - `POST /process/request/<route>`: go-livepeer's route; the client's `Livepeer` header (base64
 *   JSON `JobRequest`) names the capability, its `orchestrators.include/exclude` are honoured.
 * - `POST /<name>` for a name that is no AI pipeline: the capability is `X-Model-Id`, else the body's
 *   `model_id`, else `<name>`; `timeout_seconds` from `X-Timeout-Seconds` (default 30).
 * Both are forwarded to the orchestrator's `POST /process/request/<route>` with a `Livepeer` header.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BadRequestError, errorBody, TributaryError } from "../../node/errors.ts";
import { sendJson } from "../../node/http/send.ts";
import {
  encodeJobHeader,
  type JobRequest,
  newJobRequest,
  parseJobHeader,
} from "../../protocol/job-header.ts";
import { clientGone, forwardedType, type GatewayContext, traceOf } from "../context.ts";
import { runJob } from "../jobs.ts";
import { headerValue } from "../orch-http.ts";
import { readBody } from "../read-body.ts";
import { modelIdOf } from "./ai-batch.ts";

/** BYOC `timeout_seconds` used when the gateway builds the job header itself. */
export const DEFAULT_BYOC_TIMEOUT_SECONDS = 30;

/** The client's `Livepeer` header, parsed by the shared codec (src/protocol/job-header.ts). */
export type ClientJobRequest = JobRequest;

/** `POST /process/request/<route>` (`route` may be ""). */
export async function processRequest(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: string,
): Promise<void> {
  if (req.method !== "POST") return answerUsePost(res);
  const gone = clientGone(res);
  const job = parseJobHeader(headerValue(req.headers, "livepeer"), { client: true });
  const body = await readBody(req);
  return byocJob(ctx, req, res, route, job, body, gone);
}

/** `POST /<name>`: a BYOC job whose header the gateway builds. */
export async function namedByocJob(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): Promise<void> {
  const gone = clientGone(res);
  const body = await readBody(req);
  const capability = headerValue(req.headers, "x-model-id") ?? bodyModelId(req, body) ?? name;
  const timeout = Number(headerValue(req.headers, "x-timeout-seconds") ?? DEFAULT_BYOC_TIMEOUT_SECONDS);
  if (!Number.isInteger(timeout) || timeout <= 0)
    throw new BadRequestError("X-Timeout-Seconds must be a positive integer", { code: "BAD_TIMEOUT" });
  const job = newJobRequest({ capability, timeoutSeconds: timeout });
  return byocJob(ctx, req, res, name, job, body, gone);
}

/** 405 `use POST` with `Allow: POST`, as the job routes have always answered. */
export function answerUsePost(res: ServerResponse): void {
  sendJson(res, 405, errorBody(new TributaryError("METHOD_NOT_ALLOWED", "use POST", { status: 405 })), {
    allow: "POST",
  });
}

/** The body's `model_id`, if it has one; a non-JSON body is fine for BYOC (the container decides). */
function bodyModelId(req: IncomingMessage, body: Buffer): string | undefined {
  try {
    return modelIdOf({ ...req.headers, "x-model-id": undefined }, body);
  } catch {
    return undefined;
  }
}

async function byocJob(
  ctx: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: string,
  job: ClientJobRequest,
  body: Buffer,
  gone: AbortSignal,
): Promise<void> {
  const { payments } = ctx;
  const { trace, log } = traceOf(ctx.log, req, `byoc/${job.capability}`);
  log.info({ bytes: body.length, route }, "BYOC job received");
  await runJob(
    ctx,
    {
      pipeline: "byoc",
      modelId: job.capability,
      path: `/process/request/${route}`,
      headers: { ...forwardedType(req), ...(payments ? {} : { livepeer: encodeJobHeader(job) }) },
      prepare: payments && ((d, sig) => payments.byocHeaders(d.transcoder, job, sig)),
      body,
      headersTimeoutMs: (job.timeoutSeconds + 5) * 1000,
      include: job.params.include,
      exclude: job.params.exclude,
      trace,
      log,
    },
    res,
    gone,
  );
}
