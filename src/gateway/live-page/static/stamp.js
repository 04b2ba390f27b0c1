// Glass-to-glass latency: the publishing page draws the wall clock into every frame it sends as a
// band of black and white cells across the top, and reads it back from the frames it plays.
//
// The band is COLUMNS × ROWS cells spanning the frame's width: 24 bits of the time (ms, modulo 2^24,
// about 4.7 hours) and 8 check bits; a frame whose check fails (no band, a cut frame, a smeared
// keyframe) reads as undefined. Cells are read from the red channel only, so a pipeline that tints
// green (green-tint) or scales the frame does not change what they say. Plain JavaScript with no
// DOM at module scope: the live page, the browser tests and Node's unit test import it.

export const COLUMNS = 16;
export const ROWS = 2;
export const DATA_BITS = 24;
const MOD = 2 ** DATA_BITS;
const CHECK_XOR = 0xa5;

/** Height of the band for a frame `width` pixels wide (each cell is twice as wide as tall). */
export function bandHeight(width) {
  return Math.max(ROWS, Math.round(width / COLUMNS / 2) * ROWS);
}

function checkOf(v) {
  return ((v & 0xff) ^ ((v >>> 8) & 0xff) ^ ((v >>> 16) & 0xff) ^ CHECK_XOR) & 0xff;
}

/** The cells (0 or 1, row by row) that say `ms`. */
export function stampCells(ms) {
  const v = Math.floor(ms) % MOD;
  const word = v * 256 + checkOf(v); // 32 bits, the most significant first
  const cells = [];
  for (let i = COLUMNS * ROWS - 1; i >= 0; i--) cells.push(Math.floor(word / 2 ** i) % 2);
  return cells;
}

/** The time the cells say, or undefined when their check fails. */
export function cellsToStamp(cells) {
  if (cells.length !== COLUMNS * ROWS) return undefined;
  let word = 0;
  for (const c of cells) word = word * 2 + (c ? 1 : 0);
  const v = Math.floor(word / 256);
  return checkOf(v) === word % 256 ? v : undefined;
}

/** Draws the band saying `ms` on a 2D context whose canvas is `width` wide. */
export function drawStamp(ctx, width, ms = Date.now()) {
  const cells = stampCells(ms);
  const h = bandHeight(width) / ROWS;
  for (let i = 0; i < cells.length; i++) {
    const x = Math.round(((i % COLUMNS) * width) / COLUMNS);
    const x2 = Math.round((((i % COLUMNS) + 1) * width) / COLUMNS);
    ctx.fillStyle = cells[i] ? "#fff" : "#000";
    ctx.fillRect(x, Math.floor(i / COLUMNS) * h, x2 - x, h);
  }
}

/**
 * The time in an RGBA frame's band (`rgba`: at least the band's rows of a frame `width` wide), from
 * the mean red of the middle of each cell; undefined when there is no valid band.
 */
export function readStampFrom(rgba, width) {
  const h = bandHeight(width) / ROWS;
  const cw = width / COLUMNS;
  const cells = [];
  for (let i = 0; i < COLUMNS * ROWS; i++) {
    const x0 = Math.floor((i % COLUMNS) * cw + cw / 4);
    const x1 = Math.max(x0 + 1, Math.floor((i % COLUMNS) * cw + (3 * cw) / 4));
    const y0 = Math.floor(Math.floor(i / COLUMNS) * h + h / 4);
    const y1 = Math.max(y0 + 1, Math.floor(Math.floor(i / COLUMNS) * h + (3 * h) / 4));
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) {
        sum += rgba[(y * width + x) * 4];
        n++;
      }
    cells.push(sum / n > 128 ? 1 : 0);
  }
  return cellsToStamp(cells);
}

/** Milliseconds from `stamp` (a value {@link readStampFrom} gave) to `now`, modulo the stamp's range. */
export function stampAge(stamp, now = Date.now()) {
  return ((((Math.floor(now) % MOD) - stamp) % MOD) + MOD) % MOD;
}

/** The time drawn into `source` (a video or canvas `width`×`height`), read through `scratch` (a canvas). */
export function readStamp(source, width, height, scratch) {
  if (!width || !height) return undefined;
  const band = bandHeight(width);
  scratch.width = width;
  scratch.height = band;
  const g = scratch.getContext("2d", { willReadFrequently: true });
  g.drawImage(source, 0, 0, width, height, 0, 0, width, height);
  return readStampFrom(g.getImageData(0, 0, width, band).data, width);
}

/** `{count, p50, p95}` of a list of numbers (nearest rank; NaN when empty). */
export function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : Number.NaN);
  return { count: s.length, p50: at(50), p95: at(95) };
}

/**
 * Stamps the frames of `video` (a playing camera) into a canvas and returns that canvas's stream:
 * what the page publishes. `stop()` ends the drawing and the stream's tracks.
 */
export function stampedStream(video, width, height, fps = 30) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  const draw = () => {
    g.drawImage(video, 0, 0, width, height);
    drawStamp(g, width);
  };
  draw();
  const stream = canvas.captureStream(fps);
  const timer = setInterval(draw, 1000 / fps);
  return {
    stream,
    canvas,
    stop() {
      clearInterval(timer);
      for (const t of stream.getTracks()) t.stop();
    },
  };
}

/**
 * Reads the stamp of every frame `video` presents (requestVideoFrameCallback, else a 15 ms poll) and
 * keeps the last `keep` latencies (ms). `summary()` is `{count, p50, p95, last}`; `stop()` ends it.
 */
export function latencyMeter(video, keep = 300) {
  const scratch = document.createElement("canvas");
  const samples = [];
  let last = Number.NaN;
  let lastStamp;
  let stopped = false;
  let frames = 0;
  const look = () => {
    frames++;
    const stamp = readStamp(video, video.videoWidth, video.videoHeight, scratch);
    if (stamp === undefined || stamp === lastStamp) return;
    lastStamp = stamp;
    const age = stampAge(stamp);
    if (age > 60_000) return; // not a stamp of this session
    last = age;
    samples.push(age);
    if (samples.length > keep) samples.shift();
  };
  let timer;
  if (typeof video.requestVideoFrameCallback === "function") {
    const next = () => {
      if (stopped) return;
      look();
      video.requestVideoFrameCallback(next);
    };
    video.requestVideoFrameCallback(next);
  } else timer = setInterval(() => video.readyState >= 2 && look(), 15);
  return {
    summary: () => ({ ...percentiles(samples), last, frames }),
    samples: () => [...samples],
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
