/** The dev network's example containers (text-reverse, green-tint), and when the orchestrator finds them ready. */
import type { Logger } from "../node/logger.ts";
import type { RunningOrchestrator } from "../orchestrator/orchestrator.ts";
import type { Pipeline } from "../runner/pipeline.ts";
import { type RunningRunner, startRunner } from "../runner/server.ts";
import { GREEN_TINT_MODEL, GREEN_TINT_PIPELINE, TEXT_REVERSE_CAPABILITY } from "./constants.ts";
import type { Started } from "./supervisor.ts";

async function loadPipeline(rel: string): Promise<Pipeline> {
  const mod = (await import(new URL(`../../examples/${rel}/pipeline.ts`, import.meta.url).href)) as {
    default: Pipeline;
  };
  return mod.default;
}

/** Starts the two example containers in process on ephemeral ports of `host`. */
export async function startDevContainers(
  host: string,
  log: Logger,
): Promise<Started<{ textReverse: RunningRunner; greenTint: RunningRunner }>> {
  const [tr, gt] = await Promise.all([loadPipeline("text-reverse"), loadPipeline("green-tint")]);
  const runners: RunningRunner[] = [];
  const closeAll = async () => {
    await Promise.all(runners.map((r) => r.close()));
  };
  try {
    runners.push(await startRunner(tr, { host, port: 0, logger: log, modelId: TEXT_REVERSE_CAPABILITY }));
    runners.push(
      await startRunner(gt, {
        host,
        port: 0,
        logger: log,
        pipelineName: GREEN_TINT_PIPELINE,
        modelId: GREEN_TINT_MODEL,
      }),
    );
    await Promise.all(runners.map((r) => r.loaded));
  } catch (err) {
    await closeAll();
    throw err;
  }
  const [textReverse, greenTint] = runners as [RunningRunner, RunningRunner];
  return {
    value: { textReverse, greenTint },
    detail: `${textReverse.url}, ${greenTint.url}`,
    stop: closeAll,
  };
}

/** Resolves once the container at `url` is `ready` in the orchestrator's registry. */
export function containerReady(
  orch: RunningOrchestrator,
  url: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const c = orch.registry.container(url);
      if (c?.health === "ready") {
        done();
        resolve();
        return true;
      }
      if (c?.health === "failed") {
        done();
        reject(new Error(`the orchestrator finds container ${url} unhealthy`));
        return true;
      }
      return false;
    };
    const onAbort = () => {
      done();
      reject(new Error("stopped"));
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new Error(
          `container ${url} not ready at the orchestrator within ${timeoutMs} ms (health ${orch.registry.container(url)?.health ?? "not registered"})`,
        ),
      );
    }, timeoutMs);
    const onChange = () => void check();
    const done = () => {
      clearTimeout(timer);
      orch.registry.off("change", onChange);
      signal.removeEventListener("abort", onAbort);
    };
    orch.registry.on("change", onChange);
    signal.addEventListener("abort", onAbort, { once: true });
    if (!check()) void orch.health.checkAll();
  });
}
