/**
 * The loading overlay (docs/spec/container-contract.md#loading-overlay): when the processor has produced no frame
 * for a while (it withholds frames, is warming up, or is still loading), the stream shows a dimmed
 * copy of the last processed frame (a dark frame if there is none yet) with an animated bar along
 * the bottom, so viewers see a live "loading" picture instead of a frozen or empty stream.
 */
import { formatOf, frameByteLength, type PixelFormat, type VideoFrame } from "./frames.ts";

/** Overlay settings of a live pipeline. */
export interface OverlayOptions {
  /** Show the overlay at all (default true). Disabled: withheld frames simply produce no output. */
  enabled?: boolean;
  /** Time without processed output before the overlay shows, in ms (default 1500, pytrickle's 1.5 s). */
  timeoutMs?: number;
  /** Brightness factor applied to the last frame (default 0.35). */
  dim?: number;
}

/** pytrickle `OverlayConfig.auto_timeout_seconds`. */
export const DEFAULT_OVERLAY_TIMEOUT_MS = 1500;

/**
 * Draws an overlay frame of `width`×`height` in `format`: the dimmed `base` when it has that size
 * and format, else a dark frame; plus a bar along the bottom whose length follows `phase` (0..1).
 */
export function drawOverlay(
  base: VideoFrame | undefined,
  width: number,
  height: number,
  phase: number,
  dim = 0.35,
  format: PixelFormat = "rgb24",
): Uint8Array {
  if (format === "yuv420p") return drawOverlayYuv(base, width, height, phase, dim);
  const out = new Uint8Array(width * height * 3);
  if (base && base.width === width && base.height === height && formatOf(base) === "rgb24") {
    const f = Math.round(Math.max(0, Math.min(1, dim)) * 256);
    const src = base.data;
    for (let i = 0; i < out.length; i++) out[i] = ((src[i] as number) * f) >> 8;
  } else {
    out.fill(24);
  }
  const barH = Math.max(2, Math.round(height / 64));
  const barW = Math.round(width * (((phase % 1) + 1) % 1));
  for (let y = height - 2 * barH; y < height - barH; y++) {
    if (y < 0) continue;
    const row = y * width * 3;
    for (let x = 0; x < barW; x++) out.fill(220, row + x * 3, row + x * 3 + 3);
  }
  return out;
}

/** {@link drawOverlay} for yuv420p: luma dimmed towards black (16), chroma towards grey (128). */
function drawOverlayYuv(
  base: VideoFrame | undefined,
  width: number,
  height: number,
  phase: number,
  dim: number,
): Uint8Array {
  const out = new Uint8Array(frameByteLength("yuv420p", width, height));
  const luma = width * height;
  if (base && base.width === width && base.height === height && formatOf(base) === "yuv420p") {
    const f = Math.round(Math.max(0, Math.min(1, dim)) * 256);
    const src = base.data;
    for (let i = 0; i < luma; i++) out[i] = 16 + ((((src[i] as number) - 16) * f) >> 8);
    for (let i = luma; i < out.length; i++) out[i] = 128 + ((((src[i] as number) - 128) * f) >> 8);
  } else {
    out.fill(37, 0, luma); // RGB 24 grey in limited range
    out.fill(128, luma);
  }
  const barH = Math.max(2, Math.round(height / 64));
  const barW = Math.round(width * (((phase % 1) + 1) % 1));
  for (let y = Math.max(0, height - 2 * barH); y < height - barH; y++)
    out.fill(205, y * width, y * width + barW);
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  // Neutral chroma under the bar, so it is white whatever the dimmed frame's colour.
  for (let y = Math.max(0, height - 2 * barH) >> 1; y < (height - barH + 1) >> 1 && y < ch; y++)
    for (const plane of [luma, luma + cw * ch])
      out.fill(128, plane + y * cw, plane + y * cw + ((barW + 1) >> 1));
  return out;
}

/**
 * Decides when the overlay shows. Feed it every processed frame ({@link processed}) and every frame
 * without output ({@link withheld}); `withheld` returns the overlay frame to send, if any.
 */
export class OverlayController {
  readonly #enabled: boolean;
  readonly #timeoutMs: number;
  readonly #dim: number;
  readonly #now: () => number;
  #lastOutput: number;
  #last: VideoFrame | undefined;
  /** Overlay frames produced. */
  shown = 0;

  constructor(options: OverlayOptions = {}, now: () => number = () => performance.now()) {
    this.#enabled = options.enabled ?? true;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_OVERLAY_TIMEOUT_MS;
    this.#dim = options.dim ?? 0.35;
    this.#now = now;
    this.#lastOutput = now();
  }

  /** Records a processed frame (it becomes the overlay's background). */
  processed(frame: VideoFrame): void {
    this.#lastOutput = this.#now();
    this.#last = frame;
  }

  /** True when the overlay is showing (enabled and no output for longer than the timeout). */
  get active(): boolean {
    return this.#enabled && this.#now() - this.#lastOutput >= this.#timeoutMs;
  }

  /** A frame had no processed output: returns the overlay frame to send in its place, or undefined. */
  withheld(input: VideoFrame): VideoFrame | undefined {
    if (!this.active) return undefined;
    this.shown++;
    const phase = (this.#now() / 2000) % 1;
    const width = this.#last?.width ?? input.width;
    const height = this.#last?.height ?? input.height;
    const format = formatOf(this.#last ?? input);
    const data = drawOverlay(this.#last, width, height, phase, this.#dim, format);
    return { data, width, height, pts: input.pts, timeBase: input.timeBase, format };
  }
}
