import assert from "node:assert/strict";
import { before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { channelMean, decodeSegments, syntheticSegments } from "../media/synthetic.ts";
import { MediaLoop, VIDEO_QUEUE_LIMIT } from "./media-loop.ts";
import { MemoryChannels } from "./memory-channels.ts";
import { defineLivePipeline, type LivePipelineDefinition, type StreamContext, WITHHELD } from "./pipeline.ts";

let input: Uint8Array[] = [];
before(async () => {
  // 3 s of 30 fps grey video with audio: 2 segments.
  input = await syntheticSegments({ width: 96, height: 96, fps: 30, seconds: 3, audio: true });
});

interface Run {
  loop: MediaLoop;
  out: Uint8Array[];
  userErrors: string[];
  mediaErrors: string[];
}

function run(
  def: LivePipelineDefinition,
  params: Record<string, unknown>,
  opts: { input?: boolean; output?: boolean; segments?: readonly Uint8Array[] } = {},
): Run {
  const channels = new MemoryChannels();
  const ac = new AbortController();
  const ctx: StreamContext = {
    streamId: "t",
    params,
    signal: ac.signal,
    sendData: () => false,
    sendEvent: async () => false,
  };
  const userErrors: string[] = [];
  const mediaErrors: string[] = [];
  if (opts.input !== false) {
    for (const s of opts.segments ?? input) channels.channel("mem://in").push(s);
    channels.channel("mem://in").end();
  }
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline(def),
    ctx,
    ...(opts.input !== false ? { input: channels.subscribe("mem://in") } : {}),
    ...(opts.output !== false ? { output: channels.publish("mem://out", "video/mp2t") } : {}),
    onUserError: (source) => void userErrors.push(source),
    onMediaError: (source) => void mediaErrors.push(source),
  });
  return { loop, out: channels.channel("mem://out").segments, userErrors, mediaErrors };
}

test("a segment with scrambled payloads does not stop the stream: the segments after it decode in full", async () => {
  const channels = new MemoryChannels();
  const ch = channels.channel("mem://in");
  const bad = new Uint8Array(input[0] as Uint8Array);
  // Keep the TS packet headers, scramble the payloads: the demuxer opens, the decoder chokes.
  for (let i = 0; i < bad.length; i++) if (i % 188 > 3) bad[i] = (i * 7919) & 0xff;
  ch.push(bad);
  for (const s of input) ch.push(s);
  ch.end();
  const errors: string[] = [];
  let frames = 0;
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline({
      video: () => {
        frames++;
      },
    }),
    ctx: {
      streamId: "c",
      params: { max_framerate: 30 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    onUserError: () => {},
    onMediaError: (source) => void errors.push(source),
  });
  assert.equal(await loop.done, "input-ended");
  // FFmpeg conceals the damage (no exception): the scrambled segment yields no frames, the valid
  // ones all of theirs.
  assert.equal(frames + loop.stats.videoDropped, 90);
  assert.deepEqual(errors, []);
});

test("handler results: a frame is published, undefined passes the input, a throw passes the input and is reported", async () => {
  let n = 0;
  const r = run(
    {
      video: (f) => {
        n++;
        if (n % 3 === 0) throw new Error("boom");
        if (n % 3 === 1) return undefined;
        return { ...f, data: new Uint8Array(f.data.length).fill(250) };
      },
    },
    { width: 64, height: 48, max_framerate: 30 },
  );
  assert.equal(await r.loop.done, "input-ended");
  // The input arrives faster than real time, so the bounded queue may drop a few frames.
  assert.equal(n + r.loop.stats.videoDropped, 90);
  assert.equal(r.loop.stats.videoOut, n, "every frame handled produced output");
  assert.equal(r.loop.stats.handlerErrors, Math.floor(n / 3));
  assert.deepEqual(r.userErrors, ["video", "video", "video"], "errors are reported, not flooded");
  const d = await decodeSegments(r.out, 64, 48);
  assert.equal(d.video.length, n);
  assert.deepEqual(d.streams, { video: true, audio: true }, "audio passes through");
  const bright = d.video.filter((f) => channelMean(f, 0) > 200).length;
  assert.ok(bright >= 25 && bright <= 35, `a third of the frames are the handler's, got ${bright}`);
});

