/**
 * The decoded frames the media loop hands to a live pipeline and takes back: the runner's
 * processor API re-exports them (src/runner/pipeline.ts).
 */

/** Rational time base, e.g. `{ num: 1, den: 90000 }`. */
export interface TimeBase {
  num: number;
  den: number;
}

/**
 * Pixel layout of a {@link VideoFrame}'s `data`:
 * - `rgb24`: packed RGB, `width * height * 3` bytes, row-major, no padding;
 * - `yuv420p`: planar Y, then U, then V (BT.601 limited range, as H.264 carries it), no padding:
 *   `width * height` luma bytes, then two chroma planes of `ceil(width / 2) * ceil(height / 2)`.
 *
 * A live pipeline asks for one (`pixelFormat`, default `rgb24`). `yuv420p` is what the decoder
 * produces and the encoder takes, so a pipeline that accepts it skips both colour conversions.
 */
export type PixelFormat = "rgb24" | "yuv420p";

/** The pixel formats a pipeline may ask for. */
export const PIXEL_FORMATS: readonly PixelFormat[] = ["rgb24", "yuv420p"];

/** Bytes of one `width`×`height` frame in `format` (no padding). */
export function frameByteLength(format: PixelFormat, width: number, height: number): number {
  if (format === "rgb24") return width * height * 3;
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

/**
 * One decoded video frame in `format` (absent means `rgb24`; see {@link PixelFormat}).
 * pytrickle hands Python code float32 `[1, H, W, 3]` RGB tensors in [0, 1]; we keep bytes and leave
 * conversion to the pipeline.
 */
export interface VideoFrame {
  data: Uint8Array;
  width: number;
  height: number;
  /** Presentation timestamp in `timeBase` units. */
  pts: number;
  timeBase: TimeBase;
  /** Layout of `data`; absent = `rgb24`. Frames the runner hands out always carry it. */
  format?: PixelFormat;
}

/** A frame's pixel format (`rgb24` when it does not say). */
export function formatOf(frame: VideoFrame): PixelFormat {
  return frame.format ?? "rgb24";
}

/**
 * A black frame of `width`×`height` in `format` (RGB zeros; YUV luma 16, chroma 128, the
 * limited-range black).
 */
export function blackFrameData(format: PixelFormat, width: number, height: number): Uint8Array {
  const data = new Uint8Array(frameByteLength(format, width, height));
  if (format === "yuv420p") {
    data.fill(16, 0, width * height);
    data.fill(128, width * height);
  }
  return data;
}

/**
 * One chunk of decoded audio: interleaved signed 16-bit PCM (`samples * channels` values), at the
 * input's sample rate and channel count. Output audio is resampled to 48 kHz mono for Opus.
 */
export interface AudioFrame {
  data: Int16Array;
  sampleRate: number;
  channels: number;
  /** Samples per channel. */
  samples: number;
  pts: number;
  timeBase: TimeBase;
}
