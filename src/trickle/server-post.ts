/**
 * A publisher's `POST {channel}/{seq}` once its channel is known: the body streams into the segment
 * as it arrives. Keepalive `100 Continue`s while a preconnected POST waits for its first byte; the
 * segment size cap (413, segment closed with what it has); a publisher silent mid-segment for the
 * stall timeout is dropped; a failed body answers 500 and leaves the segment open (docs/spec/trickle.md#publish-lifecycle).
 */
import { CLOSED_VALUE, HEADER_RESET } from "../protocol/trickle.ts";
import type { Channel } from "./channel.ts";
import type { SegmentIo, TrickleHttpRequest } from "./server-handler.ts";
import {
  CLOSED,
  CONNECTION,
  CONTENT_TYPE,
  dropConnection,
  endAbandoningBody,
  gone,
  header,
  httpError,
  isH2,
  type Res,
  SEQ,
  safely,
  shortName,
  TEXT_PLAIN,
} from "./server-http.ts";

/** Receives segment `requested` of `ch` (`name` only for debug logs) from a POST body. */
export function receiveSegment(
  io: SegmentIo,
  req: TrickleHttpRequest,
  res: Res,
  ch: Channel,
  requested: number,
  name: string,
): void {
  const h2 = isH2(req);
  const { segment } = ch.getForWrite(requested);
  const idx = segment.idx;
  if (header(req, HEADER_RESET) !== "") ch.closeBelow(idx);
  const buffer = segment.buffer;
  const log = io.log;
  log.debug({ channel: shortName(name), seq: idx, next: ch.nextWrite }, "POST segment");

  let total = 0;
  let finished = false;
  let keepalive: NodeJS.Timeout | undefined;
  /** Armed at the first byte, refreshed by every chunk: a publisher silent mid-segment is dropped. */
  let stall: NodeJS.Timeout | undefined;

  const stopWaiting = (): void => {
    if (keepalive !== undefined) clearInterval(keepalive);
    keepalive = undefined;
    buffer.closedSignal.removeEventListener("abort", onSegmentClosed);
  };
  const finish = (): void => {
    finished = true;
    stopWaiting();
    if (stall !== undefined) clearTimeout(stall);
    res.off("close", onResClose);
  };
  /** 0 bytes: an empty segment, or a preconnect released by a close (docs/spec/trickle.md#publish-lifecycle step 5). */
  const answerEmpty = (): void => {
    ch.markWritten(idx);
    segment.close();
    if (gone(res)) return;
    safely(() => {
      res.setHeader(SEQ, String(idx));
      if (ch.closed) res.setHeader(CLOSED, CLOSED_VALUE);
      if (!h2) res.setHeader(CONNECTION, "close");
      res.statusCode = 200;
      endAbandoningBody(req, res, h2);
    });
  };
  function onSegmentClosed(): void {
    if (finished || total > 0) return;
    finish();
    answerEmpty();
  }
  const onBodyFailed = (err?: unknown): void => {
    if (finished) return;
    finish();
    log.info({ err, seq: idx, bytes: total }, "POST body failed; segment left open");
    httpError(res, 500, "Server error");
  };
  function onResClose(): void {
    onBodyFailed(new Error("connection closed before the request body ended"));
  }

  req.on("data", (chunk: Buffer) => {
    if (finished) return;
    if (total === 0) {
      stopWaiting();
      ch.markWritten(idx);
      stall ??= setTimeout(() => {
        onBodyFailed(new Error(`no body bytes for ${io.stallTimeoutMs} ms`));
        dropConnection(req, res);
      }, io.stallTimeoutMs);
    } else stall?.refresh();
    const max = io.maxSegmentBytes;
    if (max > 0 && buffer.length + chunk.length > max) {
      finish();
      segment.close();
      log.info({ seq: idx, bytes: total, max }, "segment too large; cut");
      if (!res.headersSent && !gone(res)) {
        safely(() => {
          res.setHeader(CONTENT_TYPE, TEXT_PLAIN);
          if (!h2) res.setHeader(CONNECTION, "close");
          res.statusCode = 413;
          endAbandoningBody(req, res, h2, `Segment larger than ${max} bytes\n`);
        });
      }
      return;
    }
    total += chunk.length;
    // node hands each body chunk over as its own allocation: kept as it is, no copy.
    buffer.adopt(chunk);
  });
  req.on("end", () => {
    if (finished) return;
    finish();
    if (total === 0) {
      answerEmpty();
      return;
    }
    segment.close();
    if (gone(res)) return;
    safely(() => {
      res.setHeader(SEQ, String(idx));
      res.statusCode = 200;
      res.end();
    });
  });
  req.on("error", onBodyFailed);
  req.on("aborted", () => onBodyFailed(new Error("request aborted")));
  res.on("close", onResClose);

  if (buffer.closed) {
    onSegmentClosed();
    return;
  }
  buffer.closedSignal.addEventListener("abort", onSegmentClosed, { once: true });
  keepalive = setInterval(() => {
    if (finished || res.headersSent || gone(res)) return;
    log.debug({ seq: idx }, "sending 100 Continue keepalive");
    try {
      res.writeContinue();
    } catch (err) {
      log.debug({ err }, "100 Continue failed");
    }
  }, io.continueIntervalMs);
}
