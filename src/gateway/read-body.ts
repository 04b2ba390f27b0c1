/** Reading request bodies on the gateway's user API. */
import type { IncomingMessage } from "node:http";
import { TributaryError } from "../node/errors.ts";

/** Largest request body the gateway buffers (it must, to retry on another orchestrator). */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;

function tooLarge(limit: number, declared?: number): TributaryError {
  return new TributaryError(
    "PAYLOAD_TOO_LARGE",
    `request body ${declared === undefined ? "is" : `of ${declared} bytes is`} over the gateway's ${limit}-byte limit; send a smaller body`,
    { status: 413, details: { limit } },
  );
}

/**
 * Reads the whole request body, at most `limit` bytes. A `Content-Length` over the limit rejects with
 * a 413 at once, before any of the body is read (the caller answers and closes the connection). A
 * body that grows past the limit without a declared length rejects with a 413 too and the rest of
 * the upload is discarded (so the client reads the answer instead of a reset).
 */
export function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isSafeInteger(declared) && declared > limit) return Promise.reject(tooLarge(limit, declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off("data", onData);
        req.off("end", onEnd);
        req.resume(); // drain and discard
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData);
    req.on("end", onEnd);
    req.once("error", reject);
  });
}
