import assert from "node:assert/strict";
import { test } from "node:test";
import { ADOPT_MIN, FIRST_PAGE, MAX_PAGE, SegmentBuffer, type SegmentReader } from "./segment-buffer.ts";

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

test("adopt keeps a large chunk itself (no copy) and copies small ones into shared pages", () => {
  const buf = new SegmentBuffer();
  const big = Buffer.alloc(ADOPT_MIN, 1);
  buf.adopt(big);
  const view = buf.reader().next()!;
  assert.equal(view, big, "the adopted chunk is handed to readers as it is");
  buf.adopt(Buffer.from("ab"));
  buf.adopt(Buffer.from("cd"));
  assert.equal(buf.pageCount, 2, "small chunks after an adopted one share one copy page");
  const small = Buffer.from("ef");
  buf.adopt(small);
  small.fill(0);
  assert.equal(drain(buf.reader()).subarray(ADOPT_MIN).toString(), "abcdef", "small chunks are copies");
  assert.equal(buf.length, ADOPT_MIN + 6);
});

test("adopt: a copy page cut short by an adopted chunk is trimmed; readers inside it are undisturbed", () => {
  const buf = new SegmentBuffer();
  buf.adopt(Buffer.from("head"));
  const reader = buf.reader();
  assert.equal(reader.next()?.toString(), "head");
  buf.adopt(Buffer.from("!"));
  buf.adopt(Buffer.alloc(ADOPT_MIN, 2));
  const pages: Buffer[] = [];
  const fresh = buf.reader();
  for (let c = fresh.next(); c !== undefined; c = fresh.next()) pages.push(c);
  assert.equal(pages.length, 2);
  assert.equal(pages[0]!.buffer.byteLength, 5, "the 4 KiB copy page holding 5 bytes was trimmed to size");
  assert.equal(reader.next()?.toString(), "!", "a reader positioned in the trimmed page continues");
  assert.equal(reader.next()?.length, ADOPT_MIN);
  // Alternating large and small chunks (what node:http delivers around chunk-size lines) cost no
  // more than their bytes plus one right-sized page per small run.
  const alt = new SegmentBuffer();
  let pageBytes = 0;
  for (let i = 0; i < 20; i++) {
    alt.adopt(Buffer.alloc(64 * 1024, i));
    alt.adopt(Buffer.alloc(100, i));
  }
  alt.close();
  const r = alt.reader();
  for (let c = r.next(); c !== undefined; c = r.next()) pageBytes += c.buffer.byteLength;
  assert.equal(pageBytes, alt.length, "no page holds more memory than its bytes");
});

test("notify calls back once, synchronously, on the next write or close; unnotify cancels", () => {
  const buf = new SegmentBuffer();
  let calls = 0;
  const wake = (): void => {
    calls++;
  };
  buf.notify(wake);
  assert.equal(calls, 0);
  buf.write(Buffer.from("x"));
  assert.equal(calls, 1, "called by the write itself");
  buf.write(Buffer.from("y"));
  assert.equal(calls, 1, "one-shot");
  buf.notify(wake);
  buf.unnotify(wake);
  buf.close();
  assert.equal(calls, 1, "cancelled");
  buf.notify(wake);
  assert.equal(calls, 2, "at once on a closed segment");
});
