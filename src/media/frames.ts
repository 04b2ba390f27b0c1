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
 * One decoded video frame: packed RGB24 (`width * height * 3` bytes, row-major, no padding).
 * pytrickle hands Python code float32 `[1, H, W, 3]` tensors in [0, 1]; we keep bytes and leave
 * conversion to the pipeline.
 */
export interface VideoFrame {
  data: Uint8Array;
  width: number;
  height: number;
  /** Presentation timestamp in `timeBase` units. */
  pts: number;
  timeBase: TimeBase;
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
