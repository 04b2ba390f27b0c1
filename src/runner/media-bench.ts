/**
 * Passthrough throughput of the media path in one process: synthetic H.264 input (made first, not
 * timed) → demux/decode → cover-crop to RGB24 → pass-through handler → H.264 encode → MPEG-TS
 * segments. The input is fed as fast as the loop takes it; the bounded queue may drop frames when
 * decoding outruns encoding, so both the handled and the encoded rates are printed.
 *
 *   node src/runner/media-bench.ts [WxH ...]        (default: 512x512 1280x720)
 */

import { syntheticSegments } from "../media/synthetic.ts";
import { MediaLoop } from "./media-loop.ts";
import { MemoryChannels } from "./memory-channels.ts";
import { defineLivePipeline } from "./pipeline.ts";

const sizes = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["512x512", "1280x720"];
const seconds = 10;
for (const size of sizes) {
  const [width, height] = size.split("x").map(Number) as [number, number];
  const input = await syntheticSegments({ width, height, fps: 30, seconds });
  const channels = new MemoryChannels();
  for (const s of input) channels.channel("mem://in").push(s);
  channels.channel("mem://in").end();
  let handled = 0;
  const t0 = performance.now();
  const loop = MediaLoop.start({
    maxPendingSegments: 100, // the whole input is queued at once
    pipeline: defineLivePipeline({
      video: () => {
        handled++;
      },
    }),
    ctx: {
      streamId: "bench",
      params: { width, height, max_framerate: 60 },
      signal: new AbortController().signal,
      sendData: () => false,
      sendEvent: async () => false,
    },
    input: channels.subscribe("mem://in"),
    output: channels.publish("mem://out", "video/mp2t"),
    onUserError: () => {},
    onMediaError: (source, message) => console.error(source, message),
  });
  await loop.done;
  const s = (performance.now() - t0) / 1000;
  const st = loop.stats;
  console.log(
    `${size}: ${st.videoIn} frames decoded in ${s.toFixed(2)} s = ${(st.videoIn / s).toFixed(1)} fps decoded; ` +
      `${handled} handled and encoded = ${(st.videoOut / s).toFixed(1)} fps; ${st.videoDropped} dropped; ` +
      `${st.segmentsOut} segments`,
  );
}
