/**
 * Fuzzing of a container served by the SDK (src/runner) over real HTTP on 127.0.0.1: random JSON and
 * non-JSON bodies, content types and methods on the batch routes (`/<name>`, `/run`, `/`), the stream
 * routes (`/stream/start|params|update|stop|status`, under `/` and `/api`, and the
 * `/live-video-to-video` alias) and the system routes, with a pipeline whose handlers throw on some
 * inputs, as user code does. Stream channels are in memory.
 *
 * Pass criteria: every request gets an answer; no 5xx except 500 where the pipeline's own handler
 * threw an untyped error (the SDK reports it, it does not hide it) and 503 while the pipeline is not
 * ready; every 4xx has a message; `/health` answers afterwards; the heap after GC stays within
 * {@link HEAP_GROWTH_LIMIT_BYTES}.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import {
  BadRequestError,
  defineBatchPipeline,
  defineLivePipeline,
  MemoryChannels,
  type RunningRunner,
  startRunner,
} from "../../src/runner/index.ts";
import { text } from "./arbitraries.ts";
import {
  assertHeapStable,
  assertSaneReply,
  checkAsync,
  errorMessageOf,
  heapAfterGc,
  printTally,
  tally,
} from "./fuzz-util.ts";
import {
  bigBody,
  body,
  checkOversizedHeaders,
  contentType,
  extraHeaders,
  type FuzzRequest,
  method,
  pathSegment,
  query,
  send,
  type Target,
} from "./http-util.ts";

const RUNS = 150;
const WAIT_MS = 15_000;
/** The message a deliberately failing handler throws with (its 500 is the handler's, not the SDK's). */
const HANDLER_FAILURE = "handler failed on purpose";

const streamStartBody = fc
  .record(
    {
      subscribe_url: fc.oneof(fc.constant("http://127.0.0.1:1/in"), text, fc.jsonValue({ maxDepth: 1 })),
      publish_url: fc.oneof(fc.constant("http://127.0.0.1:1/out"), text, fc.jsonValue({ maxDepth: 1 })),
      control_url: fc.oneof(fc.constant("http://127.0.0.1:1/control"), text),
      events_url: fc.oneof(fc.constant("http://127.0.0.1:1/events"), text),
      data_url: fc.oneof(fc.constant("http://127.0.0.1:1/data"), text),
      gateway_request_id: fc.oneof(text, fc.jsonValue({ maxDepth: 1 })),
      manifest_id: text,
      stream_id: text,
      params: fc.oneof(
        fc.dictionary(
          fc.oneof(
            fc.constantFrom("width", "height", "max_framerate", "fail", "prompt"),
            fc.string({ maxLength: 8 }),
          ),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 5 },
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    },
    { requiredKeys: [] },
  )
  .map((o) => Buffer.from(JSON.stringify(o)));

const paramsBody = fc
  .oneof(
    fc.dictionary(
      fc.oneof(
        fc.constantFrom("width", "height", "max_framerate", "fail", "prompt"),
        fc.string({ maxLength: 8 }),
      ),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 5 },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map((o) => Buffer.from(JSON.stringify(o)));

const batchPath = fc.constantFrom("/echo", "/run", "/", "/echo/sub/path");
const streamPath = fc
  .tuple(
    fc.constantFrom("", "/api"),
    fc.constantFrom("/stream/start", "/stream/params", "/stream/update", "/stream/stop", "/stream/status"),
  )
  .map(([p, r]) => `${p}${r}`);
const systemPath = fc.constantFrom(
  "/health",
  "/version",
  "/app-version",
  "/hardware/info",
  "/hardware/stats",
  "/metrics",
  "/live-video-to-video",
);

function runnerRequest(paths: fc.Arbitrary<string>): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: fc.oneof({ weight: 6, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: method }),
      path: fc
        .oneof(
          { weight: 8, arbitrary: paths },
          { weight: 1, arbitrary: fc.array(pathSegment, { maxLength: 3 }).map((p) => `/${p.join("/")}`) },
        )
        .chain((p) => query.map((q) => `${p}${q}`)),
      body: fc.oneof(
        { weight: 3, arbitrary: streamStartBody },
        { weight: 3, arbitrary: paramsBody },
        { weight: 3, arbitrary: body },
      ),
      contentType: fc.oneof(
        { weight: 3, arbitrary: fc.constant("application/json") },
        { weight: 2, arbitrary: contentType },
      ),
      accept: fc.option(fc.constantFrom("text/event-stream", "application/json", "*/*"), { nil: undefined }),
      extra: extraHeaders(["x-trace-id", "authorization"]),
      cut: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
    })
    .map((r) => {
      const headers: Record<string, string> = { ...r.extra };
      if (r.contentType !== undefined) headers["content-type"] = r.contentType;
      if (r.accept !== undefined) headers.accept = r.accept;
      return {
        method: r.method,
        path: r.path,
        headers,
        body: r.body,
        ...(r.cut !== undefined ? { abortAfter: r.cut % (r.body.length + 1) } : {}),
      };
    });
}

