// The live routes over a fake context: no orchestrator, no trickle server, no HTTP server.
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import { NotFoundError, type TributaryError } from "../../node/errors.ts";
import { silentLogger } from "../../node/logger.ts";
import type { TricklePublisher } from "../../trickle/index.ts";
import { startTrace } from "../tracing.ts";
import type { LiveContext, LiveOptions, StreamChannels } from "./context.ts";
import { handleLiveRequest, startLiveRoute, stopRoute, updateRoute } from "./routes.ts";
import { type LiveStream, newStream, type StreamFields, transition } from "./stream.ts";

function request(
  method: string,
  url: string,
  body = "",
  headers: Record<string, string> = {},
): IncomingMessage {
  return Object.assign(Readable.from(body === "" ? [] : [Buffer.from(body)]), {
    method,
    url,
    headers,
  }) as unknown as IncomingMessage;
}

/** A response that keeps what the handler wrote. */
function response() {
  const r = {
    status: 0,
    headers: {} as Record<string, unknown>,
    body: "",
    writeHead(status: number, headers: Record<string, unknown> = {}) {
      r.status = status;
      r.headers = headers;
      return r;
    },
    end(text = "") {
      r.body += text;
    },
    json: () => JSON.parse(r.body) as Record<string, unknown>,
  };
  return r;
}
const asRes = (r: ReturnType<typeof response>) => r as unknown as ServerResponse;

function stream(fields: Partial<StreamFields> = {}): LiveStream {
  return newStream(
    { id: "s1", kind: "live", modelId: "noop", params: {}, ...fields },
    { key: "k".repeat(32), channel: "c".repeat(32) },
    startTrace(undefined),
    silentLogger(),
  );
}

/** A context whose `open` hands out `s` as started on orchestrator `https://o`. */
function fakeContext(s: LiveStream) {
  const opened: { fields: StreamFields; channels: StreamChannels }[] = [];
  const stopped: LiveStream[] = [];
  const ctx: LiveContext = {
    options: { baseUrl: () => "http://gw" } as LiveOptions,
    streams: new Map([[s.id, s]]),
    trickle: { handle: () => false } as unknown as LiveContext["trickle"],
    async open(_req, fields, channels) {
      opened.push({ fields, channels });
      Object.assign(s, fields, { orchestrator: "https://o" });
      transition(s, "started");
      return s;
    },
    stop(x) {
      stopped.push(x);
      transition(x, "stop");
    },
    end() {},
  };
  return { ctx, opened, stopped };
}

