/** Reading request bodies on the gateway's user API. */
import type { IncomingMessage } from "node:http";
import { TributaryError } from "../node/errors.ts";

/** Largest request body the gateway buffers (it must, to retry on another orchestrator). */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Reads the whole request body, at most `limit` bytes. Beyond that it rejects with a 413 and keeps
 * discarding the rest of the upload (so the client reads the answer instead of a reset).
 */
export function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off("data", onData);
        req.off("end", onEnd);
        req.resume(); // drain and discard
        reject(new TributaryError("PAYLOAD_TOO_LARGE", `request body over ${limit} bytes`, { status: 413 }));
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