/** Fails like user code does, on a field value. */
function maybeFail(input: unknown): void {
  if (typeof input === "object" && input !== null && "fail" in input) {
    const fail = (input as { fail: unknown }).fail;
    if (fail === true) throw new Error(HANDLER_FAILURE);
    if (typeof fail === "string") throw new BadRequestError(`fail: ${fail || "(empty)"} is not acceptable`);
  }
}

describe("fuzz: SDK container (runner) over HTTP", () => {
  let batchRunner: RunningRunner;
  let liveRunner: RunningRunner;

  before(async () => {
    batchRunner = await startRunner(
      defineBatchPipeline({
        name: "echo",
        run: async function* (input: unknown) {
          maybeFail(input);
          yield { type: typeof input };
          yield { done: true };
        },
      }),
      { port: 0 },
    );
    liveRunner = await startRunner(
      defineLivePipeline({
        name: "live",
        start: (params) => maybeFail(params),
        params: (params) => maybeFail(params),
      }),
      { port: 0, channels: new MemoryChannels() },
    );
  });

  after(async () => {
    await Promise.all([batchRunner?.close(), liveRunner?.close()]);
  });

  async function fuzz(name: string, runner: () => RunningRunner, paths: fc.Arbitrary<string>): Promise<void> {
    const target: Target = { url: runner().url };
    await send(target, { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) }, WAIT_MS);
    const start = await heapAfterGc();
    await checkAsync(
      name,
      RUNS,
      [fc.array(runnerRequest(paths), { minLength: 1, maxLength: 3 })],
      async (batch) => {
        const outcomes = await Promise.all(batch.map((r) => send(target, r, WAIT_MS)));
        outcomes.forEach((out, i) => {
          const r = batch[i]!;
          const what = `${r.method} ${r.path}`;
          const message = out.kind === "reply" ? errorMessageOf(out.body) : "";
          tally(`${r.path.split("?")[0]!.slice(0, 24)} ${out.kind === "reply" ? out.status : out.kind}`);
          if (r.abortAfter !== undefined) return;
          assert.equal(out.kind, "reply", `${what}: ${JSON.stringify(out)}`);
          if (out.kind !== "reply") return;
          // a 500 is allowed only when the pipeline's own code threw, and it says so
          const allowed = message.includes(HANDLER_FAILURE) ? [500, 503] : [503];
          assertSaneReply(out, allowed, what, r.method === "HEAD");
        });
      },
    );
    printTally(name);
    const health = await send(
      target,
      { method: "GET", path: "/health", headers: {}, body: Buffer.alloc(0) },
      WAIT_MS,
    );
    assert.equal(health.kind === "reply" && health.status, 200, "still answers /health");
    await assertHeapStable(start, name);
  }

  test("batch container: random requests get answers, no SDK 5xx, 4xx with messages, heap stable", () =>
    fuzz("runner batch", () => batchRunner, fc.oneof(batchPath, streamPath, systemPath)));

  test("live container: random stream starts, updates and stops get answers, no SDK 5xx, heap stable", () =>
    fuzz(
      "runner live",
      () => liveRunner,
      fc.oneof({ weight: 3, arbitrary: streamPath }, { weight: 1, arbitrary: systemPath }),
    ));

  test("headers up to 1 MiB are accepted (a BYOC job's Livepeer header), over it 431 with a message", async () => {
    await checkOversizedHeaders({ url: batchRunner.url }, "/health");
  });

  test("an oversized body answers 413 on the batch and stream routes", async () => {
    const big = bigBody(10 * 1024 * 1024 + 1, 0x7b);
    for (const [runner, path] of [
      [batchRunner, "/echo"],
      [liveRunner, "/stream/start"],
      [liveRunner, "/stream/params"],
    ] as const) {
      const out = await send(
        { url: runner.url },
        { method: "POST", path, headers: { "content-type": "application/json" }, body: big },
        WAIT_MS * 2,
      );
      assert.equal(out.kind === "reply" && out.status, 413, `${path}: ${JSON.stringify(out).slice(0, 300)}`);
    }
  });
});
