/**
 * my-pipeline: a live BYOC pipeline. The runner subscribes to the gateway's video, decodes it and calls
 * `video` for every frame (packed RGB24, `width`×`height`, at most `max_framerate` fps); what `video`
 * returns is encoded (H.264, MPEG-TS) and published back. Replace `brighten` with your model.
 *
 * Param `brightness` (integer -255..255, default 40) is added to every colour channel; change it while
 * the stream runs with `POST /stream/params {"brightness": 80}` or through the control channel.
 */
import { BadRequestError, defineLivePipeline, type VideoFrame } from "tributary/runner";

/** Default amount added to each channel. */
export const DEFAULT_BRIGHTNESS = 40;

/** Validates a `brightness` param (numbers or numeric strings); anything else is a 400. */
export function parseBrightness(value: unknown): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < -255 || n > 255)
    throw new BadRequestError(`brightness must be an integer from -255 to 255, got ${JSON.stringify(value)}`);
  return n;
}

/** Adds `amount` to every channel of an RGB24 frame, in place, clamped to 0..255. */
export function brighten(frame: VideoFrame, amount: number): VideoFrame {
  const d = frame.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.min(255, Math.max(0, (d[i] as number) + amount));
  return frame;
}

let brightness = DEFAULT_BRIGHTNESS;

export default defineLivePipeline({
  name: "my-pipeline",
  // Load weights here: /health answers LOADING until this resolves (ERROR if it throws).
  load: async () => {},
  start: (params) => {
    brightness = "brightness" in params ? parseBrightness(params.brightness) : DEFAULT_BRIGHTNESS;
  },
  params: (update) => {
    if ("brightness" in update) brightness = parseBrightness(update.brightness);
  },
  video: (frame) => brighten(frame, brightness),
});
