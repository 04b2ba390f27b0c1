/**
 * A subscriber's `GET {channel}/{seq}` once its segment is found: the segment's bytes as they are
 * written, with back-pressure; a subscriber that accepts nothing for the stall timeout is dropped.
 *
 * The response is pumped by callbacks, not an async loop: the segment's write (the publisher's body
 * chunk arriving) calls {@link SegmentBuffer.notify}'s callback synchronously, which writes every
 * chunk the reader has not sent yet. node:http corks the socket until the next tick, so the chunks
 * written in one tick go out in one `writev`. No promise, timer or AbortSignal per chunk.
 */
import { CLOSED_VALUE } from "../protocol/trickle.ts";
import type { Channel, ReadLookup } from "./channel.ts";
import type { SegmentIo, TrickleHttpRequest } from "./server-handler.ts";
import {
  CLOSED,
  CONTENT_TYPE,
  dropConnection,
  gone,
  httpError,
  LATEST,
  type Res,
  SEQ,
  safely,
} from "./server-http.ts";

/**
 * Bytes a subscriber's response may hold queued (views of the segment's pages, not copies) before
 * the server waits for it to drain. Above the socket's 16 KiB high-water mark so that a ~64 KiB body
 * chunk does not cost a drain wait each; a stalled subscriber pins at most this much plus one chunk.
 */
export const SUBSCRIBER_BACKLOG = 256 * 1024;

/** Streams `lookup.segment` to a subscriber until the segment ends or the subscriber goes. */
export function serveSegment(
  io: SegmentIo,
  req: TrickleHttpRequest,
  res: Res,
  channel: Channel,
  lookup: ReadLookup,
): void {
  const segment = lookup.segment!;
  const buffer = segment.buffer;
  const reader = buffer.reader();
  let sent = 0;
  let stopped = false;
  /** True while waiting for `drain`; the stall timer then runs. */
  let draining = false;
  let stall: NodeJS.Timeout | undefined;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    buffer.unnotify(pump);
    res.off("close", stop);
    res.off("drain", onDrain);
    if (stall !== undefined) clearTimeout(stall);
  };
  const onDrain = (): void => {
    draining = false;
    pump();
  };
  const onStall = (): void => {
    if (stopped || !draining) return;
    io.log.info({ seq: segment.idx, bytes: sent }, "subscriber stalled; connection dropped");
    stop();
    dropConnection(req, res);
  };
  function pump(): void {
    if (stopped) return;
    try {
      if (gone(res)) {
        stop();
        return;
      }
      for (let chunk = reader.next(); chunk !== undefined; chunk = reader.next()) {
        if (sent === 0) {
          if (segment.idx !== lookup.latest) res.setHeader(LATEST, String(lookup.latest));
          res.setHeader(SEQ, String(segment.idx));
          if (channel.mimeType !== "") res.setHeader(CONTENT_TYPE, channel.mimeType);
          res.writeHead(200);
        }
        sent += chunk.length;
        if (!res.write(chunk) && res.writableLength >= SUBSCRIBER_BACKLOG) {
          draining = true;
          res.once("drain", onDrain);
          if (stall === undefined) stall = setTimeout(onStall, io.stallTimeoutMs);
          else stall.refresh();
          return;
        }
      }
      if (!reader.done) {
        buffer.notify(pump);
        return;
      }
      stop();
      if (sent === 0) {
        res.setHeader(SEQ, String(segment.idx));
        res.setHeader(LATEST, String(channel.nextWrite));
        if (channel.closed) res.setHeader(CLOSED, CLOSED_VALUE);
        res.statusCode = 200;
      }
      res.end();
    } catch (err) {
      // node:http2's compat layer throws when the stream died a moment ago; nothing to tell the peer.
      stop();
      io.log.warn({ err, seq: segment.idx }, "error sending a segment");
      if (!res.headersSent) httpError(res, 500, "Server error");
      else if (!gone(res)) safely(() => res.end());
    }
  }
  res.on("close", stop);
  pump();
}
