/**
 * The container-contract conformance suite (docs/spec/container-contract.md#documented-contract-versus-code to
 * #how-the-orchestrator-reads-health, #control-channel to #data-channel, #behaviours-the-conformance-suite-checks,
 * docs/spec/upstream-quirks.md#pytrickle, docs/spec/container-contract.md#what-a-compatible-container-does): what a BYOC container must serve, checked over plain HTTP against any target — our runner
 * SDK, or a real pytrickle container (test/conformance/container-pytrickle-target.ts).
 *
 * `containerSuite(target)` registers node:test tests. A target starts fresh containers running the
 * suite's reference pipelines:
 * - live: a stream pipeline that accepts starts without media URLs, and whose params handler throws on
 *   `{"reject": true}` (pytrickle: a `FrameProcessor.update_params` that raises);
 * - loading (optional): the live pipeline whose load blocks until `release()`;
 * - failing load (optional): a load that throws;
 * - batch (optional): text reversal at `POST /<route>`: `{"text":"abc"}` → `{"text":"cba"}`, SSE on
 *   `Accept: text/event-stream` (pieces concatenate to the answer, then `data: [DONE]`).
 *
 * Expectations default to the contract as Tributary serves it (503 at once on a start while loading, 409
 * on a second start, 400 on bad or rejected params, a failed update leaves /health alone, 413 on oversized
 * bodies). A target that differs (pytrickle; docs/spec/container-contract.md#stream-routes, docs/spec/upstream-quirks.md#pytrickle) declares it in `quirks`, and the suite checks that
 * documented behaviour instead. {@link PYTRICKLE_0_1_6_QUIRKS} lists what pytrickle 0.1.6 (PyPI) does,
 * as measured against this suite.
 * Features a target lacks (bearer auth, `/api` prefix) are not registered as tests for it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startTrickleServer } from "../../src/trickle/server.ts";
import { TrickleSubscriber } from "../../src/trickle/subscriber.ts";
import { until } from "../until.ts";

/** A started container. */
export interface ContainerUnderTest {
  /** Base URL, without a trailing slash. */
  url: string;
  close(): Promise<void>;
}

/** Options the suite passes when starting a container. */
export interface ContainerStartOptions {
  /** Require `Authorization: Bearer <token>` (only asked of targets with `features.bearerAuth`). */
  token?: string;
}

/** Documented deviations of a target from Tributary's contract. */
export interface ContainerQuirks {
  /** A start during LOADING: "503" answers at once (default); "waits" holds it until the load ends (pytrickle). */
  startWhileLoading?: "503" | "waits";
  /**
   * A second start while a stream runs: refused with this status (default 409; pytrickle at 89a992de: 503),
   * or "replaces" (the old stream is stopped and the new one runs: pytrickle 0.1.6, ai-runner).
   */
  doubleStart?: number | "replaces";
  /** Status of a params update that fails validation. Default 400 (pytrickle: 500). */
  invalidParamsStatus?: number;
  /** Status of a params update whose handler throws. Default 400 (pytrickle: 200 "updated successfully"). */
  rejectedParamsStatus?: number;
  /** True when a handler that throws on an update turns /health into a sticky ERROR (pytrickle). */
  rejectedParamsSetsError?: boolean;
  /** Start answers lack `current_state` (pytrickle before PR #88, e.g. 0.1.6). */
  noCurrentState?: boolean;
  /** Status of a start whose body is over the limit. Default 413 (pytrickle: 400 "Error starting stream: …"). */
  oversizeStatus?: number;
}

/** pytrickle 0.1.6 (PyPI), as measured with this suite against its `StreamServer`. */
export const PYTRICKLE_0_1_6_QUIRKS: ContainerQuirks = {
  startWhileLoading: "waits",
  doubleStart: "replaces",
  invalidParamsStatus: 500,
  rejectedParamsStatus: 200,
  rejectedParamsSetsError: true,
  noCurrentState: true,
  oversizeStatus: 400,
};

/** Optional features; absent means unsupported. */
export interface ContainerFeatures {
  /** Bearer-token auth on every route. */
  bearerAuth?: boolean;
  /** Stream routes under `/api` as well as `/`. */
  apiPrefix?: boolean;
  /** Request bodies above this many bytes get 413. */
  bodyLimitBytes?: number;
}

