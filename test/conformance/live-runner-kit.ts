/**
 * What the live runner conformance suite needs: HTTPS calls to the orchestrator (self-signed), a
 * minimal WebSocket client and server (RFC 6455 text frames, enough for an echo), and a tiny Node
 * runner with plain HTTP (`/echo`, which reports what it received, the session headers included),
 * SSE (`/sse`: three events 50 ms apart), a WebSocket echo (`/ws`), `/health` and `/ui/...` (a second
 * "service" for generated proxies), and the payment headers of a priced runner's session
 * ({@link runnerPayment}).
 */
import { createHash } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { connect as http2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { fromBinary } from "@bufbuild/protobuf";
import type { LocalAccount } from "viem";
import type { Sender } from "../../src/payments/sender.ts";
import { signPayload } from "../../src/payments/signature.ts";
import { OrchestratorInfoSchema } from "../../src/protocol/gen/lp_rpc_pb.ts";
import {
  encodePaymentHeader,
  priceInfoFromWire,
  ticketParamsFromWire,
} from "../../src/protocol/payment-header.ts";
import {
  EMPTY_SEGMENT_HASH,
  encodeSegmentHeader,
  segCredsSigningBytes,
} from "../../src/protocol/segment-header.ts";

/** An answer, read whole. */
export interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  bytes: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field in the tests
  json: () => any;
}

/** One HTTP(S) call (self-signed certificates accepted). */
export function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  const u = new URL(url);
  const request = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
    const req = request(
      u,
      { method: options.method ?? "GET", headers, rejectUnauthorized: false, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () => {
          const bytes = Buffer.concat(parts);
          const text = bytes.toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            bytes,
            text,
            json: () => JSON.parse(text),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** A POST of a JSON body. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return call(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** The times (ms since the request) at which each chunk of a streamed answer arrived, and its text. */
export function streamed(url: string): Promise<{ status: number; chunks: { at: number; text: string }[] }> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(u, { rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: { at: number; text: string }[] = [];
      res.on("data", (c: Buffer) => chunks.push({ at: performance.now() - t0, text: c.toString("utf8") }));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, chunks }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** One HTTP/2 call over TLS (self-signed accepted): status, headers and body text. */
export function callH2(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string; chunks: number }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const session = http2Connect(u.origin, { rejectUnauthorized: false });
    session.on("error", reject);
    const stream = session.request({
      ":method": options.method ?? "GET",
      ":path": `${u.pathname}${u.search}`,
      ...options.headers,
    });
    let headers: Record<string, unknown> = {};
    let chunks = 0;
    const parts: Buffer[] = [];
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("data", (c: Buffer) => {
      chunks++;
      parts.push(c);
    });
    stream.on("end", () => {
      session.close();
      resolve({
        status: Number(headers[":status"]),
        headers,
        text: Buffer.concat(parts).toString("utf8"),
        chunks,
      });
    });
    stream.on("error", reject);
    stream.end(options.body);
  });
}

// ---- paying a runner session ------------------------------------------------------------------

/** A 402 challenge of a priced runner (`POST /apps/{id}/session` without payment). */
export interface RunnerChallenge {
  payment_params: string;
  manifest_id: string;
}

/**
 * The `Livepeer-Payment` and `Livepeer-Segment` headers of `tickets` tickets under a challenge (one
 * ticket session per challenge, kept in `sessions`, so nonces go on), for `manifest` (default the
 * challenge's manifest id), signed by `payer`.
 */
export async function runnerPayment(
  sender: Sender,
  payer: LocalAccount,
  sessions: Map<string, string>,
  challenge: RunnerChallenge,
  tickets: number,
  manifest?: string,
): Promise<Record<string, string>> {
  const info = fromBinary(OrchestratorInfoSchema, Buffer.from(challenge.payment_params, "base64"));
  let session = sessions.get(challenge.payment_params);
  if (session === undefined) {
    session = sender.startSession(ticketParamsFromWire(info.ticketParams!));
    sessions.set(challenge.payment_params, session);
  }
  const payment = encodePaymentHeader(
    await sender.createPayment(session, tickets, priceInfoFromWire(info.priceInfo!)),
  );
  const manifestId = manifest ?? challenge.manifest_id;
  const sig = await signPayload(payer, segCredsSigningBytes(manifestId, 0n, EMPTY_SEGMENT_HASH));
  const token = info.authToken!;
  const segment = encodeSegmentHeader({
    manifestId,
    seq: 0n,
    hash: EMPTY_SEGMENT_HASH,
    sig,
    durationMs: 0,
    authToken: {
      token: `0x${Buffer.from(token.token).toString("hex")}`,
      sessionId: token.sessionId,
      expiration: token.expiration,
    },
  });
  return { "livepeer-payment": payment, "livepeer-segment": segment };
}

// ---- WebSocket, text frames only ---------------------------------------------------------------

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function frame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  const head = [0x81, (mask ? 0x80 : 0) | Math.min(payload.length, 126)];
  const ext = payload.length < 126 ? [] : [payload.length >> 8, payload.length & 0xff];
  if (!mask) return Buffer.concat([Buffer.from([...head, ...ext]), payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number)));
  return Buffer.concat([Buffer.from([...head, ...ext]), key, masked]);
}