test("withheld frames publish nothing, then the loading overlay; with the overlay disabled nothing at all", async () => {
  const shown = run({ video: () => WITHHELD, overlay: { timeoutMs: 0 } }, { width: 64, height: 64 });
  await shown.loop.done;
  assert.ok(shown.loop.stats.overlayFrames > 0);
  const d = await decodeSegments(shown.out, 64, 64);
  assert.ok(d.video.length > 0);
  assert.ok(channelMean(d.video[0] as never, 1) < 60, "the overlay is dark (no processed frame yet)");

  const hidden = run({ video: () => WITHHELD, overlay: { enabled: false } }, { width: 64, height: 64 });
  await hidden.loop.done;
  assert.equal(hidden.loop.stats.videoOut, 0);
  assert.equal(
    hidden.loop.stats.withheld + hidden.loop.stats.videoDropped,
    72,
    "24 fps default cap over 3 s",
  );
});

test("a slow handler makes the queue drop the oldest frames instead of growing", async () => {
  const seen: number[] = [];
  const r = run(
    {
      video: async (f) => {
        seen.push(f.pts);
        await sleep(40);
        return undefined;
      },
    },
    { width: 32, height: 32, max_framerate: 30 },
  );
  await r.loop.done;
  assert.ok(r.loop.stats.videoDropped > 0, "frames were dropped");
  assert.ok(seen.length < 90 && seen.length >= VIDEO_QUEUE_LIMIT, `processed ${seen.length}`);
  assert.ok(
    seen.includes(Math.max(...seen)) && seen.at(-1) === Math.max(...seen),
    "the newest frame is processed last",
  );
});

test("warm-up runs without delaying the input: frames count as withheld until it resolves", async () => {
  let warm = false;
  let calledCold = 0;
  const r = run(
    {
      warmup: async () => {
        await sleep(150);
        warm = true;
      },
      video: () => {
        if (!warm) calledCold++;
        return undefined;
      },
      overlay: { timeoutMs: 0 },
    },
    { width: 32, height: 32, max_framerate: 30 },
  );
  await r.loop.done;
  assert.equal(calledCold, 0, "the handler never saw a frame before the warm-up ended");
  assert.ok(r.loop.stats.withheld > 0, "frames during the warm-up were withheld");
  assert.equal(r.loop.stats.videoOut + r.loop.stats.videoDropped, 90, "overlay frames kept the output going");
});

test("a generative stream (no input) calls the handler with blank frames at max_framerate", async () => {
  const r = run(
    { video: (f) => ({ ...f, data: new Uint8Array(f.data.length).fill(180) }) },
    { width: 48, height: 32, max_framerate: 20 },
    { input: false },
  );
  await sleep(600);
  await r.loop.stop();
  const d = await decodeSegments(r.out, 48, 32);
  assert.ok(d.video.length >= 5, `frames published, got ${d.video.length}`);
  assert.ok(channelMean(d.video[0] as never, 2) > 150);
  assert.equal(d.streams.audio, false);
});

test("an analysis-only stream (no output) runs the handlers and publishes nothing", async () => {
  let frames = 0;
  let audio = 0;
  const r = run(
    {
      video: () => {
        frames++;
      },
      audio: () => {
        audio++;
      },
    },
    { max_framerate: 10 },
    { output: false },
  );
  assert.equal(await r.loop.done, "input-ended");
  assert.equal(frames + r.loop.stats.videoDropped, 30);
  assert.ok(audio > 100);
  assert.equal(r.out.length, 0);
});

