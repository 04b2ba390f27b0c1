import assert from "node:assert/strict";
import { test } from "node:test";
import { FIRST_PAGE, MAX_PAGE, SegmentBuffer, type SegmentReader } from "./segment-buffer.ts";

function drain(reader: SegmentReader): Buffer {
  const parts: Buffer[] = [];
  for (let c = reader.next(); c !== undefined; c = reader.next()) parts.push(c);
  return Buffer.concat(parts);
}

test("ReadChunkAcrossPages: a reader walks every page in order", () => {
  const buf = new SegmentBuffer();
  const a = Buffer.alloc(FIRST_PAGE * 3, "a");
  const b = Buffer.alloc(FIRST_PAGE * 5 + 123, "b");
  const small = Buffer.from("tail");
  buf.write(a);
  buf.write(b);
  buf.write(small);
  assert.ok(buf.pageCount >= 3, `pages: ${buf.pageCount}`);
  const reader = buf.reader();
  const views: Buffer[] = [];
  for (let c = reader.next(); c !== undefined; c = reader.next()) views.push(c);
  assert.equal(views.length, buf.pageCount, "one view per page for a reader that is behind");
  assert.deepEqual(Buffer.concat(views), Buffer.concat([a, b, small]));
  assert.equal(reader.position, a.length + b.length + small.length);
});

test("TailGrowth: bytes appended to the tail page after a read are seen by the next read", () => {
  const buf = new SegmentBuffer();
  buf.write(Buffer.from("hello"));
  const reader = buf.reader();
  assert.equal(reader.next()?.toString(), "hello");
  assert.equal(reader.next(), undefined);
  buf.write(Buffer.from(" world"));
  assert.equal(reader.next()?.toString(), " world");
  assert.equal(buf.pageCount, 1, "small writes share one page");
  assert.equal(reader.position, 11);
});

test("pages start small and double up to 1 MiB", () => {
  const buf = new SegmentBuffer();
  for (let i = 0; i < 1000; i++) buf.write(Buffer.from("0123456789"));
  assert.equal(buf.length, 10_000);
  assert.equal(buf.pageCount, 2, "4 KiB + 8 KiB");
  assert.equal(drain(buf.reader()).toString(), "0123456789".repeat(1000));
  const big = new SegmentBuffer();
  big.write(Buffer.alloc(8 * MAX_PAGE, 1));
  const sizes: number[] = [];
  const r = big.reader();
  for (let c = r.next(); c !== undefined; c = r.next()) sizes.push(c.length);
  assert.equal(Math.max(...sizes), MAX_PAGE);
  assert.equal(sizes[0], FIRST_PAGE);
});

test("every reader shares the same memory: one copy whatever the number of readers", () => {
  const buf = new SegmentBuffer();
  const written = Buffer.alloc(FIRST_PAGE, 7);
  buf.write(written);
  const views = Array.from({ length: 100 }, () => buf.reader().next()!);
  for (const v of views) {
    assert.equal(v.buffer, views[0]!.buffer, "same ArrayBuffer for every reader");
    assert.equal(v.byteOffset, views[0]!.byteOffset);
  }
  assert.notEqual(
    views[0]!.buffer,
    written.buffer,
    "the writer's chunk is copied once, so callers may reuse it",
  );
  written.fill(0);
  assert.equal(views[0]![0], 7);
});

test("closing trims a mostly empty tail page without disturbing readers", () => {
  const buf = new SegmentBuffer();
  buf.write(Buffer.from("{}"));
  const reader = buf.reader();
  assert.equal(reader.next()?.toString(), "{}");
  const before = buf.reader().next()!;
  assert.equal(before.buffer.byteLength >= FIRST_PAGE, true);
  buf.close();
  const after = buf.reader().next()!;
  assert.equal(after.toString(), "{}");
  assert.equal(after.buffer.byteLength, 2, "trimmed to size");
  assert.equal(reader.next(), undefined);
  assert.equal(reader.done, true);
});

test("done only once closed and fully read; wait() resolves on write, close and abort", async () => {
  const buf = new SegmentBuffer();
  const reader = buf.reader();
  assert.equal(reader.done, false);
  const w1 = reader.wait();
  buf.write(Buffer.from("x"));
  await w1;
  assert.equal(reader.next()?.toString(), "x");
  const w2 = reader.wait();
  buf.close();
  await w2;
  assert.equal(reader.done, true);
  assert.ok(buf.closedSignal.aborted);

  const other = new SegmentBuffer();
  const ac = new AbortController();
  const w3 = other.changed(ac.signal);
  ac.abort();
  await w3;
});

test("writes after close still append; after release they are dropped and memory is let go", () => {
  const buf = new SegmentBuffer();
  buf.write(Buffer.from("Hello"));
  const early = buf.reader();
  buf.close();
  buf.write(Buffer.from("late"));
  assert.equal(drain(buf.reader()).toString(), "Hellolate");
  buf.release();
  assert.equal(buf.length, 0);
  assert.equal(buf.pageCount, 0);
  buf.write(Buffer.from("more"));
  assert.equal(buf.length, 0);
  assert.equal(drain(early).toString(), "Hellolate", "a reader already started finishes what it saw");
  assert.equal(early.done, true);
  assert.equal(buf.reader().done, true);
});
