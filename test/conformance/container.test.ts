/**
 * The container-contract conformance suite against Tributary's runner SDK.
 */

import textReverse from "../../examples/text-reverse/pipeline.ts";
import { startRunner } from "../../src/runner/index.ts";
import { defineLivePipeline } from "../../src/runner/pipeline.ts";
import { type ContainerStartOptions, containerSuite } from "./container-suite.ts";

const BODY_LIMIT = 64 * 1024;

function livePipeline(load?: () => Promise<void>) {
  return defineLivePipeline({
    ...(load ? { load } : {}),
    params: (p) => {
      if (p.reject === true) throw new Error("rejected by the reference pipeline");
    },
  });
}

async function serve(pipeline: Parameters<typeof startRunner>[0], options: ContainerStartOptions = {}) {
  const runner = await startRunner(pipeline, {
    port: 0,
    maxBodyBytes: BODY_LIMIT,
    ...(options.token ? { token: options.token } : {}),
  });
  return { url: runner.url, close: runner.close, loaded: runner.loaded };
}

containerSuite({
  name: "tributary runner",
  async startLive(options) {
    const c = await serve(livePipeline(), options);
    await c.loaded;
    return c;
  },
  async startLoading() {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const c = await serve(livePipeline(() => gate));
    return {
      ...c,
      release,
      close: async () => {
        release();
        await c.close();
      },
    };
  },
  async startFailingLoad() {
    return serve(
      livePipeline(async () => {
        throw new Error("no weights");
      }),
    );
  },
  async startBatch(options) {
    const c = await serve(textReverse, options);
    await c.loaded;
    return { ...c, route: "/text-reverse" };
  },
  features: { bearerAuth: true, apiPrefix: true, bodyLimitBytes: BODY_LIMIT },
});
