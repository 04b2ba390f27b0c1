/**
 * BYOC batch jobs: `POST /process/request/<path>` (docs/spec/orchestrator-gateway.md#orchestrator-byoc-routes),
 * passed to a container slot as they come (SSE streamed), billed per second while they run
 * (payments.ts `JobMeter`, README "BYOC batch billing"). Errors are go-livepeer's plain text.
 */
import type { IncomingMessage } from "node:http";
import type { NodeRequest, NodeResponse } from "../../node/server.ts";
import { byocJob, isPaid, takePayment } from "../byoc-job.ts";
import { clientGone, containerHeaders, type OrchestratorContext, reserveOrThrow } from "../context.ts";
import { ContainerError, callContainer, header, replayableBody } from "../http.ts";
import { balanceHeader, CreditExhaustedError, type JobMeter } from "../payments.ts";
import { BYOC_PIPELINE } from "../registry.ts";
import { type RelayBilling, relay } from "../relay.ts";

/** `POST /process/request/<rest>`: the job goes to `<container url>/<rest>`. */
export async function processRequest(
  ctx: OrchestratorContext,
  req: NodeRequest,
  res: NodeResponse,
  rest: string,
): Promise<void> {
  const { gate, metrics } = ctx;
  const started = performance.now();
  const labels = { route: "byoc", pipeline: BYOC_PIPELINE, model_id: "" };
  let j: Awaited<ReturnType<typeof byocJob>>;
  try {
    j = await byocJob(ctx, req, ctx.settings.maxJobTimeoutSeconds);
    labels.model_id = j.cap.modelId;
  } catch (err) {
    metrics.jobs.inc({ ...labels, outcome: "rejected" });
    throw err;
  }
  const lease = reserveOrThrow(ctx, j.cap, labels);
  // One signal stops the job: the client leaving, or the meter when the credit runs out.
  const stop = new AbortController();
  const gone = clientGone(res, stop);
  let meter: JobMeter | undefined;
  try {
    try {
      await takePayment(ctx, req, j, true, 400);
    } catch (err) {
      metrics.jobs.inc({ ...labels, outcome: "rejected" });
      throw err;
    }
    // Every priced job is billed for the seconds it runs, however it ends (payments.ts JobMeter).
    if (gate !== undefined && isPaid(ctx, j))
      meter = gate.meter(j.sender, j.cap.modelId, j.price, {
        periodMs: ctx.settings.jobDebitIntervalMs,
        onExhausted: (err) => stop.abort(err),
      });
    const headers = containerHeaders(ctx, lease);
    const ct = header(req.headers, "content-type");
    if (ct) headers["Content-Type"] = ct;
    // Accept too (go-livepeer passes only Content-Type/-Length): a container that answers SSE
    // when asked (`Accept: text/event-stream`) must see the client's ask.
    const accept = header(req.headers, "accept");
    if (accept) headers.accept = accept;
    const cl = header(req.headers, "content-length");
    if (cl) headers["content-length"] = cl;
    const upstream = await callContainer({
      agents: ctx.agents,
      url: rest === "" ? lease.container.url : `${lease.container.url}/${rest}`,
      headers,
      body: await replayableBody(req as unknown as IncomingMessage),
      timeoutMs: j.job.timeoutSeconds * 1000,
      signal: gone,
    });
    metrics.jobDuration.observe(labels, (performance.now() - started) / 1000);
    if (upstream.statusCode === 401) {
      upstream.resume();
      throw new ContainerError("job not able to be processed: worker auth token failed");
    }
    const m = meter;
    const sender = j.sender;
    const billing: RelayBilling =
      m && gate && sender
        ? {
            finalHeaders: () => ({ "Livepeer-Balance": balanceHeader(m.finish()) }),
            openingHeaders: () => ({
              "livepeer-payment-balance": balanceHeader(gate.balance(sender, j.cap.modelId)),
            }),
            closingEvent: () => `event: balance\ndata: {"balance": ${balanceHeader(m.finish())}}\n\n`,
            stop: stop.signal,
            deadlineMs: j.job.timeoutSeconds * 1000,
          }
        : { deadlineMs: j.job.timeoutSeconds * 1000 };
    await relay(upstream, res, 200, billing);
    metrics.jobs.inc({ ...labels, outcome: (upstream.statusCode ?? 500) < 400 ? "ok" : "error" });
  } catch (err) {
    metrics.jobs.inc({ ...labels, outcome: "error" });
    // The meter stopped the job before any answer: say so (402) rather than "container failed".
    if (meter?.exhausted && stop.signal.reason instanceof CreditExhaustedError) throw stop.signal.reason;
    throw err;
  } finally {
    meter?.finish();
    lease.release();
  }
}
