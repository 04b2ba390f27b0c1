/**
 * A small WebSocket client (RFC 6455) over node:http/https, for live runner apps behind an
 * orchestrator: orchestrators use self-signed certificates, which the global `WebSocket` cannot be
 * told to accept. Text and binary messages (fragmented or not), ping answered with pong, close.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { GatewayError } from "./job.ts";

/** One message: `text` for a text frame, `bytes` for a binary one. */
export type SocketMessage = { text: string; bytes?: undefined } | { text?: undefined; bytes: Uint8Array };

/** An open WebSocket. */
export interface RunnerSocket extends AsyncDisposable {
  send(data: string | Uint8Array): void;
  /** Messages until the peer closes (or {@link RunnerSocket.close}). */
  messages(): AsyncGenerator<SocketMessage>;
  /** Sends a close frame and ends the connection. */
  close(): Promise<void>;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLen(len)]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = (payload[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([head, key, masked]);
}

function bigLen(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Opens `url` (http(s):// or ws(s)://) as a WebSocket; `insecure` accepts any TLS certificate. */
export function openRunnerSocket(
  url: string,
  options: { headers?: Record<string, string>; insecure?: boolean; timeoutMs?: number } = {},
): Promise<RunnerSocket> {
  const u = new URL(url);
  if (u.protocol === "ws:") u.protocol = "http:";
  if (u.protocol === "wss:") u.protocol = "https:";
  const tls = u.protocol === "https:";
  const key = randomBytes(16).toString("base64");
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(u, {
      headers: {
        ...options.headers,
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": key,
      },
      timeout: options.timeoutMs ?? 10_000,
      ...(tls ? { rejectUnauthorized: !(options.insecure ?? true) } : {}),
    });
    req.on("timeout", () => req.destroy(new Error("WebSocket handshake timed out")));
    req.on("error", (err) =>
      reject(new GatewayError("GATEWAY_UNREACHABLE", `WebSocket ${u.origin}: ${err.message}`, 0, err)),
    );
    req.on("response", (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        const text = Buffer.concat(parts).toString("utf8").slice(0, 500);
        let code = `HTTP_${res.statusCode}`;
        try {
          const c = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
          if (typeof c === "string") code = c;
        } catch {
          // plain text
        }
        reject(
          new GatewayError(
            code,
            `WebSocket refused: ${res.statusCode} ${code}: ${text}`,
            res.statusCode ?? 0,
          ),
        );
      });
    });
    req.on("upgrade", (_res, socket: Duplex, head: Buffer) => resolve(wrap(socket, head)));
    req.end();
  });
}

function wrap(socket: Duplex, head: Buffer): RunnerSocket {
  const queue: SocketMessage[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let buf = head;
  let fragments: Buffer[] = [];
  let fragOpcode = 0;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const end = () => {
    ended = true;
    notify();
  };
  socket.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (;;) {
      if (buf.length < 2) return;
      const b0 = buf[0] as number;
      const b1 = buf[1] as number;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const mask = masked ? buf.subarray(off, off + 4) : undefined;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      let payload = Buffer.from(buf.subarray(off, off + len));
      if (mask) payload = Buffer.from(payload.map((x, i) => x ^ (mask[i % 4] as number)));
      buf = buf.subarray(off + len);
      const opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      if (opcode === 8) {
        socket.end(frame(8, Buffer.alloc(0)));
        end();
        return;
      }
      if (opcode === 9) {
        socket.write(frame(10, payload));
        continue;
      }
      if (opcode === 10) continue;
      if (opcode !== 0) fragOpcode = opcode;
      fragments.push(payload);
      if (!fin) continue;
      const whole = Buffer.concat(fragments);
      fragments = [];
      queue.push(fragOpcode === 2 ? { bytes: new Uint8Array(whole) } : { text: whole.toString("utf8") });
      notify();
    }
  });
  socket.on("close", end);
  socket.on("error", end);
  const close = async (): Promise<void> => {
    if (!socket.destroyed) {
      socket.end(frame(8, Buffer.alloc(0)));
      socket.destroy();
    }
    end();
  };
  return {
    send(data) {
      socket.write(typeof data === "string" ? frame(1, Buffer.from(data)) : frame(2, Buffer.from(data)));
    },
    async *messages() {
      for (;;) {
        const m = queue.shift();
        if (m !== undefined) {
          yield m;
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
