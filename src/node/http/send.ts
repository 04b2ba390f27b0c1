/**
 * Writing answers: JSON, plain text, and errors in one of the three shapes our servers speak.
 *
 * - {@link envelopeError}: our own `{"error":{"code","message"}}` envelope (src/node/errors.ts);
 * - {@link plainTextError}: go-livepeer's `http.Error` shape, the message as `text/plain` with a
 *   trailing newline (the orchestrator's BYOC routes);
 * - {@link pytrickleError}: pytrickle's `{"status":"error","message"}` (the runner's stream routes).
 *
 * Works on node:http responses and on node:http2 compat responses alike. Head fields are written in
 * their canonical case (`Content-Type`): some HTTP/1.1 clients of the orchestrator read them
 * case-sensitively; a caller's field replaces a default whatever its case.
 */
import { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import { errorBody, httpStatusOf } from "../errors.ts";

/** A response of either node:http or node:http2 (compat API). */
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** Extra response headers. */
export type Headers = Record<string, string>;

/**
 * Answers JSON (a string is sent as it is). Does nothing when the answer has already started. A 413
 * over HTTP/1.1 closes the connection: the rest of the body was not read.
 */
export function sendJson(res: AnyResponse, status: number, body: unknown, headers: Headers = {}): void {
  if (res.headersSent) return;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  write(
    res,
    status,
    text,
    withDefaults(
      {
        "Content-Type": "application/json",
        "Content-Length": String(Buffer.byteLength(text)),
        ...(status === 413 && res instanceof ServerResponse ? { Connection: "close" } : {}),
      },
      headers,
    ),
  );
}

/** Answers plain text with a trailing newline (go-livepeer's `http.Error` shape). */
export function sendText(res: AnyResponse, status: number, text: string, headers: Headers = {}): void {
  if (res.headersSent) return;
  write(res, status, `${text}\n`, withDefaults({ "Content-Type": "text/plain; charset=utf-8" }, headers));
}

/** `defaults` with `headers` over them, names compared without case (one `Content-Type`, not two). */
export function withDefaults(defaults: Headers, headers: Headers): Headers {
  const out = { ...defaults };
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    for (const d of Object.keys(out)) if (d.toLowerCase() === lower) delete out[d];
    out[name] = value;
  }
  return out;
}

function write(res: AnyResponse, status: number, body: string, headers: Headers): void {
  (res as ServerResponse).writeHead(status, headers);
  res.end(body);
}

/** How an error becomes an answer: its status and JSON (object) or text (string) body. */
export type ErrorFormat = (err: unknown) => { status: number; body: unknown };

/** Our JSON envelope `{"error":{"code","message"}}` with the error's status. */
export const envelopeError: ErrorFormat = (err) => ({ status: httpStatusOf(err), body: errorBody(err) });

/** go-livepeer's plain-text message with the error's status. */
export const plainTextError: ErrorFormat = (err) => ({
  status: httpStatusOf(err),
  body: `${errorBody(err).error.message}\n`,
});

/** pytrickle's `{"status":"error","message":…}` body, with extra fields. */
export function pytrickleBody(message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: "error", message, ...extra };
}

/** pytrickle's shape with the error's status; an unknown error's message is the generic one. */
export const pytrickleError: ErrorFormat = (err) => ({
  status: httpStatusOf(err),
  body: pytrickleBody(errorBody(err).error.message),
});

/**
 * Answers an error in `format` with extra head fields. When the answer has already started, the
 * response is destroyed instead: a half-sent answer must not look complete.
 */
export function sendFormattedError(
  res: AnyResponse,
  err: unknown,
  format: ErrorFormat,
  headers: Headers = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) (res as ServerResponse).destroy();
    return;
  }
  const { status, body } = format(err);
  if (typeof body === "string")
    write(res, status, body, withDefaults({ "Content-Type": "text/plain; charset=utf-8" }, headers));
  else sendJson(res, status, body, headers);
}

/** Answers an error in our JSON envelope (usable as a router group's error formatter). */
export function sendError(res: AnyResponse, err: unknown): void {
  sendFormattedError(res, err, envelopeError);
}

/** Answers an error as go-livepeer's plain text (usable as a router group's error formatter). */
export function sendErrorText(res: AnyResponse, err: unknown): void {
  sendFormattedError(res, err, plainTextError);
}

/**
 * Resolves once `res` can take more bytes, or once it closed: a client that leaves while
 * back-pressured must not hang the writer.
 */
export function drainedOrClosed(res: AnyResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
