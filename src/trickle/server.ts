/**
 * A standalone trickle server (HTTP/1.1, or HTTP/2 with HTTP/1.1 fallback over TLS) around a
 * {@link TrickleServer}; listening and closing go through the shared HTTP toolkit (src/node/http/).
 * Everything of the trickle server is exported from here (server-handler.ts holds the handler).
 */
import { createServer, type Server } from "node:http";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import {
  applyHttp1Limits,
  clientErrorListener,
  guardHttp2Sessions,
  type HttpLimits,
  http1ServerOptions,
  http2ServerOptions,
  resolveHttpLimits,
} from "../node/http/limits.ts";
import { closeServer, listen, originOf } from "../node/http/listen.ts";
import { TrickleServer, type TrickleServerOptions } from "./server-handler.ts";

export * from "./server-handler.ts";

/** Options of {@link startTrickleServer}. */
export interface StartTrickleServerOptions extends TrickleServerOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; default 2939 (the http-trickle standalone default); 0 picks a free one. */
  port?: number;
  /** Serve HTTP/2 and HTTP/1.1 over TLS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Head size, headers timeout and HTTP/2 limits (src/node/http/limits.ts; Go-like defaults). The
   * HTTP/2 upload budget does not apply: segments stream through to subscribers.
   */
  limits?: HttpLimits;
}

/** A running standalone trickle server. */
export interface RunningTrickleServer extends AsyncDisposable {
  /** The trickle handler (channels, local publishers and subscribers attach here). */
  trickle: TrickleServer;
  /** The underlying node server. */
  server: Server | Http2SecureServer;
  /** Base URL, ending with the base path, e.g. `http://127.0.0.1:2939/`. */
  url: string;
  /** The bound port. */
  port: number;
  /** Closes every channel, then the listener and every connection. Idempotent. */
  close(): Promise<void>;
}

/** Default port of a standalone trickle server (j0sh/http-trickle). */
export const DEFAULT_TRICKLE_PORT = 2939;

/**
 * Starts a standalone trickle server: plain HTTP/1.1, or with `tls` HTTP/2 with HTTP/1.1 fallback.
 * Resolves once listening.
 */
export async function startTrickleServer(
  options: StartTrickleServerOptions = {},
): Promise<RunningTrickleServer> {
  const {
    host = "127.0.0.1",
    port = DEFAULT_TRICKLE_PORT,
    tls,
    limits: limitOptions,
    ...trickleOptions
  } = options;
  const trickle = new TrickleServer(trickleOptions);
  const listener = trickle.listener();
  // Heads up to 1 MiB, a headers timeout, HTTP/2 stream and reset limits (src/node/http/limits.ts).
  // No whole-request timeout: a preconnected POST may wait for its first byte for a long time.
  const limits = resolveHttpLimits(limitOptions);
  let server: Server | Http2SecureServer;
  if (tls) {
    const secure = createSecureServer(
      { cert: tls.cert, key: tls.key, allowHTTP1: true, ...http2ServerOptions(limits) },
      listener,
    );
    applyHttp1Limits(secure, limits);
    guardHttp2Sessions(secure, limits);
    secure.on("tlsClientError", (_err, socket) => socket.destroy());
    server = secure;
  } else server = createServer(http1ServerOptions(limits), listener);
  server.on("clientError", clientErrorListener(limits));
  let bound: number;
  try {
    bound = await listen(server, host, port);
  } catch (err) {
    await trickle.close();
    throw err;
  }
  // A failed listen rejects (the caller words it); errors after that are logged.
  server.on("error", (err) => trickleOptions.logger?.error({ err }, "trickle listener error"));
  const url = `${originOf(tls ? "https" : "http", host, bound)}${trickle.basePath}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await trickle.close();
      // The answers that trickle.close() produced flush; then every connection is dropped.
      await closeServer(server);
    })();
    return closing;
  };
  trickleOptions.signal?.addEventListener("abort", () => void close(), { once: true });
  return { trickle, server, url, port: bound, close, [Symbol.asyncDispose]: close };
}
