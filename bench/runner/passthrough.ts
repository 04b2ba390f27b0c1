/**
 * The passthrough pipeline bench/runner/run.ts serves with `tributary serve`: every video frame is
 * returned unchanged (and so re-encoded), the same work pytrickle's passthrough container does.
 * Frames are yuv420p (`pixelFormat`), as decoded and as the encoder takes them: no colour
 * conversion, the fastest correct path. `TRIBUTARY_BENCH_PIXEL_FORMAT=rgb24` makes it ask for RGB24
 * frames instead (one conversion each way, the default of a pipeline with a `video` handler), which
 * the benchmark measures in the same run for comparison.
 */
import { defineLivePipeline, type PixelFormat } from "../../src/runner/index.ts";

const pixelFormat: PixelFormat = process.env.TRIBUTARY_BENCH_PIXEL_FORMAT === "rgb24" ? "rgb24" : "yuv420p";

export default defineLivePipeline({
  name: "passthrough",
  pixelFormat,
  video: (frame) => frame,
});
