/**
 * The orchestrator's one-port server factory (docs/spec/orchestrator-gateway.md#service-port-and-tls): TLS with HTTP/2 and an
 * HTTP/1.1 fallback on a single `node:http2` secure server, gRPC (Connect's node adapter, gRPC protocol
 * only) routed by `Content-Type: application/grpc*`, every other request to one HTTP handler.
 *
 * The certificate is either given, or a self-signed ECDSA P-256 certificate generated on first start
 * and kept in the data directory (`tls-cert.pem`, `tls-key.pem`, key mode 0600), like go-livepeer's
 * self-signed default. Gateways skip verification (Go) or pin the certificate on first use (Python).
 * The certificate is written with a tiny DER encoder below (node:crypto signs; no openssl needed).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import { isIP } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { errorBody, TributaryError } from "./errors.ts";
import {
  applyHttp1Limits,
  clientErrorListener,
  countUpload,
  guardHttp2Sessions,
  type HttpLimits,
  http2ServerOptions,
  resolveHttpLimits,
} from "./http/limits.ts";
import { closeServer, listen, originOf } from "./http/listen.ts";
import { type Logger, silentLogger } from "./logger.ts";

/** A request on the shared port: HTTP/1.1 (`IncomingMessage`) or HTTP/2 compat. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A response on the shared port. */
export type NodeResponse = ServerResponse | Http2ServerResponse;
/** The HTTP handler of a node server. It must answer every request it gets. */
export type NodeHandler = (req: NodeRequest, res: NodeResponse) => void | Promise<void>;

/** File names of the generated certificate inside the data directory. */
export const TLS_CERT_FILE = "tls-cert.pem";
/** File name of the generated private key inside the data directory. */
export const TLS_KEY_FILE = "tls-key.pem";

/** A PEM certificate and its key. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/** Options of {@link startNodeServer}. */
export interface NodeServerOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Certificate to serve. Without it, {@link loadOrCreateTls} on `dataDir` (required then). */
  tls?: TlsMaterial;
  /** Where a generated certificate is kept. */
  dataDir?: string;
  /** Extra names for a generated certificate's subjectAltName (besides localhost and 127.0.0.1). */
  tlsHosts?: string[];
  /** gRPC services (Connect router). Requests with `Content-Type: application/grpc*` go there. */
  grpc?: (router: ConnectRouter) => void;
  /** Every other request. */
  handler: NodeHandler;
  /**
   * HTTP/1.1 `Upgrade` requests (WebSocket), on node's `upgrade` event: the listener owns the socket.
   * HTTP/2 has no upgrade. Without it, node answers such requests itself.
   */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Header size, slow-client and HTTP/2 limits (src/node/http/limits.ts); Go-like defaults. */
  limits?: HttpLimits;
  /**
   * Path prefixes whose request bodies are streamed through rather than buffered (the trickle mount:
   * a segment flows to its subscribers as it arrives, capped per segment by the trickle server). Their
   * bytes do not count against the HTTP/2 per-connection upload budget.
   */
  streamingPaths?: readonly string[];
  logger?: Logger;
  /** Aborting closes the server. */
  signal?: AbortSignal;
}

/** A running node server. */
export interface RunningNodeServer extends AsyncDisposable {
  server: Http2SecureServer;
  /** `https://host:port` (no trailing slash). */
  url: string;
  port: number;
  /** The certificate served (PEM). */
  cert: string;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the one-port TLS server. Resolves once listening; rejects (e.g. `EADDRINUSE`) otherwise.
 * A handler that throws or rejects answers 500 with the JSON error envelope (never a crash).
 */
export async function startNodeServer(options: NodeServerOptions): Promise<RunningNodeServer> {
  const log = options.logger ?? silentLogger();
  const host = options.host ?? "127.0.0.1";
  let tls = options.tls;
  if (tls === undefined) {
    if (options.dataDir === undefined)
      throw new TributaryError("TLS_CONFIG", "give a TLS certificate or a data directory to keep one in", {
        status: 500,
      });
    tls = loadOrCreateTls(options.dataDir, [host, ...(options.tlsHosts ?? [])]);
  }
  const grpcHandler =
    options.grpc === undefined
      ? undefined
      : connectNodeAdapter({ routes: options.grpc, grpc: true, connect: false, grpcWeb: false });
  const handle = options.handler;
  const limits = resolveHttpLimits(options.limits);
  const streamingPaths = options.streamingPaths ?? [];
  const listener = (req: NodeRequest, res: NodeResponse): void => {
    if (req.httpVersionMajor === 2 && !streamingPaths.some((p) => req.url?.startsWith(p)))
      countUpload(req as Http2ServerRequest, limits);
    const ct = String(req.headers["content-type"] ?? "");
    if (grpcHandler !== undefined && ct.startsWith("application/grpc")) {
      grpcHandler(req, res);
      return;
    }
    try {
      const p = handle(req, res);
      if (p instanceof Promise) p.catch((err: unknown) => internalError(res, err, log));
    } catch (err) {
      internalError(res, err, log);
    }
  };
  // noDelay: answers are often written as headers then body (proxies, SSE); with Nagle on, the body
  // waited for the peer's delayed ACK (~40 ms per exchange on Linux), as node:http already avoids.
  const server = createSecureServer(
    {
      cert: tls.cert,
      key: tls.key,
      allowHTTP1: true,
      noDelay: true,
      ...http2ServerOptions(limits),
    },
    listener,
  );
  // No inactivity or whole-request timeout: trickle POSTs and SSE answers stay open for a long time.
  // Only the TLS handshake and a request's headers are timed (http/limits.ts).
  server.setTimeout(0);
  applyHttp1Limits(server, limits);
  guardHttp2Sessions(server, limits);
  server.on("clientError", clientErrorListener(limits));
  if (options.upgrade !== undefined) server.on("upgrade", options.upgrade);
  // Node leaves the socket open once this event has a listener (a handshake timeout included).
  server.on("tlsClientError", (err, socket) => {
    log.debug({ err }, "TLS handshake failed");
    socket.destroy();
  });
  // A failed listen rejects (the caller words it, e.g. a busy port); errors after that are logged.
  const port = await listen(server, host, options.port);
  server.on("error", (err) => log.error({ err }, "listener error"));
  const url = originOf("https", host, port);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    // The answers already written flush; then every connection and HTTP/2 session is dropped.
    closing ??= closeServer(server);
    return closing;
  };
  if (options.signal?.aborted) await close();
  else options.signal?.addEventListener("abort", () => void close(), { once: true });
  return { server, url, port, cert: tls.cert, close, [Symbol.asyncDispose]: close };
}

