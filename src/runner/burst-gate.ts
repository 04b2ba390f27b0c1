/**
 * The media loop's burst rule (media-loop.ts, "Backpressure"): a trickle segment is read whole and
 * decoded much faster than frames are encoded, so a full video queue first holds the decoder back
 * instead of dropping frames, for as long as the input is not behind real time: no newer input
 * segment waits unread, and the segment being decoded is processed no later than its arrival plus
 * its own media time plus {@link MAX_BURST_LAG_S}. Past that, frames are dropped oldest first, so
 * latency stays bounded (by one segment).
 */
import type { SegmentByteQueue } from "../media/byte-queue.ts";
import type { DropOldestQueue } from "../media/frame-queue.ts";
import type { VideoFrame } from "../media/frames.ts";

/**
 * How far (seconds) the processing of a segment may fall behind its own media time, counted from
 * the segment's arrival, before the decoder stops waiting for room in the video queue and the
 * queue drops the oldest frames instead.
 */
export const MAX_BURST_LAG_S = 0.5;

function mediaSeconds(frame: VideoFrame): number {
  return (frame.pts * frame.timeBase.num) / frame.timeBase.den;
}

/** The burst rule over one stream's input queue and video queue. */
export class BurstGate {
  readonly #input: SegmentByteQueue;
  readonly #video: DropOldestQueue<VideoFrame>;
  /** Segment the decoded frames come from ({@link SegmentByteQueue.segmentsStarted} numbering). */
  #segment = 0;
  /** Arrival (ms) and first kept frame's media time (s) of that segment. */
  #wall = 0;
  #media = 0;

  constructor(input: SegmentByteQueue, video: DropOldestQueue<VideoFrame>) {
    this.#input = input;
    this.#video = video;
  }

  /**
   * Anchors the rule's clock at the first frame of each new input segment: the first keyframe decoded
   * after the demuxer started reading a new segment (it reads ahead, up to 32 KiB, so frames of the
   * previous segment may still come after that).
   */
  decoded(seconds: number, keyFrame: boolean): void {
    const q = this.#input;
    if (!keyFrame || q.segmentsStarted <= this.#segment) return;
    this.#segment = q.segmentsStarted;
    this.#wall = q.startedSegmentArrival;
    this.#media = seconds;
  }

  /**
   * Waits for room in the full video queue while the input is not behind real time (or until
   * `stopped()`); the caller then pushes `frame`, dropping the oldest if the queue is still full.
   */
  async waitForRoom(frame: VideoFrame, stopped: () => boolean): Promise<void> {
    const q = this.#input;
    const offset = mediaSeconds(frame) - this.#media;
    // Past this wall time the segment is processed slower than real time (offsets that went back
    // or jumped forward are not trusted: then only the newer-segment test applies).
    const deadline =
      offset >= 0 && offset < 10 ? this.#wall + (offset + MAX_BURST_LAG_S) * 1000 : Number.POSITIVE_INFINITY;
    // Newer input: a segment after the one these frames come from was started or is queued.
    const newerInput = () => q.segmentsStarted + q.unreadSegments > this.#segment;
    while (this.#video.full && !stopped() && !newerInput() && performance.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waits: Promise<void>[] = [this.#video.room(), q.nextArrival()];
      if (deadline !== Number.POSITIVE_INFINITY)
        waits.push(
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, deadline - performance.now()) + 1);
          }),
        );
      await Promise.race(waits);
      clearTimeout(timer);
    }
  }
}
