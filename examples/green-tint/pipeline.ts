/**
 * green-tint: a live BYOC pipeline that adds a configurable amount to the green channel of every
 * video frame (clamped at 255). Audio passes through. Param `green` (0..255, default 60) can be
 * changed while the stream runs (`POST /stream/params` or the control channel).
 */
import { BadRequestError, defineLivePipeline, type VideoFrame } from "../../src/runner/index.ts";

/** Default amount added to the green channel. */
export const DEFAULT_GREEN = 60;

/** Validates a `green` param: an integer 0..255 (numbers or numeric strings). */
export function parseGreen(value: unknown): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 255)
    throw new BadRequestError(`green must be an integer from 0 to 255, got ${JSON.stringify(value)}`);
  return n;
}

/** Adds `amount` to the green channel of an RGB24 frame, in place (saturating at 255). */
export function tintGreen(frame: VideoFrame, amount: number): VideoFrame {
  const d = frame.data;
  for (let i = 1; i < d.length; i += 3) {
    const g = (d[i] as number) + amount;
    d[i] = Math.min(g, 255);
  }
  return frame;
}

let green = DEFAULT_GREEN;

export default defineLivePipeline({
  name: "green-tint",
  start: (params) => {
    green = "green" in params ? parseGreen(params.green) : DEFAULT_GREEN;
  },
  params: (update) => {
    if ("green" in update) green = parseGreen(update.green);
  },
  video: (frame) => tintGreen(frame, green),
});