/** Reads text frames from a socket (masked or not). */
function onFrames(socket: Duplex, onText: (text: string) => void): void {
  let buf = Buffer.alloc(0);
  socket.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      if (buf.length < 2) return;
      const masked = ((buf[1] as number) & 0x80) !== 0;
      let len = (buf[1] as number) & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      }
      const total = off + (masked ? 4 : 0) + len;
      if (buf.length < total) return;
      let payload = buf.subarray(off + (masked ? 4 : 0), total);
      if (masked) {
        const key = buf.subarray(off, off + 4);
        payload = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number)));
      }
      buf = buf.subarray(total);
      onText(payload.toString("utf8"));
    }
  });
}

/** A connected WebSocket client: send text, receive the next text. */
export interface WsClient {
  status: number;
  /** The answer's body when the upgrade was refused (a 402 challenge, an error envelope). */
  body: string;
  send(text: string): void;
  next(): Promise<string>;
  /** Resolves when the connection closed (either side). */
  closed: Promise<void>;
  close(): void;
}

/**
 * Opens a WebSocket over HTTP or HTTPS (HTTP/1.1 upgrade, self-signed certificates accepted), with
 * `headers` added (payment headers); resolves with the status and body when it was refused.
 */
export function wsConnect(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
  const u = new URL(url);
  const request = u.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(u, {
      rejectUnauthorized: false,
      agent: false,
      headers: {
        ...headers,
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from("0123456789abcdef").toString("base64"),
      },
    });
    req.on("upgrade", (res, socket) => {
      const queue: string[] = [];
      const waiters: ((t: string) => void)[] = [];
      onFrames(socket, (t) => {
        const w = waiters.shift();
        if (w) w(t);
        else queue.push(t);
      });
      const closed = new Promise<void>((r) => socket.once("close", () => r()));
      socket.on("error", () => {});
      resolve({
        status: res.statusCode ?? 0,
        body: "",
        closed,
        send: (t) => socket.write(frame(t, true)),
        next: () => {
          const t = queue.shift();
          return t !== undefined ? Promise.resolve(t) : new Promise((r) => waiters.push(r));
        },
        close: () => socket.destroy(),
      });
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          closed: Promise.resolve(),
          send() {},
          next: () => Promise.reject(new Error("refused")),
          close() {},
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * The server side of a WebSocket (a runner's `upgrade` hook): answers the 101 and sends `reply(text)`
 * for every text frame received (nothing when it returns undefined).
 */
export function acceptWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  reply: (text: string) => string | undefined,
): void {
  const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}${GUID}`).digest("base64");
  socket.on("error", () => {});
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  onFrames(socket, (t) => {
    const out = reply(t);
    if (out !== undefined) socket.write(frame(out, false));
  });
}

// ---- the tiny runner ---------------------------------------------------------------------------

/** A running test runner. */
export interface TinyRunner extends AsyncDisposable {
  url: string;
  /** Headers of the last request it got. */
  last: IncomingMessage["headers"] | undefined;
  /** Answer of `/health` (settable). */
  healthStatus: number;
  close(): Promise<void>;
}

/** Starts the tiny runner on 127.0.0.1. */
export async function startTinyRunner(): Promise<TinyRunner> {
  const state = { last: undefined as IncomingMessage["headers"] | undefined, healthStatus: 200 };
  const sockets = new Set<Duplex>();
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname === "/health") {
      res.writeHead(state.healthStatus).end();
      return;
    }
    state.last = req.headers;
    if (u.pathname === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let n = 0;
      const t = setInterval(() => {
        res.write(`data: {"n":${n}}\n\n`);
        if (++n === 3) {
          clearInterval(t);
          res.end();
        }
      }, 50);
      res.on("close", () => clearInterval(t));
      return;
    }
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "x-runner": "tiny" });
      res.end(
        JSON.stringify({
          method: req.method,
          path: u.pathname,
          query: u.search,
          body: Buffer.concat(parts).toString("utf8"),
          route: req.headers["livepeer-runner-route"],
          session_id: req.headers["livepeer-session-id"],
          token: req.headers["livepeer-session-token"],
          control: req.headers["livepeer-session-control"],
          custom: req.headers["x-custom"],
          trace: req.headers["x-trace-id"],
        }),
      );
    });
  });
  server.on("upgrade", (req, socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    state.last = req.headers;
    acceptWebSocket(req, socket, (t) => `echo:${t}:${req.headers["livepeer-session-id"] ?? ""}`);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    url,
    get last() {
      return state.last;
    },
    get healthStatus() {
      return state.healthStatus;
    },
    set healthStatus(v: number) {
      state.healthStatus = v;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
