/**
 * HTTP plumbing of the server fuzzers: one raw request on its own connection (HTTP or HTTPS with a
 * pinned certificate), optionally cut off mid-body, with a bounded wait; and arbitraries for methods,
 * headers and bodies.
 */
import assert from "node:assert/strict";
import { request as httpRequest, METHODS } from "node:http";
import { constants as h2c, connect as h2connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import fc from "fast-check";
import type { FuzzReply } from "./fuzz-util.ts";
import { headerText } from "./fuzz-util.ts";

/** One fuzzed request. */
export interface FuzzRequest {
  method: string;
  /** Path and query, already valid for an HTTP request line. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Send this many body bytes of a longer declared body, then destroy the connection. */
  abortAfter?: number;
}

/** What came back: an answer, nothing in time, or the connection went away. */
export type Outcome =
  | ({ kind: "reply" } & FuzzReply)
  | { kind: "timeout" }
  | { kind: "aborted" }
  | { kind: "error"; message: string };

/** Where to send: base URL and, for HTTPS, the certificate to trust; `h2` speaks HTTP/2 (TLS only). */
export interface Target {
  url: string;
  ca?: string | Buffer;
  h2?: boolean;
}

/** Sends one request and waits at most `waitMs` for the whole answer. */
export function send(target: Target, r: FuzzRequest, waitMs: number): Promise<Outcome> {
  if (target.h2) return sendH2(target, r, waitMs);
  return new Promise((resolve) => {
    const url = new URL(target.url);
    const https = url.protocol === "https:";
    const declared = r.abortAfter === undefined ? r.body.length : r.body.length + 1024;
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, "content-length": String(declared) },
        agent: false,
        ...(https ? { ca: target.ca, servername: "localhost" } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () =>
          done({
            kind: "reply",
            status: res.statusCode ?? 0,
            headers: { ...res.headers, ...res.trailers },
            body: Buffer.concat(parts).toString("utf8"),
          }),
        );
        res.on("error", () => done({ kind: "error", message: "response stream failed" }));
        res.on("aborted", () => done({ kind: "error", message: "response aborted" }));
      },
    );
    let settled = false;
    const timer = setTimeout(() => {
      done({ kind: "timeout" });
      req.destroy();
    }, waitMs);
    function done(o: Outcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    }
    req.on("error", (err) => done({ kind: "error", message: err.message }));
    if (r.abortAfter === undefined) {
      req.end(r.body);
      return;
    }
    req.write(r.body.subarray(0, r.abortAfter), () => {
      setImmediate(() => {
        req.destroy();
        done({ kind: "aborted" });
      });
    });
  });
}

/**
 * Methods, common and odd. Only methods node's HTTP parser knows (`http.METHODS`): it answers any
 * other with its own bare `400` before our handlers run, and closes a `CONNECT` (no `connect` listener):
 * both are node's, not ours (see docs/security.md).
 */
export const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PATCH") },
  { weight: 1, arbitrary: fc.constantFrom(...METHODS.filter((m) => m !== "CONNECT")) },
);

/** One URL path segment: plain, percent-encoded junk, dots, long. */
export const pathSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{0,20}$/),
  fc.string({ maxLength: 20 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom(
    ".",
    "..",
    "%",
    "%zz",
    "%00",
    "%2F",
    "-1",
    "-2",
    "0",
    "999999999999999999",
    "a".repeat(300),
  ),
);

/** A query string or nothing. */
export const query = fc.option(
  fc
    .dictionary(fc.stringMatching(/^[a-z_]{1,8}$/), fc.string({ maxLength: 10 }), { maxKeys: 3 })
    .map((q) => `?${new URLSearchParams(q).toString()}`),
  { nil: "" },
);

/** Random extra headers (never the framing ones, which `send` sets). */
export const extraHeaders = (names: readonly string[]) =>
  fc
    .dictionary(
      fc.oneof(fc.constantFrom(...names), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)),
      headerText(120),
      { maxKeys: 5 },
    )
    .map((h) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) {
        if (["content-length", "transfer-encoding", "host", "connection", "expect", "upgrade"].includes(k))
          continue;
        out[k] = v;
      }
      return out;
    });

/** A JSON-ish or arbitrary body. */
export const body = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 1, arbitrary: fc.nat({ max: 3000 }).map((n) => Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`)) },
);

/** Content types, right and wrong. */
export const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/octet-stream",
      "multipart/form-data",
      "multipart/form-data; boundary=x",
      "application/x-www-form-urlencoded",
      "video/mp2t",
      "",
      ";;",
    ),
    headerText(40),
  ),
  { nil: undefined },
);

/** A large body that prints as its size in counterexamples (not as megabytes of numbers). */
export function bigBody(size: number, fill = 7): Buffer {
  const b = Buffer.alloc(size, fill);
  Object.defineProperty(b, fc.toStringMethod, { value: () => `Buffer.alloc(${size}, ${fill})` });
  return b;
}

/** {@link send} over HTTP/2, on a session of its own (closed afterwards). */
function sendH2(target: Target, r: FuzzRequest, waitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const session = h2connect(target.url, { ca: target.ca, servername: "localhost" });
    let settled = false;
    const done = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ kind: "timeout" }), waitMs);
    session.on("error", (err) => done({ kind: "error", message: err.message }));
    const declared = r.abortAfter === undefined ? r.body.length : r.body.length + 1024;
    const stream = session.request(
      {
        ...r.headers,
        ":method": r.method,
        ":path": r.path,
        "content-length": String(declared),
      },
      { endStream: false },
    );
    const parts: Buffer[] = [];
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = { ...h } as Record<string, string | string[] | undefined>;
    });
    stream.on("trailers", (t) => Object.assign(headers, t));
    stream.on("data", (c: Buffer) => parts.push(c));
    stream.on("end", () =>
      done({ kind: "reply", status, headers, body: Buffer.concat(parts).toString("utf8") }),
    );
    stream.on("error", (err) => done({ kind: "error", message: err.message }));
    stream.on("close", () => {
      if (status !== 0) done({ kind: "reply", status, headers, body: Buffer.concat(parts).toString("utf8") });
      else done({ kind: "error", message: `stream closed (code ${stream.rstCode})` });
    });
    if (r.abortAfter === undefined) {
      stream.end(r.body);
      return;
    }
    stream.write(r.body.subarray(0, r.abortAfter), () => {
      setImmediate(() => {
        stream.close(h2c.NGHTTP2_CANCEL);
        done({ kind: "aborted" });
      });
    });
  });
}

/**
 * Sends a request whose headers are over node's 16 KiB limit: it must answer 431 (or drop that
 * connection), and a plain `GET path` afterwards must still be answered.
 */
export async function checkOversizedHeaders(target: Target, path: string): Promise<void> {
  const out = await send(
    target,
    { method: "GET", path: "/health", headers: { "x-big": "a".repeat(20 * 1024) }, body: Buffer.alloc(0) },
    20_000,
  );
  assert.ok(
    out.kind === "reply" ? out.status === 431 : out.kind === "error",
    JSON.stringify(out).slice(0, 200),
  );
  const again = await send(target, { method: "GET", path, headers: {}, body: Buffer.alloc(0) }, 20_000);
  assert.equal(again.kind, "reply");
}
