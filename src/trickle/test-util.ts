/**
 * Raw node:http helpers for the trickle server's tests (no dependency on the trickle clients).
 * Every request uses its own connection (`agent: false`), so nothing stays open after a test.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";

/** A fully read response. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Interim 1xx responses seen before the final one. */
  informational: number[];
}

/** Options of {@link request}. */
export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Request body; for POST without a body an empty chunked body is sent. */
  body?: string | Buffer;
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on("data", (c: Buffer) => parts.push(c));
    res.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("response aborted")));
  });
}

/** One request, fully read. */
export function request(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const informational: number[] = [];
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers, agent: false });
    req.on("information", (info) => informational.push(info.statusCode));
    req.on("error", reject);
    req.on("response", (res) => {
      readAll(res).then(
        (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, informational }),
        reject,
      );
    });
    req.end(options.body);
  });
}

/** A POST whose body the test writes piece by piece. */
export interface OpenPost {
  write(chunk: string | Buffer): Promise<void>;
  /** Ends the body and returns the response. */
  end(): Promise<RawResponse>;
  /** The response, whenever it comes (it may come before the body ends). */
  response: Promise<RawResponse>;
  /** Interim 1xx responses seen so far. */
  informational: number[];
  /** Destroys the connection mid-body. */
  abort(): void;
}

/** Starts a chunked POST and leaves its body open. */
export function openPost(url: string, headers: Record<string, string> = {}): OpenPost {
  const informational: number[] = [];
  const req = httpRequest(url, { method: "POST", headers, agent: false });
  req.flushHeaders();
  const response = new Promise<RawResponse>((resolve, reject) => {
    req.on("information", (info) => informational.push(info.statusCode));
    req.on("error", reject);
    req.on("response", (res) => {
      readAll(res).then(
        (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, informational }),
        reject,
      );
    });
  });
  response.catch(() => {});
  return {
    informational,
    response,
    write: (chunk) =>
      new Promise((resolve, reject) => req.write(chunk, (err) => (err ? reject(err) : resolve()))),
    end: () => {
      req.end();
      return response;
    },
    abort: () => req.destroy(),
  };
}

/** A GET whose body the test consumes as it arrives. */
export interface OpenGet {
  /** Resolves with status and headers (once the server sent them). */
  head: Promise<{ status: number; headers: IncomingHttpHeaders }>;
  /** Resolves once at least `n` body bytes arrived, with everything received so far. */
  waitFor(n: number): Promise<string>;
  /** Resolves with the whole body. */
  body: Promise<string>;
  /** Destroys the connection. */
  abort(): void;
}

/** Starts a GET and exposes its body progressively. */
export function openGet(url: string): OpenGet {
  const req = httpRequest(url, { agent: false });
  let received = Buffer.alloc(0);
  const waiters: { n: number; resolve: (s: string) => void }[] = [];
  let resolveBody!: (s: string) => void;
  let rejectBody!: (e: unknown) => void;
  const body = new Promise<string>((res, rej) => {
    resolveBody = res;
    rejectBody = rej;
  });
  body.catch(() => {});
  const head = new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
    req.on("error", (err) => {
      reject(err);
      rejectBody(err);
    });
    req.on("response", (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.on("data", (c: Buffer) => {
        received = Buffer.concat([received, c]);
        for (const w of [...waiters]) {
          if (received.length >= w.n) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(received.toString("utf8"));
          }
        }
      });
      res.on("end", () => resolveBody(received.toString("utf8")));
      res.on("error", rejectBody);
      res.on("aborted", () => rejectBody(new Error("response aborted")));
    });
  });
  head.catch(() => {});
  req.end();
  return {
    head,
    body,
    waitFor: (n) =>
      received.length >= n
        ? Promise.resolve(received.toString("utf8"))
        : new Promise((resolve) => waiters.push({ n, resolve })),
    abort: () => req.destroy(),
  };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}