test("segments that are not MPEG-TS are skipped and reported; the loop goes on to the end of the input", async () => {
  const channels = new MemoryChannels();
  const ch = channels.channel("mem://in");
  for (let i = 0; i < 3; i++) ch.push(new Uint8Array(4096).fill(i + 1));
  ch.end();
  const errors: string[] = [];
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline({ video: () => undefined }),
    ctx: {
      streamId: "g",
      params: {},
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    output: channels.publish("mem://out", "video/mp2t"),
    onUserError: () => {},
    onMediaError: (source) => void errors.push(source),
  });
  assert.equal(await loop.done, "input-ended");
  assert.deepEqual(errors, ["decoder", "decoder", "decoder"]);
  assert.equal(loop.stats.invalidSegments, 3);
  assert.equal(channels.channel("mem://out").segments.length, 0);
});

test("input timestamps that restart (a new source) keep the output continuous and growing", async () => {
  const channels = new MemoryChannels();
  const ch = channels.channel("mem://in");
  for (const s of [...input, ...input]) ch.push(s);
  ch.end();
  const errors: string[] = [];
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline({ video: () => undefined }),
    maxPendingSegments: 10, // the whole input arrives at once here
    ctx: {
      streamId: "d",
      params: { width: 32, height: 32, max_framerate: 30 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    output: channels.publish("mem://out", "video/mp2t"),
    onUserError: () => {},
    onMediaError: (source, message) => void errors.push(`${source}: ${message}`),
  });
  await loop.done;
  assert.deepEqual(errors, []);
  // (The decoder may lose a frame at the joint; a cap that failed to resync would drop ~90.)
  assert.ok(
    loop.stats.videoIn >= 175,
    `the second pass is not dropped by the frame-rate cap: ${loop.stats.videoIn}`,
  );
  const d = await decodeSegments(channels.channel("mem://out").segments, 32, 32);
  assert.equal(d.video.length, loop.stats.videoOut);
  const pts = d.video.map((f) => f.pts);
  assert.ok(
    pts.every((p, i) => i === 0 || p > (pts[i - 1] as number)),
    "output PTS only grow",
  );
  const span = ((pts.at(-1) as number) - (pts[0] as number)) / 90000;
  assert.ok(span > 5 && span < 7, `about 6 s of output, got ${span}`);
});

test("stop drops the queued frames instead of running the handler over them", async () => {
  let calls = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const r = run(
    {
      video: async () => {
        calls++;
        await gate;
      },
    },
    { width: 32, height: 32, max_framerate: 30 },
  );
  while (r.loop.stats.videoIn < 20) await sleep(10);
  const stopping = r.loop.stop();
  release();
  assert.equal(await stopping, "stopped");
  assert.equal(calls, 1, "only the frame already in the handler was processed");
  assert.ok(r.loop.stats.videoDropped >= VIDEO_QUEUE_LIMIT - 1);
});

test("a streaming sink gets each segment's bytes while it is being muxed, not after it is complete", async () => {
  const channels = new MemoryChannels();
  const ch = channels.channel("mem://in");
  for (const s of input) ch.push(s);
  ch.end();
  const segments: { chunks: Uint8Array[]; framesAtFirstChunk: number; ended: boolean }[] = [];
  let framesOut = 0;
  const sink = {
    write: async () => {
      throw new Error("whole-segment writes are not used with a streaming sink");
    },
    close: async () => {},
    begin: async () => {
      const seg = { chunks: [] as Uint8Array[], framesAtFirstChunk: -1, ended: false };
      segments.push(seg);
      return {
        write: async (chunk: Uint8Array) => {
          if (seg.chunks.length === 0) seg.framesAtFirstChunk = framesOut;
          seg.chunks.push(new Uint8Array(chunk));
        },
        end: async () => {
          seg.ended = true;
        },
      };
    },
  };
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline({
      video: () => {
        framesOut++;
      },
    }),
    ctx: {
      streamId: "st",
      params: { width: 64, height: 64, max_framerate: 30 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    output: sink,
    onUserError: () => {},
    onMediaError: (source, message) => assert.fail(`${source}: ${message}`),
  });
  await loop.done;
  assert.equal(segments.length, 2, "3 s of output: segments at 0 s and 2 s");
  assert.ok(segments.every((s) => s.ended));
  assert.equal(loop.stats.segmentsOut, 2);
  for (const s of segments) assert.ok(s.chunks.length > 10, `written in pieces (${s.chunks.length})`);
  const second = segments[1];
  assert.ok(
    second && second.framesAtFirstChunk < framesOut,
    "the second segment started before the last frame",
  );
  const d = await decodeSegments(
    segments.map((s) => Buffer.concat(s.chunks)),
    64,
    64,
  );
  assert.equal(d.video.length, loop.stats.videoOut);
});

