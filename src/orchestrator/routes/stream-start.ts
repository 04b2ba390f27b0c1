/**
 * The container call that starts a stream, as both stream routes make it (routes/byoc-streams.ts,
 * routes/live-video.ts): a refusal or a failed call ends the stream and counts a failed job.
 */
import type { IncomingMessage } from "node:http";
import type { OrchestratorContext } from "../context.ts";
import { type ContainerCall, callContainer, readResponse } from "../http.ts";
import type { LiveStream } from "../streams.ts";

/**
 * Asks the container to start `stream`. On an answer of HTTP 400 or more, the stream is ended, a failed
 * job counted under `labels`, `refuse` answers the client, and the result is false. A failed call ends
 * the stream, counts a failed job and throws. True when the container started it.
 */
export async function startOnContainer(
  ctx: OrchestratorContext,
  stream: LiveStream,
  labels: { route: string; pipeline: string; model_id: string },
  call: ContainerCall,
  refuse: (upstream: IncomingMessage, answer: Buffer) => void,
): Promise<boolean> {
  const { streams, metrics } = ctx;
  try {
    const upstream = await callContainer(call);
    const answer = await readResponse(upstream, 1024 * 1024);
    if ((upstream.statusCode ?? 500) < 400) return true;
    streams.end(stream, `container refused the stream (${upstream.statusCode})`);
    metrics.jobs.inc({ ...labels, outcome: "error" });
    refuse(upstream, answer);
    return false;
  } catch (err) {
    streams.end(stream, "container call failed");
    metrics.jobs.inc({ ...labels, outcome: "error" });
    throw err;
  }
}
