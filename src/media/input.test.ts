import assert from "node:assert/strict";
import { before, test } from "node:test";
import { SegmentByteQueue } from "./byte-queue.ts";
import { openInputDemuxer } from "./input.ts";
import { syntheticSegments } from "./synthetic.ts";

let input: Uint8Array[] = [];
before(async () => {
  // 8 s of video with audio: 4 segments, well over the demuxer's 32 KiB read buffer.
  input = await syntheticSegments({ width: 160, height: 120, fps: 30, seconds: 8, audio: true });
});

test("the input demuxer reads a whole stream without growing its native read buffer (node-av never frees it)", async () => {
  const queue = new SegmentByteQueue(Number.POSITIVE_INFINITY);
  for (const s of input) queue.pushSegment(s);
  queue.end();
  assert.ok(
    queue.bytesIn > 128 * 1024,
    `the input should exceed the read buffer, got ${queue.bytesIn} bytes`,
  );
  const demuxer = await openInputDemuxer(queue);
  try {
    const pb = demuxer.getFormatContext().pb;
    assert.ok(pb, "custom IO context");
    assert.ok(demuxer.video() && demuxer.audio(), "both streams found");
    let packets = 0;
    for await (const pkt of demuxer.packets()) {
      if (!pkt) break;
      packets++;
      pkt.free();
    }
    assert.ok(packets > 200, `all packets read, got ${packets}`);
    assert.ok(queue.pending === 0, "the whole input was read");
    // Without a seek callback FFmpeg grows this buffer to a 5 MB seek-back window and fills it
    // with the bytes read; node-av's IOContext.freeContext() then leaks it at every stream stop.
    assert.ok(pb.bufferSize <= 64 * 1024, `read buffer stayed small: ${pb.bufferSize} bytes`);
  } finally {
    await demuxer.close();
  }
});
