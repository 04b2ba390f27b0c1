/**
 * HTTP plumbing of the server fuzzers: one raw request on its own connection (HTTP or HTTPS with a
 * pinned certificate), optionally cut off mid-body, with a bounded wait; and arbitraries for methods,
 * headers and bodies.
 */
import assert from "node:assert/strict";
import { request as httpRequest, METHODS } from "node:http";
import { constants as h2c, connect as h2connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
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

/** Connection-specific fields, which HTTP/2 has no place for (RFC 9113 section 8.2.2). */
const H1_ONLY = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/**
 * `headers` without what an HTTP/2 request cannot carry (node's client refuses to send them at all):
 * the connection-specific fields, and `te` other than "trailers".
 */
function h2Expressible(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([k, v]) => !H1_ONLY.has(k.toLowerCase()) && (k.toLowerCase() !== "te" || v.trim() === "trailers"),
    ),
  );
}

/** {@link send} over HTTP/2, on a session of its own (closed afterwards). */
function sendH2(target: Target, r: FuzzRequest, waitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    // Node's client refuses to send a header block over 64 KiB by default; the servers take 1 MiB.
    const session = h2connect(target.url, {
      ca: target.ca,
      servername: "localhost",
      maxSendHeaderBlockLength: 4 * MAX_HEADER_BYTES,
    });
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
        ...h2Expressible(r.headers),
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

/** Node's old default head limit, which this project's servers now go past. */
const NODE_DEFAULT_HEADER_BYTES = 16 * 1024;
/** The servers' head limit (Go's `DefaultMaxHeaderBytes`). */
export const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * Headers between node's default 16 KiB and 1 MiB are accepted (a 64 KiB one answers like a plain
 * request); headers over 1 MiB answer 431 with a JSON message (HTTP/1.1) or have the stream or
 * connection refused (HTTP/2); a plain `GET path` afterwards is still answered.
 */
export async function checkOversizedHeaders(target: Target, path: string): Promise<void> {
  const plain = await send(target, { method: "GET", path, headers: {}, body: Buffer.alloc(0) }, 20_000);
  const big = await send(
    target,
    {
      method: "GET",
      path,
      headers: { "x-big": "a".repeat(4 * NODE_DEFAULT_HEADER_BYTES) },
      body: Buffer.alloc(0),
    },
    20_000,
  );
  assert.equal(big.kind, plain.kind, `64 KiB of headers: ${JSON.stringify(big).slice(0, 200)}`);
  if (big.kind === "reply" && plain.kind === "reply") assert.equal(big.status, plain.status);
  if (!target.h2) {
    // Node's client sends HTTP/2 heads in 16 KiB frames, and nghttp2 takes at most 9 frames per head.
    const near = await send(
      target,
      {
        method: "GET",
        path,
        headers: { "x-big": "a".repeat(MAX_HEADER_BYTES - 8192) },
        body: Buffer.alloc(0),
      },
      20_000,
    );
    assert.equal(
      near.kind === "reply" && near.status,
      plain.kind === "reply" && plain.status,
      "1 MiB of headers",
    );
  }
  // Over 1 MiB in fields of 64 KiB (nghttp2's largest single field), so that HTTP/2 tries it too.
  const headers: Record<string, string> = {};
  for (let i = 0; i < 17; i++) headers[`x-big-${i}`] = "a".repeat(64 * 1024 - 64);
  const out = await send(target, { method: "GET", path: "/health", headers, body: Buffer.alloc(0) }, 20_000);
  if (target.h2) assert.equal(out.kind, "error", JSON.stringify(out).slice(0, 200));
  else {
    assert.ok(out.kind === "reply" && out.status === 431, JSON.stringify(out).slice(0, 200));
    assert.match(out.body, /HEADERS_TOO_LARGE/);
  }
  const again = await send(target, { method: "GET", path, headers: {}, body: Buffer.alloc(0) }, 20_000);
  assert.equal(again.kind, "reply");
}

// ---- raw HTTP/2 frames, for what node's client refuses to do (exceed the server's settings, flood) --

/** One HTTP/2 frame. */
export interface H2Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}
/** Frame types used here. */
export const H2 = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;

/** Encodes one frame. */
export function h2Frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * A HEADERS frame (END_HEADERS, and END_STREAM unless `body`) for `method path`, HPACK without
 * Huffman or indexing. `path` and `authority` must be shorter than 127 bytes.
 */
export function h2Request(stream: number, method: "GET" | "POST", path: string, body = false): Buffer {
  const literal = (index: number, value: string) =>
    Buffer.concat([Buffer.from([index, value.length]), Buffer.from(value)]);
  const block = Buffer.concat([
    Buffer.from([method === "GET" ? 0x82 : 0x83, 0x87]),
    literal(4, path),
    literal(1, "localhost"),
  ]);
  return h2Frame(H2.HEADERS, body ? 0x4 : 0x5, stream, block);
}

/** An HTTP/2 connection spoken frame by frame. */
export interface RawH2 {
  /** Frames received so far. */
  frames: H2Frame[];
  write(data: Buffer): void;
  /** Resolves with the first received frame matching `pred`, or undefined after `ms`. */
  waitFor(pred: (f: H2Frame) => boolean, ms: number): Promise<H2Frame | undefined>;
  /** Resolves true once the server closed the connection, false after `ms`. */
  closedWithin(ms: number): Promise<boolean>;
  destroy(): void;
}

/** Opens a TLS connection (ALPN h2), sends the preface and empty SETTINGS, and acks the server's. */
export function rawH2(target: Target): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const url = new URL(target.url);
    const socket = tlsConnect({
      host: url.hostname,
      port: Number(url.port),
      ALPNProtocols: ["h2"],
      ca: target.ca,
      servername: "localhost",
    });
    const frames: H2Frame[] = [];
    const waiters = new Set<() => void>();
    let buf = Buffer.alloc(0);
    let closed = false;
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const f = {
          type: buf[3]!,
          flags: buf[4]!,
          stream: buf.readUInt32BE(5) & 0x7fffffff,
          payload: buf.subarray(9, 9 + len),
        };
        buf = buf.subarray(9 + len);
        if (f.type === H2.SETTINGS && (f.flags & 1) === 0 && socket.writable)
          socket.write(h2Frame(H2.SETTINGS, 1, 0));
        frames.push(f);
      }
      for (const w of waiters) w();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      for (const w of waiters) w();
    });
    socket.once("secureConnect", () => {
      socket.write(
        Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2Frame(H2.SETTINGS, 0, 0)]),
      );
      const wait = <T>(check: () => T | undefined, ms: number, fallback: T): Promise<T> =>
        new Promise((res) => {
          const hit = check();
          if (hit !== undefined) return res(hit);
          const timer = setTimeout(() => {
            waiters.delete(w);
            res(fallback);
          }, ms);
          const w = () => {
            const v = check();
            if (v === undefined) return;
            clearTimeout(timer);
            waiters.delete(w);
            res(v);
          };
          waiters.add(w);
        });
      resolve({
        frames,
        write: (data) => {
          if (socket.writable) socket.write(data);
        },
        waitFor: (pred, ms) => wait(() => frames.find(pred), ms, undefined),
        closedWithin: (ms) => wait(() => (closed ? true : undefined), ms, false),
        destroy: () => socket.destroy(),
      });
    });
    socket.once("error", reject);
  });
}
