/**
 * Reading request bodies on the gateway's user API: the shared toolkit's {@link readBody}
 * (src/node/http/body.ts). A `Content-Length` over the limit is refused at once, before any of the
 * body is read; the gateway answers 413 with `Connection: close`.
 */
import { DEFAULT_MAX_BODY_BYTES } from "../node/http/body.ts";

export { readBody, readJsonObject } from "../node/http/body.ts";

/** Largest request body the gateway buffers (it must, to retry on another orchestrator). */
export const MAX_REQUEST_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;
