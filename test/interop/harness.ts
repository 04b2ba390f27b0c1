/**
 * Test-side plumbing of the interop suites: OUR trickle server started in-process with a request log,
 * raw HTTP probes, and skip reasons for peers that the setup script could not install.
 */
import { type Agent, request } from "node:http";
import type { TestContext } from "node:test";
import { type StartTrickleServerOptions, startTrickleServer } from "../../src/trickle/server.ts";
import { peerPayload, peerUnavailable, sha256Hex } from "./peers.ts";

/** One request as our server received it. */
export interface LoggedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Our server plus the log of every request it received. */
export type LoggedServer = Awaited<ReturnType<typeof startTrickleServer>> & {
  requests: LoggedRequest[];
  /** Resolves when a matching request has arrived (already or later). */
  waitForRequest(match: (r: LoggedRequest) => boolean, timeoutMs?: number): Promise<LoggedRequest>;
};

/** Starts OUR trickle server on 127.0.0.1:0 and closes it when the test ends. */
export async function startOurServer(
  t: TestContext,
  options: StartTrickleServerOptions = {},
): Promise<LoggedServer> {
  const running = await startTrickleServer({ ...options, host: "127.0.0.1", port: 0 });
  t.after(() => running.close());
  const requests: LoggedRequest[] = [];
  const waiters = new Set<{ match: (r: LoggedRequest) => boolean; resolve: (r: LoggedRequest) => void }>();
  running.server.on(
    "request",
    (req: { method?: string; url?: string; headers: LoggedRequest["headers"] }) => {
      const entry = { method: req.method ?? "", url: req.url ?? "", headers: { ...req.headers } };
      requests.push(entry);
      for (const w of waiters) {
        if (w.match(entry)) {
          waiters.delete(w);
          w.resolve(entry);
        }
      }
    },
  );
  const waitForRequest = (
    match: (r: LoggedRequest) => boolean,
    timeoutMs = 30_000,
  ): Promise<LoggedRequest> => {
    const found = requests.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const entry = {
        match,
        resolve: (r: LoggedRequest) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(entry);
        reject(
          new Error(
            `no matching request within ${timeoutMs} ms; got ${JSON.stringify(requests.map(describe))}`,
          ),
        );
      }, timeoutMs);
      waiters.add(entry);
    });
  };
  return Object.assign(running, { requests, waitForRequest });
}

/** "METHOD /path" of a logged request. */
export function describe(r: LoggedRequest): string {
  return `${r.method} ${r.url}`;
}

/** Skip reason for a peer the setup script could not install (undefined: the peer is available). */
export function skipReason(peer: "go" | "python"): string | undefined {
  const why = peerUnavailable(peer);
  if (!why) return undefined;
  const oneLine = why.replace(/\s*\n\s*/g, " | ");
  return `${peer} peer unavailable: ${oneLine.length > 400 ? `${oneLine.slice(0, 400)}…` : oneLine}`;
}

/** SHA-256 of the first `count` peer payloads of `size` bytes, starting at payload `from`. */
export function expectedHashes(count: number, size: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => sha256Hex(peerPayload(from + i, size)));
}

/** A raw HTTP exchange: status, the headers that matter to trickle, and the body. */
export interface ProbeResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers compared between servers. */
export const PROBE_HEADERS = [
  "lp-trickle-seq",
  "lp-trickle-latest",
  "lp-trickle-closed",
  "content-type",
  "connection",
  "allow",
] as const;

/**
 * Sends one request on a fresh connection (no agent) and reads the whole answer. A connection that
 * closes without an answer resolves as status 0 with the error in `body`.
 */
export function probe(
  baseUrl: string,
  path: string,
  init: {
    method?: string;
    body?: Uint8Array | string;
    headers?: Record<string, string>;
    timeoutMs?: number;
    /** Send on this agent (e.g. a keep-alive one) instead of a fresh `Connection: close` connection. */
    agent?: Agent;
  } = {},
): Promise<ProbeResult> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: init.method ?? "GET",
        headers: init.headers,
        agent: init.agent ?? false,
        timeout: init.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (err) =>
          resolve({ status: res.statusCode ?? 0, headers: {}, body: `error: ${err.message}` }),
        );
        res.on("end", () => {
          const headers: Record<string, string> = {};
          for (const h of PROBE_HEADERS) {
            const v = res.headers[h];
            if (v !== undefined) headers[h] = Array.isArray(v) ? v.join(", ") : v;
          }
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, headers: {}, body: `error: ${err.message}` }));
    req.end(init.body);
  });
}