test("a live start answers URLs on this gateway: channels by their random name, routes with the key", async () => {
  const s = stream();
  const { ctx, opened } = fakeContext(s);
  const res = response();
  await startLiveRoute(
    ctx,
    request(
      "POST",
      "/live/video-to-video",
      JSON.stringify({ model_id: "noop", params: { a: 1 }, stream_id: "s1" }),
    ),
    asRes(res),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(opened, [
    {
      fields: { id: "s1", kind: "live", modelId: "noop", params: { a: 1 } },
      channels: { input: true, output: true, data: false },
    },
  ]);
  const key = "k".repeat(32);
  const channel = "c".repeat(32);
  assert.deepEqual(res.json(), {
    stream_id: "s1",
    publish_url: `http://gw/live/trickle/${channel}-in`,
    subscribe_url: `http://gw/live/trickle/${channel}-out`,
    update_url: `http://gw/live/video-to-video/s1/update?key=${key}`,
    status_url: `http://gw/live/video-to-video/s1/status?key=${key}`,
    stop_url: `http://gw/live/video-to-video/s1/stop?key=${key}`,
    whep_url: `http://gw/live/video-to-video/s1-out/whep?key=${key}`,
    orchestrator: "https://o",
  });
});

test("a live start without model_id is a 400 and opens nothing", async () => {
  const { ctx, opened } = fakeContext(stream());
  await assert.rejects(
    startLiveRoute(ctx, request("POST", "/live/video-to-video", "{}"), asRes(response())),
    (err: TributaryError) => err.code === "MODEL_ID_REQUIRED" && err.status === 400,
  );
  assert.equal(opened.length, 0);
});

test("a stream's routes need its key: a wrong or missing key answers as an unknown id", async () => {
  const s = stream();
  const { ctx } = fakeContext(s);
  transition(s, "started");
  const res = response();
  await handleLiveRequest(
    ctx,
    request("GET", `/live/video-to-video/s1/status?key=${s.key}`),
    asRes(res),
    "/live/video-to-video/s1/status",
  );
  assert.equal(res.status, 200);
  assert.equal(res.json().state, "running");
  assert.equal(res.json().stream_id, "s1");
  const refusal = async (url: string, path: string) => {
    const err = await handleLiveRequest(ctx, request("GET", url), asRes(response()), path).then(
      () => assert.fail("answered"),
      (e: unknown) => e as NotFoundError,
    );
    assert.ok(err instanceof NotFoundError);
    return err.message.replace(/s1|nope/, "<id>");
  };
  const unknown = await refusal(`/process/stream/nope/status?key=${s.key}`, "/process/stream/nope/status");
  assert.equal(await refusal("/process/stream/s1/status?key=wrong", "/process/stream/s1/status"), unknown);
  assert.equal(await refusal("/process/stream/s1/stop", "/process/stream/s1/stop"), unknown);
});

test("RTMP ingest answers 501 whatever the id; BYOC WHIP needs the key and a video channel", async () => {
  const { ctx } = fakeContext(stream({ kind: "byoc" }));
  const rtmp = "/process/stream/anything/rtmp";
  await assert.rejects(
    handleLiveRequest(ctx, request("POST", rtmp), asRes(response()), rtmp),
    (err: TributaryError) => err.code === "NOT_IMPLEMENTED" && err.status === 501,
  );
  const whip = "/process/stream/s1/whip";
  await assert.rejects(
    handleLiveRequest(ctx, request("POST", whip), asRes(response()), whip),
    (err: TributaryError) => err.code === "NOT_FOUND" && err.status === 404,
  );
  const keyed = `${whip}?key=${"k".repeat(32)}`;
  const req = request("POST", keyed, "v=0", { "content-type": "application/sdp" });
  await assert.rejects(
    handleLiveRequest(ctx, req, asRes(response()), whip),
    (err: TributaryError) => err.code === "NO_VIDEO_CHANNEL" && err.status === 409,
  );
});

test("a live update is written to the orchestrator's control channel and kept for a move", async () => {
  const s = stream();
  const { ctx } = fakeContext(s);
  transition(s, "started");
  const written: string[] = [];
  s.control = {
    write: async (b: Buffer) => {
      written.push(b.toString());
    },
  } as unknown as TricklePublisher;
  const res = response();
  await updateRoute(ctx, request("POST", "/", JSON.stringify({ params: { prompt: "x" } })), asRes(res), s);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { stream_id: "s1", params: { prompt: "x" } });
  assert.deepEqual(written, ['{"prompt":"x"}']);
  assert.deepEqual(s.params, { prompt: "x" });
});

test("an update of an ended stream is 409 STREAM_ENDED; a GET is 405", async () => {
  const s = stream();
  const { ctx } = fakeContext(s);
  transition(s, "started");
  await assert.rejects(
    updateRoute(ctx, request("GET", "/"), asRes(response()), s),
    (err: TributaryError) => err.status === 405,
  );
  transition(s, "drained");
  await assert.rejects(
    updateRoute(ctx, request("POST", "/", "{}"), asRes(response()), s),
    (err: TributaryError) => err.code === "STREAM_ENDED" && err.status === 409,
  );
});

test("a live stream's stop stops it here and answers its final status", async () => {
  const s = stream();
  const { ctx, stopped } = fakeContext(s);
  transition(s, "started");
  const res = response();
  await stopRoute(ctx, request("POST", "/"), asRes(res), s);
  assert.deepEqual(stopped, [s]);
  assert.equal(res.status, 200);
  assert.equal(res.json().state, "stopped");
});
