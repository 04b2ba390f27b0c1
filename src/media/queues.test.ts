import assert from "node:assert/strict";
import { test } from "node:test";
import { SegmentByteQueue } from "./byte-queue.ts";
import { FpsMeter, PtsFrameRateCap } from "./fps.ts";
import { DropOldestQueue } from "./frame-queue.ts";

test("the byte queue joins segments into one stream, waits for data and ends with null", async () => {
  const q = new SegmentByteQueue();
  const pending = q.read(4);
  q.pushSegment(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...((await pending) ?? [])], [1, 2, 3]);
  q.pushSegment(new Uint8Array([4, 5, 6, 7]));
  q.pushSegment(new Uint8Array([8]));
  assert.deepEqual([...((await q.read(2)) ?? [])], [4, 5]);
  // A demuxer restart skips the rest of the segment being read.
  q.skipToNextSegment();
  assert.deepEqual([...((await q.read(10)) ?? [])], [8]);
  q.end();
  assert.equal(await q.read(10), null);
  assert.equal(q.bytesIn, 8);
});

test("the byte queue keeps at most N unread segments, dropping the oldest whole ones, never the one being read", async () => {
  const q = new SegmentByteQueue(2);
  q.pushSegment(new Uint8Array([1, 1]));
  assert.deepEqual([...((await q.read(1)) ?? [])], [1], "segment 1 is being read");
  for (const v of [2, 3, 4]) q.pushSegment(new Uint8Array([v, v]));
  assert.equal(q.segmentsDropped, 1);
  q.end();
  const rest: number[] = [];
  for (let b = await q.read(10); b; b = await q.read(10)) rest.push(...b);
  assert.deepEqual(rest, [1, 3, 3, 4, 4], "the rest of segment 1, then the newest two");
});

test("the frame queue drops the oldest items beyond its limit and ends after close", async () => {
  const q = new DropOldestQueue<number>(3);
  for (let i = 0; i < 5; i++) q.push(i);
  assert.equal(q.dropped, 2);
  assert.equal(await q.shift(), 2);
  q.close();
  q.push(9);
  assert.equal(q.size, 2, "a closed queue takes nothing more");
  assert.equal(await q.shift(), 3);
  assert.equal(await q.shift(), 4);
  assert.equal(await q.shift(), undefined);
});

test("the frame queue tells a producer when it has room again (after a shift, a clear or the close)", async () => {
  const q = new DropOldestQueue<number>(2);
  q.push(1);
  assert.equal(q.full, false);
  let resolved = false;
  await q.room().then(() => {
    resolved = true;
  });
  assert.ok(resolved, "room() resolves at once while there is room");
  q.push(2);
  assert.equal(q.full, true);
  const waits = [q.room(), q.room()];
  let woken = 0;
  for (const w of waits) void w.then(() => woken++);
  await new Promise((r) => setImmediate(r));
  assert.equal(woken, 0, "a full queue makes room() wait");
  assert.equal(await q.shift(), 1);
  await Promise.all(waits);
  assert.equal(woken, 2, "a shift wakes every waiter");
  q.push(3);
  const afterClear = q.room();
  q.clear();
  await afterClear;
  q.push(4);
  q.push(5);
  const afterClose = q.room();
  q.close();
  await afterClose;
});

test("the byte queue tells which segment the reader is in, when it arrived, and whether newer segments wait", async () => {
  const q = new SegmentByteQueue();
  assert.equal(q.segmentsStarted, 0);
  const arrival = q.nextArrival();
  const before = performance.now();
  q.pushSegment(new Uint8Array([1, 1]));
  await arrival;
  assert.equal(q.unreadSegments, 1);
  await q.read(1);
  assert.equal(q.segmentsStarted, 1);
  assert.ok(q.startedSegmentArrival >= before && q.startedSegmentArrival <= performance.now());
  assert.equal(q.unreadSegments, 0, "the segment being read is not waiting");
  q.pushSegment(new Uint8Array([2, 2]));
  assert.equal(q.unreadSegments, 1, "a newer segment waits");
  await q.read(10);
  assert.equal(q.segmentsStarted, 1, "still the first segment");
  await q.read(10);
  assert.equal(q.segmentsStarted, 2);
  assert.equal(q.unreadSegments, 0);
  q.end();
  let arrived = false;
  void q.nextArrival().then(() => {
    arrived = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(arrived, false, "nothing arrives after the end");
});

test("the PTS cap keeps max_framerate frames per second of PTS, applies changes at once, and resyncs after a gap", () => {
  const cap = new PtsFrameRateCap();
  const kept = (from: number, n: number, fps: number, max: number) => {
    let k = 0;
    for (let i = 0; i < n; i++) if (cap.accept(from + i / fps, max)) k++;
    return k;
  };
  assert.equal(kept(0, 60, 60, 24), 24);
  assert.equal(kept(1, 30, 30, 30), 30, "input at the cap loses nothing");
  assert.equal(kept(100, 30, 30, 10), 10, "a jump forward resyncs instead of bursting");
  assert.equal(kept(200, 10, 10, 0), 10, "no cap");
  assert.equal(kept(5, 30, 30, 10), 10, "timestamps that jump back (a new source) resync too");
});

test("the fps meter reports frames per second over its window", () => {
  let now = 0;
  const m = new FpsMeter(10_000, () => now);
  assert.equal(m.fps(), 0);
  for (let i = 0; i < 50; i++) {
    m.tick();
    now += 40;
  }
  assert.ok(Math.abs(m.fps() - 25) < 1, `25 fps, got ${m.fps()}`);
  now += 20_000;
  assert.equal(m.fps(), 0, "old frames leave the window");
});
