/**
 * The runner settings pytrickle-style containers take from their environment, as options for
 * {@link startRunner}. The library never reads `process.env` itself: `tributary serve` passes its
 * environment here, and a program that calls `startRunner` directly can do the same:
 *
 * ```ts
 * await startRunner(pipeline, { port: 8000, ...runnerOptionsFromEnv(process.env) });
 * ```
 */
import type { RunnerOptions } from "./server.ts";

/**
 * `pipelineName` from `PIPELINE`; `modelId` from `CAPABILITY_NAME`, else `MODEL_ID`. Unset variables
 * are left out, so {@link startRunner}'s defaults (the pipeline's name, "") apply.
 */
export function runnerOptionsFromEnv(
  env: Record<string, string | undefined>,
): Pick<RunnerOptions, "pipelineName" | "modelId"> {
  const out: Pick<RunnerOptions, "pipelineName" | "modelId"> = {};
  if (env.PIPELINE !== undefined) out.pipelineName = env.PIPELINE;
  const modelId = env.CAPABILITY_NAME ?? env.MODEL_ID;
  if (modelId !== undefined) out.modelId = modelId;
  return out;
}