/** A target of the suite. */
export interface ContainerTarget {
  name: string;
  /** Starts the live reference pipeline, loaded (health IDLE) when it resolves. */
  startLive(options?: ContainerStartOptions): Promise<ContainerUnderTest>;
  /** Starts the live pipeline with a load that waits for `release()`. */
  startLoading?(): Promise<ContainerUnderTest & { release(): void }>;
  /** Starts a pipeline whose load fails. */
  startFailingLoad?(): Promise<ContainerUnderTest>;
  /** Starts the batch reference pipeline; `route` is its path, e.g. `/text-reverse`. */
  startBatch?(options?: ContainerStartOptions): Promise<ContainerUnderTest & { route: string }>;
  quirks?: ContainerQuirks;
  features?: ContainerFeatures;
}

type Json = Record<string, unknown>;

async function call(
  url: string,
  init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: Json; text: string; headers: Headers }> {
  const r = await fetch(url, {
    method: init.method ?? "GET",
    headers: init.headers ?? {},
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await r.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // not JSON; callers check text
  }
  return { status: r.status, json, text, headers: r.headers };
}

function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return call(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
}

async function health(c: ContainerUnderTest): Promise<string> {
  return (await call(`${c.url}/health`)).json.status as string;
}

/** Runs `body` with a fresh live container, closed afterwards. */
async function withLive(
  target: ContainerTarget,
  body: (c: ContainerUnderTest) => Promise<void>,
): Promise<void> {
  const c = await target.startLive();
  try {
    await body(c);
  } finally {
    await c.close();
  }
}

function assertStreamError(r: { json: Json }, message?: RegExp): void {
  assert.equal(r.json.status, "error", `pytrickle error shape, got ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json.message, "string");
  if (message) assert.match(r.json.message as string, message);
}

/** Registers the container-contract conformance tests for `target`. */
export function containerSuite(target: ContainerTarget): void {
  const q = {
    startWhileLoading: target.quirks?.startWhileLoading ?? "503",
    doubleStart: target.quirks?.doubleStart ?? 409,
    invalidParamsStatus: target.quirks?.invalidParamsStatus ?? 400,
    rejectedParamsStatus: target.quirks?.rejectedParamsStatus ?? 400,
    rejectedParamsSetsError: target.quirks?.rejectedParamsSetsError ?? false,
    currentState: !target.quirks?.noCurrentState,
    oversizeStatus: target.quirks?.oversizeStatus ?? 413,
  };
  const prefixes = target.features?.apiPrefix ? ["", "/api"] : [""];

  describe(`container contract: ${target.name}`, () => {
    describe("system routes", () => {
      test("GET /health answers exactly {status} with an upper-case state", async () => {
        await withLive(target, async (c) => {
          const r = await call(`${c.url}/health`);
          assert.equal(r.status, 200);
          assert.deepEqual(Object.keys(r.json), ["status"]);
          assert.equal(r.json.status, "IDLE");
        });
      });

      test("GET /version, /app-version, /hardware/info and /hardware/stats have pytrickle's shapes", async () => {
        await withLive(target, async (c) => {
          const v = await call(`${c.url}/version`);
          assert.equal(v.status, 200);
          for (const k of ["pipeline", "model_id", "version"])
            assert.equal(typeof v.json[k], "string", `/version ${k}`);
          const a = await call(`${c.url}/app-version`);
          assert.equal(typeof a.json.version, "string");
          const info = await call(`${c.url}/hardware/info`);
          assert.equal(typeof info.json.pipeline, "string");
          assert.equal(typeof info.json.model_id, "string");
          assert.equal(typeof info.json.gpu_info, "object");
          const stats = await call(`${c.url}/hardware/stats`);
          assert.equal(typeof stats.json.gpu_stats, "object");
        });
      });
    });

    describe("health state machine", () => {
      if (target.startLoading) {
        const startLoading = target.startLoading.bind(target);
        const title =
          q.startWhileLoading === "waits"
            ? "LOADING until the load finishes; a start meanwhile waits for the load, then succeeds"
            : "LOADING until the load finishes, with 503 on /stream/start meanwhile, then IDLE";
        test(title, async () => {
          const c = await startLoading();
          try {
            assert.equal(await health(c), "LOADING");
            if (q.startWhileLoading === "waits") {
              const pending = postJson(`${c.url}/stream/start`, { gateway_request_id: "early" });
              assert.equal(await health(c), "LOADING");
              c.release();
              const r = await pending;
              assert.equal(r.status, 200);
              assert.equal(await health(c), "OK");
              assert.equal((await call(`${c.url}/stream/stop`, { method: "POST" })).status, 200);
            } else {
              const r = await postJson(`${c.url}/stream/start`, { gateway_request_id: "early" });
              assert.equal(r.status, 503);
              assertStreamError(r, /initializing/);
              if (q.currentState) assert.equal(typeof r.json.current_state, "object");
              assert.equal(await health(c), "LOADING");
              c.release();
            }
            await until("IDLE after load", async () => (await health(c)) === "IDLE", 5000);
          } finally {
            await c.close();
          }
        });
      }
      if (target.startFailingLoad) {
        const startFailing = target.startFailingLoad.bind(target);
        test("a failed load turns /health into ERROR and refuses streams", async () => {
          const c = await startFailing();
          try {
            await until("ERROR after a failed load", async () => (await health(c)) === "ERROR", 5000);
            const r = await postJson(`${c.url}/stream/start`, { gateway_request_id: "x" });
            assert.equal(r.status, 503);
            assertStreamError(r);
          } finally {
            await c.close();
          }
        });
      }
      test("OK while a stream runs, IDLE after it stops", async () => {
        await withLive(target, async (c) => {
          const r = await postJson(`${c.url}/stream/start`, { gateway_request_id: "h1", params: {} });
          assert.equal(r.status, 200);
          assert.equal(await health(c), "OK");
          assert.equal((await call(`${c.url}/stream/stop`, { method: "POST", body: "" })).status, 200);
          assert.equal(await health(c), "IDLE");
        });
      });
    });

    for (const p of prefixes) {
      describe(`stream routes under "${p || "/"}"`, () => {
        test("start answers pytrickle's success body; status reports the stream; stop ends it", async () => {
          await withLive(target, async (c) => {
            const r = await postJson(`${c.url}${p}/stream/start`, {
              gateway_request_id: "req-1",
              params: { width: "640", height: 360 },
            });
            assert.equal(r.status, 200);
            assert.equal(r.json.status, "success");
            assert.equal(r.json.message, "Stream started successfully");
            assert.equal(r.json.request_id, "req-1");
            if (q.currentState) assert.equal((r.json.current_state as Json).status, "OK");
            const s = await call(`${c.url}${p}/stream/status`);
            assert.equal(s.status, 200);
            assert.equal(s.json.client_active, true);
            assert.equal((s.json.current_params as Json).gateway_request_id, "req-1");
            for (const k of ["status", "state", "pipeline_ready", "active_streams", "startup_complete"])
              assert.ok(k in s.json, `status has ${k}`);
            const fps = s.json.fps as Json;
            for (const k of [
              "ingress_video_fps",
              "ingress_audio_fps",
              "egress_video_fps",
              "egress_audio_fps",
            ])
              assert.equal(typeof fps[k], "number", `fps.${k}`);
            const stop = await call(`${c.url}${p}/stream/stop`, { method: "POST", body: "user stop" });
            assert.equal(stop.status, 200);
            assert.deepEqual(stop.json, { status: "success", message: "Stream stopped successfully" });
            const after = await call(`${c.url}${p}/stream/status`);
            assert.equal(after.json.client_active, false);
          });
        });

        test("start validation: missing gateway_request_id, non-JSON type, bad JSON, bad params → 400; health stays IDLE", async () => {
          await withLive(target, async (c) => {
            const cases: [string, () => ReturnType<typeof call>][] = [
              ["missing gateway_request_id", () => postJson(`${c.url}${p}/stream/start`, { params: {} })],
              [
                "text/plain body",
                () =>
                  call(`${c.url}${p}/stream/start`, {
                    method: "POST",
                    body: '{"gateway_request_id":"a"}',
                    headers: { "content-type": "text/plain" },
                  }),
              ],
              ["malformed JSON", () => postJson(`${c.url}${p}/stream/start`, '{"gateway_request_id":')],
              [
                "width without height",
                () =>
                  postJson(`${c.url}${p}/stream/start`, { gateway_request_id: "a", params: { width: 10 } }),
              ],
              [
                "max_framerate above 60",
                () =>
                  postJson(`${c.url}${p}/stream/start`, {
                    gateway_request_id: "a",
                    params: { max_framerate: 61 },
                  }),
              ],
            ];
            for (const [name, send] of cases) {
              const r = await send();
              assert.equal(r.status, 400, name);
              assertStreamError(r, /Error starting stream/);
              assert.equal(await health(c), "IDLE", `health after ${name}`);
            }
          });
        });

        test(
          q.doubleStart === "replaces"
            ? "a second start while a stream runs replaces it"
            : "a second start while a stream runs is refused and leaves the running stream alone",
          async () => {
            await withLive(target, async (c) => {
              assert.equal(
                (await postJson(`${c.url}${p}/stream/start`, { gateway_request_id: "first" })).status,
                200,
              );
              const r = await postJson(`${c.url}${p}/stream/start`, { gateway_request_id: "second" });
              if (q.doubleStart === "replaces") {
                assert.equal(r.status, 200);
              } else {
                assert.equal(r.status, q.doubleStart);
                assertStreamError(r, /in use/);
              }
              assert.equal(await health(c), "OK");
              const s = await call(`${c.url}${p}/stream/status`);
              const running = q.doubleStart === "replaces" ? "second" : "first";
              assert.equal((s.json.current_params as Json).gateway_request_id, running);
              assert.equal((await call(`${c.url}${p}/stream/stop`, { method: "POST" })).status, 200);
            });
          },
        );

        test("params updates: applied, invalid and rejected, and their effect on /health", async () => {
          await withLive(target, async (c) => {
            assert.equal(
              (await postJson(`${c.url}${p}/stream/start`, { gateway_request_id: "pp" })).status,
              200,
            );
            const ok = await postJson(`${c.url}${p}/stream/params`, { prompt: "a cat" });
            assert.equal(ok.status, 200);
            assert.deepEqual(ok.json, { status: "success", message: "Parameters updated successfully" });
            const invalid = await postJson(`${c.url}${p}/stream/params`, { max_framerate: 100 });
            assert.equal(invalid.status, q.invalidParamsStatus);
            assertStreamError(invalid, /Parameter update failed: max_framerate cannot exceed 60 FPS/);
            assert.equal(await health(c), "OK", "invalid params never touch /health");
            const rejected = await postJson(`${c.url}${p}/stream/params`, { reject: true });
            assert.equal(rejected.status, q.rejectedParamsStatus);
            if (rejected.status >= 400) assertStreamError(rejected, /Parameter update failed/);
            assert.equal(await health(c), q.rejectedParamsSetsError ? "ERROR" : "OK");
            if (!q.rejectedParamsSetsError) {
              const again = await postJson(`${c.url}${p}/stream/params`, { prompt: "a dog" });
              assert.equal(again.status, 200, "the stream still takes updates");
            }
          });
        });

        test("params and stop without a stream answer 400 with pytrickle's messages", async () => {
          await withLive(target, async (c) => {
            const r = await postJson(`${c.url}${p}/stream/params`, { prompt: "x" });
            assert.equal(r.status, 400);
            assertStreamError(r, /No active stream to update/);
            const s = await call(`${c.url}${p}/stream/stop`, { method: "POST" });
            assert.equal(s.status, 400);
            assertStreamError(s, /No active stream to stop/);
            assert.equal(await health(c), "IDLE");
          });
        });
      });
    }

    test("POST /live-video-to-video is an alias of /stream/start", async () => {
      await withLive(target, async (c) => {
        const r = await postJson(`${c.url}/live-video-to-video`, { gateway_request_id: "alias" });
        assert.equal(r.status, 200);
        assert.equal(r.json.request_id, "alias");
        assert.equal((await call(`${c.url}/stream/stop`, { method: "POST" })).status, 200);
      });
    });

    test("channels: heartbeat first, params_updated after an update, stream_stopped at the end, in pytrickle's envelope", async () => {
      const trickle = await startTrickleServer({ port: 0 });
      const base = trickle.url.replace(/\/$/, "");
      const id = `conf-${Date.now()}`;
      for (const [suffix, mime] of [
        ["control", "application/json"],
        ["events", "application/json"],
        ["data", "application/jsonl"],
      ] as const)
        trickle.trickle.createChannel(`${id}-${suffix}`, mime);
      const events = new TrickleSubscriber(`${base}/${id}-events`, { start: 0 });
      try {
        await withLive(target, async (c) => {
          const r = await postJson(`${c.url}/stream/start`, {
            gateway_request_id: id,
            control_url: `${base}/${id}-control`,
            events_url: `${base}/${id}-events`,
            data_url: `${base}/${id}-data`,
            params: {},
          });
          assert.equal(r.status, 200);
          const next = async () => JSON.parse(await (await events.next())!.text()) as Json;
          const first = await next();
          assert.equal(first.queue_event_type, "stream_heartbeat");
          const hb = first.event as Json;
          assert.equal(hb.type, "heartbeat");
          assert.equal(typeof hb.timestamp, "number");
          assert.equal(typeof (hb.fps as Json).ingress_video_fps, "number");
          assert.equal((hb.urls as Json).events, `${base}/${id}-events`);
          assert.equal((await postJson(`${c.url}/stream/params`, { prompt: "x" })).status, 200);
          let e = await next();
          while ((e.event as Json).type === "heartbeat") e = await next();
          assert.equal(e.queue_event_type, "ai_stream_events");
          assert.equal((e.event as Json).type, "params_updated");
          assert.deepEqual((e.event as Json).params, { prompt: "x" });
          assert.equal((await call(`${c.url}/stream/stop`, { method: "POST" })).status, 200);
          let last: Json | undefined;
          for (;;) {
            const seg = await events.next();
            if (!seg) break;
            last = JSON.parse(await seg.text()) as Json;
            if ((last.event as Json).type === "stream_stopped") break;
          }
          assert.equal((last?.event as Json | undefined)?.type, "stream_stopped");
        });
      } finally {
        events.close();
        await trickle.close();
      }
    });

    if (target.features?.bodyLimitBytes !== undefined) {
      const limit = target.features.bodyLimitBytes;
      test("an oversized body is refused (413 by default) and the container keeps serving", async () => {
        await withLive(target, async (c) => {
          const big = JSON.stringify({ gateway_request_id: "big", params: { blob: "x".repeat(limit + 1) } });
          const r = await postJson(`${c.url}/stream/start`, big);
          assert.equal(r.status, q.oversizeStatus);
          assertStreamError(r);
          assert.equal(await health(c), "IDLE");
        });
      });
    }

    if (target.features?.bearerAuth) {
      test("with a token, every route needs Authorization: Bearer <token>", async () => {
        const c = await target.startLive({ token: "conformance-token" });
        try {
          for (const path of ["/health", "/version", "/stream/status"]) {
            assert.equal((await call(`${c.url}${path}`)).status, 401, `${path} without a token`);
            const wrong = await call(`${c.url}${path}`, { headers: { authorization: "Bearer nope" } });
            assert.equal(wrong.status, 401, `${path} with a wrong token`);
            const right = await call(`${c.url}${path}`, {
              headers: { authorization: "Bearer conformance-token" },
            });
            assert.equal(right.status, 200, `${path} with the token`);
          }
          const start = await postJson(`${c.url}/stream/start`, { gateway_request_id: "a" });
          assert.equal(start.status, 401);
        } finally {
          await c.close();
        }
      });
    }

    if (target.startBatch) {
      const startBatch = target.startBatch.bind(target);
      describe("batch", () => {
        test("JSON in, JSON out", async () => {
          const c = await startBatch();
          try {
            const r = await postJson(`${c.url}${c.route}`, { text: "abc" });
            assert.equal(r.status, 200);
            assert.match(r.headers.get("content-type") ?? "", /application\/json/);
            assert.deepEqual(r.json, { text: "cba" });
          } finally {
            await c.close();
          }
        });

        test("Accept: text/event-stream streams data lines ending with [DONE]", async () => {
          const c = await startBatch();
          try {
            const r = await postJson(
              `${c.url}${c.route}`,
              { text: "hello" },
              { accept: "text/event-stream" },
            );
            assert.equal(r.status, 200);
            assert.match(r.headers.get("content-type") ?? "", /text\/event-stream/);
            const data = r.text
              .split("\n")
              .filter((l) => l.startsWith("data: "))
              .map((l) => l.slice(6));
            assert.equal(data.at(-1), "[DONE]");
            const text = data
              .slice(0, -1)
              .map((d) => (JSON.parse(d) as { text: string }).text)
              .join("");
            assert.equal(text, "olleh");
          } finally {
            await c.close();
          }
        });

        test("malformed JSON answers 400 and the container keeps serving", async () => {
          const c = await startBatch();
          try {
            const r = await postJson(`${c.url}${c.route}`, "{oops");
            assert.equal(r.status, 400);
            assert.equal((await postJson(`${c.url}${c.route}`, { text: "ab" })).json.text, "ba");
            assert.equal(await health(c), "IDLE");
          } finally {
            await c.close();
          }
        });
      });
    }
  });
}
