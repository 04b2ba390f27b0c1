/**
 * HTTP/1.1 over TLS from the gateway to orchestrators. Orchestrators serve self-signed certificates,
 * and go-livepeer's gateway does not verify them (`InsecureSkipVerify`), so neither do we by default.
 * One keep-alive agent per gateway.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import { request } from "node:https";
import { TributaryError } from "../node/errors.ts";
import { httpsAgent } from "../node/http/agents.ts";
import type { FailureCause } from "./selection/retry.ts";

/** A failure to get response headers from an orchestrator (connect, TLS, reset, timeout). */
export class OrchestratorTransportError extends TributaryError {
  constructor(url: string, message: string, cause?: unknown) {
    super("ORCHESTRATOR_UNREACHABLE", `orchestrator ${url}: ${message}`, { status: 502, cause });
    this.name = "OrchestratorTransportError";
  }
}

/** Options of {@link createOrchestratorHttp}. */
export interface OrchestratorHttpOptions {
  /** Verify orchestrator certificates; default false (as go-livepeer). */
  rejectUnauthorized?: boolean;
  /** Extra trusted CAs (PEM) when verifying. */
  ca?: string | string[];
}

/** One call's options. */
export interface OrchestratorCall {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  /** Time allowed until the response headers arrive, ms. */
  headersTimeoutMs: number;
  signal?: AbortSignal;
}

/** The client: `send` resolves with the response once its headers arrived. */
export interface OrchestratorHttp {
  send(url: string, call: OrchestratorCall): Promise<IncomingMessage>;
  close(): void;
}

/**
 * A reset on a reused socket this soon after the request was handed to it is taken for the
 * orchestrator having closed the idle connection under us: the call is sent once more on a new
 * connection (see {@link createOrchestratorHttp}).
 */
export const STALE_SOCKET_WINDOW_MS = 100;

/**
 * Creates the client: one keep-alive agent (no limit on sockets: a connection per job in flight,
 * reused between jobs). A call that fails on a reused socket with ECONNRESET or EPIPE before any byte
 * of an answer and within {@link STALE_SOCKET_WINDOW_MS} of being handed to it met a connection the
 * orchestrator had closed while idle, before reading it: it is sent once more on a new connection
 * (the body is always a Buffer here). Any other failure is the caller's (the retry loop moves on).
 */
export function createOrchestratorHttp(options: OrchestratorHttpOptions = {}): OrchestratorHttp {
  const tls = { rejectUnauthorized: options.rejectUnauthorized ?? false, ca: options.ca };
  const agent = httpsAgent(tls);
  return {
    send(url, call) {
      return new Promise((resolve, reject) => {
        let settled = false;
        function start(pooled: boolean) {
          const r = request(url, {
            method: call.method ?? "POST",
            headers: call.headers,
            ...(pooled ? { agent } : { agent: false, ...tls }),
          });
          let handedAt = performance.now();
          r.once("socket", () => {
            handedAt = performance.now();
          });
          r.on("response", (res) => {
            if (settled) {
              res.destroy();
              return;
            }
            done();
            // Aborting later (client gone) ends the response stream too.
            if (call.signal) {
              const abortRes = () => res.destroy();
              call.signal.addEventListener("abort", abortRes, { once: true });
              res.on("close", () => call.signal?.removeEventListener("abort", abortRes));
            }
            resolve(res);
          });
          r.on("error", (err: NodeJS.ErrnoException) => {
            if (
              pooled &&
              !settled &&
              r.reusedSocket &&
              (err.code === "ECONNRESET" || err.code === "EPIPE") &&
              performance.now() - handedAt < STALE_SOCKET_WINDOW_MS
            ) {
              req = start(false);
              return;
            }
            fail(new OrchestratorTransportError(url, err.message, err));
          });
          if (!call.signal?.aborted) r.end(call.body);
          return r;
        }
        const timer = setTimeout(() => {
          fail(new OrchestratorTransportError(url, `no response within ${call.headersTimeoutMs} ms`));
        }, call.headersTimeoutMs);
        const onAbort = () => fail(call.signal?.reason ?? new Error("aborted"));
        call.signal?.addEventListener("abort", onAbort, { once: true });
        const done = () => {
          settled = true;
          clearTimeout(timer);
          call.signal?.removeEventListener("abort", onAbort);
        };
        function fail(err: unknown) {
          if (settled) return;
          done();
          req.destroy();
          reject(err);
        }
        let req = start(true);
        if (call.signal?.aborted) onAbort();
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** Reads a response body as text, keeping at most `limit` bytes. */
export async function readText(res: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(c.subarray(0, limit - size));
    size += c.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * True when an orchestrator's error answer says that the ticket params of the request's payment
 * expired on the way (the chain moved between its params and our payment, or its chain view lags
 * ours): our orchestrators answer code `TICKET_EXPIRED` ("ticket params expired at L1 block …"),
 * go-livepeer's "TicketParams expired". The one place the gateway reads this from an answer's text;
 * callers turn it into a typed error (live/orchestrator-api.ts `TicketParamsExpiredError`).
 */
export function saysTicketParamsExpired(answer: string): boolean {
  return /ticket ?params expire/i.test(answer) || /"code"\s*:\s*"TICKET_EXPIRED"/.test(answer);
}

/**
 * Why a batch attempt failed, for the retry loop (selection/retry.ts): our own typed errors by their
 * code (the Sender's `TICKET_EXPIRED`), an orchestrator's answer (`answer`, its body text, or the
 * message of an error built from one) by {@link saysTicketParamsExpired} and go-livepeer's phrases
 * for a reused nonce and a full orchestrator.
 */
export function failureCauseOf(failure: unknown): FailureCause {
  if (failure instanceof TributaryError && failure.code === "TICKET_EXPIRED") return "ticket-params-expired";
  const answer = typeof failure === "string" ? failure : failure instanceof Error ? failure.message : "";
  if (saysTicketParamsExpired(answer)) return "ticket-params-expired";
  const lower = answer.toLowerCase();
  if (lower.includes("invalid ticket sendernonce")) return "nonce-reused";
  // go-livepeer's phrase, and our orchestrators' `NO_CAPACITY` code ("No capacity available for …").
  if (lower.includes("insufficient capacity") || lower.includes("no capacity available"))
    return "no-capacity";
  if (/"code"\s*:\s*"NO_CAPACITY"/.test(answer)) return "no-capacity";
  return "other";
}

/** First value of a header. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
