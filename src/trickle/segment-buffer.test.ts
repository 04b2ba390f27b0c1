import assert from "node:assert/strict";
import { test } from "node:test";
import { COALESCE_BELOW, FIRST_COALESCE_PAGE, SegmentBuffer, type SegmentReader } from "./segment-buffer.ts";

function drain(reader: SegmentReader): Buffer {
  const parts: Buffer[] = [];
  for (let c = reader.next(); c !== undefined; c = reader.next()) parts.push(c);
  return Buffer.concat(parts);
}

test("ReadChunkAcrossPages: a reader walks every page in order", () => {
  const buf = new SegmentBuffer();
  const a = Buffer.alloc(COALESCE_BELOW * 2, "a");
  const b = Buffer.alloc(COALESCE_BELOW * 4, "b");
  const small = Buffer.from("tail");
  buf.write(a);
  buf.write(b);
  buf.write(small);
  assert.equal(buf.pageCount, 3);
  const reader = buf.reader();
  assert.deepEqual(drain(reader), Buffer.concat([a, b, small]));
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
  assert.equal(buf.pageCount, 1, "small writes coalesce into one page");
  assert.equal(reader.position, 11);
});

test("small writes coalesce into doubling pages; the first page is small", () => {
  const buf = new SegmentBuffer();
  for (let i = 0; i < 1000; i++) buf.write(Buffer.from("0123456789"));
  assert.equal(buf.length, 10_000);
  assert.ok(buf.pageCount <= 3, `pages: ${buf.pageCount}`);
  assert.equal(drain(buf.reader()).toString(), "0123456789".repeat(1000));
  const one = new SegmentBuffer();
  one.write(Buffer.from("{}"));
  assert.ok(FIRST_COALESCE_PAGE <= 4096);
});

test("every reader shares the same memory: large chunks are kept without a copy", () => {
  const buf = new SegmentBuffer();
  const big = Buffer.alloc(COALESCE_BELOW * 4, 7);
  buf.write(big);
  const views = Array.from({ length: 100 }, () => buf.reader().next()!);
  for (const v of views) {
    assert.equal(v.buffer, big.buffer, "same ArrayBuffer as the written chunk");
    assert.equal(v.byteOffset, big.byteOffset);
  }
  buf.write(Buffer.from("small"));
  const r1 = buf.reader();
  const r2 = buf.reader();
  r1.next();
  r2.next();
  assert.equal(r1.next()!.buffer, r2.next()!.buffer, "coalesced pages are shared too");
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
