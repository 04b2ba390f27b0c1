/**
 * A subscriber's `GET {channel}/{seq}` once its segment is found: the segment's bytes as they are
 * written, with back-pressure; a subscriber that accepts nothing for the stall timeout is dropped.
 */
import { CLOSED_VALUE } from "../protocol/trickle.ts";
import type { Channel, ReadLookup } from "./channel.ts";
import type { SegmentIo, TrickleHttpRequest } from "./server-handler.ts";
import {
  CLOSED,
  CONTENT_TYPE,
  drainedOrStalled,
  dropConnection,
  gone,
  LATEST,
  type Res,
  SEQ,
} from "./server-http.ts";

/** Abort reason when a subscriber's connection closes (a constant: cheaper than a DOMException). */
const CLIENT_GONE = Symbol("trickle client gone");

/** Streams `lookup.segment` to a subscriber until the segment ends or the subscriber goes. */
export async function serveSegment(
  io: SegmentIo,
  req: TrickleHttpRequest,
  res: Res,
  channel: Channel,
  lookup: ReadLookup,
): Promise<void> {
  const segment = lookup.segment!;
  const reader = segment.buffer.reader();
  const clientGone = new AbortController();
  const onClose = (): void => clientGone.abort(CLIENT_GONE);
  res.on("close", onClose);
  try {
    let sent = 0;
    for (;;) {
      if (clientGone.signal.aborted) return;
      let chunk = reader.next();
      if (chunk !== undefined) {
        if (sent === 0) {
          if (segment.idx !== lookup.latest) res.setHeader(LATEST, String(lookup.latest));
          res.setHeader(SEQ, String(segment.idx));
          if (channel.mimeType !== "") res.setHeader(CONTENT_TYPE, channel.mimeType);
          res.writeHead(200);
        }
        while (chunk !== undefined) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            if (!(await drainedOrStalled(res, clientGone.signal, io.stallTimeoutMs))) {
              io.log.info({ seq: segment.idx, bytes: sent }, "subscriber stalled; connection dropped");
              dropConnection(req, res);
              return;
            }
            if (clientGone.signal.aborted) return;
          }
          chunk = reader.next();
        }
        continue;
      }
      if (reader.done) break;
      await reader.wait(clientGone.signal);
    }
    if (clientGone.signal.aborted || gone(res)) return;
    if (sent === 0) {
      res.setHeader(SEQ, String(segment.idx));
      res.setHeader(LATEST, String(channel.nextWrite));
      if (channel.closed) res.setHeader(CLOSED, CLOSED_VALUE);
      res.statusCode = 200;
    }
    res.end();
  } finally {
    res.off("close", onClose);
  }
}
