/** The glass-to-glass clock band of the live page (static/stamp.js), drawn and read without a browser. */
import assert from "node:assert/strict";
import { test } from "node:test";

interface Stamp {
  COLUMNS: number;
  bandHeight(width: number): number;
  stampCells(ms: number): number[];
  cellsToStamp(cells: number[]): number | undefined;
  drawStamp(ctx: unknown, width: number, ms: number): void;
  readStampFrom(rgba: Uint8ClampedArray, width: number): number | undefined;
  stampAge(stamp: number, now: number): number;
  percentiles(samples: number[]): { count: number; p50: number; p95: number };
}
const stamp = (await import(new URL("./static/stamp.js", import.meta.url).href)) as Stamp;

/** A 2D context that paints fillRect into an RGBA buffer (fillStyle "#fff" or "#000"). */
function fakeCanvas(width: number, height: number) {
  const rgba = new Uint8ClampedArray(width * height * 4).fill(90);
  const ctx = {
    fillStyle: "#000",
    fillRect(x: number, y: number, w: number, h: number) {
      const v = this.fillStyle === "#fff" ? 255 : 0;
      for (let yy = y; yy < y + h; yy++)
        for (let xx = x; xx < x + w; xx++) rgba.fill(v, (yy * width + xx) * 4, (yy * width + xx) * 4 + 3);
    },
  };
  return { rgba, ctx };
}

test("cells round-trip every 24-bit time; a flipped cell fails the check", () => {
  for (const ms of [0, 1, 1_765_000_000_123, 2 ** 24 - 1, 2 ** 24 + 5, 123_456]) {
    const cells = stamp.stampCells(ms);
    assert.equal(cells.length, 32);
    assert.equal(stamp.cellsToStamp(cells), ms % 2 ** 24);
    for (const i of [0, 7, 23, 31]) {
      const bad = [...cells];
      bad[i] = 1 - (bad[i] as number);
      assert.equal(stamp.cellsToStamp(bad), undefined, `cell ${i} flipped`);
    }
  }
  assert.equal(stamp.cellsToStamp([]), undefined);
});

test("drawn into a frame, read back through a green tint, noise and a different frame width", () => {
  const ms = 1_765_432_109_876;
  for (const width of [320, 640, 1280]) {
    const height = Math.round((width * 3) / 4);
    const { rgba, ctx } = fakeCanvas(width, height);
    stamp.drawStamp(ctx, width, ms);
    assert.equal(stamp.readStampFrom(rgba, width), ms % 2 ** 24, `width ${width}`);
    // green-tint adds to G only; an encoder adds noise
    let seed = 7;
    for (let i = 0; i < rgba.length; i += 4) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      rgba[i] = (rgba[i] as number) + ((seed % 81) - 40);
      rgba[i + 1] = (rgba[i + 1] as number) + 120;
    }
    assert.equal(stamp.readStampFrom(rgba, width), ms % 2 ** 24, `tinted, width ${width}`);
  }
  const { rgba } = fakeCanvas(320, 240);
  assert.equal(stamp.readStampFrom(rgba, 320), undefined, "a frame without a band reads as nothing");
});

test("age wraps with the 24-bit clock; percentiles by nearest rank", () => {
  assert.equal(stamp.stampAge(100, 2 ** 24 * 3 + 350), 250);
  assert.equal(stamp.stampAge(2 ** 24 - 50, 2 ** 24 * 9 + 30), 80);
  assert.deepEqual(stamp.percentiles([5, 1, 4, 2, 3]), { count: 5, p50: 3, p95: 5 });
  assert.ok(Number.isNaN(stamp.percentiles([]).p50));
  assert.equal(stamp.bandHeight(320), 20);
});
