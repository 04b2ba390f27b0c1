/**
 * The passthrough pipeline bench/runner/run.ts serves with `tributary serve`: every video frame is
 * returned unchanged (and so re-encoded), the same work pytrickle's passthrough container does.
 */
import { defineLivePipeline } from "../../src/runner/index.ts";

export default defineLivePipeline({
  name: "passthrough",
  video: (frame) => frame,
});