test("when decoding falls behind, unread input segments beyond the limit are dropped whole", async () => {
  const channels = new MemoryChannels();
  const ch = channels.channel("mem://in");
  for (const s of [...input, ...input, ...input]) ch.push(s);
  ch.end();
  let frames = 0;
  const loop = MediaLoop.start({
    pipeline: defineLivePipeline({
      video: () => {
        frames++;
      },
    }),
    maxPendingSegments: 1,
    ctx: {
      streamId: "b",
      params: { width: 32, height: 32, max_framerate: 30 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    onUserError: () => {},
    onMediaError: (source, message) => assert.fail(`${source}: ${message}`),
  });
  assert.equal(await loop.done, "input-ended");
  assert.ok(loop.stats.segmentsSkipped > 0, "segments were skipped");
  assert.ok(frames > 0 && frames < 270, `some frames decoded, fewer than all: ${frames}`);
});

/** One 2 s segment of 60 frames arriving at once (a trickle segment read whole). */
function oneSegmentLoop(video: LivePipelineDefinition["video"]): Run {
  return run({ video }, { width: 32, height: 32, max_framerate: 30 }, { segments: [input[0] as Uint8Array] });
}

test("a segment decoded in a burst that the handler keeps up with is processed whole, not dropped", async () => {
  // The decoder makes the 60 frames far faster than this handler takes them, but the handler is
  // faster than real time (5 ms a frame vs 33 ms): the full queue holds the decoder back.
  let seen = 0;
  const { loop, mediaErrors } = oneSegmentLoop(async () => {
    seen++;
    await sleep(5);
  });
  assert.equal(await loop.done, "input-ended");
  assert.deepEqual(mediaErrors, []);
  assert.equal(loop.stats.videoDropped, 0);
  assert.equal(seen, 60);
  assert.equal(loop.stats.videoOut, 60);
});

test("a handler slower than real time: the decoder waits only until the segment runs late, then frames drop", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const { loop, mediaErrors } = oneSegmentLoop(async () => {
    calls++;
    await gate;
  });
  // One frame in the handler, a full queue: the decoder waits...
  await sleep(300);
  assert.ok(
    loop.stats.videoIn >= VIDEO_QUEUE_LIMIT + 1 && loop.stats.videoIn <= VIDEO_QUEUE_LIMIT + 3,
    `the decoder waits for room at first: ${loop.stats.videoIn} decoded`,
  );
  assert.equal(loop.stats.videoDropped, 0);
  // ...until the frames it holds are later than their media time + MAX_BURST_LAG_S after the
  // segment arrived: then it goes on at the input's real-time pace, dropping the oldest.
  const t0 = performance.now();
  while (loop.stats.videoIn < 60 && performance.now() - t0 < 5000) await sleep(20);
  assert.equal(loop.stats.videoIn, 60, "every frame decoded while the handler is stuck");
  assert.ok(loop.stats.videoDropped >= 60 - VIDEO_QUEUE_LIMIT - 2, `dropped ${loop.stats.videoDropped}`);
  release();
  assert.equal(await loop.done, "input-ended");
  assert.deepEqual(mediaErrors, []);
  // The stuck frame, then the queue (the newest frames; the last decoded one may still have been
  // waiting for room).
  assert.ok(calls >= 1 + VIDEO_QUEUE_LIMIT && calls <= 2 + VIDEO_QUEUE_LIMIT, `handled ${calls}`);
});
