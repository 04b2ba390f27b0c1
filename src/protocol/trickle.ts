/**
 * Trickle wire facts: header names, special sequence numbers and status codes, as go-livepeer
 * `trickle/` defines them (docs/spec/trickle.md#headers, #status-codes, #sequence-numbers). No I/O here.
 */

/** Response header: the segment index actually served or written (resolves -1 and -2). */
export const HEADER_SEQ = "lp-trickle-seq";
/** Response header: the server's next write index (last started + 1). */
export const HEADER_LATEST = "lp-trickle-latest";
/** Response header: the channel is closed (end of stream); value {@link CLOSED_VALUE}. */
export const HEADER_CLOSED = "lp-trickle-closed";
/** Request header on POST: the publisher restarted; older ring segments are closed. */
export const HEADER_RESET = "lp-trickle-reset";
/** Request header on channel create: the channel's MIME type. */
export const HEADER_EXPECT_CONTENT = "expect-content";
/** The value go-livepeer puts in {@link HEADER_CLOSED}. */
export const CLOSED_VALUE = "terminated";

/** Sequence number meaning "the next segment to be written" (go-livepeer `Next`). */
export const SEQ_NEXT = -1;
/** Sequence number meaning "the segment being written now, from byte 0" (go-livepeer `Current`). */
export const SEQ_CURRENT = -2;

/** Custom status: the channel exists but the segment does not (too old or too far ahead). */
export const STATUS_SEGMENT_NOT_FOUND = 470;

/** Segments kept per channel (go-livepeer trickle/trickle_server.go `maxSegmentsPerStream`). */
export const RING_SIZE = 5;

/** Parses a path's sequence part: an integer string, possibly negative. Returns undefined otherwise. */
export function parseSeq(text: string): number | undefined {
  if (!/^-?\d{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