function internalError(res: NodeResponse, err: unknown, log: Logger): void {
  log.error({ err }, "request handler failed");
  if (res.headersSent) {
    (res as ServerResponse).destroy?.();
    return;
  }
  const status = err instanceof TributaryError ? err.status : 500;
  const body = JSON.stringify(errorBody(err));
  (res as ServerResponse).writeHead(status, { "content-type": "application/json" });
  res.end(body);
}

/**
 * The certificate in `dataDir`, or a new self-signed one written there (key mode 0600). Both files
 * must exist to be reused; a half-written pair is regenerated.
 */
export function loadOrCreateTls(dataDir: string, hosts: string[] = []): TlsMaterial {
  const certPath = join(dataDir, TLS_CERT_FILE);
  const keyPath = join(dataDir, TLS_KEY_FILE);
  if (existsSync(certPath) && existsSync(keyPath)) {
    const material = { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
    createPrivateKey(material.key); // throws on a corrupt key file rather than failing at handshake
    return material;
  }
  mkdirSync(dataDir, { recursive: true });
  const material = createSelfSignedCertificate(hosts);
  writeFileSync(keyPath, material.key, { mode: 0o600 });
  chmodSync(keyPath, 0o600);
  writeFileSync(certPath, material.cert);
  return material;
}

// ---- a minimal DER encoder for one self-signed X.509 v3 certificate ---------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}
function positiveInteger(bytes: Buffer): Buffer {
  const b = bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return tlv(0x02, b);
}
function generalizedTime(d: Date): Buffer {
  const s = `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
  return tlv(0x18, Buffer.from(s, "ascii"));
}
function ipBytes(ip: string): Buffer | undefined {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  return undefined; // IPv6 literals are left out of the certificate (clients skip verification anyway)
}

/**
 * A new self-signed ECDSA P-256 / SHA-256 certificate (CN "tributary", valid 10 years from one hour
 * ago) whose subjectAltName lists localhost, 127.0.0.1 and `hosts` (DNS names or IPv4 literals).
 */
export function createSelfSignedCertificate(hosts: string[] = []): TlsMaterial {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const name = seq(tlv(0x31, seq(oid("2.5.4.3"), tlv(0x0c, Buffer.from("tributary")))));
  const now = Date.now();
  const validity = seq(
    generalizedTime(new Date(now - 3600_000)),
    generalizedTime(new Date(now + 10 * 365 * 86400_000)),
  );
  const names = new Set(["localhost", "127.0.0.1", ...hosts.filter((h) => h !== "" && h !== "0.0.0.0")]);
  const general: Buffer[] = [];
  for (const h of names) {
    const ip = ipBytes(h);
    if (ip) general.push(tlv(0x87, ip));
    else if (isIP(h) === 0) general.push(tlv(0x82, Buffer.from(h, "ascii")));
  }
  const san = seq(oid("2.5.29.17"), tlv(0x04, seq(...general)));
  const serial = randomBytes(16);
  // Positive and minimal: top bit clear (no 0x00 pad needed) and a non-zero first byte (a leading
  // zero would be non-minimal DER, which OpenSSL rejects as "illegal padding").
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    positiveInteger(serial),
    ecdsaSha256,
    name,
    validity,
    name,
    spki,
    tlv(0xa3, seq(san)),
  );
  const signature = sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" });
  const cert = seq(tbs, ecdsaSha256, tlv(0x03, Buffer.from([0]), signature));
  const b64 = cert.toString("base64").replace(/(.{64})/g, "$1\n");
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${b64.replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}
